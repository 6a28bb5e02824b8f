-- Demo data: four metric types, 96 points per day per series, labelled anomalies, deterministic.
\set VERBOSITY terse
TRUNCATE ml_metrics, ml_labels;
SELECT * FROM ml_generate_demo_data(3, 14, 7, '2026-03-15 00:00+00');
SELECT metric_type, count(DISTINCT entity_id) AS entities, count(*) AS rows FROM ml_metrics GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE metric_value < 0) AS negative,
       count(*) FILTER (WHERE metric_type = 'dolum_sure' AND metric_value <= 0) AS nonpositive_duration
FROM ml_metrics;
SELECT count(*) > 0 AS has_labels, bool_and(kind IN ('spike','drop','level_shift','stuck','missing_refill','slow_leak')) AS known_kinds,
       bool_and(source = 'demo') AS demo_source FROM ml_labels;
-- deterministic: a second database-side run with the same seed produces the same values
CREATE TEMP TABLE first_run AS SELECT metric_type, entity_id, metric_value, "timestamp" FROM ml_metrics;
TRUNCATE ml_metrics;
SELECT sum(rows) FROM ml_generate_demo_data(3, 14, 7, '2026-03-15 00:00+00');
SELECT count(*) AS differing FROM first_run f FULL JOIN ml_metrics m USING (metric_type, entity_id, "timestamp")
WHERE f.metric_value IS DISTINCT FROM m.metric_value;
-- a rerun over the same span adds nothing
SELECT sum(rows) AS reported, (SELECT count(*) FROM ml_metrics) AS stored FROM ml_generate_demo_data(3, 14, 7, '2026-03-15 00:00+00');
SELECT min("timestamp") AS first, max("timestamp") AS last FROM ml_metrics;
SELECT * FROM ml_generate_demo_data(0, 14, 7);
SELECT * FROM ml_generate_demo_data(3, 0, 7);
