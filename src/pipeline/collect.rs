//! Stage 1, incremental collection from registered sources (DataCollectorV2): each source
//! in a subtransaction of its own, so a failing source is rolled back alone and reported.

use crate::errors::{invalid, Result};
use crate::storage::{metrics, owners, runs, sources, subxact};

/// One source's run, as ml_collect reports it.
pub struct SourceRun {
    pub source: String,
    pub read: i64,
    pub inserted: i64,
    pub rejected: i64,
    pub success: bool,
    pub error: Option<String>,
}

/// Runs one source (or every enabled one): reads rows newer than its watermark, stores
/// them, advances the watermark in the same subtransaction, and records the run in
/// ml_job_runs.
pub fn collect(source_name: Option<&str>, trigger: &str) -> Result<Vec<SourceRun>> {
    let trigger = super::stage::check_trigger(trigger)?;
    let mut out = Vec::new();
    for src in sources::load(source_name)? {
        let started = runs::now()?;
        let outcome = subxact::run(|| collect_one(&src, started));
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
            trigger,
            started,
            rows_in: read,
            rows_out: inserted,
            success: error.is_none(),
            error: note.as_deref(),
        })?;
        if let Some(e) = &error {
            pgrx::warning!("pg_anomaly: source \"{}\" failed: {}", src.name, e);
        }
        out.push(SourceRun { source: src.name.clone(), read, inserted, rejected, success: error.is_none(), error });
    }
    Ok(out)
}

/// Reads and stores one source's new rows; returns (read, inserted, rejected).
fn collect_one(src: &sources::Source, started: pgrx::datum::TimestampWithTimeZone) -> Result<(i64, i64, i64)> {
    // The owner column is stamped by the extension; a row written before that (or by a
    // superuser) is checked here all the same.
    if let Some(why) = owners::refusal(src.owner)? {
        return Err(owners::refused(&format!("source {}", src.name), why));
    }
    let collected = sources::read(src, started)?;
    let newest = collected.timestamps.iter().copied().max();
    if let (Some(lo), Some(hi)) = (collected.timestamps.iter().copied().min(), newest) {
        metrics::ensure_partitions(lo, hi)?;
    }
    let inserted = metrics::insert_rows(&src.metric_type, Some(&src.name), collected.entity_ids, collected.values, collected.timestamps)?;
    if let Some(wm) = newest {
        sources::advance_watermark(&src.name, wm)?;
    }
    Ok((collected.read, inserted, collected.rejected))
}

/// Registers (or replaces) a metric source after checking its name, type and kind (the
/// query itself is validated when stored).
pub fn add_source(name: &str, metric_type: &str, query: &str, kind: &str) -> Result<()> {
    if name.is_empty() {
        return Err(invalid("name", "''", "a source needs a name"));
    }
    if metric_type.is_empty() {
        return Err(invalid("metric_type", "''", "a source produces metrics of one non-empty type"));
    }
    if kind != "event" && kind != "snapshot" {
        return Err(invalid("kind", kind, "kind is 'event' or 'snapshot'"));
    }
    sources::add(name, metric_type, query, kind)
}

/// Removes a source; false when there was none of that name.
pub fn remove_source(name: &str) -> Result<bool> {
    sources::remove(name)
}
