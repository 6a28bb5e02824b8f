-- pg_anomaly 0.1.0 -> 0.2.0 (ALTER EXTENSION pg_anomaly UPDATE). Written once, never
-- regenerated: a 0.1.0 database plus this script has exactly the catalog of a fresh 0.2.0
-- install (scripts/test_upgrade.sh compares every member, column, constraint, trigger,
-- function, privilege and comment).
--
-- Why:
--   * dump and restore: CREATE EXTENSION inserts the default ml_settings rows, and restoring
--     the dumped rows failed on the primary key (a trigger now lets a dumped row replace an
--     untouched default); the owners of sources and action rules were role OIDs, which name
--     no role (or another one) in a new cluster: they are regrole now, dumped by role name;
--     six sequences were not dumped, so a restored database handed out ids already in use;
--   * pg_upgrade: it refuses a table with a regprocedure column (function OIDs change), so
--     action rules store the function's schema-qualified signature as text;
--   * security: owners are stamped by triggers and refused when superuser, stored patterns
--     are validated, PUBLIC holds nothing, column privileges keep the owner columns out of
--     reach, catalog functions are called schema-qualified, NOTIFY carries no alert text;
--   * explanations: ml_explain, ml_feature_importance and ml_feature_set_rounds;
--   * self-tuning: ml_tune and ml_tuning_trials;
--   * bounds on stored metrics (metric_type length, a sane timestamp range);
--   * size and maintenance: features stored as real, day partitions dropped and compacted by
--     SECURITY DEFINER functions the admin role may call, owners pinned against DROP ROLE.
-- The new shared library refits, on first use and with a NOTICE, a model stored in a format
-- it no longer reads.
\echo Use "ALTER EXTENSION pg_anomaly UPDATE TO '0.2.0'" to load this file. \quit

-- Restoring configuration rows over the shipped defaults.
CREATE FUNCTION ml_settings_replace_default() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    DELETE FROM @extschema@.ml_settings s
     WHERE s.metric_type OPERATOR(pg_catalog.=) NEW.metric_type
       AND ((s.metric_type OPERATOR(pg_catalog.=) 'stok_seviye' AND s.alert_type OPERATOR(pg_catalog.=) 'stok_anomali')
         OR (s.metric_type OPERATOR(pg_catalog.=) 'tuketim_miktar' AND s.alert_type OPERATOR(pg_catalog.=) 'tuketim_anomali')
         OR (s.metric_type OPERATOR(pg_catalog.=) 'dolum_sure' AND s.alert_type OPERATOR(pg_catalog.=) 'dolum_gecikme')
         OR (s.metric_type OPERATOR(pg_catalog.=) 'zimmet_kullanim' AND s.alert_type OPERATOR(pg_catalog.=) 'zimmet_anomali'))
       AND s.period OPERATOR(pg_catalog.=) '1 day'::pg_catalog.interval
       AND s.stat_window OPERATOR(pg_catalog.=) '1 day'::pg_catalog.interval
       AND s.episode_gap OPERATOR(pg_catalog.=) '2 hours'::pg_catalog.interval
       AND s.enabled AND s.params OPERATOR(pg_catalog.=) '{}'::pg_catalog.jsonb;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION ml_settings_replace_default() IS 'Trigger: an inserted row replaces the untouched shipped default of its metric type (so restoring a dump works)';
CREATE TRIGGER ml_settings_replace_default BEFORE INSERT ON ml_settings
    FOR EACH ROW EXECUTE FUNCTION ml_settings_replace_default();

-- Owners by role name. The view reads the column, so it is rebuilt around the change.
DROP VIEW ml_sources_status;
-- A source or action whose owner role no longer exists cannot be kept (its privileges
-- would come from nowhere): the update stops and names it.
DO $owners$
DECLARE
    bad text;
BEGIN
    SELECT pg_catalog.string_agg(x, ', ') INTO bad FROM (
        SELECT 'source ' OPERATOR(pg_catalog.||) s.name AS x FROM @extschema@.ml_sources s
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) s.owner)
        UNION ALL
        SELECT 'action rule ' OPERATOR(pg_catalog.||) a.id::text FROM @extschema@.ml_action_rules a
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) a.owner)) s;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'pg_anomaly: owners of % no longer exist', bad USING ERRCODE = '42704',
            HINT = 'Remove them (ml_remove_source, DELETE FROM ml_action_rules) or give them an existing owner, then update again.';
    END IF;
END
$owners$;
ALTER TABLE ml_sources ALTER COLUMN owner TYPE regrole USING owner::pg_catalog.regrole;
ALTER TABLE ml_action_rules ALTER COLUMN owner TYPE regrole USING owner::pg_catalog.regrole;
-- Action signatures as schema-qualified text: pg_upgrade refuses a cluster whose tables have
-- a regprocedure column (function OIDs are not kept across a major upgrade).
CREATE FUNCTION ml_upgrade_action_signature(f pg_catalog.oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes))
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
     WHERE p.oid OPERATOR(pg_catalog.=) f
$fn$;
ALTER TABLE ml_action_rules ALTER COLUMN action TYPE text
    USING COALESCE(@extschema@.ml_upgrade_action_signature(action::pg_catalog.oid), action::pg_catalog.text);
DROP FUNCTION ml_upgrade_action_signature(pg_catalog.oid);
COMMENT ON COLUMN ml_alerts.explanation IS 'The top inputs behind the peak''s score, largest share first: a JSON array of {feature, share (of the positive exact Shapley values of the row''s surprise), neg_log10_p (-log10 of the tail probability, the same for each element)}; with feature = sequence_context also sequence_bin, sequence_previous and sequence_two_before (the value bins of the context); noise_model, the recognised shape of the entity''s series its noise model was chosen by (counts, event_valued, cumulative_counter, sawtooth_stock, ...); "model": "warm_up" when the row was scored by a warm-up model fitted on the look-back of an entity the model was not trained on';
COMMENT ON COLUMN ml_alerts.is_open IS 'The episode may still grow: a later scoring run continues it while its series has not returned to normal; closed once its last anomalous observation is older than the series'' scored watermark minus episode_gap (or the model''s reversal window)';
COMMENT ON COLUMN ml_action_rules.action IS 'The function''s schema-qualified signature, e.g. app.open_restock_task(bigint), normalised and checked when stored, resolved again at each run (a dropped or renamed function is recorded as a failed run)';
CREATE VIEW ml_sources_status AS
SELECT s.name, s.metric_type, s.kind, s.owner, s.enabled, s.watermark,
       r.started AS last_run_started, r.finished AS last_run_finished,
       r.rows_out AS last_run_rows, r.success AS last_run_success, r.error AS last_run_error
FROM ml_sources s
LEFT JOIN LATERAL (
    SELECT * FROM ml_job_runs j WHERE j.stage = 'collection' AND j.source = s.name
    ORDER BY j.started DESC LIMIT 1
) r ON true;
COMMENT ON VIEW ml_sources_status IS 'Registered sources with their watermark and last collection run';
GRANT SELECT ON ml_sources_status TO anomaly_reader;

