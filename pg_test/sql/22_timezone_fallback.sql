-- With pg_anomaly.timezone empty, the calendar features are computed in UTC, never in the
-- TimeZone of the session that builds them: two sessions with different TimeZone settings
-- (pg_cron's, an analyst's psql after SET TimeZone) compute identical features.
\set VERBOSITY terse
SET client_min_messages = warning;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_series_checkpoint, ml_labels;
SELECT sum(rows) > 0 AS generated FROM ml_generate_demo_data(2, 9, 22, '2026-03-29 00:00+00');
SELECT pg_catalog.current_setting('pg_anomaly.timezone') AS configured_zone;
DROP TABLE IF EXISTS tz_first;
SET TimeZone = 'America/New_York';
SELECT ml_build_features(full_rebuild => true) > 0 AS built_in_new_york;
CREATE TABLE tz_first AS
SELECT metric_type, entity_id, "timestamp", hour_of_day, day_of_week, is_weekend, day_of_month, seasonal_zscore, zscore_7 FROM ml_features;
-- another session, another TimeZone
\c
SET client_min_messages = warning;
SET TimeZone = 'Asia/Tokyo';
SELECT ml_build_features(full_rebuild => true) > 0 AS built_in_tokyo;
SELECT (SELECT count(*) FROM (SELECT metric_type, entity_id, "timestamp", hour_of_day, day_of_week, is_weekend, day_of_month, seasonal_zscore, zscore_7 FROM ml_features
                               EXCEPT SELECT * FROM tz_first) a) AS only_tokyo,
       (SELECT count(*) FROM (SELECT * FROM tz_first
                               EXCEPT SELECT metric_type, entity_id, "timestamp", hour_of_day, day_of_week, is_weekend, day_of_month, seasonal_zscore, zscore_7 FROM ml_features) b) AS only_new_york,
       (SELECT count(*) FROM tz_first) > 0 AS compared;
-- and that calendar is UTC's
SELECT count(*) FILTER (WHERE hour_of_day <> extract(hour FROM "timestamp" AT TIME ZONE 'UTC')
                           OR day_of_week <> extract(isodow FROM "timestamp" AT TIME ZONE 'UTC')) AS not_utc
  FROM ml_features;
-- the checkpoints record the zone they were computed in
SELECT DISTINCT time_zone FROM ml_series_checkpoint;
-- an incremental build in a third session resumes from them (same zone) and agrees too
\c
SET client_min_messages = warning;
SET TimeZone = 'Pacific/Auckland';
DELETE FROM ml_metrics WHERE "timestamp" >= '2026-03-28 12:00+00';
SELECT ml_build_features(full_rebuild => true) > 0 AS rebuilt_shorter;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT metric_type, entity_id, 1.0, "timestamp" FROM tz_first WHERE "timestamp" >= '2026-03-28 12:00+00';
SELECT ml_build_features() > 0 AS incremental;
SELECT count(*) FILTER (WHERE f.hour_of_day <> t.hour_of_day OR f.day_of_week <> t.day_of_week) AS calendar_differs, count(*) > 0 AS compared
  FROM ml_features f JOIN tz_first t USING (metric_type, entity_id, "timestamp");
RESET TimeZone;
DROP TABLE tz_first;
-- the zone is the store's, not a session's: a role that is not a superuser cannot set it
-- (else an analyst's build would write features of another zone into the shared store)
SET ROLE anomaly_admin;
SET pg_anomaly.timezone = 'Asia/Tokyo';
SELECT pg_catalog.current_setting('pg_anomaly.timezone') AS zone_still;
RESET ROLE;
