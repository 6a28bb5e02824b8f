//! Retention: ml_cleanup.

use crate::errors::run;
use crate::gucs;
use crate::pipeline::cleanup;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Applies retention (pg_anomaly.*_retention_days): drops expired day partitions of
/// ml_metrics and ml_features, deletes expired closed alerts, training logs, job runs and
/// pg_cron's job_run_details, rebuilds the indexes of the day partitions that closed a day
/// ago, creates the partitions of the next 7 days. Returns the rows
/// removed per table.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_cleanup() -> std::result::Result<TableIterator<'static, (name!(table_name, String), name!(removed, i64))>, ErrorReport> {
    run("ml_cleanup", || Ok(TableIterator::new(cleanup::cleanup(gucs::run_trigger())?)))
}
