//! A stage run: its lock, its record in ml_job_runs and the record of its failure, and
//! ml_run_stage's dispatch of one stage the way the schedule runs it (per metric type in a
//! subtransaction, so a failing metric type is recorded and the others go on).

use super::{autonomous, cleanup, collect, detect, features, selection, train};
use crate::errors::{invalid, Error, Result};
use crate::storage::{locks, models, runs, settings, subxact};
use pg_anomaly_core::model::DETECTOR_TYPE;
use pgrx::datum::TimestampWithTimeZone;
use serde_json::{json, Value};

/// The stages ml_run_stage knows, in pipeline order (also the pg_cron jobs).
pub const STAGES: [&str; 5] = ["collection", "features", "detection", "training", "cleanup"];

/// What started a run, recorded in ml_job_runs.trigger.
pub fn check_trigger(trigger: &str) -> Result<&'static str> {
    match trigger {
        "cron" => Ok("cron"),
        "worker" => Ok("worker"),
        "manual" => Ok("manual"),
        other => Err(invalid("trigger", other, "trigger is cron, worker or manual")),
    }
}

/// One run of a stage: started now, recorded on success or failure.
pub struct StageRun {
    pub stage: &'static str,
    pub metric_type: Option<String>,
    pub trigger: &'static str,
    pub started: TimestampWithTimeZone,
}

impl StageRun {
    /// Starts a run (its start time is now). `trigger` is manual, cron or worker.
    pub fn start(stage: &'static str, metric_type: Option<&str>, trigger: &str) -> Result<Self> {
        Ok(StageRun { stage, metric_type: metric_type.map(str::to_owned), trigger: check_trigger(trigger)?, started: runs::now()? })
    }

    /// Takes the stage's transaction lock; false (after a NOTICE saying `busy`) when
    /// another run holds it, so a second concurrent run skips instead of doubling work.
    pub fn lock(lock: locks::Stage, busy: &str) -> Result<bool> {
        if locks::try_stage(lock)? {
            return Ok(true);
        }
        pgrx::notice!("pg_anomaly: {}", busy);
        Ok(false)
    }

    /// Records a successful run in ml_job_runs.
    pub fn success(&self, source: Option<&str>, rows_in: i64, rows_out: i64) -> Result<i64> {
        runs::record(&runs::RunRecord {
            stage: self.stage,
            metric_type: self.metric_type.as_deref(),
            source,
            trigger: self.trigger,
            started: self.started,
            rows_in,
            rows_out,
            success: true,
            error: None,
        })
    }

    /// Records a failed run in a transaction of its own (the failure rolls back ours).
    pub fn failed(&self, error: &str) {
        autonomous::record_failed_run(self.stage, self.metric_type.as_deref(), self.trigger, self.started, error);
    }

    /// The error text of a stage's outcome, after recording it as failed; the value on
    /// success.
    fn settle(&self, r: std::result::Result<Result<Value>, subxact::Failure>) -> std::result::Result<Value, String> {
        let message = match r {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.into_report("ml_run_stage").message().to_string(),
            Err(f) => f.message,
        };
        self.failed(&message);
        Err(message)
    }
}

/// Runs one stage the way the schedule does: per metric type in a subtransaction, so a
/// failing metric type is recorded (ml_job_runs / ml_training_logs) and the others go on.
pub fn run_stage(stage: &str, trigger: &str) -> Result<Value> {
    match stage {
        "collection" => {
            let rows = collect::collect(None, trigger)?;
            Ok(json!({ "stage": stage, "sources": rows.len(),
                       "rows": rows.iter().map(|r| r.inserted).sum::<i64>(), "failed": rows.iter().filter(|r| !r.success).count() }))
        }
        "features" => {
            let run = StageRun::start("features", None, trigger)?;
            Ok(match run.settle(subxact::run(|| features::build(None, false, trigger).map(|n| json!({ "stage": stage, "rows": n })))) {
                Ok(v) => v,
                Err(m) => json!({ "stage": stage, "error": m }),
            })
        }
        "detection" => per_metric_type(stage, "detection", trigger, false, |m, trigger| {
            // the rows themselves are not kept: on Citus they never leave the workers
            let (scored, anomalous) = detect::detect_saving(Some(m), trigger)?;
            let retrained = retrain_if_quality_dropped(m, trigger)?;
            Ok(json!({ "metric_type": m, "scored": scored, "anomalous": anomalous, "retrained": retrained }))
        }),
        // A failed training is logged in ml_training_logs by train_logged and in
        // ml_job_runs here.
        "training" => {
            super::tune::begin_nightly();
            per_metric_type(stage, "training", trigger, true, |m, trigger| {
                let (id, tuning) = super::tune::nightly(m, trigger)?;
                Ok(json!({ "metric_type": m, "model_id": id, "tuning": tuning }))
            })
        }
        "cleanup" => Ok(json!({ "stage": stage, "removed": cleanup::cleanup(trigger)?
            .into_iter().map(|(t, n)| json!({ "table": t, "removed": n })).collect::<Vec<_>>() })),
        other => Err(invalid("stage", other, "stage is one of collection, features, detection, training, cleanup")),
    }
}

