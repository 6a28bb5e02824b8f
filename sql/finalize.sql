-- pg_anomaly install script, last part: comments on the generated functions and privileges.

COMMENT ON FUNCTION ml_ingest(text, text, double precision, timestamptz, jsonb) IS
    'Stores one observation: inserts it, replaces a different value at the same timestamp (a correction) or ignores an identical one; returns inserted, corrected or unchanged';
COMMENT ON FUNCTION ml_add_source(text, text, text, text) IS
    'Registers a metric source: an application query (kind event: newer rows than $1; snapshot: current state) run with the privileges of the registering role';
COMMENT ON FUNCTION ml_remove_source(text) IS 'Removes a metric source';
COMMENT ON FUNCTION ml_build_features_shard(text, text, boolean, text) IS
    'Citus: builds the features of the series of one ml_metrics shard on the worker that holds it, with the coordinator''s feature settings; ml_build_features runs it on every shard at once; returns {rows read, rows written}';
COMMENT ON FUNCTION ml_train_sample_shard(text, bytea) IS
    'Citus: reads and packs the part of a training sample that one ml_metrics shard holds, on the worker that holds it; ml_train runs it on every shard at once with the series it planned';
COMMENT ON FUNCTION ml_detect_shard(text, bytea, bytea) IS
    'Citus: scores the series of one ml_metrics shard on the worker that holds it with the coordinator''s model bytes and returns what to write (alerts, not rows); the detection stage runs it on every shard at once and writes the alerts on the coordinator';
COMMENT ON FUNCTION ml_collect(text) IS
    'Runs one source or all enabled ones: reads only rows newer than the watermark, stores them and advances the watermark in one subtransaction';
COMMENT ON FUNCTION ml_generate_demo_data(integer, integer, integer, timestamptz, integer) IS
    'Writes deterministic labelled demo series of the four metric types (15-minute steps) with injected anomalies labelled in ml_labels; parallel > 1 splits the entities across background workers';

-- Privileges. PUBLIC gets nothing: the data describes a business, and the functions
-- write. Each role gets what its users need (README, "Roles").
-- Only the extension's own objects are touched: in a shared schema (public) the
-- application's tables and functions keep their privileges. ml_revoke_public runs again
-- at the very end, after the functions this file creates itself.
CREATE FUNCTION ml_revoke_public() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    obj record;
BEGIN
    FOR obj IN
        SELECT d.classid, d.objid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
         WHERE e.extname OPERATOR(pg_catalog.=) 'pg_anomaly' AND d.deptype OPERATOR(pg_catalog.=) 'e'
           AND d.classid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_class'::pg_catalog.regclass)
    LOOP
        IF obj.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', obj.objid::pg_catalog.regprocedure);
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO anomaly_admin', obj.objid::pg_catalog.regprocedure);
        ELSIF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) obj.objid) OPERATOR(pg_catalog.=) 'S' THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC', obj.objid::pg_catalog.regclass);
        ELSIF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) obj.objid) IN ('r', 'p', 'v', 'm') THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM PUBLIC', obj.objid::pg_catalog.regclass);
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION ml_revoke_public() IS 'Install step: takes every PUBLIC grant off the extension''s own tables, sequences and functions (run at the end of CREATE EXTENSION; superuser only)';
SELECT ml_revoke_public();
GRANT USAGE ON SCHEMA @extschema@ TO anomaly_reader, anomaly_writer, anomaly_admin;

-- The reader (analysts): read everything but the model bytes (they encode training data
-- and are of no use outside the extension), run ml_detect without saving.
GRANT SELECT ON ml_metrics, ml_features, ml_labels, ml_alerts, ml_training_logs, ml_settings,
      ml_feature_sets, ml_feature_set_rounds, ml_tuning_trials, ml_job_runs, ml_sources_status, ml_series_state TO anomaly_reader;
GRANT SELECT (id, model_type, metric_type, version, parameters, threshold, accuracy, "precision", recall, f1,
              data_points, trained_from, trained_until, is_active, created_at, activated_at)
      ON ml_models TO anomaly_reader;