-- Owners are stamped by the extension, never taken from a table write (README "Security").
CREATE FUNCTION ml_sources_stamp_owner() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user AND r.rolsuper) THEN
        IF NEW.owner IS NULL THEN
            NEW.owner := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) session_user);
        END IF;
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
        NEW.owner := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) session_user);
    ELSIF (NEW.name, NEW.metric_type, NEW.query, NEW.kind) IS DISTINCT FROM (OLD.name, OLD.metric_type, OLD.query, OLD.kind) THEN
        NEW.owner := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) session_user);
    ELSE
        NEW.owner := OLD.owner;
    END IF;
    IF pg_catalog.length(NEW.query) OPERATOR(pg_catalog.>) 100000 THEN
        RAISE EXCEPTION 'source query is too long' USING ERRCODE = '54000',
            DETAIL = pg_catalog.format('It has %s characters; at most 100000 are allowed.', pg_catalog.length(NEW.query)),
            HINT = 'Keep the query in a view or function of the application and select from it.';
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION ml_sources_stamp_owner() IS 'Trigger: sets ml_sources.owner to the session''s login role on insert and when the query changes (owners never come from a table write)';
CREATE TRIGGER ml_sources_stamp_owner BEFORE INSERT OR UPDATE ON ml_sources FOR EACH ROW EXECUTE FUNCTION ml_sources_stamp_owner();
CREATE FUNCTION ml_check_entity_pattern(pattern text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF pattern IS NULL THEN
        RETURN;
    END IF;
    IF pg_catalog.length(pattern) OPERATOR(pg_catalog.>) 200 THEN
        RAISE EXCEPTION 'entity_pattern is too long' USING ERRCODE = '22001',
            DETAIL = pg_catalog.format('It has %s characters; at most 200 are allowed.', pg_catalog.length(pattern));
    END IF;
    -- The matcher only fails when it reaches a dangling escape, so a trial match against
    -- one string proves nothing: drop every escaped pair and look for a lone backslash left
    -- at the end, then match the pattern once for anything else it may raise.
    IF pg_catalog.regexp_replace(pattern, '\\.', '', 'g') OPERATOR(pg_catalog.~~) '%\\' THEN
        RAISE EXCEPTION 'invalid entity_pattern %', pg_catalog.quote_literal(pg_catalog."left"(pattern, 60)) USING ERRCODE = '22025',
            DETAIL = 'A LIKE pattern must not end with the escape character (a backslash).',
            HINT = 'Double a backslash meant literally; escape % and _ with a backslash to match them literally.';
    END IF;
    PERFORM pattern OPERATOR(pg_catalog.~~) pattern;
END
$fn$;
COMMENT ON FUNCTION ml_check_entity_pattern(text) IS 'Refuses (22025) an entity LIKE pattern that cannot be evaluated';
CREATE FUNCTION ml_action_rules_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    p record;
BEGIN
    -- The signature is stored as text (a reg* column would make pg_upgrade refuse the
    -- cluster), resolved here once, schema-qualified, never against a caller's search_path.
    SELECT f.proname, n.nspname, f.pronargs, f.proargtypes, f.prokind INTO p
      FROM pg_catalog.pg_proc f JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) f.pronamespace
     WHERE f.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(NEW.action)::pg_catalog.oid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'function % does not exist', NEW.action USING ERRCODE = '42883',
            DETAIL = 'An action is stored as its schema-qualified signature and resolved when stored.',
            HINT = 'Qualify the function with its schema, e.g. app.open_restock_task(bigint).';
    END IF;
    IF p.prokind OPERATOR(pg_catalog.<>) 'f' OR p.pronargs OPERATOR(pg_catalog.<>) 1
       OR p.proargtypes[0] OPERATOR(pg_catalog.<>) 'pg_catalog.int8'::pg_catalog.regtype THEN
        RAISE EXCEPTION 'action % does not take exactly one bigint argument', NEW.action USING ERRCODE = '42883',
            DETAIL = 'An action is called as action(alert_id bigint) for each new matching alert.',
            HINT = 'Register a function whose only argument is the alert id, e.g. app.open_restock_task(bigint).';
    END IF;
    IF pg_catalog.starts_with(p.nspname, 'pg_temp') THEN
        RAISE EXCEPTION 'action % is a temporary function', NEW.action USING ERRCODE = '42P17',
            DETAIL = 'A temporary function disappears with its session; the rule would outlive it.',
            HINT = 'Create the function in a permanent schema.';
    END IF;
    NEW.action := pg_catalog.format('%I.%I(bigint)', p.nspname, p.proname);
    PERFORM @extschema@.ml_check_entity_pattern(NEW.entity_pattern);
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user AND r.rolsuper) THEN
        IF NEW.owner IS NULL THEN
            NEW.owner := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) session_user);
        END IF;
    ELSIF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
        NEW.owner := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) session_user);
    ELSIF NEW.action OPERATOR(pg_catalog.<>) OLD.action THEN
        NEW.owner := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) session_user);
    ELSE
        NEW.owner := OLD.owner;
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION ml_action_rules_check() IS 'Trigger: validates an action rule (one bigint argument, a valid pattern) and stamps its owner with the session''s login role';
CREATE TRIGGER ml_action_rules_check BEFORE INSERT OR UPDATE ON ml_action_rules FOR EACH ROW EXECUTE FUNCTION ml_action_rules_check();
CREATE FUNCTION ml_notification_rules_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    PERFORM @extschema@.ml_check_entity_pattern(NEW.entity_pattern);
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION ml_notification_rules_check() IS 'Trigger: validates the entity pattern of a notification rule when it is stored';
CREATE TRIGGER ml_notification_rules_check BEFORE INSERT OR UPDATE OF entity_pattern ON ml_notification_rules
    FOR EACH ROW EXECUTE FUNCTION ml_notification_rules_check();

