-- A kept kernel state (the real-time worker's, or any session's that built by hand) is not
-- resumed
-- 1. in another time zone: its hour-of-day buckets hold the old calendar (pg_anomaly.timezone
--    changed by a reload reaches the long-lived real-time worker without a restart);
-- 2. once retention dropped rows it holds: with a retention shorter than the 31-period
--    look-back it would carry the dropped rows into new features, where a recompute from
--    what is left does not.
-- In each case the next incremental build equals a full rebuild.
\set VERBOSITY terse
SET client_min_messages = warning;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_series_checkpoint, ml_labels;
SELECT sum(rows) > 0 AS generated FROM ml_generate_demo_data(2, 20, 23, '2026-04-20 00:00+00');
DROP VIEW IF EXISTS ks_compare, ks_rows;
DROP TABLE IF EXISTS ks_staged, ks_incremental;
CREATE TABLE ks_staged AS SELECT metric_type, entity_id, metric_value, "timestamp" FROM ml_metrics;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty;
-- every stored column but the row's id and write time
CREATE VIEW ks_rows AS SELECT f."timestamp", pg_catalog.to_jsonb(f) - 'id' - 'computed_at' AS r FROM ml_features f;
-- the rows after 13:00 an incremental build wrote, against what a full rebuild writes now
CREATE TABLE ks_incremental (r jsonb);
CREATE VIEW ks_compare AS
SELECT (SELECT count(*) FROM (SELECT r FROM ks_incremental EXCEPT SELECT r FROM ks_rows WHERE "timestamp" >= '2026-04-19 13:00+00') a) AS only_incremental,
       (SELECT count(*) FROM (SELECT r FROM ks_rows WHERE "timestamp" >= '2026-04-19 13:00+00' EXCEPT SELECT r FROM ks_incremental) b) AS only_full,
       (SELECT count(*) FROM ks_incremental) > 0 AS compared;
-- 1. the time zone changes between two builds of one session
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM ks_staged WHERE "timestamp" < '2026-04-19 12:00+00';
SELECT ml_build_features() > 0 AS built_in_utc;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM ks_staged WHERE "timestamp" >= '2026-04-19 12:00+00' AND "timestamp" < '2026-04-19 13:00+00';
SELECT ml_build_features() > 0 AS built_hour_in_utc;
SELECT rows_in < 100 AS resumed_in_memory_in_utc FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
SET pg_anomaly.timezone = 'Asia/Tokyo';
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM ks_staged WHERE "timestamp" >= '2026-04-19 13:00+00';
SELECT ml_build_features() > 0 AS built_in_the_new_zone;
SELECT rows_in > 1000 AS recomputed_in_the_new_zone FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
INSERT INTO ks_incremental SELECT r FROM ks_rows WHERE "timestamp" >= '2026-04-19 13:00+00';
SELECT ml_build_features(full_rebuild => true) > 0 AS rebuilt_in_the_new_zone;
SELECT * FROM ks_compare;
RESET pg_anomaly.timezone;
TRUNCATE ks_incremental;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_series_checkpoint;
-- 2. retention drops rows a kept state holds
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM ks_staged WHERE "timestamp" < '2026-04-19 12:00+00';
SELECT ml_build_features() > 0 AS built;
-- this session keeps the states: an hour more resumes from them (reads only the new rows)
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM ks_staged WHERE "timestamp" >= '2026-04-19 12:00+00' AND "timestamp" < '2026-04-19 13:00+00';
SELECT ml_build_features() > 0 AS built_hour;
SELECT rows_in < 100 AS resumed_in_memory FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
-- retention of the days before 2026-04-12 (shorter than the look-back)
SELECT pg_catalog.set_config('pg_anomaly.metrics_retention_days', (pg_catalog.now()::date - date '2026-04-12')::text, false) IS NOT NULL AS retention_set;
SELECT removed > 0 AS dropped_rows FROM ml_cleanup() WHERE table_name = 'ml_metrics';
RESET pg_anomaly.metrics_retention_days;
SELECT min("timestamp") >= '2026-04-12 00:00+00' AS oldest_left FROM ml_metrics;
-- the rest of the day, in the same session
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM ks_staged WHERE "timestamp" >= '2026-04-19 13:00+00';
SELECT ml_build_features() > 0 AS built_rest;
SELECT rows_in > 1000 AS recomputed_from_what_is_left FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
INSERT INTO ks_incremental SELECT r FROM ks_rows WHERE "timestamp" >= '2026-04-19 13:00+00';
SELECT ml_build_features(full_rebuild => true) > 0 AS rebuilt;
SELECT * FROM ks_compare;
DROP VIEW ks_compare, ks_rows;
DROP TABLE ks_staged, ks_incremental;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_series_checkpoint;
