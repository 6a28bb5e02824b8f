//! Self-tuning per metric type (ml_tune, and the nightly training when
//! pg_anomaly.nightly_tuning is on): the search of `detect::tune` on the data ml_train reads,
//! every trial recorded in ml_tuning_trials, and the winner trained by ml_train (which
//! activates it only when its F1 is not worse than the active model's).

use super::model::{self, Model};
use super::stage::StageRun;
use super::{features as feature_stage, train};
use crate::errors::{invalid, not_found, Result};
use crate::gucs;
use crate::storage::{locks, models, series, tuning};
use pg_anomaly_core::detect::tune::{describe, search, Budget, Candidate, Fitter, Measure, Measurer, Objective, TuneResult, KNOBS};
use pg_anomaly_core::detect::{DetectorParams, MetricKind, Window};
use pg_anomaly_core::model::DETECTOR_TYPE;
use pg_anomaly_core::{CoreError, ErrorKind};
use serde_json::{json, Value};

/// Most seconds one ml_tune call may be given (a day).
pub const MAX_BUDGET_SECONDS: f64 = 86_400.0;
/// Most trials one call may be given.
pub const MAX_TRIALS: i32 = 10_000;

/// A measurer that lets a cancel request (or statement_timeout) stop the search between trials.
struct Interruptible<'a>(Fitter<'a>);

impl Measurer for Interruptible<'_> {
    fn measure(&mut self, c: &Candidate) -> pg_anomaly_core::CoreResult<Measure> {
        pgrx::check_for_interrupts!();
        self.0.measure(c)
    }
}

/// Checks ml_tune's arguments: a budget in (0, 86400] seconds, a trial count in [1, 10000].
pub fn check_budget(seconds: f64, max_trials: Option<i32>) -> Result<usize> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_BUDGET_SECONDS) {
        return Err(CoreError::invalid_param("budget", seconds, "must be a number of seconds greater than 0 and at most 86400")
            .with_hint("Give the search wall-clock seconds, e.g. SELECT ml_tune('tuketim_miktar', 60);")
            .into());
    }
    match max_trials {
        None => Ok(MAX_TRIALS as usize),
        Some(n) if (1..=MAX_TRIALS).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid("max_trials", n, "must be between 1 and 10000 (NULL: no limit but the budget)")),
    }
}

/// The configuration the search starts from: the active forest's parameters (as it was
/// trained), else the defaults; inputs left out by feature elimination as training would.
fn base(metric_type: &str, own: MetricKind) -> Result<(Candidate, bool)> {
    let mut from_active = false;
    let mut c = Candidate { family: own, params: DetectorParams::default() };
    let mut explicit_inputs = false;
    if let Some((id, _, _)) = models::active(metric_type, DETECTOR_TYPE)? {
        if let Ok(m) = model::load(id) {
            if let Model::Detector(d) = m.as_ref() {
                c = Candidate { family: d.kind(), params: d.params().clone() };
                from_active = true;
                explicit_inputs = models::load(id)?.is_some_and(|(_, _, _, p)| p.pointer("/params/exclude_inputs").is_some());
            }
        }
    }
    if !explicit_inputs {
        c.params.exclude_inputs = train::rfe_excluded(metric_type, c.family)?;
    }
    Ok((c, from_active))
}

