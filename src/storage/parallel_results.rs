//! ml_parallel_results: how the workers of a parallel run report to their leader.

use super::exec;
use crate::errors::Result;
use pgrx::datum::JsonB;
use pgrx::Spi;

/// One worker's report.
pub struct Report {
    pub success: bool,
    pub rows_in: i64,
    pub rows_out: i64,
    pub error: Option<String>,
    /// A JSON array the leader concatenates over the workers.
    pub payload: Option<serde_json::Value>,
}

/// Writes worker `worker`'s report of run `token`.
pub fn put(token: &str, worker: i32, r: &Report) -> Result<()> {
    exec(
        "INSERT INTO ml_parallel_results (token, worker, success, rows_in, rows_out, error, anomalies) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            token.into(),
            worker.into(),
            r.success.into(),
            r.rows_in.into(),
            r.rows_out.into(),
            r.error.clone().into(),
            r.payload.clone().map(JsonB).into(),
        ],
    )?;
    Ok(())
}

/// Reads and removes the reports of run `token`, in worker order.
pub fn take(token: &str) -> Result<Vec<Report>> {
    let rows = Spi::connect(|client| -> Result<Vec<Report>> {
        let t = client.select(
            "SELECT success, rows_in, rows_out, error, anomalies FROM ml_parallel_results WHERE token = $1 ORDER BY worker",
            None,
            &[token.into()],
        )?;
        let mut v = Vec::new();
        for r in t {
            v.push(Report {
                success: r.get(1)?.unwrap_or(false),
                rows_in: r.get(2)?.unwrap_or(0),
                rows_out: r.get(3)?.unwrap_or(0),
                error: r.get(4)?,
                payload: r.get::<JsonB>(5)?.map(|j| j.0),
            });
        }
        Ok(v)
    })?;
    exec("DELETE FROM ml_parallel_results WHERE token = $1", &[token.into()])?;
    Ok(rows)
}