-- The writer (the web application): insert metrics, read alerts, mark them read or false positive.
GRANT SELECT, INSERT ON ml_metrics TO anomaly_writer;
GRANT USAGE ON SEQUENCE ml_metrics_id_seq TO anomaly_writer;
GRANT SELECT ON ml_alerts TO anomaly_writer;
GRANT UPDATE (is_read, is_false_positive) ON ml_alerts TO anomaly_writer;
GRANT EXECUTE ON FUNCTION ml_ingest(text, text, double precision, timestamptz, jsonb) TO anomaly_writer;

-- The admin: everything the others can, and configure, collect, train, schedule.
GRANT anomaly_reader TO anomaly_admin;
GRANT anomaly_writer TO anomaly_admin;
DO $admin$
DECLARE
    obj record;
BEGIN
    FOR obj IN
        SELECT c.oid::pg_catalog.regclass AS rel, c.relkind FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
          JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.objid
         WHERE e.extname OPERATOR(pg_catalog.=) 'pg_anomaly' AND d.deptype OPERATOR(pg_catalog.=) 'e'
           AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
    LOOP
        IF obj.relkind OPERATOR(pg_catalog.=) 'S' THEN
            EXECUTE pg_catalog.format('GRANT USAGE, SELECT ON SEQUENCE %s TO anomaly_admin', obj.rel);
        ELSIF obj.relkind IN ('r', 'p', 'v') THEN
            EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO anomaly_admin', obj.rel);
        END IF;
    END LOOP;
END
$admin$;
-- The owner columns decide whose rights run a source query or an action: no table grant
-- reaches them (ml_sources_stamp_owner and ml_action_rules_check stamp them).
REVOKE INSERT, UPDATE ON ml_sources, ml_action_rules FROM anomaly_admin;
GRANT INSERT (name, metric_type, query, kind, watermark, enabled, created_at),
      UPDATE (name, metric_type, query, kind, watermark, enabled, created_at) ON ml_sources TO anomaly_admin;
GRANT INSERT (action, min_severity, alert_type, metric_type, entity_pattern, enabled),
      UPDATE (action, min_severity, alert_type, metric_type, entity_pattern, enabled) ON ml_action_rules TO anomaly_admin;
COMMENT ON FUNCTION ml_build_features(text, boolean, integer) IS
    'Computes point-in-time features into ml_features: incremental by default (new, late and corrected metrics), or everything with full_rebuild (split across parallel background workers when parallel > 1); returns rows written';
COMMENT ON FUNCTION ml_select_features(text, text) IS
    'Selects the features training uses (variance, correlation, mutual_info or all over ml_features columns; rfe over the detector inputs, every round in ml_feature_set_rounds), persists the set in ml_feature_sets and returns every feature with its decision, score and reason';
COMMENT ON FUNCTION ml_feature_correlations(text) IS 'Pairwise correlations of the stored features of a metric type';

-- The feature store read back (get_feature_matrix): the named features as an array, in the
-- order asked (default: the selected set, else all). Column names are checked against
-- ml_features' own columns before they reach the query.
CREATE FUNCTION ml_feature_matrix(metric_type text, since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
                                  features text[] DEFAULT NULL)
RETURNS TABLE (entity_id text, "timestamp" timestamptz, metric_value double precision, feature_values double precision[])
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $fn$
DECLARE
    wanted text[] := ml_feature_matrix.features;
    bad text;
    allowed text[];
