//! The inserts of records that must outlive their caller's transaction (written by the
//! autonomous worker): fixed statements, the record's values as one jsonb parameter.

use super::{exec, schema};
use crate::errors::Result;
use pgrx::datum::JsonB;
use serde::{Deserialize, Serialize};

/// The tables an autonomous record may go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Table {
    /// A failed training.
    #[serde(rename = "ml_training_logs")]
    TrainingLogs,
    /// A failed stage run.
    #[serde(rename = "ml_job_runs")]
    JobRuns,
}

/// Inserts `row` into `table` of the extension's schema; false when the extension is not
/// installed.
pub fn insert(table: Table, row: serde_json::Value) -> Result<bool> {
    let Some(_) = schema::extension_schema()? else { return Ok(false) };
    let s = schema::quoted_extension_schema()?;
    let sql = match table {
        Table::TrainingLogs => format!(
            "INSERT INTO {s}.ml_training_logs (metric_type, model_type, training_start, training_end, success, error_message, reason, metrics)
             SELECT r->>'metric_type', r->>'model_type', (r->>'training_start')::timestamptz, pg_catalog.clock_timestamp(), false,
                    r->>'error_message', r->>'reason', r->'metrics' FROM (SELECT $1::jsonb AS r) s"
        ),
        Table::JobRuns => format!(
            "INSERT INTO {s}.ml_job_runs (stage, metric_type, source, trigger, started, finished, rows_in, rows_out, success, error)
             SELECT r->>'stage', r->>'metric_type', r->>'source', coalesce(r->>'trigger', 'manual'), (r->>'started')::timestamptz,
                    pg_catalog.clock_timestamp(), 0, 0, false, r->>'error' FROM (SELECT $1::jsonb AS r) s"
        ),
    };
    exec(&sql, &[JsonB(row).into()])?;
    Ok(true)
}