-- Stored rows held to what a fresh install accepts (an existing row outside these bounds
-- stops the update with the constraint's name; fix or delete it and update again).
ALTER TABLE ml_metrics ADD CONSTRAINT ml_metrics_metric_type_length CHECK (pg_catalog.length(metric_type) <= 200);
ALTER TABLE ml_metrics ADD CONSTRAINT ml_metrics_timestamp_range CHECK ("timestamp" >= '1900-01-01 00:00+00' AND "timestamp" < '2500-01-01 00:00+00');
ALTER TABLE ml_notification_rules ADD CONSTRAINT ml_notification_rules_entity_pattern_check CHECK (pg_catalog.length(entity_pattern) <= 200);
ALTER TABLE ml_action_rules ADD CONSTRAINT ml_action_rules_entity_pattern_check CHECK (pg_catalog.length(entity_pattern) <= 200);

-- A rule that cannot be evaluated is skipped and says why.
ALTER TABLE ml_notification_rules ADD COLUMN last_error text, ADD COLUMN last_error_at timestamptz;
COMMENT ON COLUMN ml_notification_rules.last_error IS 'Error of the last evaluation of the rule (it was skipped for that alert; the alert and the other rules went on)';
COMMENT ON COLUMN ml_notification_rules.last_error_at IS 'When last_error happened';

-- Every round of a recursive feature elimination (ml_select_features(..., 'rfe')).
CREATE TABLE ml_feature_set_rounds (
    metric_type            text NOT NULL,
    round                  integer NOT NULL CHECK (round >= 0),
    method                 text NOT NULL DEFAULT 'rfe',
    features               text[] NOT NULL CHECK (pg_catalog.cardinality(features) > 0),
    dropped                text,
    importance             double precision[] NOT NULL,
    f1                     double precision,
    "precision"            double precision,
    recall                 double precision,
    alerts                 integer NOT NULL,
    alerts_per_series_week double precision NOT NULL,
    agreement              double precision NOT NULL,
    criterion              text NOT NULL,
    chosen                 boolean NOT NULL,
    seconds                double precision NOT NULL,
    selected_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (metric_type, round)
);
COMMENT ON TABLE ml_feature_set_rounds IS 'Every round of the last recursive feature elimination per metric type (ml_select_features(..., ''rfe'')): the detector inputs, event F1, alerts per series-week';
COMMENT ON COLUMN ml_feature_set_rounds.metric_type IS 'Metric type the elimination ran for';
COMMENT ON COLUMN ml_feature_set_rounds.method IS 'Selection method (rfe)';
COMMENT ON COLUMN ml_feature_set_rounds."precision" IS 'Event precision of the round''s alerts against ml_labels; NULL without labels';
COMMENT ON COLUMN ml_feature_set_rounds.recall IS 'Event recall of the round''s alerts against ml_labels; NULL without labels';
COMMENT ON COLUMN ml_feature_set_rounds.alerts IS 'Alert episodes the round''s detector raised on the training span';
COMMENT ON COLUMN ml_feature_set_rounds.selected_at IS 'When the elimination ran';
COMMENT ON COLUMN ml_feature_set_rounds.round IS 'Round number, 0 = all inputs; each later round has one input fewer';
COMMENT ON COLUMN ml_feature_set_rounds.features IS 'The detector inputs of the round';
COMMENT ON COLUMN ml_feature_set_rounds.dropped IS 'The least important input, left out in the next round (NULL in the last round)';
COMMENT ON COLUMN ml_feature_set_rounds.importance IS 'Importance of each input of the round (mean |Shapley value| of the row surprise in nats, over alerted plus sampled rows), in the order of features';
COMMENT ON COLUMN ml_feature_set_rounds.f1 IS 'Event F1 of the round''s alerts against ml_labels (alerts in spans marked false positive count as false); NULL without labels';
COMMENT ON COLUMN ml_feature_set_rounds.alerts_per_series_week IS 'Alerts raised on the training span per series and week';
COMMENT ON COLUMN ml_feature_set_rounds.agreement IS 'Event F1 of the round''s alerts against the all-input round''s alerts (1 for round 0)';
COMMENT ON COLUMN ml_feature_set_rounds.criterion IS 'event_f1 (labels exist: the highest F1 wins, ties to fewer inputs) or alert_agreement (no labels: the fewest inputs with agreement >= 0.9)';
COMMENT ON COLUMN ml_feature_set_rounds.chosen IS 'true for the round whose inputs training uses';
COMMENT ON COLUMN ml_feature_set_rounds.seconds IS 'Time the round took (fit, scoring, importance)';
SELECT pg_catalog.pg_extension_config_dump('ml_feature_set_rounds', '');
GRANT SELECT ON ml_feature_set_rounds TO anomaly_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ml_feature_set_rounds TO anomaly_admin;

-- Self-tuning (ml_tune, and the nightly training with pg_anomaly.nightly_tuning): every
-- trial of every run; the chosen row of a run says why, whether its model was activated and
-- how far the search got. The nightly training retrains with the last activated winner's
-- train_params.
CREATE TABLE ml_tuning_trials (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id                 bigint NOT NULL,
    metric_type            text NOT NULL,
    tuned_at               timestamptz NOT NULL DEFAULT pg_catalog.now(),
    trial                  integer NOT NULL CHECK (trial >= 0),
    knob                   text NOT NULL,
    params                 jsonb NOT NULL,
    objective              text NOT NULL CHECK (objective IN ('event_f1', 'alert_budget')),
    score                  double precision,
    "precision"            double precision,
    recall                 double precision,
    f1                     double precision,
    windows                integer,
    alerts                 integer,
    false_alerts           integer,
    alerts_per_series_week double precision,
    stability              double precision,
    seconds                double precision NOT NULL,
    chosen                 boolean NOT NULL,
    activated              boolean NOT NULL,
    model_id               bigint,
    train_params           jsonb,
    why                    text NOT NULL,
    UNIQUE (run_id, trial)
);
CREATE INDEX ml_tuning_trials_metric_type_idx ON ml_tuning_trials (metric_type, id);
COMMENT ON TABLE ml_tuning_trials IS 'Every trial of self-tuning (ml_tune and the nightly training): the configuration tried, its event precision, recall and F1 against ml_labels and reviewed alerts (or its alerts per series-week without labels), seconds, and which one was chosen and activated';
COMMENT ON COLUMN ml_tuning_trials.id IS 'Trial row id';
COMMENT ON COLUMN ml_tuning_trials.run_id IS 'The tuning run (one ml_tune call); increases by one per run';
COMMENT ON COLUMN ml_tuning_trials.metric_type IS 'Metric type tuned';
COMMENT ON COLUMN ml_tuning_trials.tuned_at IS 'When the run ran (its transaction''s start)';
COMMENT ON COLUMN ml_tuning_trials.trial IS 'Trial number in the run; 0 is the base (the active model''s parameters, else the defaults)';
COMMENT ON COLUMN ml_tuning_trials.knob IS 'The knob this trial changed from the best configuration so far (base for trial 0)';
COMMENT ON COLUMN ml_tuning_trials.params IS 'The full configuration tried: the noise-model family and every detector parameter';
COMMENT ON COLUMN ml_tuning_trials.objective IS 'event_f1 (labelled windows exist: the highest event F1 wins, ties to fewer alerts) or alert_budget (no labels: the most alerts within pg_anomaly.tuning_alert_budget per series-week, stable across seeds)';
COMMENT ON COLUMN ml_tuning_trials.score IS 'The objective''s value (F1; or alerts per series-week within the budget, negative over it)';
COMMENT ON COLUMN ml_tuning_trials."precision" IS 'Event precision on the training span against ml_labels and alerts marked read (alerts in spans marked false positive count as false); NULL without labels';
COMMENT ON COLUMN ml_tuning_trials.recall IS 'Event recall on the training span; NULL without labels';
COMMENT ON COLUMN ml_tuning_trials.f1 IS 'Event F1 on the training span; NULL without labels';
COMMENT ON COLUMN ml_tuning_trials.windows IS 'Labelled windows measured against';
COMMENT ON COLUMN ml_tuning_trials.alerts IS 'Alert episodes the configuration raised on the training span';
COMMENT ON COLUMN ml_tuning_trials.false_alerts IS 'Alerts overlapping no labelled window';
COMMENT ON COLUMN ml_tuning_trials.alerts_per_series_week IS 'Alerts per series and week of the training span';
COMMENT ON COLUMN ml_tuning_trials.stability IS 'Without labels: event F1 of the alerts against those of a refit with another seed (measured for a configuration about to become the best)';
COMMENT ON COLUMN ml_tuning_trials.seconds IS 'Time the trial took (fit, scoring, measure)';
COMMENT ON COLUMN ml_tuning_trials.chosen IS 'true for the run''s winner (the base when nothing beat it)';
COMMENT ON COLUMN ml_tuning_trials.activated IS 'true when the winner was trained and became the active model';
COMMENT ON COLUMN ml_tuning_trials.model_id IS 'The model trained from the winner (NULL when the base won: no new model)';
COMMENT ON COLUMN ml_tuning_trials.train_params IS 'The winner''s parameters as ml_train takes them (chosen row only)';
COMMENT ON COLUMN ml_tuning_trials.why IS 'Why the trial was or was not taken; on the chosen row also what became of it and where the search stopped';
SELECT pg_catalog.pg_extension_config_dump('ml_tuning_trials', '');
SELECT pg_catalog.pg_extension_config_dump('ml_tuning_trials_id_seq', '');
GRANT SELECT ON ml_tuning_trials TO anomaly_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ml_tuning_trials TO anomaly_admin;
GRANT USAGE, SELECT ON SEQUENCE ml_tuning_trials_id_seq TO anomaly_admin;
CREATE FUNCTION "ml_tune"(
	"metric_type" TEXT, /* core::option::Option<&str> */
	"budget" double precision DEFAULT 60, /* core::option::Option<f64> */
	"max_trials" INT DEFAULT NULL /* core::option::Option<i32> */
) RETURNS jsonb /* core::result::Result<pgrx::datum::json::JsonB, pgrx_pg_sys::submodules::panic::ErrorReport> */
VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ml_tune_wrapper';
COMMENT ON FUNCTION ml_tune(text, double precision, integer) IS
    'Self-tuning: searches noise-model families and detector parameters for a metric type within budget seconds (and max_trials), against ml_labels and reviewed alerts (or, without labels, a false-alert budget per series-week and stability across seeds); every trial in ml_tuning_trials; trains the winner when it beats the active model''s parameters and activates it only when its F1 is not worse; returns a summary';

-- Catalog functions and operators called schema-qualified; NOTIFY carries the id, severity and event only.
CREATE OR REPLACE FUNCTION ml_metrics_mark_new() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @extschema@, pg_temp AS $fn$
BEGIN
    INSERT INTO ml_series_dirty AS d (metric_type, entity_id, dirty_from)
    SELECT metric_type, entity_id, pg_catalog.min("timestamp") FROM ml_new_rows GROUP BY 1, 2
    ON CONFLICT (metric_type, entity_id)
    DO UPDATE SET dirty_from = least(d.dirty_from, excluded.dirty_from), marked_at = pg_catalog.now();
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION ml_metrics_mark_new() IS 'Trigger: marks the series of inserted metrics dirty (one statement-level pass)';
CREATE OR REPLACE FUNCTION ml_metrics_mark_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @extschema@, pg_temp AS $fn$
BEGIN
    INSERT INTO ml_series_dirty AS d (metric_type, entity_id, dirty_from)
    SELECT metric_type, entity_id, pg_catalog.min("timestamp") FROM ml_old_rows GROUP BY 1, 2
    ON CONFLICT (metric_type, entity_id)
    DO UPDATE SET dirty_from = least(d.dirty_from, excluded.dirty_from), marked_at = pg_catalog.now();
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION ml_metrics_mark_changed() IS 'Trigger: marks the series of updated or deleted metrics dirty from the old timestamp';
-- Runs statements whose locks are waited for only briefly: below deadlock_timeout (half of
-- it, 0.5 s at most), so where a wait of the maintenance functions below closes a cycle with
-- a stage, they give way before the stage's deadlock check makes the stage the victim. True
-- when every statement ran; false, with none of them done (a subtransaction), when a lock
-- was not granted in time or a deadlock was detected. The statements run as the caller:
-- only the extension's owner may call it (the SECURITY DEFINER maintenance functions).
CREATE FUNCTION ml_run_with_brief_lock_wait(p_statements text[])
RETURNS boolean
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $fn$
DECLARE
    stmt text;
    old_lock_timeout text := pg_catalog.current_setting('lock_timeout');
    wait_ms integer := LEAST(500, (SELECT s.setting::integer FROM pg_catalog.pg_settings s
                                    WHERE s.name OPERATOR(pg_catalog.=) 'deadlock_timeout') OPERATOR(pg_catalog./) 2);
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('lock_timeout', GREATEST(wait_ms, 1)::text || 'ms', true);
        FOREACH stmt IN ARRAY p_statements LOOP
            EXECUTE stmt;
        END LOOP;
        PERFORM pg_catalog.set_config('lock_timeout', old_lock_timeout, true);
    EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
        PERFORM pg_catalog.set_config('lock_timeout', old_lock_timeout, true);
        RETURN false;
    END;
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION ml_run_with_brief_lock_wait(text[]) IS 'Runs the statements waiting at most half of deadlock_timeout (0.5 s at most) for each lock; false, with none of them done, when a lock was not granted in time (internal: the extension owner''s partition maintenance)';

CREATE OR REPLACE FUNCTION ml_ensure_partitions(p_from timestamptz, p_to timestamptz)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @extschema@, pg_temp AS $fn$
DECLARE
    d date;
    last_day date;
    tbl text;
    part text;
    created integer := 0;
    lo timestamptz;
    hi timestamptz;
    moved bigint;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to < p_from THEN
        RETURN 0;
    END IF;
    IF p_to - p_from > interval '4000 days' THEN
        RAISE EXCEPTION 'partition range too long: % to %', p_from, p_to
            USING ERRCODE = '22023', HINT = 'Create at most 4000 daily partitions at a time.';
    END IF;
    -- One creator at a time: two sessions creating the same partition would deadlock.
    PERFORM pg_catalog.pg_advisory_xact_lock(1346457167, 100);
    d := (p_from AT TIME ZONE 'UTC')::date;
    last_day := (p_to AT TIME ZONE 'UTC')::date;
    WHILE d <= last_day LOOP
        FOREACH tbl IN ARRAY ARRAY['ml_metrics', 'ml_features'] LOOP
            part := tbl || '_p' || pg_catalog.to_char(d, 'YYYYMMDD');
            IF pg_catalog.to_regclass(pg_catalog.quote_ident(part)) IS NULL THEN
                lo := (d::timestamp AT TIME ZONE 'UTC');
                hi := ((d + 1)::timestamp AT TIME ZONE 'UTC');
                -- Rows already in the default partition for that day move to the new one.
                -- Attaching needs the default partition exclusively: when ingestion holds
                -- it for longer than half of deadlock_timeout (0.5 s at most), the day is left
                -- for the next call (its rows stay in the default partition, where they are
                -- found all the same). Holding the days attached so far while waiting could
                -- close a cycle with a stage: the brief wait gives way first.
                IF NOT @extschema@.ml_run_with_brief_lock_wait(ARRAY[
                        pg_catalog.format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, tbl),
                        pg_catalog.format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', tbl || '_default'),
                        pg_catalog.format('WITH m AS (DELETE FROM %I WHERE "timestamp" >= %L::timestamptz AND "timestamp" < %L::timestamptz RETURNING *) INSERT INTO %I SELECT * FROM m',
                                          tbl || '_default', lo, hi, part),
                        pg_catalog.format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', tbl, part, lo, hi)]) THEN
                    RAISE NOTICE 'pg_anomaly: partition % not created now (default partition busy); it will be next time', part;
                    CONTINUE;
                END IF;
                created := created + 1;
            END IF;
        END LOOP;
        d := d + 1;
    END LOOP;
    RETURN created;
END
$fn$;
COMMENT ON FUNCTION ml_ensure_partitions(timestamptz, timestamptz) IS 'Creates the missing daily partitions of ml_metrics and ml_features covering [p_from, p_to] (UTC days), moving rows out of the default partitions; returns how many it created. A day whose default partition another transaction holds for longer than half of deadlock_timeout (0.5 s at most) is left for the next call with a NOTICE';
CREATE OR REPLACE FUNCTION ml_alerts_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'INSERT'
       OR pg_catalog.array_position(ARRAY['dusuk','orta','yuksek','kritik']::text[], NEW.severity::text)
          OPERATOR(pg_catalog.>) pg_catalog.array_position(ARRAY['dusuk','orta','yuksek','kritik']::text[], OLD.severity::text) THEN
        PERFORM pg_catalog.pg_notify('pg_anomaly_alerts', pg_catalog.json_build_object(
            'id', NEW.id, 'severity', NEW.severity, 'event', pg_catalog.lower(TG_OP))::text);
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION ml_alerts_notify() IS 'Trigger: pg_notify(''pg_anomaly_alerts'', {"id", "severity", "event"}) for each new alert and each severity escalation (sent at commit; every login can LISTEN, so nothing else is sent)';
CREATE OR REPLACE VIEW ml_channels_safe AS
SELECT id, name, kind, enabled, created_at,
       CASE WHEN pg_catalog.jsonb_typeof(config -> 'url') = 'string'
            THEN pg_catalog.jsonb_set(config - 'password' - 'username' - 'headers' - 'body_template', '{url}',
                           pg_catalog.to_jsonb(pg_catalog.regexp_replace(pg_catalog.regexp_replace(config ->> 'url', '^([^:/?#]+://)?[^/?#]*@', '\1'),
                                                    '^(([^:/?#]+://)?[^/?#]*).*$', '\1/...')))
            ELSE config - 'password' - 'username' - 'headers' - 'body_template' END AS config_without_secrets
FROM ml_channels;
COMMENT ON VIEW ml_channels_safe IS 'Channels without credentials, headers or templates; URLs shown as scheme and host only';
CREATE OR REPLACE FUNCTION ml_feature_matrix(metric_type text, since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
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

-- The two views over ml_features are rebuilt around the column types.
DROP VIEW ml_health;
DROP VIEW ml_feature_quality;

-- Features stored as real (float4) except metric_value and median_value, the detector's
-- inputs: one rewrite of ml_features. A value beyond float4's range becomes NULL (as the
-- feature stage stores it), one too small for it 0.
ALTER TABLE ml_features
    ALTER COLUMN change_frequency TYPE real USING CASE WHEN pg_catalog.abs(change_frequency) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(change_frequency) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE change_frequency END)::real END,
    ALTER COLUMN days_since_change TYPE real USING CASE WHEN pg_catalog.abs(days_since_change) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(days_since_change) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE days_since_change END)::real END,
    ALTER COLUMN diff_lag_1 TYPE real USING CASE WHEN pg_catalog.abs(diff_lag_1) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(diff_lag_1) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE diff_lag_1 END)::real END,
    ALTER COLUMN drop_rate TYPE real USING CASE WHEN pg_catalog.abs(drop_rate) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(drop_rate) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE drop_rate END)::real END,
    ALTER COLUMN hours_since_jump TYPE real USING CASE WHEN pg_catalog.abs(hours_since_jump) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(hours_since_jump) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE hours_since_jump END)::real END,
    ALTER COLUMN lag_1 TYPE real USING CASE WHEN pg_catalog.abs(lag_1) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(lag_1) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE lag_1 END)::real END,
    ALTER COLUMN lag_30 TYPE real USING CASE WHEN pg_catalog.abs(lag_30) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(lag_30) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE lag_30 END)::real END,
    ALTER COLUMN lag_7 TYPE real USING CASE WHEN pg_catalog.abs(lag_7) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(lag_7) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE lag_7 END)::real END,
    ALTER COLUMN max_value TYPE real USING CASE WHEN pg_catalog.abs(max_value) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(max_value) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE max_value END)::real END,
    ALTER COLUMN mean_value TYPE real USING CASE WHEN pg_catalog.abs(mean_value) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(mean_value) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE mean_value END)::real END,
    ALTER COLUMN min_value TYPE real USING CASE WHEN pg_catalog.abs(min_value) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(min_value) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE min_value END)::real END,
    ALTER COLUMN momentum TYPE real USING CASE WHEN pg_catalog.abs(momentum) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(momentum) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE momentum END)::real END,
    ALTER COLUMN q25_value TYPE real USING CASE WHEN pg_catalog.abs(q25_value) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(q25_value) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE q25_value END)::real END,
    ALTER COLUMN q75_value TYPE real USING CASE WHEN pg_catalog.abs(q75_value) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(q75_value) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE q75_value END)::real END,
    ALTER COLUMN rolling_mean_30 TYPE real USING CASE WHEN pg_catalog.abs(rolling_mean_30) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(rolling_mean_30) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE rolling_mean_30 END)::real END,
    ALTER COLUMN rolling_mean_7 TYPE real USING CASE WHEN pg_catalog.abs(rolling_mean_7) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(rolling_mean_7) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE rolling_mean_7 END)::real END,
    ALTER COLUMN rolling_std_30 TYPE real USING CASE WHEN pg_catalog.abs(rolling_std_30) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(rolling_std_30) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE rolling_std_30 END)::real END,
    ALTER COLUMN rolling_std_7 TYPE real USING CASE WHEN pg_catalog.abs(rolling_std_7) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(rolling_std_7) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE rolling_std_7 END)::real END,
    ALTER COLUMN run_length TYPE real USING CASE WHEN pg_catalog.abs(run_length) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(run_length) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE run_length END)::real END,
    ALTER COLUMN seasonal_zscore TYPE real USING CASE WHEN pg_catalog.abs(seasonal_zscore) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(seasonal_zscore) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE seasonal_zscore END)::real END,
    ALTER COLUMN std_value TYPE real USING CASE WHEN pg_catalog.abs(std_value) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(std_value) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE std_value END)::real END,
    ALTER COLUMN trend_slope TYPE real USING CASE WHEN pg_catalog.abs(trend_slope) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(trend_slope) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE trend_slope END)::real END,
    ALTER COLUMN volatility TYPE real USING CASE WHEN pg_catalog.abs(volatility) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(volatility) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE volatility END)::real END,
    ALTER COLUMN zscore_7 TYPE real USING CASE WHEN pg_catalog.abs(zscore_7) OPERATOR(pg_catalog.<=) 3.4e38 THEN (CASE WHEN pg_catalog.abs(zscore_7) OPERATOR(pg_catalog.<) 1e-37 THEN 0 ELSE zscore_7 END)::real END;