/// First models a scheduled run may train (detection or nightly training of a metric type
/// that has no model yet): one INSERT of 2,000 new types must not turn every run into 2,000
/// trainings.
const FIRST_TRAININGS_PER_RUN: usize = 10;

/// Whether a scheduled run handles `mt` now. A type with an active model always; one
/// without gets a first model only when storage allows it (configured, with features, no
/// failed first training today: settings::first_training_allowed) and the run's budget is
/// not spent.
fn may_train_first(mt: &str, budget: &mut usize) -> Result<bool> {
    if models::active_any(mt)?.is_some() {
        return Ok(true);
    }
    if !settings::first_training_allowed(mt)? || *budget == 0 {
        return Ok(false);
    }
    *budget -= 1;
    Ok(true)
}

/// Runs `body` for every scheduled metric type (with stored series only, when
/// `needs_series`), each in a subtransaction of its own; types without a model are
/// bounded by may_train_first.
fn per_metric_type(
    stage: &str,
    run_stage: &'static str,
    trigger: &str,
    needs_series: bool,
    body: impl Fn(&str, &str) -> Result<Value> + Copy + std::panic::UnwindSafe,
) -> Result<Value> {
    let mut out = Vec::new();
    let mut first_budget = FIRST_TRAININGS_PER_RUN;
    for mt in settings::scheduled_metric_types()? {
        if needs_series && crate::storage::series::entities(&mt)?.is_empty() {
            continue;
        }
        if !may_train_first(&mt, &mut first_budget)? {
            continue;
        }
        let run = StageRun::start(run_stage, Some(&mt), trigger)?;
        let m = mt.clone();
        let t = trigger.to_string();
        let r = subxact::run(move || body(&m, &t));
        out.push(match run.settle(r) {
            Ok(v) => v,
            Err(e) => json!({ "metric_type": mt, "error": e }),
        });
    }
    Ok(json!({ "stage": stage, "metric_types": out }))
}

/// Scenario 3: when the active forest's accuracy fell below pg_anomaly.min_accuracy,
/// rebuild features, rerun selection and retrain; the log row says why.
fn retrain_if_quality_dropped(metric_type: &str, trigger: &str) -> Result<bool> {
    let min = crate::gucs::min_accuracy();
    let Some((_, accuracy, _)) = models::active(metric_type, DETECTOR_TYPE)? else { return Ok(false) };
    let Some(acc) = accuracy else { return Ok(false) };
    if min <= 0.0 || acc >= min {
        return Ok(false);
    }
    features::build(Some(metric_type), false, trigger)?;
    selection::select_and_save(metric_type, "all", trigger)?;
    let reason = format!("quality: accuracy {acc:.3} below pg_anomaly.min_accuracy {min:.3}");
    // with the last activated tuning winner's parameters, as the nightly training
    let params = super::tune::nightly_params(metric_type)?;
    train::train(&train::TrainRequest { params, ..train::TrainRequest::default_detector(metric_type, &reason, trigger) })?;
    Ok(true)
}

/// The text of an error as a log row or a worker's report shows it.
pub fn error_text(e: &Error) -> String {
    match e {
        Error::Core(c) => c.to_string(),
        Error::Spi(s) => s.to_string(),
    }
}
