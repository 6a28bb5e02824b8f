-- Self-tuning: ml_tune searches families and parameters, records every trial, stops within
-- its budget, trains its winner and activates it only when not worse than the active model.
\set VERBOSITY terse
SET client_min_messages = warning;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_feature_set_rounds,
         ml_training_logs, ml_alerts, ml_tuning_trials CASCADE;
DELETE FROM ml_models;
SELECT sum(rows) > 0 AS demo, sum(labels) > 0 AS labelled FROM ml_generate_demo_data(6, 14, 5, '2026-04-12 00:00+00');

-- 1. a run on labelled data: event F1 decides; at most 8 trials; every trial is a row
SELECT ml_tune('tuketim_miktar', 600, 8) AS r \gset
SELECT :'r'::jsonb ->> 'objective' AS objective, (:'r'::jsonb ->> 'trials')::int AS trials,
       :'r'::jsonb ->> 'stopped' AS stopped, :'r'::jsonb ->> 'base' AS base, (:'r'::jsonb ->> 'run_id')::int AS run_id;
SELECT count(*) AS trial_rows, min(trial) AS first_trial, max(trial) AS last_trial, count(DISTINCT run_id) AS runs,
       bool_and(metric_type = 'tuketim_miktar') AS metric_type, bool_and(objective = 'event_f1') AS objective,
       bool_and(f1 IS NOT NULL AND "precision" IS NOT NULL AND recall IS NOT NULL) AS quality_measured,
       bool_and(alerts_per_series_week >= 0 AND seconds >= 0) AS rates_and_seconds,
       bool_and(params ? 'family' AND params ? 'alert_p' AND params ? 'use_forest') AS full_params,
       count(*) FILTER (WHERE chosen) AS chosen_rows, count(DISTINCT params) AS distinct_configs
  FROM ml_tuning_trials;
SELECT knob, why LIKE 'base: event F1 %' AS base_why FROM ml_tuning_trials WHERE trial = 0;
-- the winner's row says why; a new model exists exactly when the winner beat the base
SELECT why ~ '^(chosen: best of the run|kept: no candidate beat the base)' AS why_says,
       why ~ 'search stopped: trial budget: 8 trials' AS says_where_it_stopped,
       (model_id IS NOT NULL) = (:'r'::jsonb ->> 'improved')::boolean AS model_iff_improved
  FROM ml_tuning_trials WHERE chosen;

-- 2. the time budget: a search that would take longer stops before it, and says so. The base is
-- always measured (it is what the search must beat); with a budget of 1 ms no other trial fits.
-- (A trial is started only when the time spent plus the slowest trial so far fits: the search
-- ends before the budget plus one trial; 0.2 s allow for the bookkeeping after the last trial on a
-- loaded machine; the trial count beside it says no second trial ran.)
SELECT ml_tune('zimmet_kullanim', 0.001) AS t \gset
SELECT :'t'::jsonb ->> 'stopped' AS stopped, (:'t'::jsonb ->> 'trials')::int AS trials,
       (:'t'::jsonb ->> 'seconds')::float8 <= 0.001 + max(seconds) + 0.2 AS within_budget,
       count(*) = (:'t'::jsonb ->> 'trials')::int AS every_trial_recorded,
       (:'t'::jsonb ->> 'improved')::boolean AS improved,
       (SELECT why ~ 'search stopped: time budget: 1 trials in [0-9.]+ s of 0.001 s' FROM ml_tuning_trials
         WHERE run_id = (:'t'::jsonb ->> 'run_id')::bigint AND chosen) AS says_where_it_stopped
  FROM ml_tuning_trials WHERE run_id = (:'t'::jsonb ->> 'run_id')::bigint;

-- 3. activation: a winner is activated only when its F1 is not worse than the active model's.
-- An active model with a threshold that alerts on everything: tuning from it finds better.
DELETE FROM ml_models WHERE metric_type = 'stok_seviye';
SELECT ml_train('stok_seviye', params => '{"alert_p": 0.3, "close_p": 0.3}') AS bad_id \gset
-- its recorded F1 made perfect: a winner of two trials (the base and another family) beats
-- the base but not that F1, so it is trained and not activated
UPDATE ml_models SET f1 = 1.0 WHERE id = :bad_id;
SELECT ml_tune('stok_seviye', 600, 2) AS a \gset
SELECT (:'a'::jsonb ->> 'improved')::boolean AS improved, (:'a'::jsonb ->> 'activated')::boolean AS activated,
       (SELECT id FROM ml_models WHERE metric_type = 'stok_seviye' AND is_active) = :bad_id AS old_model_stays;
SELECT activated, model_id IS NOT NULL AS trained, f1 < 1 AS worse, why ~ 'not activated: its F1 is worse than the active model''s' AS why_not
  FROM ml_tuning_trials WHERE run_id = (:'a'::jsonb ->> 'run_id')::bigint AND chosen;
-- with its real (poor) F1 back, the tuned model is better and becomes the active one
UPDATE ml_models SET f1 = 0.1 WHERE id = :bad_id;
SELECT ml_tune('stok_seviye', 600, 6) AS b \gset
SELECT (:'b'::jsonb ->> 'activated')::boolean AS activated,
       (SELECT id FROM ml_models WHERE metric_type = 'stok_seviye' AND is_active) = (:'b'::jsonb ->> 'model_id')::bigint AS tuned_model_active,
       (SELECT (params ->> 'alert_p')::float8 < 0.3 FROM ml_tuning_trials WHERE run_id = (:'b'::jsonb ->> 'run_id')::bigint AND chosen) AS stricter;