-- Day partitions maintained by the admin role through SECURITY DEFINER functions.
CREATE FUNCTION ml_day_partitions(p_table text)
RETURNS TABLE (rel regclass, day_end timestamptz)
LANGUAGE plpgsql STABLE SET search_path = @extschema@, pg_temp AS $fn$
BEGIN
    IF p_table IS NULL OR p_table NOT IN ('ml_metrics', 'ml_features') THEN
        RAISE EXCEPTION 'not a table with day partitions: %', pg_catalog.left(COALESCE(p_table, 'NULL'), 64)
            USING ERRCODE = '22023', HINT = 'Day partitions exist for ml_metrics and ml_features.';
    END IF;
    RETURN QUERY
    SELECT c.oid::pg_catalog.regclass,
           (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
      FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid
     WHERE i.inhparent OPERATOR(pg_catalog.=) pg_catalog.to_regclass(p_table)
       AND pg_catalog.pg_get_expr(c.relpartbound, c.oid) OPERATOR(pg_catalog.~~) 'FOR VALUES FROM%'
     ORDER BY c.relname;
END
$fn$;
COMMENT ON FUNCTION ml_day_partitions(text) IS 'The day partitions of ml_metrics or ml_features and the end of each one''s range';
CREATE FUNCTION ml_drop_expired_partitions(p_table text, p_cutoff timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @extschema@, pg_temp AS $fn$
DECLARE
    part record;
    n bigint;
    removed bigint := 0;
    attempt integer := 0;
BEGIN
    IF p_cutoff IS NULL OR NOT pg_catalog.isfinite(p_cutoff) THEN
        PERFORM @extschema@.ml_day_partitions(p_table);
        RETURN 0;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM @extschema@.ml_day_partitions(p_table) p WHERE p.day_end OPERATOR(pg_catalog.<=) p_cutoff) THEN
        RETURN 0;
    END IF;
    -- Dropping a partition takes its parent exclusively until the transaction ends, and every
    -- insert and read of the table queues behind a waiting DROP. Both partitioned tables are
    -- taken at once (a stage reads one and writes the other: holding one while waiting for the
    -- other could close a cycle), each attempt waits briefly and lets go of both, and after a
    -- few attempts the drops are left for the next cleanup: ingestion never queues behind it.
    LOOP
        EXIT WHEN @extschema@.ml_run_with_brief_lock_wait(ARRAY['LOCK TABLE ml_metrics, ml_features IN ACCESS EXCLUSIVE MODE']);
        attempt := attempt OPERATOR(pg_catalog.+) 1;
        IF attempt OPERATOR(pg_catalog.>=) 5 THEN
            RAISE NOTICE 'pg_anomaly: % is in use by another transaction; its expired partitions are left for the next cleanup', p_table;
            RETURN 0;
        END IF;
        PERFORM pg_catalog.pg_sleep(0.2);
    END LOOP;
    FOR part IN
        SELECT p.rel FROM @extschema@.ml_day_partitions(p_table) p WHERE p.day_end OPERATOR(pg_catalog.<=) p_cutoff
    LOOP
        -- a transaction that opened the partition itself (not through its table) may still hold it
        IF NOT @extschema@.ml_run_with_brief_lock_wait(ARRAY[pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', part.rel)]) THEN
            RAISE NOTICE 'pg_anomaly: expired partition % is in use; the next cleanup drops it', part.rel;
            CONTINUE;
        END IF;
        EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s', part.rel) INTO n;
        EXECUTE pg_catalog.format('DROP TABLE %s', part.rel);
        removed := removed OPERATOR(pg_catalog.+) n;
    END LOOP;
    RETURN removed;
END
$fn$;
COMMENT ON FUNCTION ml_drop_expired_partitions(text, timestamptz) IS 'Drops the day partitions of ml_metrics or ml_features whose whole day ends at or before the cutoff; returns the rows they held. Takes both tables exclusively at once, waiting at most half of deadlock_timeout (0.5 s at most) per attempt; after 5 attempts, or for a partition another transaction holds, the drop is left for the next call (used by ml_cleanup; runs as the extension owner so the admin role can expire data)';
CREATE FUNCTION ml_compact_closed_partitions(p_table text)
RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @extschema@, pg_temp AS $fn$
DECLARE
    part record;
    n bigint := 0;
    before bigint := 0;
    after bigint := 0;
    b bigint;
BEGIN
    FOR part IN
        SELECT p.rel FROM @extschema@.ml_day_partitions(p_table) p
         WHERE p.day_end OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 day')
           AND p.day_end OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) interval '2 days')
    LOOP
        -- REINDEX blocks the partition's writers and its index's readers: a partition another
        -- transaction holds is left as it is (same short wait as ml_drop_expired_partitions;
        -- the size before is read under the partition's lock, taken with that wait too).
        IF NOT @extschema@.ml_run_with_brief_lock_wait(ARRAY[pg_catalog.format('LOCK TABLE %s IN ACCESS SHARE MODE', part.rel)]) THEN
            RAISE NOTICE 'pg_anomaly: closed partition % is in use; its indexes are not rebuilt now', part.rel;
            CONTINUE;
        END IF;
        b := pg_catalog.pg_indexes_size(part.rel);
        IF NOT @extschema@.ml_run_with_brief_lock_wait(ARRAY[pg_catalog.format('REINDEX TABLE %s', part.rel)]) THEN
            RAISE NOTICE 'pg_anomaly: closed partition % is in use; its indexes are not rebuilt now', part.rel;
            CONTINUE;
        END IF;
        before := before OPERATOR(pg_catalog.+) b;
        after := after OPERATOR(pg_catalog.+) pg_catalog.pg_indexes_size(part.rel);
        n := n OPERATOR(pg_catalog.+) 1;
    END LOOP;
    RETURN ARRAY[n, before, after];
END
$fn$;
COMMENT ON FUNCTION ml_compact_closed_partitions(text) IS 'Rebuilds the indexes of the day partitions of ml_metrics or ml_features whose day closed one to two days ago (time-major inserts leave their pages loosely packed); returns {partitions, index bytes before, after}; a partition another transaction holds is skipped (used by ml_cleanup; runs as the extension owner so the admin role can run it)';

-- ---------------------------------------------------------------------------
-- Citus: distributing the per-series tables over a Citus cluster
-- ---------------------------------------------------------------------------
-- Run on the coordinator of a Citus cluster (README, "Scaling out"). The per-series tables
-- are hash-distributed by entity_id and colocated, so a series' metrics, features, state
-- and marks sit on one worker and every per-series join runs there. The other tables
-- (settings, models, labels, rules, alerts, the outbox, run logs) stay local on the
-- coordinator, where the stages that read and write them run. Citus refuses the
-- statement triggers with transition tables that mark series dirty (run on a shard, their
-- query over the transition table cannot be planned by Citus): they are dropped, and the
-- feature stage compares ml_metrics with ml_features instead. Runs as the extension's
-- owner (distributing a table needs its ownership), for anomaly_admin; idempotent.
CREATE FUNCTION ml_distribute(p_shard_count integer DEFAULT NULL)
RETURNS TABLE (relation text, placement text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @extschema@, pg_temp SET client_min_messages = warning AS $fn$
DECLARE
    rel text;
    trg text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'Citus is not installed in this database'
            USING ERRCODE = '55000',
                  DETAIL = 'ml_distribute() distributes pg_anomaly''s per-series tables over a Citus cluster.',
                  HINT = 'Put citus first in shared_preload_libraries, CREATE EXTENSION citus, add the workers with citus_add_node, then call ml_distribute() on the coordinator.';
    END IF;
    IF p_shard_count IS NOT NULL AND (p_shard_count OPERATOR(pg_catalog.<) 1 OR p_shard_count OPERATOR(pg_catalog.>) 1024) THEN
        RAISE EXCEPTION 'shard count out of range: %', p_shard_count
            USING ERRCODE = '22023', HINT = 'Give 1 to 1024 shards, or NULL for citus.shard_count.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p
                    WHERE p.logicalrelid OPERATOR(pg_catalog.=) '@extschema@.ml_metrics'::pg_catalog.regclass) THEN
        -- No partition is created while the tables change hands.
        PERFORM pg_catalog.pg_advisory_xact_lock(1346457167, 100);
        FOREACH trg IN ARRAY ARRAY['ml_metrics_inserted', 'ml_metrics_updated_new', 'ml_metrics_updated_old', 'ml_metrics_deleted'] LOOP
            EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON @extschema@.ml_metrics', trg);
        END LOOP;
        -- Pending marks are superseded by the comparison of ml_metrics with ml_features.
        TRUNCATE ml_series_dirty;
        PERFORM pg_catalog.create_distributed_table('@extschema@.ml_metrics'::pg_catalog.regclass, 'entity_id',
                                                    shard_count => p_shard_count);
        FOREACH rel IN ARRAY ARRAY['ml_features', 'ml_series_state', 'ml_series_dirty'] LOOP
            PERFORM pg_catalog.create_distributed_table(pg_catalog.format('@extschema@.%I', rel)::pg_catalog.regclass, 'entity_id',
                                                        colocate_with => '@extschema@.ml_metrics');
        END LOOP;
        -- The rows were copied to the shards; the coordinator's copies go.
        FOREACH rel IN ARRAY ARRAY['ml_metrics', 'ml_features', 'ml_series_state', 'ml_series_dirty'] LOOP
            PERFORM pg_catalog.truncate_local_data_after_distributing_table(pg_catalog.format('@extschema@.%I', rel)::pg_catalog.regclass);
        END LOOP;
    END IF;
    RETURN QUERY
    SELECT c.relname::text,
           CASE WHEN p.logicalrelid IS NULL THEN 'local on the coordinator'
                WHEN p.partmethod OPERATOR(pg_catalog.=) 'h' THEN 'distributed by entity_id, colocation group ' OPERATOR(pg_catalog.||) p.colocationid::text
                ELSE 'reference table' END
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid AND e.extname OPERATOR(pg_catalog.=) 'pg_anomaly'
      JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.objid
      LEFT JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid OPERATOR(pg_catalog.=) c.oid
     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype OPERATOR(pg_catalog.=) 'e'
       AND c.relkind IN ('r', 'p') AND c.relispartition OPERATOR(pg_catalog.=) false
     ORDER BY 1;
END
$fn$;
COMMENT ON FUNCTION ml_distribute(integer) IS 'Citus: distributes ml_metrics, ml_features, ml_series_state and ml_series_dirty by entity_id (colocated, with their data and day partitions) and replaces the dirty-marking triggers by a comparison in the feature stage; the other tables stay on the coordinator; returns where each table is (idempotent; run on the coordinator)';
COMMENT ON FUNCTION ml_cleanup() IS
    'Applies retention: drops expired day partitions of ml_metrics and ml_features, deletes old closed alerts, training logs, job runs and cron.job_run_details, rebuilds the indexes of the day partitions that closed a day ago, creates the next 7 days of partitions';
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

-- Owners cannot vanish: each owner of a source or action rule holds REFERENCES on the empty
-- ml_owner_pins, so DROP ROLE refuses it (the owners of 0.1.0's rows get theirs here).
CREATE TABLE ml_owner_pins ();
COMMENT ON TABLE ml_owner_pins IS 'Holds no rows: every role that owns a source or an action rule holds REFERENCES on it, so DROP ROLE refuses that role until its sources and rules are removed, handed over or released with DROP OWNED BY';
GRANT SELECT, INSERT, UPDATE, DELETE ON ml_owner_pins TO anomaly_admin;
CREATE FUNCTION ml_pin_owners() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    role_name text;
BEGIN
    IF TG_OP OPERATOR(pg_catalog.<>) 'DELETE' THEN
        SELECT r.rolname INTO role_name FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) NEW.owner::pg_catalog.oid;
        IF role_name IS NOT NULL THEN
            EXECUTE pg_catalog.format('GRANT REFERENCES ON TABLE @extschema@.ml_owner_pins TO %I', role_name);
        END IF;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' OR (TG_OP OPERATOR(pg_catalog.=) 'UPDATE' AND NEW.owner::pg_catalog.oid OPERATOR(pg_catalog.<>) OLD.owner::pg_catalog.oid) THEN
        SELECT r.rolname INTO role_name FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) OLD.owner::pg_catalog.oid;
        IF role_name IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM @extschema@.ml_sources s WHERE s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) OLD.owner::pg_catalog.oid)
           AND NOT EXISTS (SELECT 1 FROM @extschema@.ml_action_rules a WHERE a.owner::pg_catalog.oid OPERATOR(pg_catalog.=) OLD.owner::pg_catalog.oid) THEN
            EXECUTE pg_catalog.format('REVOKE REFERENCES ON TABLE @extschema@.ml_owner_pins FROM %I', role_name);
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION ml_pin_owners() IS 'Trigger: the owner of a source or action rule holds REFERENCES on ml_owner_pins while it owns one, so DROP ROLE cannot drop it silently';
CREATE TRIGGER ml_sources_pin_owner AFTER INSERT OR UPDATE OR DELETE ON ml_sources FOR EACH ROW EXECUTE FUNCTION ml_pin_owners();
CREATE TRIGGER ml_action_rules_pin_owner AFTER INSERT OR UPDATE OR DELETE ON ml_action_rules FOR EACH ROW EXECUTE FUNCTION ml_pin_owners();
DO $pins$
DECLARE
    role_name text;
