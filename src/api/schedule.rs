//! The self-running pipeline: ml_run_stage (what the scheduled jobs call), ml_schedule and
//! ml_unschedule (the pg_cron jobs).

use crate::errors::run;
use crate::pipeline::{schedule, stage};
use pgrx::datum::JsonB;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Runs one stage of the pipeline as the schedule does (collection, features, detection,
/// training, cleanup) and returns a summary. `trigger` is recorded in ml_job_runs.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_run_stage(stage: &str, trigger: default!(&str, "'manual'")) -> std::result::Result<JsonB, ErrorReport> {
    run("ml_run_stage", || {
        let t = stage::check_trigger(trigger)?;
        Ok(JsonB(stage::run_stage(stage, t)?))
    })
}

/// Creates (or updates) the five pg_cron jobs with the seed's cadence; each schedule can
/// be overridden. Idempotent: jobs are named pg_anomaly_<stage> and rescheduled in place.
/// When pg_cron lives in another database, the jobs are created there with
/// cron.schedule_in_database when possible; otherwise the NOTICE says what to run.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_schedule(
    collection: default!(&str, "'*/15 * * * *'"),
    features: default!(&str, "'*/30 * * * *'"),
    detection: default!(&str, "'0 * * * *'"),
    training: default!(&str, "'0 0 * * *'"),
    cleanup: default!(&str, "'0 4 * * *'"),
) -> std::result::Result<TableIterator<'static, (name!(job_name, String), name!(schedule, String), name!(command, String), name!(jobid, Option<i64>))>, ErrorReport> {
    run("ml_schedule", || {
        let jobs = schedule::schedule([collection, features, detection, training, cleanup])?;
        Ok(TableIterator::new(jobs.into_iter().map(|j| (j.name, j.schedule, j.command, j.jobid))))
    })
}

/// Removes the pg_anomaly jobs from pg_cron; returns how many it removed.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_unschedule() -> std::result::Result<i64, ErrorReport> {
    run("ml_unschedule", schedule::unschedule)
}