BEGIN
    IF ml_feature_matrix.metric_type IS NULL THEN
        RAISE EXCEPTION 'metric_type must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- A feature may be named many times (ARRAY['lag_1', 'lag_1']); the cap keeps one call
    -- from asking for an unbounded row width (100,000 names wrote 7.4 GB of temp files).
    IF pg_catalog.cardinality(wanted) OPERATOR(pg_catalog.>) 200 THEN
        RAISE EXCEPTION 'too many features: %', pg_catalog.cardinality(wanted) USING ERRCODE = '54000',
            DETAIL = 'At most 200 features may be asked for in one call.';
    END IF;
    SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) INTO allowed
      FROM pg_attribute a
     WHERE a.attrelid = 'ml_features'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.atttypid IN ('float8'::regtype, 'float4'::regtype, 'int2'::regtype, 'bool'::regtype)
       AND a.attname <> 'metric_value';
    IF wanted IS NULL THEN
        SELECT pg_catalog.array_agg(s.feature ORDER BY s.feature) INTO wanted
          FROM ml_feature_sets s WHERE s.metric_type = ml_feature_matrix.metric_type AND s.kept AND s.method <> 'rfe';
        wanted := coalesce(wanted, allowed);
    END IF;
    SELECT w INTO bad FROM pg_catalog.unnest(wanted) w WHERE w IS NULL OR NOT w = ANY (allowed) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown feature "%"', bad USING ERRCODE = '22023',
            DETAIL = 'Features are columns of ml_features: ' || pg_catalog.array_to_string(allowed, ', ');
    END IF;
    RETURN QUERY EXECUTE pg_catalog.format(
        'SELECT f.entity_id, f."timestamp", f.metric_value, ARRAY[%s]::float8[] FROM ml_features f
          WHERE f.metric_type = $1 AND ($2 IS NULL OR f."timestamp" >= $2) AND ($3 IS NULL OR f."timestamp" < $3)
          ORDER BY f.entity_id, f."timestamp"',
        (SELECT pg_catalog.string_agg(CASE WHEN w = 'is_weekend' THEN pg_catalog.format('%I::int::float8', w) ELSE pg_catalog.format('%I::float8', w) END, ', ' ORDER BY o)
           FROM pg_catalog.unnest(wanted) WITH ORDINALITY AS u(w, o)))
    USING metric_type, since, until;
END
$fn$;
COMMENT ON FUNCTION ml_feature_matrix(text, timestamptz, timestamptz, text[]) IS
    'The stored features of a metric type as (entity_id, timestamp, metric_value, feature_values[]), in the order of the features asked (default: the selected set, else all)';

COMMENT ON FUNCTION ml_explain(text, text, timestamptz) IS
    'Exact Shapley attributions of a stored row''s surprise (nats; score = 1 - P_day(T >= surprise)) to the active isolation forest detector''s inputs, reference: zero deviation; sum(attribution) = surprise - base_surprise; forest_attribution: TreeSHAP of log2 of the forest score. With the sequence family (detector_family sequence or both) three more rows follow: sequence_bin, sequence_previous, sequence_two_before (value: the bin of the row, of the previous row, of the row two before; label: its value range); their attributions split the family''s surprise -ln P(bin | two bins before) along its back-off chain and add up to it (surprise: the family''s, base_surprise 0, share: attribution / that surprise, forest_attribution NULL); score is the model''s score of the row as ml_detect gives it. A row of an entity the active model was not trained on starts with input model (label: which model scored the row, warm_up fitted on its look-back rows or warm_up (borrowed) from the metric type''s trained entities for an entity with only a few rows, a count type from its second hour; value: the look-back rows; attribution 0, share NULL).';
GRANT EXECUTE ON FUNCTION ml_explain(text, text, timestamptz) TO anomaly_reader, anomaly_admin;

-- Global importance of the detector inputs, stored with the model at training
-- (parameters -> 'importance'): mean |Shapley value| of the row surprise over a sample of
-- scored training rows and over the rows at or above the alert threshold.
CREATE FUNCTION ml_feature_importance(metric_type text)
RETURNS TABLE (input text, importance double precision, sample_importance double precision,
               alerted_importance double precision, forest_importance double precision,
               rows_sample integer, rows_alerted integer, model_id bigint)
LANGUAGE plpgsql STABLE STRICT SET search_path = @extschema@, pg_temp AS $fn$
DECLARE
    m record;
BEGIN
    SELECT x.id, x.parameters INTO m FROM ml_models x
     WHERE x.metric_type = ml_feature_importance.metric_type AND x.model_type = 'isolation_forest' AND x.is_active;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no active isolation forest model for metric type "%"', ml_feature_importance.metric_type
            USING ERRCODE = '42704', DETAIL = 'Importance is computed when a model is trained and stored with it.',
                  HINT = pg_catalog.format('Train one: SELECT ml_train(%L);', ml_feature_importance.metric_type);
    END IF;
    IF pg_catalog.jsonb_typeof(m.parameters -> 'importance' -> 'inputs') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'the active model of metric type "%" has no stored importance', ml_feature_importance.metric_type
            USING ERRCODE = '55000', DETAIL = pg_catalog.format('Model %s was trained by an earlier version.', m.id),
                  HINT = pg_catalog.format('Retrain: SELECT ml_train(%L);', ml_feature_importance.metric_type);
    END IF;
    RETURN QUERY
    SELECT e ->> 'input',
           (e ->> 'sample')::float8 + (e ->> 'alerted')::float8,
           (e ->> 'sample')::float8, (e ->> 'alerted')::float8, (e ->> 'forest')::float8,
           (m.parameters -> 'importance' ->> 'rows_sample')::int, (m.parameters -> 'importance' ->> 'rows_alerted')::int,
           m.id::bigint
      FROM pg_catalog.jsonb_array_elements(m.parameters -> 'importance' -> 'inputs') AS e
     ORDER BY 2 DESC, 1;
