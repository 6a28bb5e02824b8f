-- Scenario 2: a recurring pattern alerts, is marked a false positive with a plain UPDATE,
-- and after retraining the same pattern on a later day stays quiet while a genuine anomaly
-- that day still alerts; alerts nobody read stay out of the training. Scenario 2b: the
-- pattern marked on three entities is quieted on the type's other entities too (one mark is
-- not enough: the control above still alerts). Scenario 3: a model whose accuracy fell below
-- pg_anomaly.min_accuracy is retrained by the detection stage, which logs why.
\set VERBOSITY terse
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_training_logs, ml_alerts, ml_job_runs CASCADE;
DELETE FROM ml_models;
SELECT sum(rows) FROM ml_generate_demo_data(6, 28, 21, '2026-04-26 00:00+00');
DELETE FROM ml_labels;    -- this scenario is about feedback, not the generator's anomalies
-- the "pattern": a delivery-day burst of custody usage, Wednesdays 10:00-10:45, on urun_0003
-- (whose alert will be marked a false positive) and on urun_0004 (the control: not marked);
-- urun_0000 to urun_0002 have it too (marked in scenario 2b)
CREATE TEMP TABLE pattern_days(d date);
INSERT INTO pattern_days VALUES ('2026-04-15'), ('2026-04-22');
UPDATE ml_metrics SET metric_value = metric_value + 25
 WHERE metric_type = 'zimmet_kullanim' AND entity_id IN ('urun_0000', 'urun_0001', 'urun_0002', 'urun_0003', 'urun_0004')
   AND ("timestamp" AT TIME ZONE 'UTC')::date = '2026-04-15' AND extract(hour FROM "timestamp" AT TIME ZONE 'UTC') = 10;
SELECT ml_build_features() > 0 AS built;
SELECT ml_train('zimmet_kullanim', train_until => '2026-04-13 00:00+00') > 0 AS trained;
SELECT count(*) > 0 AS scored FROM ml_detect('zimmet_kullanim', until => '2026-04-20 00:00+00', save => true);
SELECT entity_id, count(*) AS pattern_alerts FROM ml_alerts
 WHERE entity_id IN ('urun_0003', 'urun_0004') AND "timestamp"::date = '2026-04-15' GROUP BY 1 ORDER BY 1;
-- the warehouse manager (plain SQL, as the web application does it): urun_0003's burst is
-- not an anomaly; urun_0004's alert is read and left standing (a confirmed anomaly)
UPDATE ml_alerts SET is_read = true, is_false_positive = true WHERE entity_id = 'urun_0003' AND "timestamp"::date = '2026-04-15';
UPDATE ml_alerts SET is_read = true WHERE entity_id = 'urun_0004' AND "timestamp"::date = '2026-04-15';
-- alerts nobody read count as anomalies until marked false positive: training leaves them out
SELECT count(*) AS unreviewed FROM ml_alerts WHERE metric_type = 'zimmet_kullanim' AND NOT is_read AND NOT is_false_positive \gset
SELECT :unreviewed > 0 AS some_unread;
-- the next training learns from it
SELECT ml_train('zimmet_kullanim', train_until => '2026-04-20 00:00+00') > 0 AS retrained;
SELECT parameters->'detector' ? 'alert_p' AS has_params FROM ml_models WHERE is_active AND metric_type = 'zimmet_kullanim';
SELECT (parameters->'sample'->>'unreviewed_alerts_excluded')::int = :unreviewed AS unread_alerts_left_out,
       jsonb_array_length(parameters->'report'->'type_feedback') AS type_wide_after_one_mark
  FROM ml_models WHERE metric_type = 'zimmet_kullanim' ORDER BY id DESC LIMIT 1;
