-- Detection: scored rows, alerts per episode, no duplicates on rerun, watermark, messages.
\set VERBOSITY terse
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_training_logs, ml_alerts CASCADE;
DELETE FROM ml_models;
SELECT sum(rows) FROM ml_generate_demo_data(12, 28, 9, '2026-03-29 00:00+00');
SELECT ml_build_features() > 0 AS built;
SELECT ml_train(m, train_until => '2026-03-15 00:00+00') > 0 AS trained FROM unnest(ARRAY['stok_seviye','tuketim_miktar','dolum_sure','zimmet_kullanim']) m;
-- an analyst's read-only look: a row per scored observation, nothing written
SELECT count(*) AS scored, count(*) FILTER (WHERE is_anomaly) > 0 AS some_anomalous,
       bool_and(score BETWEEN 0 AND 1) AS scores_in_range,
       bool_and(severity IN ('dusuk','orta','yuksek','kritik')) FILTER (WHERE is_anomaly) AS severities
FROM ml_detect('tuketim_miktar', since => '2026-03-15 00:00+00');
SELECT count(*) AS alerts_after_read_only FROM ml_alerts;
-- one entity's rows (entity_id): the same rows, scores and explanations as the pass over every
-- entity gives that entity; without a metric type, every type holding the entity
SELECT count(*) AS one_entity_rows, count(DISTINCT entity_id) AS entities
FROM ml_detect('tuketim_miktar', since => '2026-03-15 00:00+00', entity_id => 'urun_0002');
SELECT count(*) AS differing FROM (
  (SELECT * FROM ml_detect('tuketim_miktar', since => '2026-03-15 00:00+00', entity_id => 'urun_0002')
   EXCEPT ALL SELECT * FROM ml_detect('tuketim_miktar', since => '2026-03-15 00:00+00') WHERE entity_id = 'urun_0002')
  UNION ALL
  (SELECT * FROM ml_detect('tuketim_miktar', since => '2026-03-15 00:00+00') WHERE entity_id = 'urun_0002'
   EXCEPT ALL SELECT * FROM ml_detect('tuketim_miktar', since => '2026-03-15 00:00+00', entity_id => 'urun_0002')))  d;
SELECT string_agg(DISTINCT metric_type, ',' ORDER BY metric_type) AS types, count(DISTINCT entity_id) AS entities
FROM ml_detect(since => '2026-03-28 00:00+00', entity_id => 'urun_0002');
-- a name no type holds is an error, not an empty result; saving is for every series
SELECT * FROM ml_detect('tuketim_miktar', entity_id => 'urun_9999');
SELECT * FROM ml_detect(entity_id => 'no_such_entity');
SELECT * FROM ml_detect('tuketim_miktar', save => true, entity_id => 'urun_0002');
SELECT count(*) AS alerts_after_one_entity FROM ml_alerts;
-- the scheduled, saving run
SELECT count(*) > 0 AS scored FROM ml_detect(save => true);
SELECT count(*) > 0 AS has_alerts, bool_and(alert_type IN ('stok_anomali','tuketim_anomali','dolum_gecikme','zimmet_anomali')) AS types,
       bool_and(message LIKE '%' || entity_id || '%') AS messages_name_entity,
       bool_and(suggested_action <> '') AS actions
FROM ml_alerts;
SELECT count(*) AS alerts FROM ml_alerts \gset
-- rerunning over the same data creates no duplicates; the watermark says everything was scored
SELECT count(*) AS rescored FROM ml_detect(save => true);
SELECT count(*) = :alerts AS no_duplicates FROM ml_alerts;
SELECT count(*) AS unscored_series FROM ml_series_state WHERE scored_until IS DISTINCT FROM features_until;
-- one alert per episode: no two alerts of a series overlap or touch within the gap
SELECT count(*) AS overlapping FROM ml_alerts a JOIN ml_alerts b ON a.metric_type = b.metric_type AND a.entity_id = b.entity_id
  AND a.id < b.id AND b."timestamp" <= a.last_seen + interval '2 hours' AND a."timestamp" <= b.last_seen + interval '2 hours';
-- explanations: top features with shares that sum to at most 1
SELECT count(*) FILTER (WHERE jsonb_array_length(explanation) BETWEEN 1 AND 3) > 0 AS explained,
       bool_and((SELECT sum((e->>'share')::float8) FROM jsonb_array_elements(explanation) e) <= 1.000001) AS shares_ok
