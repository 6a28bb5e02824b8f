-- pg_anomaly install script, part 1: tables, partitions, triggers.
-- Generated functions (src/api/*) come after this; privileges (sql/privileges.sql) last.
--
-- Everything is created in the schema the DBA chose with CREATE EXTENSION ... SCHEMA
-- (default: the first schema of search_path), so the web application's unqualified
-- SELECT ... FROM ml_alerts keeps working.

-- The three roles (cluster-wide, created only when missing; see README "Roles").
-- PostgreSQL reserves role names starting with pg_ (CREATE ROLE pg_x fails with 42939
-- even for a superuser), so the roles are anomaly_admin, anomaly_writer, anomaly_reader.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anomaly_reader') THEN
        CREATE ROLE anomaly_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anomaly_writer') THEN
        CREATE ROLE anomaly_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anomaly_admin') THEN
        CREATE ROLE anomaly_admin NOLOGIN;
    END IF;
END
$roles$;

-- ---------------------------------------------------------------------------
-- Settings per metric type (a configuration table: pg_dump keeps its rows)
-- ---------------------------------------------------------------------------
CREATE TABLE ml_settings (
    metric_type   text PRIMARY KEY CHECK (metric_type <> ''),
    alert_type    text NOT NULL CHECK (alert_type <> ''),
    period        interval NOT NULL DEFAULT '1 day' CHECK (period >= '1 minute' AND period <= '365 days'),
    stat_window   interval NOT NULL DEFAULT '1 day' CHECK (stat_window >= '1 minute' AND stat_window <= '365 days'),
    episode_gap   interval NOT NULL DEFAULT '2 hours' CHECK (episode_gap >= '0'),
    enabled       boolean NOT NULL DEFAULT true,
    params        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (pg_catalog.jsonb_typeof(params) = 'object')
);
COMMENT ON TABLE ml_settings IS 'Per metric type settings of pg_anomaly: feature windows, alert type, episode gap, default model params';
COMMENT ON COLUMN ml_settings.metric_type IS 'Metric type these settings apply to (stok_seviye, tuketim_miktar, dolum_sure, zimmet_kullanim, or your own)';
COMMENT ON COLUMN ml_settings.alert_type IS 'alert_type written to ml_alerts for anomalies of this metric type';
COMMENT ON COLUMN ml_settings.period IS 'The period k counts in lag_k and rolling_*_k (default 1 day)';
COMMENT ON COLUMN ml_settings.stat_window IS 'Trailing window of the statistical and trend features (default 1 day)';
COMMENT ON COLUMN ml_settings.episode_gap IS 'Anomalous observations closer than this belong to one alert (episode)';
COMMENT ON COLUMN ml_settings.enabled IS 'false: the scheduled stages skip this metric type';
COMMENT ON COLUMN ml_settings.params IS 'Default training params (jsonb) for ml_train of this metric type';
INSERT INTO ml_settings (metric_type, alert_type) VALUES
    ('stok_seviye', 'stok_anomali'),
    ('tuketim_miktar', 'tuketim_anomali'),
    ('dolum_sure', 'dolum_gecikme'),
    ('zimmet_kullanim', 'zimmet_anomali');
SELECT pg_catalog.pg_extension_config_dump('ml_settings', '');

-- A restore (pg_restore's COPY of this configuration table into a database where CREATE
-- EXTENSION has just inserted the rows above) would fail on the primary key: a row that is
-- still exactly the shipped default gives way to the incoming row. Any other duplicate
-- fails as usual.
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

-- ---------------------------------------------------------------------------
-- Raw metrics: range-partitioned by day on "timestamp"
-- ---------------------------------------------------------------------------
CREATE SEQUENCE ml_metrics_id_seq AS bigint;
COMMENT ON SEQUENCE ml_metrics_id_seq IS 'ids of ml_metrics (partitioned tables of PostgreSQL 15 cannot have identity columns)';

CREATE TABLE ml_metrics (
    id             bigint NOT NULL DEFAULT pg_catalog.nextval('ml_metrics_id_seq'),
    metric_type    text NOT NULL CONSTRAINT ml_metrics_metric_type_not_empty CHECK (metric_type <> '')
                   CONSTRAINT ml_metrics_metric_type_length CHECK (pg_catalog.length(metric_type) <= 200),
    entity_id      text NOT NULL CONSTRAINT ml_metrics_entity_id_valid CHECK (entity_id <> '' AND pg_catalog.length(entity_id) <= 200),
    metric_value   double precision NOT NULL
                   CONSTRAINT ml_metrics_metric_value_finite CHECK (metric_value > '-Infinity' AND metric_value < 'Infinity'),
    -- Every path (ml_ingest, sources, COPY, a direct INSERT) is held to the same sane range:
    -- infinite or year-294276 instants would overflow the stages' microsecond arithmetic.
    "timestamp"    timestamptz NOT NULL
                   CONSTRAINT ml_metrics_timestamp_range CHECK ("timestamp" >= '1900-01-01 00:00+00' AND "timestamp" < '2500-01-01 00:00+00'),
    extra_data     jsonb,
    collected_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    source         text,
    corrected_at   timestamptz,
    previous_value double precision,
    -- metric_value rides in the key's index so look-back reads are index-only scans
    CONSTRAINT ml_metrics_series_timestamp_key UNIQUE (metric_type, entity_id, "timestamp") INCLUDE (metric_value)
) PARTITION BY RANGE ("timestamp");
ALTER SEQUENCE ml_metrics_id_seq OWNED BY ml_metrics.id;
COMMENT ON TABLE ml_metrics IS 'Raw observations, one row per (metric_type, entity_id, timestamp); partitioned by day; NULL, NaN, infinite values and empty ids are rejected';
COMMENT ON COLUMN ml_metrics.id IS 'Row id (increasing in insertion order)';
COMMENT ON COLUMN ml_metrics.metric_type IS 'stok_seviye, tuketim_miktar, dolum_sure, zimmet_kullanim, or a type of your own';
COMMENT ON COLUMN ml_metrics.entity_id IS 'The observed entity (urun_id, oda_id, ...), 1 to 200 characters';
COMMENT ON COLUMN ml_metrics.metric_value IS 'The observed value: finite double precision';
COMMENT ON COLUMN ml_metrics."timestamp" IS 'When the value was observed';
COMMENT ON COLUMN ml_metrics.extra_data IS 'Anything else the application wants to keep with the observation';
COMMENT ON COLUMN ml_metrics.collected_at IS 'When the row was stored';
COMMENT ON COLUMN ml_metrics.source IS 'Name of the ml_sources source that collected it (NULL: inserted directly)';
COMMENT ON COLUMN ml_metrics.corrected_at IS 'When ml_ingest last replaced the value with a corrected one (NULL: never corrected)';
COMMENT ON COLUMN ml_metrics.previous_value IS 'The value before the last correction';

CREATE TABLE ml_metrics_default PARTITION OF ml_metrics DEFAULT;
COMMENT ON TABLE ml_metrics_default IS 'Catch-all partition of ml_metrics for days without their own partition; ml_maintain_partitions moves its rows out';

-- Which series changed since the feature stage last looked: filled by statement triggers
-- (one row per series per statement, so COPY stays fast) and consumed by ml_build_features.
CREATE TABLE ml_series_dirty (
    metric_type text NOT NULL,
    entity_id   text NOT NULL,
    dirty_from  timestamptz NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (metric_type, entity_id)
);
COMMENT ON TABLE ml_series_dirty IS 'Series with new, late or corrected metrics whose features must be (re)computed from dirty_from';
COMMENT ON COLUMN ml_series_dirty.metric_type IS 'Metric type of the series';
COMMENT ON COLUMN ml_series_dirty.entity_id IS 'Entity of the series';
COMMENT ON COLUMN ml_series_dirty.dirty_from IS 'Earliest timestamp whose features are missing or stale';
COMMENT ON COLUMN ml_series_dirty.marked_at IS 'When the series was last marked';

CREATE FUNCTION ml_metrics_mark_new() RETURNS trigger
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

CREATE FUNCTION ml_metrics_mark_changed() RETURNS trigger
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

CREATE TRIGGER ml_metrics_inserted AFTER INSERT ON ml_metrics
    REFERENCING NEW TABLE AS ml_new_rows FOR EACH STATEMENT EXECUTE FUNCTION ml_metrics_mark_new();
CREATE TRIGGER ml_metrics_updated_new AFTER UPDATE ON ml_metrics
    REFERENCING NEW TABLE AS ml_new_rows FOR EACH STATEMENT EXECUTE FUNCTION ml_metrics_mark_new();
CREATE TRIGGER ml_metrics_updated_old AFTER UPDATE ON ml_metrics
    REFERENCING OLD TABLE AS ml_old_rows FOR EACH STATEMENT EXECUTE FUNCTION ml_metrics_mark_changed();
CREATE TRIGGER ml_metrics_deleted AFTER DELETE ON ml_metrics
    REFERENCING OLD TABLE AS ml_old_rows FOR EACH STATEMENT EXECUTE FUNCTION ml_metrics_mark_changed();

-- ---------------------------------------------------------------------------
-- Per-series progress of the stages
-- ---------------------------------------------------------------------------
CREATE SEQUENCE ml_features_version_seq AS bigint;
COMMENT ON SEQUENCE ml_features_version_seq IS 'Versions of the features of a series (ml_series_state.features_version)';
CREATE TABLE ml_series_state (
    metric_type      text NOT NULL,
    entity_id        text NOT NULL,
    features_until   timestamptz,
    scored_until     timestamptz,
    features_version bigint NOT NULL DEFAULT pg_catalog.nextval('ml_features_version_seq'),
    checkpoint_version bigint,
    PRIMARY KEY (metric_type, entity_id)
);
COMMENT ON TABLE ml_series_state IS 'Watermarks per series: the last observation with features and the last one scored by a saving detection run';
COMMENT ON COLUMN ml_series_state.metric_type IS 'Metric type of the series';
COMMENT ON COLUMN ml_series_state.entity_id IS 'Entity of the series';
COMMENT ON COLUMN ml_series_state.features_until IS 'Timestamp of the newest ml_features row of the series';
COMMENT ON COLUMN ml_series_state.features_version IS 'Changes (from a sequence, never reused) whenever features of the series are written: a process that kept the kernel state of the series resumes from it only while this is the version it wrote';
COMMENT ON COLUMN ml_series_state.scored_until IS 'Observations up to here were scored and alerted by ml_detect(save => true); lowered when features are recomputed';
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

-- ---------------------------------------------------------------------------
-- Features: one row per metric row, partitioned like ml_metrics
-- ---------------------------------------------------------------------------
CREATE SEQUENCE ml_features_id_seq AS bigint;
COMMENT ON SEQUENCE ml_features_id_seq IS 'ids of ml_features';
CREATE TABLE ml_features (
    id                bigint NOT NULL DEFAULT pg_catalog.nextval('ml_features_id_seq'),
    metric_type       text NOT NULL,
    entity_id         text NOT NULL,
    "timestamp"       timestamptz NOT NULL,
    metric_value      double precision NOT NULL,
    mean_value        real,
    std_value         real,
    min_value         real,
    max_value         real,
    median_value      double precision,
    q25_value         real,
    q75_value         real,
    trend_slope       real,
    trend_direction   smallint,
    volatility        real,
    momentum          real,
    hour_of_day       smallint,
    day_of_week       smallint,
    is_weekend        boolean,
    day_of_month      smallint,
    days_since_change real,
    change_frequency  real,
    run_length        real,
    hours_since_jump  real,
    drop_rate         real,
    lag_1             real,
    lag_7             real,
    lag_30            real,
    rolling_mean_7    real,
    rolling_std_7     real,
    rolling_mean_30   real,
    rolling_std_30    real,
    zscore_7          real,
    diff_lag_1        real,
    seasonal_zscore   real,
    extra_features    jsonb,
    computed_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- Features are stored as real (float4): 4 bytes instead of 8, a relative rounding of at
    -- most 6e-8 that no consumer of them notices. metric_value and median_value, the
    -- detector's inputs, stay double precision so detection reads exactly what the kernels
    -- computed. The columns detection reads ride in the key's index (index-only scans).
    CONSTRAINT ml_features_series_timestamp_key UNIQUE (metric_type, entity_id, "timestamp")
        INCLUDE (metric_value, hour_of_day, day_of_week, median_value)
) PARTITION BY RANGE ("timestamp");
ALTER SEQUENCE ml_features_id_seq OWNED BY ml_features.id;
CREATE TABLE ml_features_default PARTITION OF ml_features DEFAULT;
COMMENT ON TABLE ml_features_default IS 'Catch-all partition of ml_features for days without their own partition';
COMMENT ON TABLE ml_features IS 'Point-in-time features, one row per ml_metrics row, computed by ml_build_features; partitioned by day';
COMMENT ON COLUMN ml_features.id IS 'Row id';
COMMENT ON COLUMN ml_features.metric_type IS 'Metric type of the series';
COMMENT ON COLUMN ml_features.entity_id IS 'Entity of the series';
COMMENT ON COLUMN ml_features."timestamp" IS 'Timestamp of the observation the features describe';
COMMENT ON COLUMN ml_features.metric_value IS 'The observed value';
COMMENT ON COLUMN ml_features.mean_value IS 'Mean over the trailing stat window (timestamp - stat_window, timestamp]';
COMMENT ON COLUMN ml_features.std_value IS 'Sample standard deviation over the stat window (NULL with fewer than 2 points)';
COMMENT ON COLUMN ml_features.min_value IS 'Minimum over the stat window';
COMMENT ON COLUMN ml_features.max_value IS 'Maximum over the stat window';
COMMENT ON COLUMN ml_features.median_value IS 'Median over the stat window';
COMMENT ON COLUMN ml_features.q25_value IS '25th percentile over the stat window';
COMMENT ON COLUMN ml_features.q75_value IS '75th percentile over the stat window';
COMMENT ON COLUMN ml_features.trend_slope IS 'Least-squares slope over the stat window, in value units per day';
COMMENT ON COLUMN ml_features.trend_direction IS '-1, 0 or 1: sign of trend_slope outside the dead band';
COMMENT ON COLUMN ml_features.volatility IS 'Standard deviation of first differences in the stat window';
COMMENT ON COLUMN ml_features.momentum IS 'Value minus the value as of one stat window earlier';
COMMENT ON COLUMN ml_features.hour_of_day IS 'Hour of day (0-23) in pg_anomaly.timezone';
COMMENT ON COLUMN ml_features.day_of_week IS 'ISO day of week (Monday = 1) in pg_anomaly.timezone';
COMMENT ON COLUMN ml_features.is_weekend IS 'Saturday or Sunday in pg_anomaly.timezone';
COMMENT ON COLUMN ml_features.day_of_month IS 'Day of month (1-31) in pg_anomaly.timezone';
COMMENT ON COLUMN ml_features.days_since_change IS 'Days since the value last changed (bounded by the look-back)';
COMMENT ON COLUMN ml_features.change_frequency IS 'Value changes per day over the last 7 periods';
COMMENT ON COLUMN ml_features.run_length IS 'Number of consecutive identical values ending at this observation (bounded by the look-back)';
COMMENT ON COLUMN ml_features.hours_since_jump IS 'Hours since the last refill-like upward jump';
COMMENT ON COLUMN ml_features.drop_rate IS 'How fast the value is falling over the last hours (value units per hour, positive when falling)';
COMMENT ON COLUMN ml_features.lag_1 IS 'Value as of timestamp - 1 period';
COMMENT ON COLUMN ml_features.lag_7 IS 'Value as of timestamp - 7 periods';
COMMENT ON COLUMN ml_features.lag_30 IS 'Value as of timestamp - 30 periods';
COMMENT ON COLUMN ml_features.rolling_mean_7 IS 'Mean over (timestamp - 7 periods, timestamp]';
COMMENT ON COLUMN ml_features.rolling_std_7 IS 'Standard deviation over (timestamp - 7 periods, timestamp]';
COMMENT ON COLUMN ml_features.rolling_mean_30 IS 'Mean over (timestamp - 30 periods, timestamp]';
COMMENT ON COLUMN ml_features.rolling_std_30 IS 'Standard deviation over (timestamp - 30 periods, timestamp]';
COMMENT ON COLUMN ml_features.zscore_7 IS '(value - rolling_mean_7) / rolling_std_7';
COMMENT ON COLUMN ml_features.diff_lag_1 IS 'value - lag_1';
COMMENT ON COLUMN ml_features.seasonal_zscore IS 'Value against the same hour of day over the last 7 periods';
COMMENT ON COLUMN ml_features.extra_features IS 'Further features (jsonb)';
COMMENT ON COLUMN ml_features.computed_at IS 'When the row was computed';

-- ---------------------------------------------------------------------------
-- Feature selection, labels
-- ---------------------------------------------------------------------------
CREATE TABLE ml_feature_sets (
    metric_type text NOT NULL,
    feature     text NOT NULL,
    kept        boolean NOT NULL,
    score       double precision,
    reason      text NOT NULL,
    method      text NOT NULL,
    selected_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (metric_type, feature)
);
COMMENT ON TABLE ml_feature_sets IS 'The persisted feature selection per metric type: every feature, kept or dropped, with its score and reason';
COMMENT ON COLUMN ml_feature_sets.metric_type IS 'Metric type the selection is for';
COMMENT ON COLUMN ml_feature_sets.feature IS 'Feature (an ml_features column)';
COMMENT ON COLUMN ml_feature_sets.kept IS 'true: training uses the feature';
COMMENT ON COLUMN ml_feature_sets.score IS 'The score of the step that decided (variance, |correlation| or mutual information)';
COMMENT ON COLUMN ml_feature_sets.reason IS 'Why it was kept or dropped';
COMMENT ON COLUMN ml_feature_sets.method IS 'Selection method that produced the set';
COMMENT ON COLUMN ml_feature_sets.selected_at IS 'When the selection ran';

-- Recursive feature elimination over the detector's inputs records every round here; its
-- per-input decisions go to ml_feature_sets (method 'rfe'), and ml_train leaves out the
-- inputs the chosen round does not have.
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

CREATE TABLE ml_labels (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    metric_type text NOT NULL CHECK (metric_type <> ''),
    entity_id   text NOT NULL CHECK (entity_id <> ''),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    kind        text NOT NULL DEFAULT 'incident',
    source      text NOT NULL DEFAULT 'user',
    note        text,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (ends_at >= starts_at)
);
CREATE INDEX ml_labels_series_idx ON ml_labels (metric_type, entity_id, starts_at);
COMMENT ON TABLE ml_labels IS 'Known anomaly windows (incidents recorded by users, demo ground truth, feedback): used to measure and train models';
COMMENT ON COLUMN ml_labels.id IS 'Label id';
COMMENT ON COLUMN ml_labels.metric_type IS 'Metric type the incident shows in';
COMMENT ON COLUMN ml_labels.entity_id IS 'Entity of the incident';
COMMENT ON COLUMN ml_labels.starts_at IS 'First anomalous instant';
COMMENT ON COLUMN ml_labels.ends_at IS 'Last anomalous instant (inclusive)';
COMMENT ON COLUMN ml_labels.kind IS 'spike, drop, level_shift, stuck, missing_refill, slow_leak, incident, ...';
COMMENT ON COLUMN ml_labels.source IS 'demo (generator ground truth), user, or feedback';
COMMENT ON COLUMN ml_labels.note IS 'Free text';
COMMENT ON COLUMN ml_labels.created_at IS 'When the label was recorded';
SELECT pg_catalog.pg_extension_config_dump('ml_labels', $$WHERE source <> 'demo'$$);

-- ---------------------------------------------------------------------------
-- Models and training logs
-- ---------------------------------------------------------------------------
CREATE TABLE ml_models (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_type   text NOT NULL CHECK (model_type IN ('isolation_forest', 'z_score')),
    metric_type  text NOT NULL,
    version      integer NOT NULL,
    model_data   bytea,
    model_path   text,
    parameters   jsonb NOT NULL DEFAULT '{}'::jsonb,
    threshold    double precision,
    accuracy     double precision CHECK (accuracy BETWEEN 0 AND 1),
    "precision"  double precision CHECK ("precision" BETWEEN 0 AND 1),
    recall       double precision CHECK (recall BETWEEN 0 AND 1),
    f1           double precision CHECK (f1 BETWEEN 0 AND 1),
    data_points  bigint,
    trained_from  timestamptz,
    trained_until timestamptz,
    is_active    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    activated_at timestamptz,
    UNIQUE (metric_type, model_type, version)
);
CREATE UNIQUE INDEX ml_models_one_active_idx ON ml_models (metric_type, model_type) WHERE is_active;
COMMENT ON TABLE ml_models IS 'Trained models, versioned; exactly one active model per (metric_type, model_type)';
COMMENT ON COLUMN ml_models.id IS 'Model id';
COMMENT ON COLUMN ml_models.model_type IS 'isolation_forest or z_score';
COMMENT ON COLUMN ml_models.metric_type IS 'Metric type the model scores';
COMMENT ON COLUMN ml_models.version IS 'Version number within (metric_type, model_type), from 1';
COMMENT ON COLUMN ml_models.model_data IS 'The fitted model (versioned bincode bytes, validated on load)';
COMMENT ON COLUMN ml_models.model_path IS 'Unused: models live in model_data so they replicate and back up with the database';
COMMENT ON COLUMN ml_models.parameters IS 'Features used, threshold, normalisation, training window, seed, format version';
COMMENT ON COLUMN ml_models.threshold IS 'Decision threshold on score: is_anomaly = score >= threshold';
COMMENT ON COLUMN ml_models.accuracy IS 'Event-level accuracy on labelled data of the evaluated period (NULL: no labels)';
COMMENT ON COLUMN ml_models."precision" IS 'Event-level precision (NULL: no labels)';
COMMENT ON COLUMN ml_models.recall IS 'Event-level recall (NULL: no labels)';
COMMENT ON COLUMN ml_models.f1 IS 'Event-level F1 (NULL: no labels)';
COMMENT ON COLUMN ml_models.data_points IS 'Training rows used';
COMMENT ON COLUMN ml_models.trained_from IS 'Start of the training window';
COMMENT ON COLUMN ml_models.trained_until IS 'End of the training window';
COMMENT ON COLUMN ml_models.is_active IS 'The model scoring uses';
COMMENT ON COLUMN ml_models.created_at IS 'When the model was trained';
COMMENT ON COLUMN ml_models.activated_at IS 'When the model was last activated';

CREATE TABLE ml_training_logs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id       bigint REFERENCES ml_models (id) ON DELETE SET NULL,
    metric_type    text,
    model_type     text,
    training_start timestamptz NOT NULL,
    training_end   timestamptz,
    data_points    bigint,
    success        boolean NOT NULL,
    error_message  text,
    reason         text,
    metrics        jsonb
);
CREATE INDEX ml_training_logs_start_idx ON ml_training_logs (training_start);
COMMENT ON TABLE ml_training_logs IS 'One row for every training attempt, successful or not';
COMMENT ON COLUMN ml_training_logs.id IS 'Log id';
COMMENT ON COLUMN ml_training_logs.model_id IS 'The model trained (NULL when the attempt failed)';
COMMENT ON COLUMN ml_training_logs.metric_type IS 'Metric type trained';
COMMENT ON COLUMN ml_training_logs.model_type IS 'Model type trained';
COMMENT ON COLUMN ml_training_logs.training_start IS 'Start of the attempt';
COMMENT ON COLUMN ml_training_logs.training_end IS 'End of the attempt';
COMMENT ON COLUMN ml_training_logs.data_points IS 'Training rows';
COMMENT ON COLUMN ml_training_logs.success IS 'Whether a model was stored';
COMMENT ON COLUMN ml_training_logs.error_message IS 'Why the attempt failed';
COMMENT ON COLUMN ml_training_logs.reason IS 'Why training ran (manual, schedule, quality below pg_anomaly.min_accuracy, ...)';
COMMENT ON COLUMN ml_training_logs.metrics IS 'Figures of the attempt: timings, score distribution, quality';

-- ---------------------------------------------------------------------------
-- Alerts
-- ---------------------------------------------------------------------------
CREATE TABLE ml_alerts (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_type         text NOT NULL,
    severity           text NOT NULL CHECK (severity IN ('dusuk', 'orta', 'yuksek', 'kritik')),
    entity_id          text NOT NULL,
    metric_value       double precision,
    expected_value     double precision,
    deviation_percent  double precision,
    message            text NOT NULL,
    suggested_action   text,
    is_read            boolean NOT NULL DEFAULT false,
    is_false_positive  boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    metric_type        text NOT NULL,
    "timestamp"        timestamptz NOT NULL,
    last_seen          timestamptz NOT NULL,
    score              double precision,
    peak_score         double precision,
    observation_count  integer NOT NULL DEFAULT 1,
    model_id           bigint REFERENCES ml_models (id) ON DELETE SET NULL,
    explanation        jsonb,
    is_open            boolean NOT NULL DEFAULT true,
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX ml_alerts_series_idx ON ml_alerts (metric_type, entity_id, "timestamp");
CREATE INDEX ml_alerts_created_idx ON ml_alerts (created_at);
CREATE UNIQUE INDEX ml_alerts_one_open_idx ON ml_alerts (metric_type, entity_id) WHERE is_open;
COMMENT ON TABLE ml_alerts IS 'One alert per anomaly episode per series; the web application reads it and marks is_read / is_false_positive';
COMMENT ON COLUMN ml_alerts.id IS 'Alert id';
COMMENT ON COLUMN ml_alerts.alert_type IS 'stok_anomali, tuketim_anomali, dolum_gecikme, zimmet_anomali (ml_settings.alert_type)';
COMMENT ON COLUMN ml_alerts.severity IS 'dusuk, orta, yuksek, kritik (low, medium, high, critical)';
COMMENT ON COLUMN ml_alerts.entity_id IS 'The entity (urun_id, oda_id, ...)';
COMMENT ON COLUMN ml_alerts.metric_value IS 'The observed value at the peak of the episode';
COMMENT ON COLUMN ml_alerts.expected_value IS 'What the model considered normal there';
COMMENT ON COLUMN ml_alerts.deviation_percent IS '100 * (metric_value - expected_value) / |expected_value|';
COMMENT ON COLUMN ml_alerts.message IS 'Human-readable description (pg_anomaly.language: tr or en)';
COMMENT ON COLUMN ml_alerts.suggested_action IS 'What a warehouse manager should check';
COMMENT ON COLUMN ml_alerts.is_read IS 'Set by the application when someone has read it';
COMMENT ON COLUMN ml_alerts.is_false_positive IS 'Set by the application: not an anomaly; the next training learns from it';
COMMENT ON COLUMN ml_alerts.created_at IS 'When the alert was written';
COMMENT ON COLUMN ml_alerts.metric_type IS 'Metric type of the series';
COMMENT ON COLUMN ml_alerts."timestamp" IS 'First anomalous observation of the episode';
COMMENT ON COLUMN ml_alerts.last_seen IS 'Last anomalous observation of the episode';
COMMENT ON COLUMN ml_alerts.score IS 'Score of the latest anomalous observation (0..1)';
COMMENT ON COLUMN ml_alerts.peak_score IS 'Highest score in the episode';
COMMENT ON COLUMN ml_alerts.observation_count IS 'Anomalous observations in the episode';
COMMENT ON COLUMN ml_alerts.model_id IS 'Model that scored the episode';
COMMENT ON COLUMN ml_alerts.explanation IS 'The top inputs behind the peak''s score, largest share first: a JSON array of {feature, share (of the positive exact Shapley values of the row''s surprise), neg_log10_p (-log10 of the tail probability, the same for each element)}; with feature = sequence_context also sequence_bin, sequence_previous and sequence_two_before (the value bins of the context); noise_model, the recognised shape of the entity''s series its noise model was chosen by (counts, event_valued, cumulative_counter, sawtooth_stock, ...); "model": "warm_up" when the row was scored by a warm-up model fitted on the look-back of an entity the model was not trained on';
COMMENT ON COLUMN ml_alerts.is_open IS 'The episode may still grow: a later scoring run continues it while its series has not returned to normal; closed once its last anomalous observation is older than the series'' scored watermark minus episode_gap (or the model''s reversal window)';
COMMENT ON COLUMN ml_alerts.updated_at IS 'Last change by detection';

-- ---------------------------------------------------------------------------
-- Collection sources and the record of every stage run
-- ---------------------------------------------------------------------------
CREATE TABLE ml_sources (
    name        text PRIMARY KEY CHECK (name <> ''),
    metric_type text NOT NULL CHECK (metric_type <> ''),
    query       text NOT NULL CHECK (query <> ''),
    kind        text NOT NULL CHECK (kind IN ('event', 'snapshot')),
    owner       regrole NOT NULL,
    watermark   timestamptz,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ml_sources IS 'Registered application queries that ml_collect runs to fill ml_metrics';
COMMENT ON COLUMN ml_sources.name IS 'Source name';
COMMENT ON COLUMN ml_sources.metric_type IS 'Metric type of the rows it produces';
COMMENT ON COLUMN ml_sources.query IS 'event: returns entity_id, metric_value, "timestamp" newer than $1; snapshot: returns entity_id, metric_value now';
COMMENT ON COLUMN ml_sources.kind IS 'event or snapshot';
COMMENT ON COLUMN ml_sources.owner IS 'Role that registered the source: the query runs with its privileges';
COMMENT ON COLUMN ml_sources.watermark IS 'Newest timestamp collected so far (event sources read only newer rows)';
COMMENT ON COLUMN ml_sources.enabled IS 'false: ml_collect() skips it';
COMMENT ON COLUMN ml_sources.created_at IS 'When it was registered';
SELECT pg_catalog.pg_extension_config_dump('ml_sources', '');

-- Owners are stamped by the extension, never taken from a table write. The owner's rights
-- run the source query (and an action rule's function): whoever could write the column
-- could choose whose rights (a superuser's) run the text they also write. anomaly_admin is
-- granted no INSERT or UPDATE on the owner columns (sql/finalize.sql); this trigger, which
-- belongs to the table owner and cannot be disabled by the admin, sets owner to the login
-- role of the session (session_user) on insert and whenever what runs changes (the query,
-- its kind or metric type; the action function). A write by a superuser keeps the owner it
-- gives (a restore, a DBA handing a source over); a superuser owner is refused when the
-- row runs all the same (ml_collect, actions: see README "Security").
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

CREATE TABLE ml_job_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stage       text NOT NULL,
    metric_type text,
    source      text,
    trigger     text NOT NULL DEFAULT 'manual' CHECK (trigger IN ('cron', 'worker', 'manual')),
    started     timestamptz NOT NULL,
    finished    timestamptz,
    rows_in     bigint,
    rows_out    bigint,
    success     boolean NOT NULL,
    error       text
);
CREATE INDEX ml_job_runs_stage_idx ON ml_job_runs (stage, started);
COMMENT ON TABLE ml_job_runs IS 'Every stage run (collection per source, features, detection, training, cleanup) however started';
COMMENT ON COLUMN ml_job_runs.id IS 'Run id';
COMMENT ON COLUMN ml_job_runs.stage IS 'collection, features, selection, training, detection, cleanup';
COMMENT ON COLUMN ml_job_runs.metric_type IS 'Metric type of the run (NULL: all)';
COMMENT ON COLUMN ml_job_runs.source IS 'Source name, for collection runs';
COMMENT ON COLUMN ml_job_runs.trigger IS 'cron, worker or manual (pg_anomaly.trigger of the session)';
COMMENT ON COLUMN ml_job_runs.started IS 'Start of the run';
COMMENT ON COLUMN ml_job_runs.finished IS 'End of the run';
COMMENT ON COLUMN ml_job_runs.rows_in IS 'Rows read';
COMMENT ON COLUMN ml_job_runs.rows_out IS 'Rows written';
COMMENT ON COLUMN ml_job_runs.success IS 'Whether the run succeeded';
COMMENT ON COLUMN ml_job_runs.error IS 'Error message of a failed run';

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

-- ---------------------------------------------------------------------------
-- Partitions: one per day for ml_metrics and ml_features
-- ---------------------------------------------------------------------------
-- Partition maintenance needs ownership of the partitioned tables (CREATE TABLE, ATTACH,
-- DROP). The admin role owns nothing, so the two maintenance functions run as the
-- extension's owner (SECURITY DEFINER, pinned search_path, fixed table names, bounded
-- ranges): an admin creates or drops day partitions through them and nothing else.
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

CREATE FUNCTION ml_ensure_partitions(p_from timestamptz, p_to timestamptz)
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

-- The day partitions of ml_metrics or ml_features with the end of their range (the default
-- partition has none and is never listed).
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

-- Backups: an extension's tables are left out of pg_dump unless marked. Every table here
-- holds data the business needs back after a restore, so all are marked. Daily partitions
-- are created after CREATE EXTENSION (by the stages and the schedule), so they are plain
-- tables that pg_dump keeps anyway; the default partitions are extension members and
-- are marked here.
DO $dump$
DECLARE
    rel text;
BEGIN
    -- One call per statement: two calls in one command would update pg_extension twice.
    FOREACH rel IN ARRAY ARRAY['ml_metrics_default', 'ml_features_default', 'ml_series_dirty', 'ml_series_state',
                               'ml_feature_sets', 'ml_feature_set_rounds', 'ml_tuning_trials', 'ml_models', 'ml_training_logs', 'ml_alerts', 'ml_job_runs',
                               'ml_metrics_id_seq', 'ml_features_id_seq', 'ml_labels_id_seq', 'ml_models_id_seq',
                               'ml_training_logs_id_seq', 'ml_alerts_id_seq', 'ml_job_runs_id_seq', 'ml_tuning_trials_id_seq'] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(rel::regclass, '');
    END LOOP;
END
$dump$;

-- ---------------------------------------------------------------------------
-- NOTIFY: every new alert and every severity escalation, delivered at commit
-- ---------------------------------------------------------------------------
-- Any login may LISTEN on any channel (PostgreSQL has no privilege for it), so the payload
-- carries only what every login may see: the alert id, its severity and the event. The
-- application reads the rest from ml_alerts with its own grants.
CREATE FUNCTION ml_alerts_notify() RETURNS trigger
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
CREATE TRIGGER ml_alerts_notify_insert AFTER INSERT ON ml_alerts FOR EACH ROW EXECUTE FUNCTION ml_alerts_notify();
CREATE TRIGGER ml_alerts_notify_escalation AFTER UPDATE OF severity ON ml_alerts FOR EACH ROW
    WHEN (NEW.severity IS DISTINCT FROM OLD.severity) EXECUTE FUNCTION ml_alerts_notify();

-- ---------------------------------------------------------------------------
-- Notifications: channels, routing rules, the durable outbox; automatic actions
-- ---------------------------------------------------------------------------
CREATE TABLE ml_channels (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name <> ''),
    kind       text NOT NULL CHECK (kind IN ('email', 'sms', 'webhook')),
    config     jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(config) = 'object'),
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ml_channels IS 'Where notifications go. config holds credentials: readable by anomaly_admin only (ml_channels_safe hides them)';
COMMENT ON COLUMN ml_channels.id IS 'Channel id';
COMMENT ON COLUMN ml_channels.name IS 'Channel name';
COMMENT ON COLUMN ml_channels.kind IS 'email (SMTP), sms (HTTP SMS gateway) or webhook (HTTP POST of JSON)';
COMMENT ON COLUMN ml_channels.config IS 'email: host, port, tls (none/starttls/tls), username, password, from, to; webhook: url, headers; sms: url, headers, body_template, phone';
COMMENT ON COLUMN ml_channels.enabled IS 'false: nothing is queued for it';
COMMENT ON COLUMN ml_channels.created_at IS 'When it was added';
SELECT pg_catalog.pg_extension_config_dump('ml_channels', '');

-- A URL carries credentials in its userinfo (user:password@), its query (?api_key=) and
-- often its path (token-bearing webhook paths): readers see the scheme and host only.
CREATE VIEW ml_channels_safe AS
SELECT id, name, kind, enabled, created_at,
       CASE WHEN pg_catalog.jsonb_typeof(config -> 'url') = 'string'
            THEN pg_catalog.jsonb_set(config - 'password' - 'username' - 'headers' - 'body_template', '{url}',
                           pg_catalog.to_jsonb(pg_catalog.regexp_replace(pg_catalog.regexp_replace(config ->> 'url', '^([^:/?#]+://)?[^/?#]*@', '\1'),
                                                    '^(([^:/?#]+://)?[^/?#]*).*$', '\1/...')))
            ELSE config - 'password' - 'username' - 'headers' - 'body_template' END AS config_without_secrets
FROM ml_channels;
COMMENT ON VIEW ml_channels_safe IS 'Channels without credentials, headers or templates; URLs shown as scheme and host only';

CREATE TABLE ml_notification_rules (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id     bigint NOT NULL REFERENCES ml_channels (id) ON DELETE CASCADE,
    min_severity   text NOT NULL DEFAULT 'orta' CHECK (min_severity IN ('dusuk', 'orta', 'yuksek', 'kritik')),
    alert_type     text,
    metric_type    text,
    entity_pattern text CHECK (pg_catalog.length(entity_pattern) <= 200),
    enabled        boolean NOT NULL DEFAULT true,
    last_error     text,
    last_error_at  timestamptz
);
COMMENT ON TABLE ml_notification_rules IS 'Routes alerts to a channel: by minimum severity, alert type, metric type and entity pattern (NULL: any)';
COMMENT ON COLUMN ml_notification_rules.id IS 'Rule id';
COMMENT ON COLUMN ml_notification_rules.channel_id IS 'The channel';
COMMENT ON COLUMN ml_notification_rules.min_severity IS 'Lowest severity routed (dusuk < orta < yuksek < kritik)';
COMMENT ON COLUMN ml_notification_rules.alert_type IS 'Only this alert type (NULL: any)';
COMMENT ON COLUMN ml_notification_rules.metric_type IS 'Only this metric type (NULL: any)';
COMMENT ON COLUMN ml_notification_rules.entity_pattern IS 'Only entities matching this LIKE pattern (NULL: any)';
COMMENT ON COLUMN ml_notification_rules.enabled IS 'false: rule ignored';
COMMENT ON COLUMN ml_notification_rules.last_error IS 'Error of the last evaluation of the rule (it was skipped for that alert; the alert and the other rules went on)';
COMMENT ON COLUMN ml_notification_rules.last_error_at IS 'When last_error happened';

-- A stored LIKE pattern is evaluated once when it is stored: a malformed one (a trailing
-- escape character, E'urun\\') would otherwise fail every later alert with 22025.
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
SELECT pg_catalog.pg_extension_config_dump('ml_notification_rules', '');

CREATE TABLE ml_notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES ml_alerts (id) ON DELETE CASCADE,
    channel_id      bigint NOT NULL REFERENCES ml_channels (id) ON DELETE CASCADE,
    severity        text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    idempotency_key text NOT NULL,
    UNIQUE (alert_id, channel_id, severity)
);
CREATE INDEX ml_notifications_due_idx ON ml_notifications (next_attempt_at) WHERE status = 'pending';
COMMENT ON TABLE ml_notifications IS 'Durable outbox: filled in the alert''s transaction, delivered by the notifier worker with retries and backoff';
COMMENT ON COLUMN ml_notifications.id IS 'Notification id';
COMMENT ON COLUMN ml_notifications.alert_id IS 'The alert';
COMMENT ON COLUMN ml_notifications.channel_id IS 'The channel';
COMMENT ON COLUMN ml_notifications.severity IS 'Severity notified (an escalation queues a new notification)';
COMMENT ON COLUMN ml_notifications.status IS 'pending, sent or failed';
COMMENT ON COLUMN ml_notifications.attempts IS 'Delivery attempts so far';
COMMENT ON COLUMN ml_notifications.last_error IS 'Error of the last failed attempt (credentials redacted)';
COMMENT ON COLUMN ml_notifications.next_attempt_at IS 'Earliest next attempt (exponential backoff)';
COMMENT ON COLUMN ml_notifications.sent_at IS 'When it was delivered';
COMMENT ON COLUMN ml_notifications.created_at IS 'When it was queued';
COMMENT ON COLUMN ml_notifications.idempotency_key IS 'Sent with every attempt (Idempotency-Key header, Message-ID) so receivers can drop repeats';

CREATE TABLE ml_action_rules (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action         text NOT NULL,
    owner          regrole NOT NULL,
    min_severity   text NOT NULL DEFAULT 'orta' CHECK (min_severity IN ('dusuk', 'orta', 'yuksek', 'kritik')),
    alert_type     text,
    metric_type    text,
    entity_pattern text CHECK (pg_catalog.length(entity_pattern) <= 200),
    enabled        boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE ml_action_rules IS 'Automatic actions: a function taking the alert id (bigint), called with its owner''s privileges when a matching alert is written';
COMMENT ON COLUMN ml_action_rules.id IS 'Rule id';
COMMENT ON COLUMN ml_action_rules.action IS 'The function''s schema-qualified signature, e.g. app.open_restock_task(bigint), normalised and checked when stored, resolved again at each run (a dropped or renamed function is recorded as a failed run)';
COMMENT ON COLUMN ml_action_rules.owner IS 'Role that registered the rule: the function runs with its privileges';
COMMENT ON COLUMN ml_action_rules.min_severity IS 'Lowest severity acted on';
COMMENT ON COLUMN ml_action_rules.alert_type IS 'Only this alert type (NULL: any)';
COMMENT ON COLUMN ml_action_rules.metric_type IS 'Only this metric type (NULL: any)';
COMMENT ON COLUMN ml_action_rules.entity_pattern IS 'Only entities matching this LIKE pattern (NULL: any)';
COMMENT ON COLUMN ml_action_rules.enabled IS 'false: rule ignored';
SELECT pg_catalog.pg_extension_config_dump('ml_action_rules', '');

-- The owner of an action rule is stamped like a source's (see ml_sources_stamp_owner); the
-- action must take exactly one bigint (the alert id), and its pattern must evaluate.
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

-- A role that owns sources or action rules must not vanish silently (its queries and actions
-- would stop with "owner no longer exists"). PostgreSQL refuses DROP ROLE while a role holds
-- a privilege on an object, so each owner holds REFERENCES on this empty table (a privilege
-- that allows nothing here) while it owns anything; DROP ROLE then names the table, and the
-- DBA hands the sources over or runs DROP OWNED BY first.
CREATE TABLE ml_owner_pins ();
COMMENT ON TABLE ml_owner_pins IS 'Holds no rows: every role that owns a source or an action rule holds REFERENCES on it, so DROP ROLE refuses that role until its sources and rules are removed, handed over or released with DROP OWNED BY';

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

CREATE TABLE ml_action_runs (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES ml_alerts (id) ON DELETE CASCADE,
    rule_id  bigint REFERENCES ml_action_rules (id) ON DELETE SET NULL,
    success  boolean NOT NULL,
    error    text,
    ran_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ml_action_runs IS 'Every automatic action run; a failed action is recorded here and never loses or blocks its alert';
COMMENT ON COLUMN ml_action_runs.id IS 'Run id';
COMMENT ON COLUMN ml_action_runs.alert_id IS 'The alert';
COMMENT ON COLUMN ml_action_runs.rule_id IS 'The action rule';
COMMENT ON COLUMN ml_action_runs.success IS 'Whether the function returned without error';
COMMENT ON COLUMN ml_action_runs.error IS 'The error it raised';
COMMENT ON COLUMN ml_action_runs.ran_at IS 'When it ran';
SELECT pg_catalog.pg_extension_config_dump('ml_notifications', '');
SELECT pg_catalog.pg_extension_config_dump('ml_action_runs', '');

CREATE UNLOGGED TABLE ml_parallel_results (
    token        text NOT NULL,
    worker       integer NOT NULL,
    success      boolean NOT NULL,
    rows_in      bigint NOT NULL DEFAULT 0,
    rows_out     bigint NOT NULL DEFAULT 0,
    error        text,
    anomalies    jsonb,
    finished_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ml_parallel_results IS 'Results the dynamic workers of a parallel run hand back to their leader (transient)';
COMMENT ON COLUMN ml_parallel_results.token IS 'The parallel run';
COMMENT ON COLUMN ml_parallel_results.worker IS 'Partition number of the worker';
COMMENT ON COLUMN ml_parallel_results.success IS 'Whether the worker finished its partition';
COMMENT ON COLUMN ml_parallel_results.rows_in IS 'Rows it read';
COMMENT ON COLUMN ml_parallel_results.rows_out IS 'Rows (features) or alerts it wrote';
COMMENT ON COLUMN ml_parallel_results.error IS 'Its error';
COMMENT ON COLUMN ml_parallel_results.anomalies IS 'Detection: the anomalous rows it scored';
COMMENT ON COLUMN ml_parallel_results.finished_at IS 'When it finished';

-- Identity and version sequences: a restored database continues them instead of handing out
-- ids that the restored rows already have.
DO $dump_seq$
DECLARE
    rel text;
BEGIN
    FOREACH rel IN ARRAY ARRAY['ml_features_version_seq', 'ml_channels_id_seq', 'ml_notification_rules_id_seq',
                               'ml_notifications_id_seq', 'ml_action_rules_id_seq', 'ml_action_runs_id_seq'] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(rel::regclass, '');
    END LOOP;
END
$dump_seq$;
