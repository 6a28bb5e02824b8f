-- Shapley explanations (ml_explain), global importance (ml_feature_importance), recursive
-- feature elimination (ml_select_features(..., 'rfe')).
\set VERBOSITY terse
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_feature_set_rounds, ml_training_logs, ml_alerts CASCADE;
DELETE FROM ml_models;
SELECT sum(rows) > 0 AS loaded FROM ml_generate_demo_data(6, 14, 5, '2026-03-22 00:00+00');
-- nothing trained yet: clear errors
SELECT * FROM ml_explain('tuketim_miktar', 'urun_0001', '2026-03-20 10:00+00');
SELECT * FROM ml_feature_importance('tuketim_miktar');
SELECT ml_train('tuketim_miktar') AS m1 \gset
-- importance is stored with the model: one row per input, all measured, ordered by importance
SELECT count(*) AS inputs, bool_and(sample_importance >= 0 AND alerted_importance >= 0 AND forest_importance >= 0) AS non_negative,
       bool_and(abs(importance - sample_importance - alerted_importance) < 1e-12) AS sum_of_both,
       min(rows_sample) > 100 AS sampled, bool_and(model_id = :m1) AS of_active_model, max(importance) > 0 AS something_matters
FROM ml_feature_importance('tuketim_miktar');
SELECT jsonb_array_length(parameters->'importance'->'inputs') AS stored FROM ml_models WHERE id = :m1;
-- explain the most anomalous row of the last week
SELECT entity_id AS e, "timestamp" AS t FROM ml_detect('tuketim_miktar', since => '2026-03-15 00:00+00')
 ORDER BY score DESC, entity_id, "timestamp" LIMIT 1 \gset
CREATE TEMP TABLE x AS SELECT * FROM ml_explain('tuketim_miktar', :'e', :'t');
-- exact Shapley values add up: sum(attribution) = surprise - base_surprise, shares sum to 1
SELECT count(*) AS inputs, abs(sum(attribution) - max(surprise - base_surprise)) < 1e-9 AS adds_up,
       abs(sum(share) - 1) < 1e-9 AS shares_sum_to_one, max(score) > 0.99 AS anomalous,
       max(attribution) > 0 AS has_a_cause, count(forest_attribution) AS forest_values
FROM x;
-- the score explained is the score ml_detect gives that row
SELECT abs(d.score - (SELECT max(score) FROM x)) < 1e-9 AS same_score
FROM ml_detect('tuketim_miktar', since => :'t', until => :'t'::timestamptz + interval '1 second') d
WHERE d.entity_id = :'e' AND d."timestamp" = :'t';
-- the alert explanation leads with the input of the largest Shapley value
SELECT (SELECT label FROM x ORDER BY attribution DESC LIMIT 1) = (d.explanation->0->>'feature') AS alert_uses_shapley
FROM ml_detect('tuketim_miktar', since => :'t', until => :'t'::timestamptz + interval '1 second') d
WHERE d.entity_id = :'e' AND d."timestamp" = :'t';
-- bad input
SELECT * FROM ml_explain('tuketim_miktar', 'no_such_entity', :'t');
SELECT * FROM ml_explain('tuketim_miktar', :'e', '1999-01-01 00:00+00');
SELECT * FROM ml_explain('no_such_metric', :'e', :'t');
SELECT * FROM ml_feature_importance('no_such_metric');
-- recursive feature elimination: every round recorded, never zero inputs, one chosen
SELECT count(*) AS inputs, count(*) FILTER (WHERE kept) >= 1 AS keeps_some, bool_and(score >= 0) AS scored,
       bool_and(reason <> '') AS explained
FROM ml_select_features('tuketim_miktar', method => 'rfe');
SELECT count(*) AS rounds, count(*) FILTER (WHERE chosen) AS chosen, min(cardinality(features)) AS fewest,
       max(cardinality(features)) AS most, bool_and(f1 IS NOT NULL) AS f1_measured, min(criterion) AS criterion,
       bool_and(alerts_per_series_week >= 0 AND seconds >= 0) AS measured,
       bool_and(cardinality(importance) = cardinality(features)) AS importance_per_input,
       count(*) FILTER (WHERE dropped IS NULL) AS last_round
FROM ml_feature_set_rounds WHERE metric_type = 'tuketim_miktar';
-- each round leaves out exactly the input the previous one found least important
SELECT bool_and(b.features = array_remove(a.features, a.dropped)) AS one_less_each_round
FROM ml_feature_set_rounds a JOIN ml_feature_set_rounds b ON b.metric_type = a.metric_type AND b.round = a.round + 1
WHERE a.metric_type = 'tuketim_miktar';
-- the chosen round has the best F1 (ties: fewer inputs)
SELECT (SELECT f1 FROM ml_feature_set_rounds WHERE metric_type = 'tuketim_miktar' AND chosen)
       = (SELECT max(f1) FROM ml_feature_set_rounds WHERE metric_type = 'tuketim_miktar') AS best_f1_chosen;
SELECT count(*) AS rfe_rows, count(*) FILTER (WHERE kept) = (SELECT cardinality(features) FROM ml_feature_set_rounds
       WHERE metric_type = 'tuketim_miktar' AND chosen) AS kept_is_chosen
FROM ml_feature_sets WHERE metric_type = 'tuketim_miktar' AND method = 'rfe';
-- a column selection keeps the elimination's record, and the other way round
SELECT count(*) > 0 AS columns FROM ml_select_features('tuketim_miktar', 'variance');
SELECT count(*) FILTER (WHERE method = 'rfe') AS rfe_rows, count(*) FILTER (WHERE method = 'variance') > 0 AS column_rows
FROM ml_feature_sets WHERE metric_type = 'tuketim_miktar';
-- training uses the chosen inputs and explains with them
SELECT ml_train('tuketim_miktar') AS m2 \gset
SELECT (SELECT array_agg(v ORDER BY v) FROM jsonb_array_elements_text(parameters->'inputs') v)
     = (SELECT array_agg(f ORDER BY f) FROM ml_feature_set_rounds, unnest(features) f WHERE metric_type = 'tuketim_miktar' AND chosen)
       AS trained_on_chosen
FROM ml_models WHERE id = :m2;
-- explicit parameters win over the recorded elimination; a bad input name is an error
SELECT ml_train('tuketim_miktar', params => '{"exclude_inputs": []}') AS m3 \gset
SELECT jsonb_array_length(parameters->'inputs') AS all_inputs FROM ml_models WHERE id = :m3;
SELECT ml_train('tuketim_miktar', params => '{"exclude_inputs": ["no_such_input"]}');
SELECT ml_train('tuketim_miktar', params => '{"exclude_inputs": ["count_now", "count_1h", "count_4h", "count_24h", "repeat_run"]}');
-- a kind with one input: one round, the input kept
SELECT feature, kept FROM ml_select_features('dolum_sure', method => 'rfe');
SELECT count(*) AS rounds FROM ml_feature_set_rounds WHERE metric_type = 'dolum_sure';
SELECT * FROM ml_select_features('no_such_metric', method => 'rfe');
-- leave no elimination record behind for the files that follow (their trainings use every input)
DELETE FROM ml_feature_set_rounds;
DELETE FROM ml_feature_sets WHERE method = 'rfe';
