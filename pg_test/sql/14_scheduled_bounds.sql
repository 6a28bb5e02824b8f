-- Scheduled work is bounded: one INSERT of 500 new metric types (the issue's attack used 2,000) by a writer does not turn
-- each detection run into 2,000 first trainings; configured types get at most 10 first
-- trainings per run, and one failure record per type per day.
\set VERBOSITY terse
SET client_min_messages = warning;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_training_logs, ml_alerts, ml_job_runs CASCADE;
DELETE FROM ml_models;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT 'flood_' || i, 'e1', i, '2026-05-01 00:00+00' FROM generate_series(1, 500) i;
SELECT ml_build_features() AS feature_rows;
SELECT ml_run_stage('detection') ->> 'stage' AS stage;
SELECT count(*) AS training_attempts FROM ml_training_logs;
SELECT ml_run_stage('training') ->> 'stage' AS stage;
SELECT count(*) AS training_attempts FROM ml_training_logs;
-- twelve of them configured: ten first trainings in the first run (each fails: one row is
-- too little), the other two in the next, and no second failure record the same day
INSERT INTO ml_settings (metric_type, alert_type) SELECT 'flood_' || i, 'flood_anomali' FROM generate_series(1, 12) i;
SELECT ml_run_stage('detection') ->> 'stage' AS stage;
SELECT count(*) AS attempts, count(DISTINCT metric_type) AS types, bool_or(success) AS any_model FROM ml_training_logs;
SELECT ml_run_stage('detection') ->> 'stage' AS stage;
SELECT count(*) AS attempts, count(DISTINCT metric_type) AS types FROM ml_training_logs;
SELECT ml_run_stage('detection') ->> 'stage' AS stage;
SELECT ml_run_stage('training') ->> 'stage' AS stage;
SELECT count(*) AS attempts, count(DISTINCT metric_type) AS types FROM ml_training_logs;
DELETE FROM ml_settings WHERE metric_type LIKE 'flood\_%';
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_training_logs, ml_job_runs CASCADE;
