-- A new entity of a known metric type is scored from its first day: the model was trained
-- without it, the hourly saving runs give its rows scores from a model borrowed from the type
-- (its second hour on: 4 to 23 rows of look-back) and then from a warm-up model fitted on its
-- own look-back (24 rows on), its spike gets an alert and its normal rows do not; ml_explain
-- says which model scored a row.
\set VERBOSITY terse
SET client_min_messages = warning;
SET TimeZone = 'UTC';
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_training_logs, ml_alerts CASCADE;
DELETE FROM ml_models;
SELECT sum(rows) > 0 AS generated FROM ml_generate_demo_data(12, 28, 9, '2026-03-29 00:00+00');
SELECT ml_build_features() > 0 AS built;
SELECT ml_train('tuketim_miktar') > 0 AS trained;
-- the known entities are scored up to the end of their data
SELECT count(*) > 0 AS scored FROM ml_detect('tuketim_miktar', save => true);
SELECT count(*) AS alerts_before FROM ml_alerts \gset
-- urun_new joins on day 29: a day of consumption shaped as urun_0012's last unlabelled day,
-- with a spike of ten times its day's largest value at 18:00
CREATE TEMP TABLE src_day AS
SELECT g::date AS d FROM generate_series('2026-03-21'::timestamptz, '2026-03-28', '1 day') g
 WHERE NOT EXISTS (SELECT 1 FROM ml_labels l WHERE l.entity_id = 'urun_0012' AND l.starts_at < g + interval '1 day' AND l.ends_at >= g)
 ORDER BY d DESC LIMIT 1;
SELECT count(*) AS source_days FROM src_day;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT 'tuketim_miktar', 'urun_new', m.metric_value, '2026-03-29 00:00+00'::timestamptz + (m."timestamp" - s.d::timestamptz)
  FROM ml_metrics m, src_day s
 WHERE m.metric_type = 'tuketim_miktar' AND m.entity_id = 'urun_0012'
   AND m."timestamp" >= s.d::timestamptz AND m."timestamp" < s.d::timestamptz + interval '1 day';
UPDATE ml_metrics SET metric_value = 10 * (SELECT max(metric_value) FROM ml_metrics WHERE entity_id = 'urun_new' AND metric_type = 'tuketim_miktar')
 WHERE entity_id = 'urun_new' AND metric_type = 'tuketim_miktar' AND "timestamp" = '2026-03-29 18:00+00';
SELECT count(*) AS new_rows FROM ml_metrics WHERE entity_id = 'urun_new';
-- the model was not retrained: it does not know urun_new
SELECT count(*) AS models, bool_and(NOT (parameters::text LIKE '%urun_new%')) AS does_not_know_it FROM ml_models WHERE metric_type = 'tuketim_miktar' AND is_active;
-- the hourly saving runs of day 29, as the schedule makes them (each up to the next hour)
CREATE TEMP TABLE rr AS SELECT * FROM ml_detect('tuketim_miktar', until => '2026-03-29 01:00+00', save => true) WHERE false;
SELECT format('INSERT INTO rr SELECT * FROM ml_detect(%L, until => %L, save => true)', 'tuketim_miktar', t)
  FROM generate_series('2026-03-29 01:00+00'::timestamptz, '2026-03-30 00:00+00', '1 hour') t ORDER BY t \gexec
-- every row of urun_new was scored once; its first hour (no look-back) scores 0 with no
-- expected value; from 01:00 (4 rows of look-back) every row has an expected value, from a
-- borrowed model until 06:00 (24 rows) and a warm-up model after; the spike and the rows after
-- it get non-zero scores, ranked: the spike first, then falling
SELECT count(*) AS scored_rows, count(DISTINCT "timestamp") AS distinct_rows,
       count(*) FILTER (WHERE "timestamp" < '2026-03-29 01:00+00' AND score = 0 AND expected_value IS NULL) AS zero_first_hour,
       count(*) FILTER (WHERE "timestamp" >= '2026-03-29 01:00+00' AND expected_value IS NOT NULL) AS with_expected_value,
       count(*) FILTER (WHERE "timestamp" >= '2026-03-29 01:00+00' AND "timestamp" < '2026-03-29 06:00+00' AND expected_value IS NOT NULL) AS borrowed_rows,
       count(*) FILTER (WHERE "timestamp" >= '2026-03-29 06:00+00' AND score > 0) >= 3 AS nonzero_after,
       count(DISTINCT score) FILTER (WHERE score > 0) >= 3 AS distinct_scores
  FROM rr WHERE entity_id = 'urun_new';
SELECT bool_and(score >= next_score) AS falling_after_spike
  FROM (SELECT score, lead(score) OVER (ORDER BY "timestamp") AS next_score FROM rr
         WHERE entity_id = 'urun_new' AND "timestamp" BETWEEN '2026-03-29 18:00+00' AND '2026-03-29 18:45+00') x
 WHERE next_score IS NOT NULL;
-- the spike is the row that scores highest and the only anomalous one
SELECT "timestamp" AS top_row, is_anomaly, severity IS NOT NULL AS has_severity FROM rr WHERE entity_id = 'urun_new' ORDER BY score DESC LIMIT 1;
SELECT count(*) FILTER (WHERE is_anomaly) AS anomalous_rows,
       max(score) FILTER (WHERE "timestamp" <> '2026-03-29 18:00+00') < min(score) FILTER (WHERE "timestamp" = '2026-03-29 18:00+00') AS spike_ranked_first
  FROM rr WHERE entity_id = 'urun_new';