END
$fn$;
COMMENT ON FUNCTION ml_feature_importance(text) IS
    'Global importance of the active isolation forest detector''s inputs, stored at training: mean |Shapley value| of the row surprise (nats) over sampled and over alerted training rows (importance = their sum), and the forest''s mean |TreeSHAP value|';
GRANT EXECUTE ON FUNCTION ml_feature_importance(text) TO anomaly_reader, anomaly_admin;

CREATE VIEW ml_feature_quality AS
SELECT f.metric_type, c.feature,
       pg_catalog.count(*) AS rows,
       pg_catalog.round((1 - pg_catalog.count(c.value)::numeric / greatest(pg_catalog.count(*), 1)) * 100, 2) AS null_rate_percent,
       pg_catalog.round(pg_catalog.count(c.value)::numeric / greatest(pg_catalog.count(*), 1) * 100, 2) AS coverage_percent,
       pg_catalog.min(c.value) AS min, pg_catalog.max(c.value) AS max, pg_catalog.avg(c.value) AS mean
FROM ml_features f
CROSS JOIN LATERAL (VALUES
    ('mean_value', f.mean_value), ('std_value', f.std_value), ('min_value', f.min_value), ('max_value', f.max_value),
    ('median_value', f.median_value), ('q25_value', f.q25_value), ('q75_value', f.q75_value),
    ('trend_slope', f.trend_slope), ('trend_direction', f.trend_direction::float8), ('volatility', f.volatility),
    ('momentum', f.momentum), ('hour_of_day', f.hour_of_day::float8), ('day_of_week', f.day_of_week::float8),
    ('is_weekend', f.is_weekend::int::float8), ('day_of_month', f.day_of_month::float8),
    ('days_since_change', f.days_since_change), ('change_frequency', f.change_frequency), ('run_length', f.run_length),
    ('hours_since_jump', f.hours_since_jump), ('drop_rate', f.drop_rate), ('lag_1', f.lag_1), ('lag_7', f.lag_7),
    ('lag_30', f.lag_30), ('rolling_mean_7', f.rolling_mean_7), ('rolling_std_7', f.rolling_std_7),
    ('rolling_mean_30', f.rolling_mean_30), ('rolling_std_30', f.rolling_std_30), ('zscore_7', f.zscore_7),
    ('diff_lag_1', f.diff_lag_1), ('seasonal_zscore', f.seasonal_zscore)) AS c(feature, value)
GROUP BY f.metric_type, c.feature;
COMMENT ON VIEW ml_feature_quality IS 'Per metric type and feature: rows, null rate, coverage, min, max, mean (scans ml_features: filter by metric_type)';
GRANT SELECT ON ml_feature_quality TO anomaly_reader, anomaly_admin;
GRANT EXECUTE ON FUNCTION ml_feature_matrix(text, timestamptz, timestamptz, text[]), ml_feature_correlations(text),
    ml_detect(text, timestamptz, timestamptz, boolean, integer, text) TO anomaly_reader;
GRANT EXECUTE ON FUNCTION ml_feature_matrix(text, timestamptz, timestamptz, text[]), ml_select_features(text, text), ml_feature_correlations(text) TO anomaly_admin;

