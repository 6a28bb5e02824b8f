-- The sequence family (detector_family): ml_train takes it (and picks it by default for a
-- metric type of no known kind), stores it with the model, ml_detect saves alerts with it and
-- names it in each alert's explanation, ml_tune searches it.
\set VERBOSITY terse
SET client_min_messages = warning;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_feature_set_rounds,
         ml_training_logs, ml_alerts, ml_tuning_trials CASCADE;
DELETE FROM ml_models;
-- a metric type nobody here knows (generic): a ramp 0, 10, ..., 110 repeating every 3 hours,
-- 3 entities x 5 days at 15 minutes; on day 5 entity s_1 runs the ramp backwards for 90
-- minutes: every value is one the ramp takes, only the order is new
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT 'seq_load', 's_' || e, CASE WHEN e = 1 AND n BETWEEN 420 AND 425 THEN (11 - (n - 420)) * 10
                                    ELSE (n % 12) * 10 + ((n * 7 + e) % 5) * 0.1 END,
       '2026-05-04 00:00+00'::timestamptz + n * interval '15 minutes'
  FROM generate_series(1, 3) e, generate_series(0, 479) n;

-- 1. the default for a generic metric type is 'both' (the calibrated detector and the sequence
-- family), recorded in the model's parameters and its report
SELECT ml_train('seq_load', params => '{"min_train_days": 1}', train_until => '2026-05-08 00:00+00') AS m_auto \gset
SELECT parameters -> 'detector' ->> 'detector_family' AS family, parameters -> 'report' ->> 'detector_family' AS reported
  FROM ml_models WHERE id = :m_auto;
-- 2. ml_train takes it explicitly; the sequence family alone finds the reversed ramp with one
-- alert that names it, and nothing else
SELECT ml_train('seq_load', params => '{"min_train_days": 1, "detector_family": "sequence"}', train_until => '2026-05-08 00:00+00') AS m_seq \gset
SELECT is_active, parameters -> 'detector' ->> 'detector_family' AS family, (parameters -> 'detector' ->> 'seq_rest_hours')::float8 AS rest
  FROM ml_models WHERE id = :m_seq;
SELECT count(*) > 0 AS scored FROM ml_detect('seq_load', save => true);
SELECT entity_id, "timestamp" BETWEEN '2026-05-08 09:00+00' AND '2026-05-08 10:30+00' AS in_reversal, model_id = :m_seq AS by_the_model,
       explanation -> 0 ->> 'feature' AS named, (explanation -> 0 ->> 'neg_log10_p')::float8 > 3 AS rare,
       message ~ 'son değerlerin olağandışı sırası' AS worded
  FROM ml_alerts WHERE metric_type = 'seq_load' ORDER BY "timestamp";
-- 2b. ml_explain explains the family's alert in its usual shape: after the calibrated inputs,
-- the row's value range (bin) and the two before it, their terms adding up to the family's
-- surprise; the reversed ramp's values are all ones the ramp takes, so its context (the bins
-- before), not the row's own range, carries the surprise; the score is the alert's
CREATE TEMP TABLE seq_x AS
SELECT a.peak_score, x.* FROM ml_alerts a, ml_explain('seq_load', a.entity_id, a."timestamp") x
 WHERE a.metric_type = 'seq_load';
SELECT input, label ~ '^sequence: .*bin [0-9]+ of [0-9]+' AS labelled, value >= 0 AS is_bin, forest_attribution IS NULL AS no_forest,
       base_surprise = 0 AS base_zero
  FROM seq_x WHERE input LIKE 'sequence%' ORDER BY input;
SELECT abs(sum(attribution) - max(surprise)) < 1e-9 AS adds_up, abs(sum(share) - 1) < 1e-9 AS shares_add_up,
       sum(attribution) FILTER (WHERE input <> 'sequence_bin') > max(attribution) FILTER (WHERE input = 'sequence_bin') AS context_carries_it,
       abs(max(score) - max(peak_score)) < 1e-12 AS alert_score
  FROM seq_x WHERE input LIKE 'sequence%';
SELECT count(*) FILTER (WHERE input NOT LIKE 'sequence%') > 0 AS calibrated_inputs_too FROM seq_x;
-- 2c. the alert's explanation carries the same bins: the row's value bin with its range and the
-- bins of the two rows before, next to the keys it always had
SELECT e ->> 'feature' AS named, e ? 'share' AND e ? 'neg_log10_p' AS keys_kept,
       e -> 'sequence_bin' ->> 'range' ~ '^bin [0-9]+ of [0-9]+ \(' AS ranged,
       (e -> 'sequence_bin' ->> 'bin')::float8 = (SELECT value FROM seq_x WHERE input = 'sequence_bin') AS same_bin,
       (SELECT label FROM seq_x WHERE input = 'sequence_bin') LIKE '%' || (e -> 'sequence_bin' ->> 'range') || '%' AS same_range,
       jsonb_typeof(e -> 'sequence_bin' -> 'value') = 'number' AS has_value,
       (e -> 'sequence_previous' ->> 'bin')::float8 = (SELECT value FROM seq_x WHERE input = 'sequence_previous') AS same_previous,
       (e -> 'sequence_two_before' ->> 'bin')::float8 = (SELECT value FROM seq_x WHERE input = 'sequence_two_before') AS same_two_before
  FROM ml_alerts a, jsonb_array_elements(a.explanation) e
 WHERE a.metric_type = 'seq_load' AND e ->> 'feature' = 'sequence_context';
-- 3. ml_tune searches the family and its margin (every trial recorded with its family)
SELECT (ml_tune('seq_load', 600) ->> 'trials')::int > 0 AS tuned;
SELECT count(*) FILTER (WHERE knob = 'detector_family') >= 2 AS families_tried,
       count(*) FILTER (WHERE knob = 'seq_margin') >= 1 AS margins_tried,
       bool_and(params ? 'detector_family') AS recorded
  FROM ml_tuning_trials WHERE metric_type = 'seq_load';
-- 4. bad input
SELECT ml_train('seq_load', params => '{"detector_family": "htm"}');
SELECT ml_train('seq_load', params => '{"seq_rest_hours": 100}');
-- 5. one day of data (min_train_days at its default of 7) makes a warm-up model, with a NOTICE
-- that weekly patterns are not learned yet
SET client_min_messages = notice;
SELECT ml_train('seq_load', train_until => '2026-05-05 00:00+00') AS m_day \gset
SET client_min_messages = warning;
SELECT (parameters -> 'report' ->> 'warm_up')::boolean AS warm_up, (parameters -> 'report' ->> 'confidence')::float8 < 0.2 AS low_confidence
  FROM ml_models WHERE id = :m_day;
