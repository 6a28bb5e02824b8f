-- The seed's five tables with every column SPEC.md names, and comments on everything.
\set VERBOSITY terse
WITH want(tbl, col) AS (VALUES
  ('ml_metrics','id'),('ml_metrics','metric_type'),('ml_metrics','entity_id'),('ml_metrics','metric_value'),
  ('ml_metrics','timestamp'),('ml_metrics','extra_data'),
  ('ml_features','id'),('ml_features','metric_type'),('ml_features','entity_id'),('ml_features','timestamp'),
  ('ml_features','mean_value'),('ml_features','std_value'),('ml_features','min_value'),('ml_features','max_value'),
  ('ml_features','trend_slope'),('ml_features','trend_direction'),('ml_features','volatility'),
  ('ml_features','hour_of_day'),('ml_features','day_of_week'),('ml_features','is_weekend'),
  ('ml_features','lag_1'),('ml_features','lag_7'),('ml_features','lag_30'),('ml_features','rolling_mean_7'),
  ('ml_features','rolling_std_7'),('ml_features','extra_features'),
  ('ml_models','id'),('ml_models','model_type'),('ml_models','metric_type'),('ml_models','model_data'),
  ('ml_models','model_path'),('ml_models','parameters'),('ml_models','accuracy'),('ml_models','precision'),
  ('ml_models','recall'),('ml_models','is_active'),
  ('ml_alerts','id'),('ml_alerts','alert_type'),('ml_alerts','severity'),('ml_alerts','entity_id'),
  ('ml_alerts','metric_value'),('ml_alerts','expected_value'),('ml_alerts','deviation_percent'),
  ('ml_alerts','message'),('ml_alerts','suggested_action'),('ml_alerts','is_read'),('ml_alerts','is_false_positive'),
  ('ml_training_logs','id'),('ml_training_logs','model_id'),('ml_training_logs','training_start'),
  ('ml_training_logs','training_end'),('ml_training_logs','data_points'),('ml_training_logs','success'),
  ('ml_training_logs','error_message'),('ml_training_logs','metrics'))
SELECT w.tbl, w.col FROM want w
LEFT JOIN information_schema.columns c ON c.table_name = w.tbl AND c.column_name = w.col
WHERE c.column_name IS NULL;

SELECT data_type FROM information_schema.columns WHERE table_name = 'ml_metrics' AND column_name = 'timestamp';

-- Tables and columns without a comment (should be none), partitions aside.
SELECT c.relname FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_anomaly'
WHERE c.relkind IN ('r', 'p', 'v') AND obj_description(c.oid, 'pg_class') IS NULL;
SELECT c.relname, a.attname FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_anomaly'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND c.relname NOT LIKE '%_default' AND col_description(c.oid, a.attnum) IS NULL;
-- Functions without a comment (should be none).
SELECT p.proname FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_anomaly'
WHERE obj_description(p.oid, 'pg_proc') IS NULL ORDER BY 1;

-- Exactly one active model per (metric_type, model_type) is enforced by an index.
SELECT indexdef FROM pg_indexes WHERE indexname = 'ml_models_one_active_idx';
-- ml_metrics is partitioned by day on "timestamp".
SELECT partstrat, (SELECT attname FROM pg_attribute WHERE attrelid = 'ml_metrics'::regclass AND attnum = partattrs[0])
FROM pg_partitioned_table WHERE partrelid = 'ml_metrics'::regclass;
-- Roles exist; PUBLIC has no privilege on the tables.
SELECT rolname FROM pg_roles WHERE rolname LIKE 'anomaly_%' ORDER BY 1;
SELECT has_table_privilege('public', 'ml_alerts', 'SELECT') AS public_reads_alerts;