-- ---------------------------------------------------------------------------
-- Dashboard and monitoring views
-- ---------------------------------------------------------------------------
CREATE VIEW ml_dashboard AS
SELECT a.alert_type, a.severity,
       pg_catalog.count(*) FILTER (WHERE a.is_open) AS open_alerts,
       pg_catalog.count(*) FILTER (WHERE NOT a.is_read) AS unread,
       pg_catalog.count(*) FILTER (WHERE a.created_at > pg_catalog.now() - interval '24 hours') AS last_24h,
       pg_catalog.count(*) AS total,
       pg_catalog.max(a.last_seen) AS latest_seen,
       (pg_catalog.array_agg(a.entity_id ORDER BY a.last_seen DESC))[1:5] AS latest_entities
FROM ml_alerts a
WHERE NOT a.is_false_positive
GROUP BY a.alert_type, a.severity;
COMMENT ON VIEW ml_dashboard IS 'Alerts by type and severity (false positives left out): open, unread, last 24 h, total, the latest entities';

CREATE VIEW ml_alert_stats AS
SELECT 'overall'::text AS scope, NULL::text AS key, pg_catalog.count(*) AS alerts,
       pg_catalog.count(*) FILTER (WHERE is_false_positive) AS false_positives,
       pg_catalog.round(100.0 * pg_catalog.count(*) FILTER (WHERE is_false_positive) / nullif(pg_catalog.count(*), 0), 2) AS false_positive_rate_percent,
       20.0 AS target_percent
FROM ml_alerts
UNION ALL
SELECT 'alert_type', alert_type, pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE is_false_positive),
       pg_catalog.round(100.0 * pg_catalog.count(*) FILTER (WHERE is_false_positive) / nullif(pg_catalog.count(*), 0), 2), 20.0
FROM ml_alerts GROUP BY alert_type
UNION ALL
SELECT 'model', model_id::text, pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE is_false_positive),
       pg_catalog.round(100.0 * pg_catalog.count(*) FILTER (WHERE is_false_positive) / nullif(pg_catalog.count(*), 0), 2), 20.0
FROM ml_alerts GROUP BY model_id;
COMMENT ON VIEW ml_alert_stats IS 'False-positive rate of alerts overall, per alert type and per model, against the 20% target';

CREATE VIEW ml_model_performance AS
SELECT m.metric_type, m.model_type, m.id AS model_id, m.version, m.accuracy, m."precision", m.recall, m.f1,
       m.threshold, m.data_points, m.created_at AS trained_at, m.activated_at,
       m.accuracy IS NULL OR m.accuracy >= coalesce(nullif(pg_catalog.current_setting('pg_anomaly.min_accuracy', true), '')::float8, 0.7) AS meets_min_accuracy
FROM ml_models m WHERE m.is_active;
COMMENT ON VIEW ml_model_performance IS 'The active model per metric type and model type with its quality, size and training time';
GRANT SELECT ON ml_dashboard, ml_alert_stats, ml_model_performance TO anomaly_reader, anomaly_writer, anomaly_admin;

COMMENT ON FUNCTION ml_train(text, text, jsonb, timestamptz, timestamptz) IS
    'Trains a model (isolation_forest: the calibrated detector; z_score) for a metric type from its stored features, measures it against ml_labels, activates it when not worse, logs every attempt; returns the model id';
COMMENT ON FUNCTION ml_tune(text, double precision, integer) IS
    'Self-tuning: searches noise-model families and detector parameters for a metric type within budget seconds (and max_trials), against ml_labels and reviewed alerts (or, without labels, a false-alert budget per series-week and stability across seeds); every trial in ml_tuning_trials; trains the winner when it beats the active model''s parameters and activates it only when its F1 is not worse; returns a summary';
COMMENT ON FUNCTION ml_activate_model(bigint) IS 'Makes a model version the active one of its metric type and model type (rollback)';
COMMENT ON FUNCTION ml_detect(text, timestamptz, timestamptz, boolean, integer, text) IS
    'Scores stored observations (one row each: score 0..1, is_anomaly, severity, expected value, deviation, explanation); save => true scores what is new and writes one alert per anomaly episode; parallel > 1 (with save) splits the entities across background workers and returns the anomalous rows; entity_id (without save) scores one entity''s series only, of every metric type holding it when metric_type is NULL';
COMMENT ON FUNCTION ml_run_stage(text, text) IS
    'Runs one pipeline stage as the schedule does (collection, features, detection, training, cleanup), each metric type in its own subtransaction; failures are recorded and the rest goes on; returns a summary';
