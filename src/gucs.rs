//! Every setting of pg_anomaly, under the reserved prefix `pg_anomaly.`.
//! Statics are private; the rest of the extension reads them through typed getters.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// Time zone of the time features (hour_of_day, day_of_week, ...); empty: UTC (never the
/// session's TimeZone). Read by SQL (current_setting) where the features are computed.
static TIMEZONE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Language of alert messages: tr (default) or en.
static LANGUAGE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"tr"));
/// Accuracy below which detection retrains the active model.
static MIN_ACCURACY: GucSetting<f64> = GucSetting::<f64>::new(0.7);
/// Whether the real-time background worker runs (needs shared_preload_libraries).
static REALTIME: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Seconds between two micro-batches of the real-time worker.
static REALTIME_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(5);
/// Database the background workers connect to.
static DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));
/// What started the current stage run: manual, cron or worker (recorded in ml_job_runs).
static RUN_TRIGGER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"manual"));
/// Retention in days.
static METRICS_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(90);
static FEATURES_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(90);
static ALERTS_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);
static TRAINING_LOGS_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(180);
static JOB_RUNS_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);
/// Whether the nightly training tunes each metric type first (ml_tune).
static NIGHTLY_TUNING: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Seconds the nightly tuning may search per metric type.
static TUNING_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(30);
static TUNING_TOTAL_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(600);
/// False alerts per series-week the tuner allows (without labels: alerts).
static TUNING_ALERT_BUDGET: GucSetting<f64> = GucSetting::<f64>::new(0.1);
/// Memory (MB) a process may keep for the feature kernels' per-series state.
static FEATURE_STATE_CACHE_MB: GucSetting<i32> = GucSetting::<i32>::new(512);
/// On a Citus cluster: run the stages' per-series work on the workers, one call per shard
/// (feature builds, training samples, detection scoring; README "Scaling out").
static CITUS_SHARD_BUILDS: GucSetting<bool> = GucSetting::<bool>::new(true);