-- a week later: the same burst, and a genuine anomaly the same day on the same entity
-- (alerts are episodes: "during" means the alert's span overlaps the burst)
UPDATE ml_metrics SET metric_value = metric_value + 25
 WHERE metric_type = 'zimmet_kullanim' AND entity_id IN ('urun_0003', 'urun_0004', 'urun_0005')
   AND ("timestamp" AT TIME ZONE 'UTC')::date = '2026-04-22' AND extract(hour FROM "timestamp" AT TIME ZONE 'UTC') = 10;
UPDATE ml_metrics SET metric_value = metric_value + 120
 WHERE metric_type = 'zimmet_kullanim' AND entity_id = 'urun_0003'
   AND "timestamp" BETWEEN '2026-04-22 14:00+00' AND '2026-04-22 14:30+00';
SELECT ml_build_features() > 0 AS rebuilt;
SELECT count(*) > 0 AS scored FROM ml_detect('zimmet_kullanim', save => true);
SELECT count(*) AS same_pattern_alerts FROM ml_alerts
 WHERE entity_id = 'urun_0003' AND "timestamp" <= '2026-04-22 11:15+00' AND last_seen >= '2026-04-22 09:45+00' AND NOT is_false_positive;
SELECT count(*) AS control_still_alerts FROM ml_alerts
 WHERE entity_id = 'urun_0004' AND "timestamp" <= '2026-04-22 11:15+00' AND last_seen >= '2026-04-22 09:45+00';
SELECT count(*) AS genuine_alerts FROM ml_alerts
 WHERE entity_id = 'urun_0003' AND "timestamp" <= '2026-04-22 15:30+00' AND last_seen >= '2026-04-22 13:30+00';
SELECT count(*) > 0 AS other_entity_alerts FROM ml_alerts
 WHERE entity_id = 'urun_0005' AND "timestamp" <= '2026-04-22 11:15+00' AND last_seen >= '2026-04-22 09:45+00';

-- Scenario 2b: the same burst marked false positive on more entities (three or more in all):
-- the retrained model quiets it for the whole type, urun_0004 and urun_0005 included (never
-- marked false positive): their inputs are scaled by the median of the marked entities'
-- factors, so the burst's rows there score lower (fewer of them anomalous; an entity where
-- the same burst is a larger deviation than on the marked ones may still alert)
SELECT sum(score) AS score_before, count(*) FILTER (WHERE is_anomaly) AS anomalous_before
  FROM ml_detect('zimmet_kullanim', since => '2026-04-22 09:45+00', until => '2026-04-22 11:15+00')
 WHERE entity_id IN ('urun_0004', 'urun_0005') \gset
UPDATE ml_alerts SET is_read = true, is_false_positive = true
 WHERE entity_id IN ('urun_0000', 'urun_0001', 'urun_0002') AND "timestamp"::date = '2026-04-15';
SELECT count(*) >= 3 AS marked_on_three FROM (SELECT DISTINCT entity_id FROM ml_alerts WHERE is_false_positive AND metric_type = 'zimmet_kullanim') m;
SELECT ml_train('zimmet_kullanim', train_until => '2026-04-20 00:00+00') > 0 AS retrained;
SELECT jsonb_array_length(parameters->'report'->'type_feedback') > 0 AS quieted_type_wide
  FROM ml_models WHERE metric_type = 'zimmet_kullanim' ORDER BY id DESC LIMIT 1;
SELECT sum(score) < :score_before AS scores_lower, count(*) FILTER (WHERE is_anomaly) < :anomalous_before AS fewer_anomalous
  FROM ml_detect('zimmet_kullanim', since => '2026-04-22 09:45+00', until => '2026-04-22 11:15+00')
 WHERE entity_id IN ('urun_0004', 'urun_0005');
SELECT count(*) FILTER (WHERE is_anomaly) > 0 AS genuine_still_anomalous
  FROM ml_detect('zimmet_kullanim', since => '2026-04-22 13:30+00', until => '2026-04-22 15:30+00')
 WHERE entity_id = 'urun_0003';

-- Scenario 3: quality drops below pg_anomaly.min_accuracy -> the detection stage retrains
SELECT count(*) AS models_before FROM ml_models WHERE metric_type = 'zimmet_kullanim' \gset
UPDATE ml_models SET accuracy = 0.5 WHERE is_active AND metric_type = 'zimmet_kullanim';
SELECT ml_run_stage('detection') IS NOT NULL AS ran;
SELECT count(*) - :models_before AS new_models FROM ml_models WHERE metric_type = 'zimmet_kullanim';
SELECT reason LIKE 'quality: accuracy 0.500 below pg_anomaly.min_accuracy 0.700%' AS logged_why FROM ml_training_logs
 WHERE metric_type = 'zimmet_kullanim' ORDER BY id DESC LIMIT 1;
SELECT count(*) AS feature_sets FROM ml_feature_sets WHERE metric_type = 'zimmet_kullanim' AND selected_at > now() - interval '1 minute';