-- one alert, on the spike, naming the entity, explained
SELECT entity_id, "timestamp", alert_type, message LIKE '%urun_new%' AS names_entity, jsonb_array_length(explanation) > 0 AS explained
  FROM ml_alerts WHERE entity_id = 'urun_new';
-- the alert's explanation and ml_detect's say a warm-up model scored the row; the trained
-- entities' alerts do not
SELECT bool_and(e ->> 'model' = 'warm_up') AS alert_says_warm_up FROM ml_alerts a, jsonb_array_elements(a.explanation) e WHERE a.entity_id = 'urun_new';
SELECT bool_and(e ->> 'model' = 'warm_up') AS detect_says_warm_up FROM rr r, jsonb_array_elements(r.explanation) e WHERE r.entity_id = 'urun_new';
SELECT count(*) > 0 AS trained_alerts, count(*) FILTER (WHERE explanation::text LIKE '%warm_up%') AS trained_saying_warm_up
  FROM ml_alerts WHERE entity_id <> 'urun_new';
-- the known entities got no new alerts from day 29 (they have no rows there)
SELECT count(*) - :alerts_before AS other_new_alerts FROM ml_alerts WHERE entity_id <> 'urun_new';
-- the read-only look at the day from 06:00 scores it the same way (the look-back before it)
SELECT count(*) AS rows, count(*) FILTER (WHERE score > 0) >= 3 AS nonzero, count(*) FILTER (WHERE is_anomaly) AS anomalous,
       bool_and(NOT is_anomaly OR "timestamp" = '2026-03-29 18:00+00') AS only_the_spike
  FROM ml_detect('tuketim_miktar', since => '2026-03-29 06:00+00') WHERE entity_id = 'urun_new';
-- ml_explain says which model scored a row of urun_new: the spike (72 rows of look-back) a
-- warm-up model, 02:00 (8 rows) one borrowed from the type; the score is ml_detect's; the
-- attributions still add up; a trained entity's explanation has no model row; the first hour
-- (no look-back) has no explanation
SELECT input, label LIKE 'warm_up: the active model was not trained on this entity%' AS says_warm_up, value AS lookback_rows, attribution, share IS NULL AS no_share
  FROM ml_explain('tuketim_miktar', 'urun_new', '2026-03-29 18:00+00') WHERE input = 'model';
SELECT abs(max(x.score) - (SELECT score FROM rr WHERE entity_id = 'urun_new' AND "timestamp" = '2026-03-29 18:00+00')) < 1e-9 AS same_score,
       abs(sum(attribution) - max(surprise - base_surprise)) < 1e-9 AS adds_up, max(attribution) > 0 AS has_a_cause
  FROM ml_explain('tuketim_miktar', 'urun_new', '2026-03-29 18:00+00') x;
SELECT input, label LIKE 'warm_up (borrowed): %only 8 look-back rows%' AS says_borrowed, value AS lookback_rows
  FROM ml_explain('tuketim_miktar', 'urun_new', '2026-03-29 02:00+00') WHERE input = 'model';
SELECT abs(max(x.score) - (SELECT score FROM rr WHERE entity_id = 'urun_new' AND "timestamp" = '2026-03-29 02:00+00')) < 1e-9 AS same_score_borrowed
  FROM ml_explain('tuketim_miktar', 'urun_new', '2026-03-29 02:00+00') x;
SELECT count(*) FILTER (WHERE input = 'model') AS trained_model_rows, count(*) > 0 AS explained
  FROM ml_explain('tuketim_miktar', 'urun_0012', (SELECT max("timestamp") FROM ml_features WHERE entity_id = 'urun_0012' AND metric_type = 'tuketim_miktar'));
SELECT * FROM ml_explain('tuketim_miktar', 'urun_new', '2026-03-29 00:30+00');
-- a model of the sequence family alone, trained without urun_new, has no sequence model for
-- it: its rows fall back to the calibrated family's scores (they all scored 0 before), so
-- urun_new's spike is still found and is its only anomalous row
SELECT ml_train('tuketim_miktar', params => '{"detector_family": "sequence"}', train_until => '2026-03-29 00:00+00') AS m_seq \gset
SELECT ml_activate_model(:m_seq) IS NOT NULL AS activated;
SELECT parameters -> 'detector' ->> 'detector_family' AS family, NOT (parameters::text LIKE '%urun_new%') AS does_not_know_it
  FROM ml_models WHERE metric_type = 'tuketim_miktar' AND is_active;
SELECT count(*) AS rows, count(*) FILTER (WHERE score > 0) >= 3 AS nonzero, count(*) FILTER (WHERE is_anomaly) AS anomalous,
       bool_and(NOT is_anomaly OR "timestamp" = '2026-03-29 18:00+00') AS only_the_spike
  FROM ml_detect('tuketim_miktar', since => '2026-03-29 06:00+00') WHERE entity_id = 'urun_new';
RESET client_min_messages;
RESET TimeZone;
