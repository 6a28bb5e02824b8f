//! Retention: drops whole day partitions of ml_metrics and ml_features past their
//! retention (no mass DELETE), deletes old rows elsewhere, and creates the partitions of
//! the coming days.

use super::stage::StageRun;
use crate::errors::Result;
use crate::gucs;
use crate::storage::retention::{self, Expiring, Partitioned};
use crate::storage::{checkpoints, locks, metrics, schema, settings};
use pg_anomaly_core::{CoreError, ErrorKind};

/// Cleanup calls the partition functions of this library's version of the SQL objects: after
/// a package upgrade installed this library and before ALTER EXTENSION UPDATE they may not
/// exist yet, and a run would fail on a missing function. It stops with what to do instead.
fn check_schema_version() -> Result<()> {
    let library = env!("CARGO_PKG_VERSION");
    match schema::installed_version()? {
        Some(v) if v != library => Err(CoreError::new(
            ErrorKind::NotReady,
            format!("pg_anomaly's SQL objects in this database are version {v}, its library is version {library}"),
        )
        .with_detail("Cleanup calls the partition functions of the library's version; nothing was removed.")
        .with_hint("Run ALTER EXTENSION pg_anomaly UPDATE in this database.")
        .into()),
        _ => Ok(()),
    }
}

/// Applies retention; returns the rows removed per table.
pub fn cleanup(trigger: &str) -> Result<Vec<(String, i64)>> {
    if !StageRun::lock(locks::Stage::Cleanup, "another cleanup is running; skipping this one")? {
        return Ok(Vec::new());
    }
    let run = StageRun::start("cleanup", None, trigger)?;
    check_schema_version()?;
    let r = gucs::retention();
    let mut out = Vec::new();
    let mut expiring = vec![(Expiring::Alerts, r.alerts_days), (Expiring::TrainingLogs, r.training_logs_days), (Expiring::JobRuns, r.job_runs_days)];
    if retention::cron_history_deletable()? {
        expiring.push((Expiring::CronRunDetails, r.job_runs_days));
    }
    for (t, days) in expiring {
        out.push((t.name().to_string(), retention::delete_expired(t, days)?));
    }
    for t in [Partitioned::Metrics, Partitioned::Features] {
        let (n, before, after) = retention::compact_closed_day(t)?;
        if n > 0 {
            pgrx::debug1!("pg_anomaly cleanup: rebuilt the indexes of {n} closed day partition(s) of {}: {before} -> {after} bytes", t.name());
        }
    }
    metrics::ensure_partitions(settings::now_plus_days(-1)?, settings::now_plus_days(7)?)?;
    // Dropping a day partition holds its parent table exclusively until this run commits
    // (ingestion and the stages wait): the drops come last, with only what depends on them
    // after. They are reported first, as before.
    let mut dropped = Vec::new();
    for (t, days) in [(Partitioned::Metrics, r.metrics_days), (Partitioned::Features, r.features_days)] {
        dropped.push((t.name().to_string(), retention::drop_expired(t, days)?));
    }
    out.splice(0..0, dropped);
    retention::forget_empty_series()?;
    // checkpoints holding rows retention just dropped would resume with them
    checkpoints::forget_expired(r.metrics_days)?;
    run.success(None, 0, out.iter().map(|(_, n)| n).sum())?;
    Ok(out)
}
