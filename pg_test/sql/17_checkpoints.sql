-- Kernel checkpoints: a fresh session resumes each series from ml_series_checkpoint (reading
-- only rows after it) and writes exactly the rows of a full rebuild; stale, damaged and
-- foreign checkpoints are never used.
\set VERBOSITY terse
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels;
SELECT sum(rows) > 0 AS generated FROM ml_generate_demo_data(2, 40, 17, '2026-04-20 00:00+00');
DROP TABLE IF EXISTS cp_staged, cp_incremental;
CREATE TABLE cp_staged AS SELECT metric_type, entity_id, metric_value, "timestamp" FROM ml_metrics;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty;
CREATE VIEW cp_cols AS SELECT metric_type, entity_id, "timestamp", metric_value, mean_value, std_value, min_value, max_value,
  median_value, q25_value, q75_value, trend_slope, trend_direction, volatility, momentum, hour_of_day, day_of_week, is_weekend,
  day_of_month, days_since_change, change_frequency, run_length, hours_since_jump, drop_rate, lag_1, lag_7, lag_30,
  rolling_mean_7, rolling_std_7, rolling_mean_30, rolling_std_30, zscore_7, diff_lag_1, seasonal_zscore FROM ml_features;

-- 37 days, then every series has a checkpoint at its last row, current
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM cp_staged WHERE "timestamp" < '2026-04-17 00:00+00';
SELECT ml_build_features() > 0 AS step_1;
SELECT count(*) AS checkpoints, count(*) FILTER (WHERE c.features_version = s.checkpoint_version AND c.features_version = s.features_version
                                                 AND c.until = s.features_until) AS current,
       min(pg_catalog.length(c.state)) > 1000 AS sized
  FROM ml_series_checkpoint c JOIN ml_series_state s USING (metric_type, entity_id);

-- a fresh session, 30 more minutes: the series resume from their checkpoints, which read
-- only the two new rows of each (not 31 days), and the checkpoints stay valid: the series'
-- checkpoint_version keeps their version while features_version moves on (the checkpoint
-- rows themselves are not written)
\c
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM cp_staged WHERE "timestamp" >= '2026-04-17 00:00+00' AND "timestamp" < '2026-04-17 00:30+00';
SELECT ml_build_features() AS step_2;
SELECT rows_in, rows_out FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
SELECT count(*) FILTER (WHERE c.features_version = s.checkpoint_version) AS carried, count(*) FILTER (WHERE c.features_version < s.features_version) AS rows_unwritten,
       count(*) FILTER (WHERE c.until < s.features_until) AS behind
  FROM ml_series_checkpoint c JOIN ml_series_state s USING (metric_type, entity_id);

-- another fresh session, a day and a half more: resumed again (now also feeding the rows
-- between the checkpoint and the new ones); a checkpoint is rewritten once its series got
-- half a period to one and a half past it (by a hash of the entity): here all of them
\c
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM cp_staged WHERE "timestamp" >= '2026-04-17 00:30+00' AND "timestamp" < '2026-04-18 12:00+00';
SELECT ml_build_features() AS step_3;
SELECT rows_in < 8 * 40 * 96 AS no_look_back FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
SELECT count(*) FILTER (WHERE c.features_version = s.checkpoint_version) AS current, count(*) FILTER (WHERE c.until = s.features_until) AS rewritten
  FROM ml_series_checkpoint c JOIN ml_series_state s USING (metric_type, entity_id);

-- a missing or wrong checkpoint_version (here cleared on one series and off by one on
-- another) is a stale checkpoint: those two series recompute from their 31-day look-back
-- (2,978 rows each), the six others resume (2 rows each), and both get a new valid one
UPDATE ml_series_state SET checkpoint_version = NULL WHERE metric_type = 'tuketim_miktar' AND entity_id = 'urun_0002';
UPDATE ml_series_state SET checkpoint_version = checkpoint_version - 1 WHERE metric_type = 'stok_seviye' AND entity_id = 'urun_0002';
\c
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM cp_staged WHERE "timestamp" >= '2026-04-18 12:00+00' AND "timestamp" < '2026-04-18 12:30+00';
SELECT ml_build_features() AS step_3b;
SELECT rows_in FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
SELECT metric_type, entity_id, c.features_version = s.checkpoint_version AS valid, c.features_version = s.features_version AS rewritten, c.until = s.features_until AS at_last_row
  FROM ml_series_checkpoint c JOIN ml_series_state s USING (metric_type, entity_id) ORDER BY 1, 2;