/// Runs a search for `metric_type` within `seconds` (and `max_trials`), records every trial,
/// trains the winner when it beats the base and returns a summary.
pub fn tune(metric_type: &str, seconds: f64, max_trials: Option<i32>, trigger: &str, reason: &str) -> Result<Value> {
    let max_trials = check_budget(seconds, max_trials)?;
    if !locks::try_stage(locks::Stage::Training)? {
        return Err(CoreError::new(ErrorKind::NotReady, "another training is running")
            .with_hint("Wait for it to finish; training and tuning run one at a time.")
            .into());
    }
    let run = StageRun::start("training", Some(metric_type), trigger)?;
    feature_stage::build(Some(metric_type), false, trigger)?;
    if series::entities(metric_type)?.is_empty() {
        return Err(not_found(
            format!("metric type \"{metric_type}\" has no stored series"),
            "Tune a metric type that has metrics and features: SELECT DISTINCT metric_type FROM ml_series_state;",
        ));
    }
    let own = MetricKind::from_metric_type(metric_type);
    let (base, from_active) = base(metric_type, own)?;
    let windows = series::known_windows(metric_type)?;
    let (data, rows) = train::read_for_tuning(metric_type, own, &base.params, &windows.normal)?;
    let w = |s: &series::LabelledSpan| Window { entity_id: s.entity_id.clone(), from_us: s.from_us, to_us: s.to_us };
    let labels: Vec<Window> = windows.labels.iter().map(w).collect();
    let exclude: Vec<Window> = windows.labels.iter().chain(&windows.unreviewed).map(w).collect();
    let normal: Vec<Window> = windows.normal.iter().map(w).collect();
    // quality is measured on the entities read, as training measures it
    let read: std::collections::HashSet<&str> = data.iter().map(|s| s.entity_id.as_str()).collect();
    let labels: Vec<Window> = labels.into_iter().filter(|l| read.contains(l.entity_id.as_str())).collect();
    let mut fitter = Fitter::in_sample(&data, &exclude, &normal, &labels);
    // detection forms episodes with the metric type's episode_gap: so does the measure, and
    // max_gap_minutes is no knob here
    fitter.gap_us = Some(crate::storage::alerts::settings(metric_type)?.1);
    let knobs: Vec<&'static str> = KNOBS.iter().copied().filter(|k| *k != "max_gap_minutes").collect();
    let budget = gucs::tuning_alert_budget();
    let objective = if fitter.labelled() { Objective::EventF1(budget) } else { Objective::AlertBudget(budget) };
    let mut m = Interruptible(fitter);
    let r = search(base.clone(), own, objective, Budget { seconds, max_trials }, &knobs, &mut m);
    let run_id = tuning::next_run_id()?;
    let (model_id, activated) = if r.improved() {
        let p = r.winner().train_params(own);
        let why = format!("{reason}: ml_tune run {run_id}, trial {} of {}", r.best, r.trials.len());
        let req = train::TrainRequest { params: p, ..train::TrainRequest::default_detector(metric_type, &why, trigger) };
        let id = train::train_logged(&req)?;
        let active = models::active(metric_type, DETECTOR_TYPE)?.map(|a| a.0);
        (Some(id), active == Some(id))
    } else {
        (None, false)
    };
    let summary = summary(&r, run_id, metric_type, seconds, max_trials, rows, from_active, model_id, activated, own);
    save(&r, run_id, metric_type, own, seconds, model_id, activated)?;
    run.success(None, rows as i64, r.trials.len() as i64)?;
    Ok(summary)
}

/// Why the search stopped, in words.
fn stopped_text(r: &TuneResult, seconds: f64) -> String {
    match r.stopped {
        "searched" => format!("every candidate tried ({} trials, {:.1} s of {seconds} s)", r.trials.len(), r.seconds),
        "time_budget" => format!("time budget: {} trials in {:.1} s of {seconds} s, the next would not have fitted", r.trials.len(), r.seconds),
        "trial_budget" => format!("trial budget: {} trials ({:.1} s)", r.trials.len(), r.seconds),
        other => format!("{other} ({} trials)", r.trials.len()),
    }
}

#[allow(clippy::too_many_arguments)]
fn summary(r: &TuneResult, run_id: i64, metric_type: &str, seconds: f64, max_trials: usize, rows: usize, from_active: bool, model_id: Option<i64>, activated: bool, own: MetricKind) -> Value {
    let best = &r.trials[r.best];
    json!({
        "run_id": run_id, "metric_type": metric_type, "objective": r.objective.name(),
        "budget_seconds": seconds, "max_trials": max_trials, "seconds": r.seconds, "rows": rows,
        "trials": r.trials.len(), "stopped": r.stopped, "base": if from_active { "active model" } else { "defaults" },
        "best_trial": r.best, "improved": r.improved(), "params": r.winner().train_params(own),
        "score": best.score, "base_score": r.trials[0].score,
        "model_id": model_id, "activated": activated,
    })
}

