-- A kept kernel state (the real-time worker's, or any session's that built by hand) is not
-- resumed in another time zone: its hour-of-day buckets hold the old calendar. After
-- pg_anomaly.timezone changes (a reload reaches the long-lived real-time worker without a
-- restart), the next incremental build recomputes from the look-back and equals a full
-- rebuild in the new zone.
\set VERBOSITY terse
SET client_min_messages = warning;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_series_checkpoint, ml_labels;
SELECT sum(rows) > 0 AS generated FROM ml_generate_demo_data(2, 20, 24, '2026-04-20 00:00+00');
DROP TABLE IF EXISTS kz_staged, kz_incremental;
CREATE TABLE kz_staged AS SELECT metric_type, entity_id, metric_value, "timestamp" FROM ml_metrics;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty;
-- every stored column but the row's id and write time
CREATE VIEW kz_rows AS SELECT f."timestamp", pg_catalog.to_jsonb(f) - 'id' - 'computed_at' AS r FROM ml_features f;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM kz_staged WHERE "timestamp" < '2026-04-19 12:00+00';
SELECT ml_build_features() > 0 AS built_in_utc;
-- this session keeps the states: an hour more resumes from them (reads only the new rows)
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM kz_staged WHERE "timestamp" >= '2026-04-19 12:00+00' AND "timestamp" < '2026-04-19 13:00+00';
SELECT ml_build_features() > 0 AS built_hour;
SELECT rows_in < 100 AS resumed_in_memory FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
-- the zone changes; the rest of the day, in the same session
SET pg_anomaly.timezone = 'Asia/Tokyo';
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM kz_staged WHERE "timestamp" >= '2026-04-19 13:00+00';
SELECT ml_build_features() > 0 AS built_rest;
SELECT rows_in > 1000 AS recomputed_in_the_new_zone FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
CREATE TABLE kz_incremental AS SELECT r FROM kz_rows WHERE "timestamp" >= '2026-04-19 13:00+00';
SELECT ml_build_features(full_rebuild => true) > 0 AS rebuilt_in_the_new_zone;
SELECT (SELECT count(*) FROM (SELECT r FROM kz_incremental EXCEPT SELECT r FROM kz_rows WHERE "timestamp" >= '2026-04-19 13:00+00') a) AS only_incremental,
       (SELECT count(*) FROM (SELECT r FROM kz_rows WHERE "timestamp" >= '2026-04-19 13:00+00' EXCEPT SELECT r FROM kz_incremental) b) AS only_full,
       (SELECT count(*) FROM kz_incremental) > 0 AS compared;
RESET pg_anomaly.timezone;
DROP VIEW kz_rows;
DROP TABLE kz_staged, kz_incremental;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_series_checkpoint;
