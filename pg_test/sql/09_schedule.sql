-- The self-running pipeline: pg_cron jobs, stage runs with their record, retention by partitions.
\set VERBOSITY terse
SELECT job_name, schedule, command LIKE '%ml_run_stage(''' || split_part(job_name, '_', 3) || ''', ''cron'')' AS command_ok
FROM ml_schedule() ORDER BY 1;
SELECT count(*) AS jobs FROM cron.job WHERE jobname LIKE 'pg_anomaly_%';
-- idempotent: a second call updates, never duplicates
SELECT count(*) FROM ml_schedule(detection => '*/10 * * * *');
SELECT jobname, schedule FROM cron.job WHERE jobname LIKE 'pg_anomaly_%' ORDER BY 1;
SELECT ml_unschedule() AS removed;
SELECT count(*) AS jobs_left FROM cron.job WHERE jobname LIKE 'pg_anomaly_%';

-- every stage through the schedule's entry point, recorded with its trigger
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_job_runs, ml_alerts CASCADE;
DELETE FROM ml_sources;
SELECT sum(rows) FROM ml_generate_demo_data(3, 10, 4, date_trunc('hour', now()));
SELECT ml_run_stage('features', 'cron')->>'rows' AS feature_rows;
SELECT ml_run_stage('training', 'cron') ? 'metric_types' AS trained;
SELECT (SELECT count(*) FROM ml_models WHERE is_active) AS active_models;
SELECT ml_run_stage('detection', 'cron') ? 'metric_types' AS detected;
SELECT ml_run_stage('collection', 'cron')->>'sources' AS sources;
SELECT stage, trigger, bool_and(success) AS ok FROM ml_job_runs WHERE stage IN ('features', 'training', 'detection')
GROUP BY 1, 2 ORDER BY 1;
SELECT ml_run_stage('nightly');
SELECT ml_run_stage('features', 'robot');


-- retention: whole day partitions past retention are dropped; recent data stays
SELECT sum(rows) AS old_rows FROM ml_generate_demo_data(2, 3, 4, date_trunc('day', now()) - interval '100 days');
SELECT ml_build_features() AS old_features;
SELECT count(*) > 0 AS old_partitions FROM pg_class WHERE relname ~ '^ml_metrics_p' AND
       to_date(substr(relname, 13), 'YYYYMMDD') < current_date - 95;
SELECT count(*) AS recent_before FROM ml_metrics WHERE "timestamp" > now() - interval '90 days' \gset
SELECT table_name, removed > 0 AS removed_some FROM ml_cleanup() WHERE table_name IN ('ml_metrics', 'ml_features') ORDER BY 1;
SELECT count(*) AS old_partitions_left FROM pg_class WHERE relname ~ '^ml_metrics_p' AND
       to_date(substr(relname, 13), 'YYYYMMDD') < current_date - 91;
SELECT count(*) = :recent_before AS recent_kept FROM ml_metrics WHERE "timestamp" > now() - interval '90 days';
SELECT count(*) FILTER (WHERE "timestamp" < now() - interval '91 days') AS expired_rows_left FROM ml_metrics;
-- the partitions of the coming week exist
SELECT count(*) >= 7 AS ahead FROM pg_class WHERE relname ~ '^ml_metrics_p' AND to_date(substr(relname, 13), 'YYYYMMDD') > current_date;
-- health KPIs are measured
SELECT kpi, measured IS NOT NULL AS measured FROM ml_health
WHERE kpi IN ('success_rate_24h_percent:features', 'duration_p95_seconds:detection', 'freshness_seconds:metrics', 'duplicate_rate_percent')
ORDER BY 1;
SELECT measured FROM ml_health WHERE kpi = 'duplicate_rate_percent';
