//! The tuner's record: every trial of every ml_tune run in ml_tuning_trials, and the
//! parameters the last activated winner trained with (the nightly training reuses them).

use super::{exec, one};
use crate::errors::Result;
use pgrx::datum::JsonB;

/// One trial as stored.
pub struct TrialRow<'a> {
    pub trial: i32,
    pub knob: &'a str,
    pub params: serde_json::Value,
    pub objective: &'a str,
    pub score: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub windows: Option<i32>,
    pub alerts: Option<i32>,
    pub false_alerts: Option<i32>,
    pub alerts_per_series_week: Option<f64>,
    pub stability: Option<f64>,
    pub seconds: f64,
    pub chosen: bool,
    pub activated: bool,
    pub model_id: Option<i64>,
    pub train_params: Option<serde_json::Value>,
    pub why: String,
}

/// The next run id (runs are serialized by the training lock the tuner holds).
pub fn next_run_id() -> Result<i64> {
    Ok(one::<i64>("SELECT COALESCE(pg_catalog.max(run_id), 0) + 1 FROM ml_tuning_trials", &[])?.unwrap_or(1))
}

/// Stores the trials of run `run_id` of `metric_type`.
pub fn save(run_id: i64, metric_type: &str, rows: &[TrialRow]) -> Result<()> {
    for r in rows {
        exec(
            "INSERT INTO ml_tuning_trials (run_id, metric_type, trial, knob, params, objective, score, \"precision\", recall, f1,
                                           windows, alerts, false_alerts, alerts_per_series_week, stability, seconds,
                                           chosen, activated, model_id, train_params, why)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
            &[
                run_id.into(),
                metric_type.into(),
                r.trial.into(),
                r.knob.into(),
                JsonB(r.params.clone()).into(),
                r.objective.into(),
                r.score.into(),
                r.precision.into(),
                r.recall.into(),
                r.f1.into(),
                r.windows.into(),
                r.alerts.into(),
                r.false_alerts.into(),
                r.alerts_per_series_week.into(),
                r.stability.into(),
                r.seconds.into(),
                r.chosen.into(),
                r.activated.into(),
                r.model_id.into(),
                r.train_params.clone().map(JsonB).into(),
                r.why.as_str().into(),
            ],
        )?;
    }
    Ok(())
}

/// The ml_train parameters of the metric type's last activated tuning winner, if any
/// (None as well on a 0.1.0 schema, which has no ml_tuning_trials). Unchecked: the caller
/// validates them (the table is writable by admins).
pub fn tuned_params(metric_type: &str) -> Result<Option<serde_json::Value>> {
    if !one::<bool>("SELECT pg_catalog.to_regclass('ml_tuning_trials') IS NOT NULL", &[])?.unwrap_or(false) {
        return Ok(None);
    }
    Ok(one::<JsonB>(
        "SELECT train_params FROM ml_tuning_trials WHERE metric_type = $1 AND activated AND train_params IS NOT NULL ORDER BY id DESC LIMIT 1",
        &[metric_type.into()],
    )?
    .map(|j| j.0))
}
