-- Every row of every table of pg_anomaly (columns the notifier worker keeps changing left
-- out; the demo labels, which pg_dump leaves out by design, too), the daily partitions and
-- the position of every sequence, as one line per table: name, row count, md5 of the rows.
-- Used by scripts/test_dump_restore.sh and scripts/test_upgrade.sh to show nothing was lost.
WITH t(name, q) AS (VALUES
  ('ml_settings', 'SELECT x::text FROM ml_settings x'),
  ('ml_metrics', 'SELECT x::text FROM ml_metrics x'),
  -- features as stored by 0.2.0 (real), so a 0.1.0 database's float8 features compare equal
  ('ml_features', (SELECT 'SELECT (' || string_agg(CASE WHEN a.atttypid IN ('float4'::regtype, 'float8'::regtype)
                                                         AND a.attname NOT IN ('metric_value', 'median_value')
                                                        THEN quote_ident(a.attname) || '::real' ELSE quote_ident(a.attname) END, ', ' ORDER BY a.attnum)
                          || ')::text FROM ml_features'
                     FROM pg_attribute a WHERE a.attrelid = 'ml_features'::regclass AND a.attnum > 0 AND NOT a.attisdropped)),
  -- the columns of 0.1.0 (checkpoint_version, added by 0.2.0, is NULL after the upgrade: it
  -- only points at a kernel checkpoint, and those are not dumped either)
  ('ml_series_state', 'SELECT (metric_type, entity_id, features_until, scored_until, features_version)::text FROM ml_series_state'),
  ('ml_series_dirty', 'SELECT x::text FROM ml_series_dirty x'),
  ('ml_feature_sets', 'SELECT x::text FROM ml_feature_sets x'),
  ('ml_labels', 'SELECT x::text FROM ml_labels x WHERE source <> ''demo'''),
  ('ml_models', 'SELECT x::text FROM ml_models x'),
  ('ml_training_logs', 'SELECT x::text FROM ml_training_logs x'),
  ('ml_alerts', 'SELECT x::text FROM ml_alerts x'),
  ('ml_sources', 'SELECT (name, metric_type, query, kind, owner::regrole::text, watermark, enabled, created_at)::text FROM ml_sources'),
  ('ml_job_runs', 'SELECT x::text FROM ml_job_runs x WHERE stage <> ''notification'''),
  ('ml_channels', 'SELECT x::text FROM ml_channels x'),
  ('ml_notification_rules', 'SELECT (id, channel_id, min_severity, alert_type, metric_type, entity_pattern, enabled)::text FROM ml_notification_rules'),
  ('ml_notifications', 'SELECT (id, alert_id, channel_id, severity, created_at, idempotency_key)::text FROM ml_notifications'),
  ('ml_action_rules', 'SELECT (id, action::text, owner::regrole::text, min_severity, alert_type, metric_type, entity_pattern, enabled)::text FROM ml_action_rules'),
  ('ml_action_runs', 'SELECT x::text FROM ml_action_runs x'),
  ('cron.job', 'SELECT (jobname, schedule, command, database, username, active)::text FROM cron.job'),
  ('partitions', 'SELECT c.relname || '' '' || pg_get_expr(c.relpartbound, c.oid) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE i.inhparent IN (''ml_metrics''::regclass, ''ml_features''::regclass)')
)
SELECT name || ' ' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM (%s) s', q), false, true, '')))[1]::text
       || ' ' || md5(coalesce((xpath('/row/h/text()', query_to_xml(format('SELECT string_agg(r, ''|'' ORDER BY r) AS h FROM (%s) s(r)', q), false, true, '')))[1]::text, ''))
FROM t
UNION ALL
-- a sequence never used holds no position to lose (one that an update adds starts unused)
SELECT 'sequence ' || sequencename || ' ' || last_value::text FROM pg_sequences WHERE schemaname IN ('public', 'cron') AND last_value IS NOT NULL
ORDER BY 1;