BEGIN
    FOR role_name IN
        SELECT DISTINCT r.rolname FROM pg_catalog.pg_roles r
         WHERE r.oid OPERATOR(pg_catalog.=) ANY (SELECT s.owner::pg_catalog.oid FROM @extschema@.ml_sources s
                                                 UNION SELECT a.owner::pg_catalog.oid FROM @extschema@.ml_action_rules a)
    LOOP
        EXECUTE pg_catalog.format('GRANT REFERENCES ON TABLE @extschema@.ml_owner_pins TO %I', role_name);
    END LOOP;
END
$pins$;

-- Explanations and feature importance.
CREATE FUNCTION "ml_explain"(
	"metric_type" TEXT, /* & str */
	"entity_id" TEXT, /* & str */
	"timestamp" timestamp with time zone /* TimestampWithTimeZone */
) RETURNS TABLE (
	"input" TEXT,  /* String */
	"label" TEXT,  /* String */
	"value" double precision,  /* f64 */
	"attribution" double precision,  /* f64 */
	"share" double precision,  /* Option < f64 > */
	"forest_attribution" double precision,  /* Option < f64 > */
	"score" double precision,  /* f64 */
	"surprise" double precision,  /* f64 */
	"base_surprise" double precision  /* f64 */
)
STRICT VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ml_explain_wrapper';
COMMENT ON FUNCTION ml_explain(text, text, timestamptz) IS
    'Exact Shapley attributions of a stored row''s surprise (nats; score = 1 - P_day(T >= surprise)) to the active isolation forest detector''s inputs, reference: zero deviation; sum(attribution) = surprise - base_surprise; forest_attribution: TreeSHAP of log2 of the forest score. With the sequence family (detector_family sequence or both) three more rows follow: sequence_bin, sequence_previous, sequence_two_before (value: the bin of the row, of the previous row, of the row two before; label: its value range); their attributions split the family''s surprise -ln P(bin | two bins before) along its back-off chain and add up to it (surprise: the family''s, base_surprise 0, share: attribution / that surprise, forest_attribution NULL); score is the model''s score of the row as ml_detect gives it. A row of an entity the active model was not trained on starts with input model (label: which model scored the row, warm_up fitted on its look-back rows or warm_up (borrowed) from the metric type''s trained entities for an entity with only a few rows, a count type from its second hour; value: the look-back rows; attribution 0, share NULL).';
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
COMMENT ON FUNCTION ml_select_features(text, text) IS
    'Selects the features training uses (variance, correlation, mutual_info or all over ml_features columns; rfe over the detector inputs, every round in ml_feature_set_rounds), persists the set in ml_feature_sets and returns every feature with its decision, score and reason';