COMMENT ON FUNCTION ml_schedule(text, text, text, text, text) IS
    'Creates or updates the five pg_cron jobs pg_anomaly_<stage> (defaults: collection */15, features */30, detection hourly, training 00:00, cleanup 04:00)';
COMMENT ON FUNCTION ml_unschedule() IS 'Removes the pg_anomaly jobs from pg_cron';
COMMENT ON FUNCTION ml_cleanup() IS
    'Applies retention: drops expired day partitions of ml_metrics and ml_features, deletes old closed alerts, training logs, job runs and cron.job_run_details, rebuilds the indexes of the day partitions that closed a day ago, creates the next 7 days of partitions';

-- Health KPIs of the old system, measured, side by side with their targets.
CREATE VIEW ml_health AS
WITH stage_runs AS (
    SELECT stage, success, extract(epoch FROM finished - started) AS secs, started FROM ml_job_runs
    WHERE started > pg_catalog.now() - interval '7 days' AND finished IS NOT NULL
), targets(stage, success_target, duration_target) AS (
    VALUES ('collection', 95.0, 1.0), ('features', 90.0, 5.0), ('training', NULL::float8, 30.0), ('detection', NULL, 10.0))
SELECT 'success_rate_24h_percent:' || t.stage AS kpi,
       pg_catalog.round(100.0 * pg_catalog.count(*) FILTER (WHERE r.success AND r.started > pg_catalog.now() - interval '24 hours')
             / nullif(pg_catalog.count(*) FILTER (WHERE r.started > pg_catalog.now() - interval '24 hours'), 0), 2)::float8 AS measured,
       t.success_target AS target, '>=' AS goal
FROM targets t LEFT JOIN stage_runs r ON r.stage = t.stage GROUP BY t.stage, t.success_target
UNION ALL
SELECT 'success_rate_7d_percent:' || t.stage, pg_catalog.round(100.0 * pg_catalog.count(*) FILTER (WHERE r.success) / nullif(pg_catalog.count(r.*), 0), 2)::float8,
       t.success_target, '>='
FROM targets t LEFT JOIN stage_runs r ON r.stage = t.stage GROUP BY t.stage, t.success_target
UNION ALL
SELECT 'duration_p50_seconds:' || t.stage, pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY r.secs), t.duration_target, '<='
FROM targets t LEFT JOIN stage_runs r ON r.stage = t.stage AND r.success GROUP BY t.stage, t.duration_target
UNION ALL
SELECT 'duration_p95_seconds:' || t.stage, pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY r.secs), t.duration_target, '<='
FROM targets t LEFT JOIN stage_runs r ON r.stage = t.stage AND r.success GROUP BY t.stage, t.duration_target
UNION ALL
SELECT 'freshness_seconds:metrics', extract(epoch FROM pg_catalog.now() - (SELECT pg_catalog.max(collected_at) FROM ml_metrics))::float8, 3600, '<='
UNION ALL
SELECT 'freshness_seconds:features', extract(epoch FROM pg_catalog.now() - (SELECT pg_catalog.max(computed_at) FROM ml_features))::float8, 3600, '<='
UNION ALL
SELECT 'freshness_seconds:scored', extract(epoch FROM pg_catalog.now() - (SELECT pg_catalog.max(finished) FROM ml_job_runs WHERE stage = 'detection' AND success))::float8, 3600, '<='
UNION ALL
-- The unique key makes duplicates impossible; the figure is measured, not assumed.
SELECT 'duplicate_rate_percent', (SELECT 100.0 * (pg_catalog.count(*) - pg_catalog.count(DISTINCT (metric_type, entity_id, "timestamp"))) / nullif(pg_catalog.count(*), 0)
                                    FROM ml_metrics WHERE "timestamp" > pg_catalog.now() - interval '1 day')::float8, 0, '<='
UNION ALL
SELECT 'null_rate_percent', (SELECT pg_catalog.avg(null_rate_percent) FROM ml_feature_quality)::float8, 5, '<='
UNION ALL
SELECT 'feature_coverage_percent', (SELECT pg_catalog.avg(coverage_percent) FROM ml_feature_quality)::float8, 80, '>='
UNION ALL
-- Roles that could shadow the extension's functions: non-superusers allowed to create
-- objects in its schema (see the install warning below and README, "Security").
SELECT 'schema_creators_not_superuser', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_roles r
        WHERE NOT r.rolsuper AND r.rolname OPERATOR(pg_catalog.!~~) 'pg\_%'
          AND pg_catalog.has_schema_privilege(r.oid, '@extschema@'::pg_catalog.regnamespace, 'CREATE'))::float8, 0, '<=';