pub fn init() {
    GucRegistry::define_bool_guc(
        c"pg_anomaly.citus_shard_builds",
        c"On a Citus cluster, build features, draw training samples and score detection on the workers (one call per shard) instead of on the coordinator.",
        c"Only used once ml_distribute() has distributed the per-series tables; off: the coordinator reads the series from the shards and does the work itself.",
        &CITUS_SHARD_BUILDS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_anomaly.feature_state_cache_mb",
        c"Memory (MB) a process may keep for the feature kernels' state per series.",
        c"0 to 1048576 MB. With it an incremental feature build resumes each series from its kept state instead of re-reading a month of look-back; the real-time worker is the process that gains. 0 turns it off.",
        &FEATURE_STATE_CACHE_MB,
        0,
        1_048_576,
        GucContext::Suset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_string_guc(
        c"pg_anomaly.timezone",
        c"Time zone of the time features (hour_of_day, day_of_week, is_weekend, day_of_month).",
        c"Empty: UTC, whatever the TimeZone of the session that builds or scores. Set it server-wide (postgresql.conf, ALTER SYSTEM or ALTER DATABASE) for local calendar features; a session of a role that is not a superuser cannot change it, so every stage writes one zone into the shared feature store.",
        &TIMEZONE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg_anomaly.language",
        c"Language of alert messages and suggested actions: tr or en.",
        c"Turkish (tr) by default, as the warehouse staff read it.",
        &LANGUAGE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"pg_anomaly.min_accuracy",
        c"Accuracy of the active model below which detection retrains it.",
        c"0 to 1. Measured on ml_labels and alert feedback when a model is trained; the scheduled detection retrains when the active forest's accuracy is below it. 0 disables quality-driven retraining.",
        &MIN_ACCURACY,
        0.0,
        1.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_anomaly.realtime",
        c"Run the real-time worker that scores new metrics within seconds.",
        c"Needs pg_anomaly in shared_preload_libraries.",
        &REALTIME,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_anomaly.realtime_interval",
        c"Seconds between two micro-batches of the real-time worker.",
        c"1 to 3600 s. A failed micro-batch doubles the wait, up to 60 times this (at most 600 s); a successful one resets it.",
        &REALTIME_INTERVAL,
        1,
        3600,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_string_guc(
        c"pg_anomaly.database",
        c"Database the pg_anomaly background workers connect to.",
        c"The database where CREATE EXTENSION pg_anomaly was run.",
        &DATABASE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg_anomaly.run_trigger",
        c"What started the current stage run: manual, cron or worker.",
        c"The trigger recorded in ml_job_runs.trigger by SQL calls in this session (any other value counts as manual); ml_run_stage records its own trigger argument (cron for the scheduled jobs, worker for the real-time worker).",
        &RUN_TRIGGER,
        GucContext::Userset,
        GucFlags::default(),
    );
    define_tuning();
    define_retention();
    // SAFETY: called once from _PG_init with a static C string.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"pg_anomaly".as_ptr()) };
}

/// The settings of self-tuning (ml_tune and the nightly training).
fn define_tuning() {
    GucRegistry::define_bool_guc(
        c"pg_anomaly.nightly_tuning",
        c"Whether the nightly training runs ml_tune on each metric type before it retrains.",
        c"The search is bounded by pg_anomaly.tuning_seconds per metric type; its winner becomes the active model only when not worse than the active one. Off: the nightly training retrains with the last activated tuning winner's parameters (or the defaults).",
        &NIGHTLY_TUNING,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_anomaly.tuning_seconds",
        c"Wall-clock seconds the nightly tuning may search per metric type.",
        c"1 to 86400 s. A trial is not started when it would end past the budget; ml_tuning_trials records how far the search got.",
        &TUNING_SECONDS,
        1,
        86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"pg_anomaly.tuning_total_seconds",
        c"Wall-clock seconds all metric types' searches of one nightly training run may take together.",
        c"1 to 86400 s. Each metric type searches within pg_anomaly.tuning_seconds and what is left of this budget; a type reached after it is spent retrains without a search (its stage result says so), so thousands of metric types cannot make the night's training run for hours.",
        &TUNING_TOTAL_SECONDS,
        1,
        86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_float_guc(
        c"pg_anomaly.tuning_alert_budget",
        c"False alerts per series-week the tuner allows (without labels: alerts).",
        c"0.001 to 100. With labels, the tuner maximises event F1 among configurations whose false alerts on the training span stay within this budget (or the starting configuration's own rate when higher); without ml_labels or reviewed alerts, it takes the most sensitive configuration whose alerts stay within it and are stable across seeds.",
        &TUNING_ALERT_BUDGET,
        0.001,
        100.0,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The retention settings of ml_cleanup, one per table.
fn define_retention() {
    for (name, short, setting) in [
        (c"pg_anomaly.metrics_retention_days", c"Days of ml_metrics that ml_cleanup keeps.", &METRICS_RETENTION_DAYS),
        (c"pg_anomaly.features_retention_days", c"Days of ml_features that ml_cleanup keeps.", &FEATURES_RETENTION_DAYS),
        (c"pg_anomaly.alerts_retention_days", c"Days of ml_alerts that ml_cleanup keeps.", &ALERTS_RETENTION_DAYS),
        (c"pg_anomaly.training_logs_retention_days", c"Days of ml_training_logs that ml_cleanup keeps.", &TRAINING_LOGS_RETENTION_DAYS),
        (c"pg_anomaly.job_runs_retention_days", c"Days of ml_job_runs and cron.job_run_details that ml_cleanup keeps.", &JOB_RUNS_RETENTION_DAYS),
    ] {
        GucRegistry::define_int_guc(
            name,
            short,
            c"1 to 36500 days. ml_cleanup (the nightly cleanup stage) removes what is older; metrics and features go by whole day partitions.",
            setting,
            1,
            36500,
            GucContext::Suset,
            GucFlags::default(),
        );
    }
}

fn string(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .and_then(|s| s.to_str().ok().map(str::to_owned))
        .filter(|s| !s.trim().is_empty())
}

/// true when alert texts must be English.
pub fn english() -> bool {
    string(&LANGUAGE).map(|l| l.eq_ignore_ascii_case("en")).unwrap_or(false)
}

/// Whether the stages on a Citus cluster run their per-series work on the workers, per shard.
pub fn citus_shard_builds() -> bool {
    CITUS_SHARD_BUILDS.get()
}

/// Bytes of kernel state a process may keep (0: none).
pub fn feature_state_cache_bytes() -> usize {
    (FEATURE_STATE_CACHE_MB.get().max(0) as usize) << 20
}

pub fn nightly_tuning() -> bool {
    NIGHTLY_TUNING.get()
}

pub fn tuning_seconds() -> i32 {
    TUNING_SECONDS.get()
}

pub fn tuning_total_seconds() -> i32 {
    TUNING_TOTAL_SECONDS.get()
}

pub fn tuning_alert_budget() -> f64 {
    TUNING_ALERT_BUDGET.get()
}

pub fn min_accuracy() -> f64 {
    MIN_ACCURACY.get()
}

pub fn realtime() -> bool {
    REALTIME.get()
}

pub fn realtime_interval_secs() -> i32 {
    REALTIME_INTERVAL.get()
}

pub fn database() -> String {
    string(&DATABASE).unwrap_or_else(|| "postgres".to_string())
}

/// manual, cron or worker; anything else counts as manual.
pub fn run_trigger() -> &'static str {
    match string(&RUN_TRIGGER).as_deref() {
        Some("cron") => "cron",
        Some("worker") => "worker",
        _ => "manual",
    }
}

pub struct Retention {
    pub metrics_days: i32,
    pub features_days: i32,
    pub alerts_days: i32,
    pub training_logs_days: i32,
    pub job_runs_days: i32,
}

pub fn retention() -> Retention {
    Retention {
        metrics_days: METRICS_RETENTION_DAYS.get(),
        features_days: FEATURES_RETENTION_DAYS.get(),
        alerts_days: ALERTS_RETENTION_DAYS.get(),
        training_logs_days: TRAINING_LOGS_RETENTION_DAYS.get(),
        job_runs_days: JOB_RUNS_RETENTION_DAYS.get(),
    }
}