-- Citus: one shard's part of a feature build, run on the worker that holds the shard.
CREATE FUNCTION "ml_build_features_shard"(
	"shard" TEXT, /* Option < & str > */
	"metric_type" TEXT, /* Option < & str > */
	"full_rebuild" bool, /* Option < bool > */
	"settings" TEXT /* Option < & str > */
) RETURNS bigint[] /* std :: result :: Result < Vec < i64 > , ErrorReport > */
VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ml_build_features_shard_wrapper';
COMMENT ON FUNCTION ml_build_features_shard(text, text, boolean, text) IS
    'Citus: builds the features of the series of one ml_metrics shard on the worker that holds it, with the coordinator''s feature settings; ml_build_features runs it on every shard at once; returns {rows read, rows written}';

-- Citus: one shard's part of a training sample and of a saving detection pass.
CREATE FUNCTION "ml_train_sample_shard"(
	"shard" TEXT, /* Option < & str > */
	"request" bytea /* Option < & [u8] > */
) RETURNS bytea /* std :: result :: Result < Vec < u8 > , ErrorReport > */
VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ml_train_sample_shard_wrapper';
COMMENT ON FUNCTION ml_train_sample_shard(text, bytea) IS
    'Citus: reads and packs the part of a training sample that one ml_metrics shard holds, on the worker that holds it; ml_train runs it on every shard at once with the series it planned';
