//! Stage 1, incremental collection from registered sources (DataCollectorV2):
//! ml_add_source, ml_remove_source, ml_collect.

use crate::errors::{invalid, run, Result};
use crate::storage::{metrics, owners, runs, sources, subxact};
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
    use crate::errors::required;
    run("ml_add_source", || {
        let (name, metric_type, query, kind) =
            (required("name", name)?, required("metric_type", metric_type)?, required("query", query)?, required("kind", kind)?);
        if name.is_empty() {
            return Err(invalid("name", "''", "a source needs a name"));
        }
        if metric_type.is_empty() {
            return Err(invalid("metric_type", "''", "a source produces metrics of one non-empty type"));
        }
        if kind != "event" && kind != "snapshot" {
            return Err(invalid("kind", kind, "kind is 'event' or 'snapshot'"));
        }
        sources::add(name, metric_type, query, kind)?;
        Ok(true)
    })
}

/// Removes a source; returns false when there was none of that name.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_remove_source(name: &str) -> std::result::Result<bool, ErrorReport> {
    run("ml_remove_source", || sources::remove(name))
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
    run("ml_collect", || Ok(TableIterator::new(collect(source_name)?)))
}

/// Every enabled source, as the schedule runs them.
pub fn collect_all() -> Result<Vec<(String, i64, i64, i64, bool, Option<String>)>> {
    collect(None)
}

fn collect(source_name: Option<&str>) -> Result<Vec<(String, i64, i64, i64, bool, Option<String>)>> {
    let mut out = Vec::new();
    for src in sources::load(source_name)? {
        let started = runs::now()?;
        let outcome = subxact::run(|| -> Result<(i64, i64, i64)> {
            // The owner column is stamped by the extension; a row written before that (or
            // by a superuser) is checked here all the same.
            if let Some(why) = owners::refusal(src.owner)? {
                return Err(owners::refused(&format!("source {}", src.name), why));
            }
            let collected = sources::read(&src, started)?;
            let newest = collected.timestamps.iter().copied().max();
            if let (Some(lo), Some(hi)) = (collected.timestamps.iter().copied().min(), newest) {
                metrics::ensure_partitions(lo, hi)?;
            }
            let inserted = metrics::insert_rows(
                &src.metric_type,
                Some(&src.name),
                collected.entity_ids,
                collected.values,
                collected.timestamps,
            )?;
            if let Some(wm) = newest {
                sources::advance_watermark(&src.name, wm)?;
            }
            Ok((collected.read, inserted, collected.rejected))
        });
        let (read, inserted, rejected, error) = match outcome {
            Ok(Ok((r, i, j))) => (r, i, j, None),
            Ok(Err(e)) => (0, 0, 0, Some(e.into_report("ml_collect").message().to_string())),
            Err(f) => (0, 0, 0, Some(f.message)),
        };
        // The stored text is read by anomaly_reader (ml_sources_status, ml_job_runs): the
        // query ran with its owner's rights and its error may quote the data it failed on,
        // so quoted values are taken out; the caller and the server log get the whole text.
        let note = match (&error, rejected) {
            (None, 0) => None,
            (None, n) => Some(format!("{n} rows rejected (NULL, empty or non-finite values, timestamps out of range, or not newer than the watermark)")),
            (Some(e), _) => Some(pg_anomaly_core::redact_values(e, 500)),
        };
        runs::record(&runs::RunRecord {
            stage: "collection",
            metric_type: Some(&src.metric_type),
            source: Some(&src.name),
            started,
            rows_in: read,
            rows_out: inserted,
            success: error.is_none(),
            error: note.as_deref(),
        })?;
        if let Some(e) = &error {
            pgrx::warning!("pg_anomaly: source \"{}\" failed: {}", src.name, e);
        }
        out.push((src.name.clone(), read, inserted, rejected, error.is_none(), error));
    }
    Ok(out)
}
