-- A catalog of bad inputs: each gets a clear error (SQLSTATE) or a documented defined
-- result, and nothing already stored changes.
\set VERBOSITY sqlstate
SET client_min_messages = warning;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_training_logs, ml_alerts CASCADE;
DELETE FROM ml_models;
SELECT sum(rows) FROM ml_generate_demo_data(3, 9, 13, '2026-05-10 00:00+00');
SELECT ml_build_features() > 0 AS built;
SELECT ml_train('tuketim_miktar') > 0 AS trained;
CREATE TEMP TABLE snap AS SELECT (SELECT count(*) FROM ml_metrics) AS metrics, (SELECT count(*) FROM ml_features) AS features,
    (SELECT count(*) FROM ml_models) AS models, (SELECT sum(metric_value) FROM ml_metrics) AS total;

-- values: magnitudes near 1e300 are finite and stored; the features stay finite or NULL, never NaN
SELECT ml_ingest('big', 'e1', 1e300, '2026-05-01 00:00+00'), ml_ingest('big', 'e1', -1e300, '2026-05-01 00:15+00'),
       ml_ingest('big', 'e1', 1e300, '2026-05-01 00:30+00');
SELECT ml_build_features('big') AS big_rows;
SELECT count(*) FILTER (WHERE std_value = 'NaN' OR mean_value = 'NaN' OR trend_slope = 'NaN') AS nan_features FROM ml_features WHERE metric_type = 'big';
-- beyond real's range (3.4e38) a stored feature is NULL, never an infinity
SELECT count(*) FILTER (WHERE abs(mean_value) = 'Infinity' OR abs(max_value) = 'Infinity' OR abs(lag_1) = 'Infinity'
                           OR abs(std_value) = 'Infinity' OR abs(trend_slope) = 'Infinity') AS infinite_features,
       count(*) FILTER (WHERE max_value IS NULL) AS unrepresentable_max, count(*) AS big_rows
  FROM ml_features WHERE metric_type = 'big';
DELETE FROM ml_metrics WHERE metric_type = 'big';
-- timestamps: out of order and late data are accepted (features recompute); far future is accepted too
SELECT ml_ingest('order', 'e1', 1, '2026-05-03 00:00+00'), ml_ingest('order', 'e1', 2, '2026-05-01 00:00+00'),
       ml_ingest('order', 'e1', 3, '1990-01-01 00:00+00'), ml_ingest('order', 'e1', 4, '2200-01-01 00:00+00');
SELECT ml_build_features('order') AS order_rows;
SELECT count(*) AS ordered_rows FROM ml_features WHERE metric_type = 'order';
DELETE FROM ml_metrics WHERE metric_type = 'order';
-- series too short or constant: a clear error, no model, a log row
SELECT ml_ingest('tiny', 'e1', 5, '2026-05-01 00:00+00');
SELECT ml_build_features('tiny') AS tiny_rows;
SELECT ml_train('tiny');
SELECT ml_train('tiny', 'z_score');
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT 'flat', 'e1', 7, '2026-04-20'::timestamptz + i * interval '15 minutes' FROM generate_series(0, 96 * 10) i;
SELECT ml_build_features('flat') AS flat_rows;
SELECT ml_train('flat', 'z_score') > 0 AS constant_series_z_model;
SELECT count(*) FILTER (WHERE is_anomaly) AS flat_anomalies FROM ml_detect('flat');
DELETE FROM ml_metrics WHERE metric_type IN ('tiny', 'flat');
DELETE FROM ml_models WHERE metric_type IN ('tiny', 'flat');
-- unknown names
SELECT ml_train('no_such_type');
SELECT * FROM ml_detect('no_such_type');
SELECT ml_activate_model(-1);
SELECT ml_plot('tuketim_miktar', 'no_such_entity');
SELECT * FROM ml_collect('no_such_source');
-- params: unknown keys, wrong types, absurd values
SELECT ml_train('tuketim_miktar', params => '{"n_trees": 0}');
SELECT ml_train('tuketim_miktar', params => '{"n_trees": -5}');
SELECT ml_train('tuketim_miktar', params => '{"max_samples": 1000000000}');
SELECT ml_train('tuketim_miktar', params => '{"alert_p": 2}');
SELECT ml_train('tuketim_miktar', params => '{"seed": "x"}');
SELECT ml_train('tuketim_miktar', params => '{"bogus": true}');
SELECT ml_train('tuketim_miktar', params => '[1, 2]');
SELECT ml_train('tuketim_miktar', 'z_score', '{"threshold": -1}');
SELECT ml_select_features('tuketim_miktar', 'nonsense');
SELECT ml_build_features(parallel => 0) >= 0 AS serial_when_not_parallel;
-- hostile model bytes: an error, never a crash; the next call still works
UPDATE ml_models SET model_data = substr(model_data, 1, 40) WHERE is_active AND metric_type = 'tuketim_miktar';
SELECT count(*) FROM ml_detect('tuketim_miktar');
UPDATE ml_models SET model_data = '\x00010203'::bytea WHERE is_active AND metric_type = 'tuketim_miktar';
SELECT count(*) FROM ml_detect('tuketim_miktar');
UPDATE ml_models SET model_data = decode(repeat('ff', 5000), 'hex') WHERE is_active AND metric_type = 'tuketim_miktar';
SELECT count(*) FROM ml_detect('tuketim_miktar');
SELECT 1 AS backend_alive;
-- a statement timeout during a long feature rebuild aborts cleanly and leaves the old rows
SET statement_timeout = '50ms';
SELECT ml_build_features(full_rebuild => true);
RESET statement_timeout;
SELECT (SELECT count(*) FROM ml_features) = (SELECT features FROM snap) AS features_intact;
-- ml_distribute needs a Citus cluster: a clear error, and the tables stay as they are
SELECT * FROM ml_distribute();
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ml_metrics'::regclass AND tgname = 'ml_metrics_inserted';
-- the Citus shard functions without Citus: no shard here, a clear error (nothing read)
SELECT ml_train_sample_shard('ml_metrics', '\x00');
SELECT ml_detect_shard('ml_metrics', '\x00', '\x00');
-- nothing stored changed
SELECT (SELECT count(*) FROM ml_metrics) = metrics AND (SELECT sum(metric_value) FROM ml_metrics) = total AS metrics_intact,
       (SELECT count(*) FROM ml_models) = models AS models_intact FROM snap;