-- a library newer than the catalog (ml_series_state without checkpoint_version, as before
-- ALTER EXTENSION ... UPDATE): no checkpoint is used or written, every series reads its
-- look-back (rolled back)
\c
BEGIN;
ALTER TABLE ml_series_state DROP COLUMN checkpoint_version;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM cp_staged WHERE "timestamp" >= '2026-04-18 12:30+00' AND "timestamp" < '2026-04-18 13:00+00';
SELECT ml_build_features() AS without_column;
SELECT rows_in FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
SELECT count(*) FILTER (WHERE c.until = s.features_until) AS written FROM ml_series_checkpoint c JOIN ml_series_state s USING (metric_type, entity_id);
ROLLBACK;

-- damaged, foreign and stale checkpoints: one truncated, one copied from another series,
-- one behind a late row; the next fresh build reports the damaged and the foreign one and
-- recomputes those three series from their look-back
UPDATE ml_series_checkpoint SET state = pg_catalog.substr(state, 1, 100) WHERE metric_type = 'tuketim_miktar' AND entity_id = 'urun_0001';
UPDATE ml_series_checkpoint c SET state = o.state FROM ml_series_checkpoint o
 WHERE c.metric_type = 'stok_seviye' AND c.entity_id = 'urun_0001' AND o.metric_type = 'stok_seviye' AND o.entity_id = 'urun_0002';
\c
SELECT ml_ingest('dolum_sure', 'urun_0002', 5, '2026-04-16 06:07+00') AS late;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM cp_staged WHERE "timestamp" >= '2026-04-18 12:30+00';
SELECT ml_build_features() > 0 AS step_4;
SELECT count(*) AS checkpoints, count(*) FILTER (WHERE c.features_version = s.checkpoint_version AND c.features_version = s.features_version
                                                 AND c.until = s.features_until) AS rewritten
  FROM ml_series_checkpoint c JOIN ml_series_state s USING (metric_type, entity_id)
 WHERE (c.metric_type, c.entity_id) IN (('tuketim_miktar', 'urun_0001'), ('stok_seviye', 'urun_0001'), ('dolum_sure', 'urun_0002'));

-- all of it equals one full rebuild, bit for bit
CREATE TABLE cp_incremental AS SELECT * FROM cp_cols;
SELECT ml_build_features(full_rebuild => true) > 0 AS rebuilt;
SELECT (SELECT count(*) FROM (SELECT * FROM cp_incremental EXCEPT SELECT * FROM cp_cols) a) AS only_incremental,
       (SELECT count(*) FROM (SELECT * FROM cp_cols EXCEPT SELECT * FROM cp_incremental) b) AS only_full,
       (SELECT count(*) FROM cp_cols) AS feature_rows;
-- a full rebuild replaces every checkpoint; truncating the series state makes them stale
SELECT count(*) AS checkpoints FROM ml_series_checkpoint c JOIN ml_series_state s USING (metric_type, entity_id)
 WHERE c.features_version = s.checkpoint_version AND c.until = s.features_until;
-- retention that drops rows a checkpoint still holds forgets that checkpoint (the series
-- keep their state and recompute from what is left)
SELECT pg_catalog.set_config('pg_anomaly.metrics_retention_days', (pg_catalog.now()::date - date '2026-04-10')::text, false) IS NOT NULL AS retention_set;
SELECT removed > 0 AS dropped_rows FROM ml_cleanup() WHERE table_name = 'ml_metrics';
SELECT (SELECT count(*) FROM ml_series_checkpoint) AS checkpoints_left, (SELECT count(*) FROM ml_series_state) AS series_left;
RESET pg_anomaly.metrics_retention_days;
SELECT ml_build_features(full_rebuild => true) > 0 AS rebuilt;
SELECT count(*) AS checkpoints_again FROM ml_series_checkpoint;
TRUNCATE ml_series_state;
SELECT count(*) AS current_after_truncate FROM ml_series_checkpoint c JOIN ml_series_state s USING (metric_type, entity_id)
 WHERE c.features_version = s.checkpoint_version;
-- readers do not see the states
SELECT has_table_privilege('anomaly_reader', 'ml_series_checkpoint', 'SELECT') AS reader_reads,
       has_table_privilege('anomaly_admin', 'ml_series_checkpoint', 'UPDATE') AS admin_writes;
DROP VIEW cp_cols;
DROP TABLE cp_staged, cp_incremental;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_series_checkpoint;
