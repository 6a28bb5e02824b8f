-- Retention rebuilds the indexes of the day partition that closed a day ago: rows arriving
-- time-major (one per series per collection) split the key's leaf pages half full.
\set VERBOSITY terse
SET client_min_messages = warning;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty CASCADE;
-- the test's days are fixed at its start and ml_cleanup reads now() later: a run that would
-- cross UTC midnight waits for it first
DO $wait$
DECLARE
    left_s double precision := pg_catalog.date_part('epoch', (pg_catalog.date_trunc('day', pg_catalog.clock_timestamp() AT TIME ZONE 'UTC') + interval '1 day')
                                                   - pg_catalog.clock_timestamp() AT TIME ZONE 'UTC');
BEGIN
    IF left_s < 180 THEN
        PERFORM pg_catalog.pg_sleep(left_s + 1);
    END IF;
END
$wait$;
-- the UTC day that ended a day or more (but less than two days) ago, and today
CREATE TEMP TABLE days AS
SELECT (pg_catalog.date_trunc('day', now() AT TIME ZONE 'UTC') - interval '2 days') AT TIME ZONE 'UTC' AS closed,
       pg_catalog.date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS today;
SELECT ml_ensure_partitions((SELECT closed FROM days), now()) >= 0 AS partitions;
-- 300 series x 96 points on each day, inserted as a collector writes them
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT 'compact', 'e' || lpad(s::text, 4, '0'), s + k, d.day + k * interval '15 minutes'
  FROM (SELECT closed AS day FROM days UNION ALL SELECT today FROM days) d,
       generate_series(0, 95) k, generate_series(1, 300) s
 WHERE d.day + k * interval '15 minutes' < now()
 ORDER BY d.day, k, s;
CREATE TEMP TABLE parts AS
SELECT d.which, c.oid::regclass AS part, pg_catalog.pg_indexes_size(c.oid) AS bytes_before
  FROM days, LATERAL (VALUES ('closed', days.closed), ('today', days.today)) AS d(which, day)
  JOIN pg_class c ON c.relname = 'ml_metrics_p' || to_char(d.day AT TIME ZONE 'UTC', 'YYYYMMDD');
SELECT which, (SELECT count(*) FROM ml_metrics m WHERE m.tableoid = p.part) > 0 AS has_rows FROM parts p ORDER BY 1;
SELECT table_name, removed FROM ml_cleanup() WHERE table_name IN ('ml_metrics', 'ml_features') ORDER BY 1;
-- the closed day's index is packed (about 70 % of its size), today's is left alone
SELECT which, pg_catalog.pg_indexes_size(part) < 0.85 * bytes_before AS rebuilt,
       pg_catalog.pg_indexes_size(part) = bytes_before AS unchanged
  FROM parts ORDER BY 1;
-- the rebuilt key still serves reads and still refuses duplicates
SET enable_seqscan = off;
SELECT count(*) AS closed_day_rows FROM ml_metrics
 WHERE metric_type = 'compact' AND entity_id = 'e0007' AND "timestamp" >= (SELECT closed FROM days) AND "timestamp" < (SELECT closed FROM days) + interval '1 day';
RESET enable_seqscan;
\set VERBOSITY sqlstate
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('compact', 'e0007', 1, (SELECT closed FROM days));
TRUNCATE ml_metrics, ml_series_state, ml_series_dirty CASCADE;
