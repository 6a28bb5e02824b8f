//! Stage 1, incremental collection from registered sources (DataCollectorV2):
//! ml_add_source, ml_remove_source, ml_collect.

use crate::errors::{required, run};
use crate::gucs;
use crate::pipeline::collect;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Registers (or replaces) a metric source. `kind` is 'event' (the query returns
/// entity_id, metric_value, "timestamp" and receives the last collected timestamp as $1)
/// or 'snapshot' (the query returns entity_id, metric_value of the current state). The
/// query always runs with the privileges of the role registering it.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_add_source(
    name: Option<&str>,
    metric_type: Option<&str>,
    query: Option<&str>,
    kind: default!(Option<&str>, "'event'"),
) -> std::result::Result<bool, ErrorReport> {
    run("ml_add_source", || {
        let (name, metric_type, query, kind) =
            (required("name", name)?, required("metric_type", metric_type)?, required("query", query)?, required("kind", kind)?);
        collect::add_source(name, metric_type, query, kind)?;
        Ok(true)
    })
}

/// Removes a source; returns false when there was none of that name.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_remove_source(name: &str) -> std::result::Result<bool, ErrorReport> {
    run("ml_remove_source", || collect::remove_source(name))
}

/// Runs one source (or every enabled one): reads rows newer than its watermark, stores
/// them, advances the watermark in the same subtransaction, and records the run in
/// ml_job_runs. A failing source is rolled back alone and reported; the others go on.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_collect(
    source_name: default!(Option<&str>, "NULL"),
) -> std::result::Result<TableIterator<'static, (
    name!(source, String),
    name!(rows_read, i64),
    name!(rows_inserted, i64),
    name!(rows_rejected, i64),
    name!(success, bool),
    name!(error, Option<String>),
)>, ErrorReport> {
    run("ml_collect", || {
        let runs = collect::collect(source_name, gucs::run_trigger())?;
        Ok(TableIterator::new(runs.into_iter().map(|r| (r.source, r.read, r.inserted, r.rejected, r.success, r.error))))
    })
}