/// Writes every trial; the winner's row says why it was chosen and what became of it.
fn save(r: &TuneResult, run_id: i64, metric_type: &str, own: MetricKind, seconds: f64, model_id: Option<i64>, activated: bool) -> Result<()> {
    let stopped = stopped_text(r, seconds);
    let n = |v: usize| Some(v.min(i32::MAX as usize) as i32);
    let rows: Vec<tuning::TrialRow> = r
        .trials
        .iter()
        .map(|t| {
            let chosen = t.index == r.best;
            let why = if !chosen {
                t.why.clone()
            } else if !r.improved() {
                format!("kept: no candidate beat the base ({}); no new model; search stopped: {stopped}", t.why)
            } else {
                let m = t.measure.as_ref().map(|m| describe(&r.objective, m)).unwrap_or_default();
                let fate = match (model_id, activated) {
                    (Some(id), true) => format!("trained as model {id} and activated"),
                    (Some(id), false) => format!("trained as model {id}, not activated: its F1 is worse than the active model's"),
                    _ => "not trained".to_string(),
                };
                format!("chosen: best of the run ({m}); {fate}; search stopped: {stopped}")
            };
            let m = t.measure.as_ref();
            tuning::TrialRow {
                trial: t.index as i32,
                knob: t.knob,
                params: t.candidate.to_json(),
                objective: r.objective.name(),
                score: t.score,
                precision: m.and_then(|m| m.precision),
                recall: m.and_then(|m| m.recall),
                f1: m.and_then(|m| m.f1),
                windows: m.and_then(|m| n(m.windows)),
                alerts: m.and_then(|m| n(m.alerts)),
                false_alerts: m.and_then(|m| n(m.false_alerts)),
                alerts_per_series_week: m.map(|m| m.alerts_per_series_week),
                stability: m.and_then(|m| m.stability),
                seconds: t.seconds,
                chosen,
                activated: chosen && activated,
                model_id: if chosen { model_id } else { None },
                train_params: chosen.then(|| t.candidate.train_params(own)),
                why,
            }
        })
        .collect();
    tuning::save(run_id, metric_type, &rows)
}

thread_local! {
    /// Seconds the current nightly training run's searches have taken so far.
    static NIGHTLY_SPENT: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// Starts a nightly training run: its metric types' searches share
/// pg_anomaly.tuning_total_seconds (a flood of metric types must not make the night's
/// training run for hours).
pub fn begin_nightly() {
    NIGHTLY_SPENT.with(|s| s.set(0.0));
}

/// The nightly training of a metric type: with pg_anomaly.nightly_tuning on, a search within
/// pg_anomaly.tuning_seconds (and what is left of pg_anomaly.tuning_total_seconds for the
/// run) first; a failure is reported and the training goes on, and a type reached after the
/// run's budget is spent retrains without a search. Then, unless the search already trained
/// its winner, ml_train with the last activated winner's parameters (or the defaults).
/// Returns the model id and the tuning summary.
pub fn nightly(metric_type: &str, trigger: &str) -> Result<(i64, Value)> {
    let mut tuned = Value::Null;
    if gucs::nightly_tuning() {
        let left = f64::from(gucs::tuning_total_seconds()) - NIGHTLY_SPENT.with(|s| s.get());
        let secs = f64::from(gucs::tuning_seconds()).min(left);
        if secs < 1.0 {
            tuned = json!({ "skipped": "pg_anomaly.tuning_total_seconds is spent by this run's earlier metric types" });
        } else {
            let (m, t) = (metric_type.to_string(), trigger.to_string());
            let started = std::time::Instant::now();
            let outcome = crate::storage::subxact::run(move || tune(&m, secs, None, &t, "nightly tuning").map_err(|e| super::stage::error_text(&e)));
            NIGHTLY_SPENT.with(|s| s.set(s.get() + started.elapsed().as_secs_f64()));
            match outcome {
                Ok(Ok(v)) => {
                    if let (Some(id), true) = (v.get("model_id").and_then(Value::as_i64), v.get("improved") == Some(&json!(true))) {
                        return Ok((id, v));
                    }
                    tuned = v;
                }
                Ok(Err(e)) => tuned = json!({ "failed": e }),
                Err(f) => tuned = json!({ "failed": f.message }),
            }
        }
    }
    let params = nightly_params(metric_type)?;
    let req = train::TrainRequest { params, ..train::TrainRequest::default_detector(metric_type, "nightly schedule", trigger) };
    let id = train::train_logged(&req)?;
    Ok((id, tuned))
}

/// The last activated winner's parameters when they still parse (the table is writable by
/// admins: a bad row is ignored with a WARNING, never blocks the training), else `{}`.
pub(super) fn nightly_params(metric_type: &str) -> Result<Value> {
    let Some(p) = tuning::tuned_params(metric_type)? else { return Ok(json!({})) };
    let mut rest = p.clone();
    let family = rest.as_object_mut().and_then(|m| m.remove("family"));
    let ok = p.is_object()
        && family.as_ref().is_none_or(|f| f.as_str().and_then(pg_anomaly_core::detect::tune::family_of).is_some_and(|k| pg_anomaly_core::detect::tune::families(MetricKind::from_metric_type(metric_type)).contains(&k)))
        && DetectorParams::from_json(&rest).is_ok();
    if ok {
        Ok(p)
    } else {
        pgrx::warning!("pg_anomaly: the tuned parameters of \"{metric_type}\" in ml_tuning_trials are not valid; training with the defaults");
        Ok(json!({}))
    }
}
