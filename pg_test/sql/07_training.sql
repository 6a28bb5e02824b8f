-- Training: model rows, logs, activation, versioning, rollback, determinism, failures.
\set VERBOSITY terse
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_training_logs, ml_alerts CASCADE;
DELETE FROM ml_models;
SELECT sum(rows) FROM ml_generate_demo_data(8, 21, 3, '2026-03-22 00:00+00');
SELECT ml_train('tuketim_miktar') AS first_id \gset
SELECT model_type, metric_type, version, is_active, threshold BETWEEN 0 AND 1 AS threshold_ok, data_points > 10000 AS enough_points,
       length(model_data) > 1000 AS has_bytes, parameters ? 'features_selected' AS records_features,
       parameters->>'model_type' AS stored_type
FROM ml_models WHERE id = :first_id;
-- labels exist in the trained period, so quality is measured (not invented)
SELECT accuracy IS NOT NULL AND "precision" IS NOT NULL AND recall IS NOT NULL AS quality_measured FROM ml_models WHERE id = :first_id;
SELECT success, data_points > 0 AS points, metrics ? 'quality' AS has_quality, model_id = :first_id AS linked FROM ml_training_logs;
-- the same seed gives the same model bytes
SELECT ml_train('tuketim_miktar') AS second_id \gset
SELECT (SELECT model_data FROM ml_models WHERE id = :first_id) = (SELECT model_data FROM ml_models WHERE id = :second_id) AS deterministic;
SELECT version, is_active FROM ml_models WHERE metric_type = 'tuketim_miktar' ORDER BY version;
-- rollback to the first version; exactly one active model per (metric_type, model_type)
SELECT ml_activate_model(:first_id);
SELECT version, is_active FROM ml_models WHERE metric_type = 'tuketim_miktar' ORDER BY version;
UPDATE ml_models SET is_active = true WHERE metric_type = 'tuketim_miktar';
SELECT ml_activate_model(987654);
-- another seed gives another model
SELECT ml_train('tuketim_miktar', params => '{"seed": 7}') AS third_id \gset
SELECT (SELECT model_data FROM ml_models WHERE id = :first_id) <> (SELECT model_data FROM ml_models WHERE id = :third_id) AS seed_matters;
-- z-score model
SELECT ml_train('dolum_sure', 'z_score', '{"by_hour": false, "threshold": 4}') AS z_id \gset
SELECT model_type, is_active, parameters->'zscore'->>'threshold' AS z_threshold FROM ml_models WHERE id = :z_id;
-- failures: bad params and no data give clear errors and leave no model behind
SELECT count(*) AS models_before FROM ml_models \gset
SELECT ml_train('tuketim_miktar', 'deep_learning');
SELECT ml_train('tuketim_miktar', params => '{"n_trees": 0}');
SELECT ml_train('tuketim_miktar', params => '{"max_samples": 1000000000}');
SELECT ml_train('tuketim_miktar', params => '{"no_such_key": 1}');
SELECT ml_train('tuketim_miktar', params => '{"n_trees": "many"}');
SELECT ml_train('no_such_metric');
SELECT count(*) = :models_before AS no_half_written_model FROM ml_models;
SELECT count(*) FILTER (WHERE NOT success) AS failed_logs FROM ml_training_logs;
-- training leaves out known anomaly windows and logs why it ran
SELECT reason, (metrics->>'entities')::int AS entities FROM ml_training_logs ORDER BY id LIMIT 1;
SELECT model_type, metric_type, version FROM ml_model_performance ORDER BY 1, 2;
-- degree-2 interactions are computed on the fly for the forest: a wider forest, same scoring
SELECT ml_train('tuketim_miktar', params => '{"interactions": 3}') AS ix_id \gset
SELECT jsonb_array_length(parameters->'report'->'interactions') AS interactions,
       parameters->'detector'->>'interactions' AS asked FROM ml_models WHERE id = :ix_id;
SELECT ml_activate_model(:ix_id);
SELECT count(*) > 0 AS scores_with_interactions FROM ml_detect('tuketim_miktar', since => '2026-03-20 00:00+00');
-- a training sample: whole series until max_train_rows rows are read
SELECT ml_train('tuketim_miktar', params => '{"max_train_rows": 10000}') AS sample_id \gset
SELECT (parameters->'sample'->>'entities_read')::int AS entities_read, (parameters->'sample'->>'entities')::int AS entities,
       data_points >= 10000 AS reached_cap FROM ml_models WHERE id = :sample_id;
SELECT ml_train('tuketim_miktar', params => '{"max_train_rows": 5}');
SELECT ml_train('tuketim_miktar', params => '{"interactions": 11}');
-- parameters name the format version of the stored bytes (the header's u16 after the magic)
SELECT count(*) > 0 AS models, bool_and((parameters->>'format_version')::int = get_byte(model_data, 4) + 256 * get_byte(model_data, 5)) AS version_matches_bytes,
       bool_and((parameters->>'format_version')::int > 1) FILTER (WHERE model_type = 'isolation_forest') AS detector_version_current
  FROM ml_models;