SELECT activated, why ~ '^chosen: best of the run .*trained as model \d+ and activated' AS why_activated
  FROM ml_tuning_trials WHERE run_id = (:'b'::jsonb ->> 'run_id')::bigint AND chosen;
-- the winner's parameters are what ml_train takes, and the nightly training reuses them
SELECT train_params ? 'alert_p' AS has_alert_p, NOT train_params ? 'exclude_inputs' AS inputs_from_elimination
  FROM ml_tuning_trials WHERE run_id = (:'b'::jsonb ->> 'run_id')::bigint AND chosen;
SET pg_anomaly.nightly_tuning = off;
SELECT ml_run_stage('training') ->> 'stage' AS nightly;
SELECT (m.parameters -> 'params') = t.train_params AS nightly_used_tuned_params
  FROM ml_models m, ml_tuning_trials t
 WHERE m.metric_type = 'stok_seviye' AND m.id = (SELECT max(id) FROM ml_models WHERE metric_type = 'stok_seviye')
   AND t.run_id = (:'b'::jsonb ->> 'run_id')::bigint AND t.chosen;
-- a tuned-parameters row an admin broke is skipped with a WARNING; the training goes on
UPDATE ml_tuning_trials SET train_params = '{"alert_p": "high"}' WHERE run_id = (:'b'::jsonb ->> 'run_id')::bigint AND chosen;
SET client_min_messages = warning;
SELECT ml_run_stage('training') -> 'metric_types' @> '[{"metric_type": "stok_seviye"}]' AS nightly_still_trains;
SELECT m.parameters -> 'params' AS params_used FROM ml_models m WHERE m.id = (SELECT max(id) FROM ml_models WHERE metric_type = 'stok_seviye');
RESET pg_anomaly.nightly_tuning;
-- with nightly tuning on (the default), the training stage tunes every metric type first
SET pg_anomaly.tuning_seconds = 3;
SELECT count(*) AS types, count(*) FILTER (WHERE e -> 'tuning' ? 'run_id') AS tuned
  FROM jsonb_array_elements(ml_run_stage('training') -> 'metric_types') e;
RESET pg_anomaly.tuning_seconds;
-- the run's metric types share pg_anomaly.tuning_total_seconds: the first one searches within
-- what is left (1 s here), the others retrain without a search and say why
SET pg_anomaly.tuning_total_seconds = 1;
SELECT count(*) AS types, count(*) FILTER (WHERE e -> 'tuning' ? 'run_id') AS tuned,
       count(*) FILTER (WHERE e -> 'tuning' ->> 'skipped' LIKE '%tuning_total_seconds is spent%') AS skipped,
       count(*) FILTER (WHERE (e ->> 'model_id')::bigint > 0) AS trained
  FROM jsonb_array_elements(ml_run_stage('training') -> 'metric_types') e;
RESET pg_anomaly.tuning_total_seconds;
-- a family the tuner may choose is a training parameter
SELECT ml_train('tuketim_miktar', params => '{"family": "generic"}') AS g_id \gset
SELECT parameters -> 'report' ->> 'kind' AS kind FROM ml_models WHERE id = :g_id;

-- 4. bad input: clear errors, proper SQLSTATEs, nothing recorded
SELECT count(*) AS trials_before FROM ml_tuning_trials \gset
SELECT ml_tune('no_such_metric', 10);
SELECT ml_tune('tuketim_miktar', -1);
SELECT ml_tune('tuketim_miktar', 0, 5);
SELECT ml_tune('tuketim_miktar', 'NaN');
SELECT ml_tune('tuketim_miktar', 100000);
SELECT ml_tune('tuketim_miktar', 10, 0);
SELECT ml_tune(NULL);
SELECT ml_tune('tuketim_miktar', NULL);
SELECT ml_train('tuketim_miktar', params => '{"family": "level"}');
SELECT ml_train('tuketim_miktar', params => '{"family": 3}');
\set VERBOSITY sqlstate
SELECT ml_tune('no_such_metric', 10);
SELECT ml_tune('tuketim_miktar', -1);
SELECT ml_tune('tuketim_miktar', 10, 0);
SELECT ml_tune(NULL);
SELECT ml_train('tuketim_miktar', params => '{"family": "level"}');
\set VERBOSITY terse
SELECT count(*) = :trials_before AS nothing_recorded FROM ml_tuning_trials;

-- 5. privileges: the admin tunes; a reader reads the trials but may not tune
SELECT has_function_privilege('anomaly_admin', 'ml_tune(text, float8, int)', 'EXECUTE') AS admin_tunes,
       has_function_privilege('anomaly_reader', 'ml_tune(text, float8, int)', 'EXECUTE') AS reader_tunes,
       has_function_privilege('anomaly_writer', 'ml_tune(text, float8, int)', 'EXECUTE') AS writer_tunes,
       has_table_privilege('anomaly_reader', 'ml_tuning_trials', 'SELECT') AS reader_reads_trials,
       has_table_privilege('anomaly_reader', 'ml_tuning_trials', 'INSERT') AS reader_writes_trials,
       has_table_privilege('anomaly_writer', 'ml_tuning_trials', 'SELECT') AS writer_reads_trials;