CREATE FUNCTION "ml_detect_shard"(
	"shard" TEXT, /* Option < & str > */
	"model" bytea, /* Option < & [u8] > */
	"request" bytea /* Option < & [u8] > */
) RETURNS bytea /* std :: result :: Result < Vec < u8 > , ErrorReport > */
VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ml_detect_shard_wrapper';
COMMENT ON FUNCTION ml_detect_shard(text, bytea, bytea) IS
    'Citus: scores the series of one ml_metrics shard on the worker that holds it with the coordinator''s model bytes and returns what to write (alerts, not rows); the detection stage runs it on every shard at once and writes the alerts on the coordinator';

-- ml_detect gained entity_id (an analyst's pass over one entity): a new signature, so the
-- old function goes (its grant with it) and the new one is granted below.
DROP FUNCTION ml_detect(text, timestamptz, timestamptz, boolean, integer);
CREATE FUNCTION "ml_detect"(
	"metric_type" TEXT DEFAULT NULL, /* Option < & str > */
	"since" timestamp with time zone DEFAULT NULL, /* Option < TimestampWithTimeZone > */
	"until" timestamp with time zone DEFAULT NULL, /* Option < TimestampWithTimeZone > */
	"save" bool DEFAULT false, /* Option < bool > */
	"parallel" INT DEFAULT 1, /* Option < i32 > */
	"entity_id" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS TABLE (
	"metric_type" TEXT,  /* String */
	"entity_id" TEXT,  /* String */
	"timestamp" timestamp with time zone,  /* TimestampWithTimeZone */
	"metric_value" double precision,  /* f64 */
	"score" double precision,  /* f64 */
	"is_anomaly" bool,  /* bool */
	"severity" TEXT,  /* Option < String > */
	"expected_value" double precision,  /* Option < f64 > */
	"deviation_percent" double precision,  /* Option < f64 > */
	"explanation" jsonb  /* Option < JsonB > */
)
VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ml_detect_wrapper';
COMMENT ON FUNCTION ml_detect(text, timestamptz, timestamptz, boolean, integer, text) IS
    'Scores stored observations (one row each: score 0..1, is_anomaly, severity, expected value, deviation, explanation); save => true scores what is new and writes one alert per anomaly episode; parallel > 1 (with save) splits the entities across background workers and returns the anomalous rows; entity_id (without save) scores one entity''s series only, of every metric type holding it when metric_type is NULL';

-- NULL arguments get an error that names them instead of a silent NULL.
CREATE OR REPLACE FUNCTION "ml_add_channel"(
	"name" TEXT, /* Option < & str > */
	"kind" TEXT, /* Option < & str > */
	"config" jsonb /* Option < JsonB > */
) RETURNS bigint /* std :: result :: Result < i64, ErrorReport > */
VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ml_add_channel_wrapper';
CREATE OR REPLACE FUNCTION "ml_add_source"(
	"name" TEXT, /* Option < & str > */
	"metric_type" TEXT, /* Option < & str > */
	"query" TEXT, /* Option < & str > */
	"kind" TEXT DEFAULT 'event' /* Option < & str > */
) RETURNS bool /* std :: result :: Result < bool, ErrorReport > */
VOLATILE PARALLEL UNSAFE
SET search_path TO @extschema@, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ml_add_source_wrapper';

-- Privileges: PUBLIC holds nothing; the owner columns are written by the triggers only.
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
GRANT EXECUTE ON FUNCTION ml_feature_matrix(text, timestamptz, timestamptz, text[]), ml_feature_correlations(text),
    ml_detect(text, timestamptz, timestamptz, boolean, integer, text), ml_plot(text, text, timestamptz, timestamptz),
    ml_explain(text, text, timestamptz), ml_feature_importance(text) TO anomaly_reader;
GRANT EXECUTE ON FUNCTION ml_ingest(text, text, double precision, timestamptz, jsonb) TO anomaly_writer;
REVOKE ALL ON FUNCTION ml_revoke_public() FROM anomaly_admin;
-- it runs the statements it is given: the owner's partition maintenance only
REVOKE ALL ON FUNCTION ml_run_with_brief_lock_wait(text[]) FROM anomaly_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON ml_sources_status TO anomaly_admin;
REVOKE INSERT, UPDATE ON ml_sources, ml_action_rules FROM anomaly_admin;
GRANT INSERT (name, metric_type, query, kind, watermark, enabled, created_at),
      UPDATE (name, metric_type, query, kind, watermark, enabled, created_at) ON ml_sources TO anomaly_admin;
GRANT INSERT (action, min_severity, alert_type, metric_type, entity_pattern, enabled),
      UPDATE (action, min_severity, alert_type, metric_type, entity_pattern, enabled) ON ml_action_rules TO anomaly_admin;

-- Identity and version sequences a restored database must continue.
DO $dump_seq$
DECLARE
    rel text;
BEGIN
    FOREACH rel IN ARRAY ARRAY['ml_features_version_seq', 'ml_channels_id_seq', 'ml_notification_rules_id_seq',
                               'ml_notifications_id_seq', 'ml_action_rules_id_seq', 'ml_action_runs_id_seq'] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(rel::pg_catalog.regclass, '');
    END LOOP;
END
$dump_seq$;

-- Kernel checkpoints (cold feature ticks resume instead of re-reading the look-back).
ALTER TABLE ml_series_state ADD COLUMN checkpoint_version bigint;
COMMENT ON COLUMN ml_series_state.checkpoint_version IS 'The features_version of the series'' ml_series_checkpoint row while that checkpoint is valid, set in the same statement as features_version (kept by a build that only appended after the checkpoint, the new version when it writes one, NULL otherwise); NULL: no valid checkpoint';
CREATE TABLE ml_series_checkpoint (
    metric_type      text NOT NULL,
    entity_id        text NOT NULL,
    features_version bigint NOT NULL,
    until            timestamptz NOT NULL,
    oldest           timestamptz NOT NULL,
    time_zone        text NOT NULL,
    state            bytea NOT NULL,
    PRIMARY KEY (metric_type, entity_id)
);
-- stored uncompressed: the state is mostly float8 bits, which pglz does not shrink, and a
-- build rewrites or carries it over without re-reading the bytes
ALTER TABLE ml_series_checkpoint ALTER COLUMN state SET STORAGE EXTERNAL;
-- kept in the row when it fits in a page (toast_tuple_target at its maximum): a state of up to
-- ~8 kB (6.8 kB at 30 days of 15-minute data) is read with its row, not through the TOAST index
ALTER TABLE ml_series_checkpoint SET (toast_tuple_target = 8160);
COMMENT ON TABLE ml_series_checkpoint IS 'Kernel checkpoints: the feature kernels'' state of a series after one of its rows, so a fresh session resumes the series instead of re-reading its 31-day look-back; not dumped (a restored series recomputes from its look-back once)';
COMMENT ON COLUMN ml_series_checkpoint.metric_type IS 'Metric type of the series';
COMMENT ON COLUMN ml_series_checkpoint.entity_id IS 'Entity of the series';
COMMENT ON COLUMN ml_series_checkpoint.features_version IS 'The series'' features_version when the checkpoint was written; used only while equal to ml_series_state.checkpoint_version, which a build that appends after the checkpoint keeps and any other write of the series'' features clears';
COMMENT ON COLUMN ml_series_checkpoint.until IS 'Timestamp of the last observation fed to the state';
COMMENT ON COLUMN ml_series_checkpoint.oldest IS 'Timestamp of the oldest observation the state holds (ml_cleanup drops checkpoints whose rows expired)';
COMMENT ON COLUMN ml_series_checkpoint.time_zone IS 'pg_anomaly.timezone the state''s hour-of-day buckets were filled in';
COMMENT ON COLUMN ml_series_checkpoint.state IS 'The encoded state (versioned, validated when read; a state that does not decode is reported and recomputed)';
GRANT SELECT, INSERT, UPDATE, DELETE ON ml_series_checkpoint TO anomaly_admin;
REVOKE ALL ON ml_series_checkpoint FROM PUBLIC;