COMMENT ON VIEW ml_health IS 'Health KPIs (success rates, durations, freshness, duplicate and null rates, coverage, roles that may create objects in the extension''s schema) next to targets';
GRANT SELECT ON ml_health TO anomaly_reader, anomaly_admin;
COMMENT ON FUNCTION ml_deliver_notifications(integer) IS
    'Delivers the due notifications of the outbox now (the notifier worker does it every second); returns sent, retried, failed';
COMMENT ON FUNCTION ml_add_channel(text, text, jsonb) IS 'Adds or replaces a notification channel (email, sms, webhook) after validating its configuration';
COMMENT ON FUNCTION ml_add_notification_rule(text, text, text, text, text) IS
    'Routes alerts to a channel by minimum severity, alert type, metric type and entity LIKE pattern (NULL: any)';
COMMENT ON FUNCTION ml_add_action(text, text, text, text, text) IS
    'Registers an automatic action: a function taking the alert id, run with the registering role''s privileges for each new matching alert';
COMMENT ON FUNCTION ml_plot(text, text, timestamptz, timestamptz) IS
    'An SVG picture of one series: values, expected value and band, alerts coloured by severity, dated axes';
-- Channels hold credentials: admin only (above); the others see them without secrets.
GRANT SELECT ON ml_channels_safe, ml_notifications, ml_notification_rules, ml_action_runs TO anomaly_reader;
GRANT EXECUTE ON FUNCTION ml_plot(text, text, timestamptz, timestamptz) TO anomaly_reader;
REVOKE ALL ON ml_channels FROM anomaly_reader, anomaly_writer;

-- Functions created in this file (ml_feature_matrix, ...) start with PUBLIC EXECUTE like
-- every new function: take it back now that all exist, then grant what each role needs.
SELECT ml_revoke_public();
GRANT EXECUTE ON FUNCTION ml_feature_matrix(text, timestamptz, timestamptz, text[]), ml_feature_correlations(text),
    ml_detect(text, timestamptz, timestamptz, boolean, integer, text), ml_plot(text, text, timestamptz, timestamptz) TO anomaly_reader;
GRANT EXECUTE ON FUNCTION ml_ingest(text, text, double precision, timestamptz, jsonb) TO anomaly_writer;
REVOKE ALL ON FUNCTION ml_revoke_public() FROM anomaly_admin;
-- it runs the statements it is given: the owner's partition maintenance only
REVOKE ALL ON FUNCTION ml_run_with_brief_lock_wait(text[]) FROM anomaly_admin;

-- The extension's schema should be writable only by superusers: a role that may create
-- objects there could create a function or operator that extension code resolves by name.
-- Extension SQL qualifies every catalog function and operator, but a dedicated schema is
-- the safe default; the install warns rather than refuses (existing setups keep working).
DO $writable$
DECLARE
    creators text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ', ' ORDER BY r.rolname) INTO creators
      FROM pg_catalog.pg_roles r
     WHERE NOT r.rolsuper AND r.rolname OPERATOR(pg_catalog.!~~) 'pg\_%'
       AND pg_catalog.has_schema_privilege(r.oid, '@extschema@'::pg_catalog.regnamespace, 'CREATE');
    IF creators IS NOT NULL THEN
        RAISE WARNING 'pg_anomaly is installed in schema %, where roles that are not superusers may create objects: %',
            '@extschema@'::pg_catalog.regnamespace, pg_catalog.left(creators, 200)
            USING DETAIL = 'The extension''s background workers and scheduled jobs run as a superuser; an object created in its schema could be resolved in place of one the extension expects.',
                  HINT = 'Install into a dedicated schema: CREATE SCHEMA anomaly; CREATE EXTENSION pg_anomaly SCHEMA anomaly CASCADE; (or revoke CREATE on this schema from those roles). ml_health reports the count as schema_creators_not_superuser.';
    END IF;
END
$writable$;
