//! ml_job_runs: the record of every stage run.

use crate::errors::Result;
use pgrx::datum::TimestampWithTimeZone;

pub struct RunRecord<'a> {
    pub stage: &'a str,
    pub metric_type: Option<&'a str>,
    pub source: Option<&'a str>,
    /// manual, cron or worker.
    pub trigger: &'a str,
    pub started: TimestampWithTimeZone,
    pub rows_in: i64,
    pub rows_out: i64,
    pub success: bool,
    pub error: Option<&'a str>,
}

pub fn record(r: &RunRecord) -> Result<i64> {
    let id = super::one::<i64>(
        "INSERT INTO ml_job_runs (stage, metric_type, source, trigger, started, finished, rows_in, rows_out, success, error)
         VALUES ($1, $2, $3, $4, $5, pg_catalog.clock_timestamp(), $6, $7, $8, $9) RETURNING id",
        &[
            r.stage.into(),
            r.metric_type.into(),
            r.source.into(),
            r.trigger.into(),
            r.started.into(),
            r.rows_in.into(),
            r.rows_out.into(),
            r.success.into(),
            r.error.into(),
        ],
    )?;
    Ok(id.unwrap_or_default())
}

pub fn now() -> Result<TimestampWithTimeZone> {
    Ok(super::one::<TimestampWithTimeZone>("SELECT pg_catalog.clock_timestamp()", &[])?
        .unwrap_or_else(TimestampWithTimeZone::negative_infinity))
}
