//! Self-tuning: ml_tune.

use crate::errors::{required, run};
use crate::gucs;
use crate::pipeline::tune;
use pgrx::datum::JsonB;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Searches noise-model families and detector parameters for a metric type within `budget`
/// seconds (and at most `max_trials` trials), records every trial in ml_tuning_trials and
/// trains the winner when it beats the active model's parameters (activated only when its
/// F1 is not worse than the active model's). Returns a summary.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_tune(
    metric_type: Option<&str>,
    budget: default!(Option<f64>, "60"),
    max_trials: default!(Option<i32>, "NULL"),
) -> std::result::Result<JsonB, ErrorReport> {
    run("ml_tune", || {
        let metric_type = required("metric_type", metric_type)?;
        let budget = required("budget", budget)?;
        Ok(JsonB(tune::tune(metric_type, budget, max_trials, gucs::run_trigger(), "manual")?))
    })
}