FROM ml_alerts WHERE explanation IS NOT NULL AND jsonb_array_length(explanation) > 0;
-- each explanation carries the peak's -log10 tail probability (an alert's peak has p <= 1e-3),
-- and scores stay below 1 however unusual the row
SELECT bool_and((explanation->0->>'neg_log10_p')::float8 > 2) AS tail_reported,
       bool_and(peak_score < 1) AS no_saturation
FROM ml_alerts WHERE jsonb_array_length(explanation) > 0;
-- each element names the noise model its entity was scored with, one of the shapes the
-- model's training report recorded for the metric type
SELECT count(*) > 0 AS named,
       bool_and(coalesce(m.parameters -> 'report' -> 'shapes' ? (e ->> 'noise_model'), false)) AS recorded_in_model
FROM ml_alerts a JOIN ml_models m ON m.id = a.model_id, jsonb_array_elements(a.explanation) e
WHERE m.model_type = 'isolation_forest';
-- English messages on request
SET pg_anomaly.language = 'en';
SELECT ml_ingest('tuketim_miktar', 'urun_0001', 500, '2026-03-28 23:59+00');
SELECT count(*) > 0 AS scored FROM ml_detect('tuketim_miktar', save => true);
SELECT message LIKE 'Spike in consumption of urun_0001 (%): 500 units%' AS english_message FROM ml_alerts
WHERE entity_id = 'urun_0001' AND metric_type = 'tuketim_miktar' ORDER BY last_seen DESC LIMIT 1;
RESET pg_anomaly.language;
-- event-level quality of the saved alerts in the scored period (days 15-28) against the
-- labels: the quality bar is F1 >= 0.8 and a false-positive rate of alerts < 20%
CREATE TEMP TABLE q AS
WITH w AS (SELECT * FROM ml_labels WHERE ends_at >= '2026-03-15'),
     a AS (SELECT * FROM ml_alerts WHERE last_seen >= '2026-03-15' AND NOT (entity_id = 'urun_0001' AND "timestamp" > '2026-03-28 23:00+00'))
SELECT (SELECT count(*) FROM w) AS windows,
       (SELECT count(*) FROM w WHERE EXISTS (SELECT 1 FROM a WHERE a.metric_type = w.metric_type AND a.entity_id = w.entity_id
              AND a."timestamp" <= w.ends_at + interval '2 hours' AND a.last_seen >= w.starts_at)) AS found,
       (SELECT count(*) FROM a) AS alerts,
       (SELECT count(*) FROM a WHERE NOT EXISTS (SELECT 1 FROM ml_labels w WHERE a.metric_type = w.metric_type AND a.entity_id = w.entity_id
              AND a."timestamp" <= w.ends_at + interval '2 hours' AND a.last_seen >= w.starts_at)) AS false_alerts;
SELECT windows, found, alerts, false_alerts FROM q;
SELECT 2.0 * (1 - false_alerts::float8 / alerts) * (found::float8 / windows)
           / ((1 - false_alerts::float8 / alerts) + (found::float8 / windows)) >= 0.8 AS f1_at_least_0_8,
       false_alerts::float8 / alerts < 0.2 AS fp_rate_below_20_percent
FROM q;
-- a reader cannot save; a reader without a model gets a hint
SELECT * FROM ml_detect('no_such_metric');
-- a training that reads a sample of the entities (max_train_rows) fits every other entity's
-- own noise model after calibration, so none of them is scored as a new entity
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT ml_train('tuketim_miktar', params => '{"max_train_rows": 10000}') AS sampled_id \gset
SELECT (parameters->'sample'->>'entities_read')::int < (parameters->'sample'->>'entities')::int AS read_a_sample,
       (parameters->'sample'->>'entities_read')::int + (parameters->'sample'->>'entities_fitted_beyond')::int
           = (parameters->'sample'->>'entities')::int AS every_entity_fitted
FROM ml_models WHERE id = :sampled_id;
SELECT ml_activate_model(:sampled_id);
SELECT count(DISTINCT entity_id) = 12 AS all_scored,
       count(*) FILTER (WHERE explanation::text LIKE '%warm_up%') AS warm_up_rows,
       count(*) FILTER (WHERE expected_value IS NULL) AS unscored_rows
FROM ml_detect('tuketim_miktar', since => '2026-03-27', until => '2026-03-29');
ROLLBACK;
