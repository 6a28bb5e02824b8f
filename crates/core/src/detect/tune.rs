//! Self-tuning per metric type: a deterministic search over the detector's families and
//! parameters, the objective it maximises, and a trial runner that fits and scores.
//!
//! Search ([`search`]): coordinate descent seeded from a base configuration (the active
//! model's parameters, else the defaults). The base is always measured first (trial 0: what
//! the tuner must beat). Then, knob by knob in [`KNOBS`] order (the noise-model family, the
//! alert threshold, the forest, the close level, interactions, the recent-level adaptation
//! (`adapt_hours`), the change-point scan (`change_scan`), episode gaps, suppression, reversal, forest
//! size, calibration sample, then the detector family of `seq.rs` and its margin), every listed value is tried with the other knobs at the best
//! configuration so far; a value that scores strictly better becomes the best. A second pass
//! repeats the sweep when the first one changed anything (knobs interact, e.g. `alert_p` and
//! `use_forest`). Ties keep the incumbent, so without evidence the base stays.
//!
//! Objective ([`Objective`]):
//! - with labelled windows (`ml_labels`, alerts marked read): event F1 (an alert episode
//!   overlapping a window finds it; every other alert is false, alerts inside spans marked
//!   false positive included) among the configurations whose false alerts stay within the
//!   false-alert budget per series-week (or the base's own rate when that is higher); ties go
//!   to fewer alerts per series-week. Without the cap, a handful of labels let a
//!   configuration that finds one more window at the price of dozens of false alerts win
//!   (`bench/quality.sh --tune 20`, TUNE split: all members 0.823 -> 0.778 tuned, day1 0.558 ->
//!   0.378; with the cap 0.825 and 0.610);
//! - without labels: every alert counts against a false-alert budget per series-week. A
//!   configuration within the budget beats one over it; among those within it, the more
//!   sensitive one (more alerts) wins, as long as its alerts are stable across seeds (refit
//!   with another seed: event F1 of its alerts against the first fit's at least
//!   [`MIN_STABILITY`]); over the budget, the one closer to it wins.
//!
//! Budget: wall-clock seconds and a trial count. A trial is not started when the time spent
//! plus the slowest trial so far would pass the budget; the result says where it stopped.
//!
//! Over 400 lines on purpose: the candidates, the objective and the search that uses both are
//! read together; the trial runner that fits and scores is in `tune_fit.rs`.

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Map, Value};

pub use super::tune_fit::Fitter;
use super::{DetectorParams, MetricKind};
use crate::error::CoreResult;
use crate::quality::{evaluate, Span};

/// Agreement with a refit under another seed a configuration needs without labels.
pub const MIN_STABILITY: f64 = 0.8;
/// Default false-alert budget per series-week without labels.
pub const DEFAULT_ALERT_BUDGET: f64 = 0.1;
/// An alert up to this long after a window's end still finds it (as training measures).
pub const TOLERANCE_US: i64 = 2 * 3_600_000_000;
/// The seed a stability refit adds to the candidate's.
const STABILITY_SEED_OFFSET: u64 = 7919;

/// The knobs in search order.
pub const KNOBS: [&str; 15] = [
    "family",
    "alert_p",
    "use_forest",
    "close_p",
    "interactions",
    "adapt_hours",
    "change_scan",
    "max_gap_minutes",
    "suppress_hours",
    "reversal_hours",
    "n_trees",
    "max_samples",
    "calibration_blocks",
    "detector_family",
    "seq_margin",
];

/// One configuration: the noise-model family and the detector's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub family: MetricKind,
    pub params: DetectorParams,
}

impl Candidate {
    /// The full configuration as JSON (`ml_tuning_trials.params`).
    pub fn to_json(&self) -> Value {
        let mut v = self.params.to_json();
        if let Some(o) = v.as_object_mut() {
            o.insert("family".into(), json!(self.family.name()));
        }
        v
    }

    /// The parameters `ml_train` takes for this configuration: the keys that differ from the
    /// defaults, and `family` when it differs from the metric type's own kind.
    /// `exclude_inputs` is left out: training takes it from feature elimination.
    pub fn train_params(&self, own: MetricKind) -> Value {
        let d = DetectorParams::default().to_json();
        let mut out = Map::new();
        if let (Some(p), Some(d)) = (self.params.to_json().as_object(), d.as_object()) {
            for (k, v) in p {
                if k != "exclude_inputs" && d.get(k) != Some(v) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        if self.family != own {
            out.insert("family".into(), json!(self.family.name()));
        }
        Value::Object(out)
    }

    /// This configuration with `knob` set to `value`; None when the value does not apply
    /// (e.g. interactions without the forest) or the result is invalid.
    fn with(&self, knob: &str, value: &Value) -> Option<Candidate> {
        let mut c = self.clone();
        if knob == "family" {
            c.family = family_of(value.as_str()?)?;
            return Some(c);
        }
        let mut p = c.params.to_json();
        p.as_object_mut()?.insert(knob.into(), value.clone());
        c.params = serde_json::from_value(p).ok()?;
        if knob == "alert_p" && c.params.close_p < c.params.alert_p {
            c.params.close_p = c.params.alert_p;
        }
        if !c.params.use_forest && matches!(knob, "interactions" | "n_trees" | "max_samples") {
            return None;
        }
        if knob == "seq_margin" && c.params.detector_family.resolve(c.family) == super::seq::Family::Calibrated {
            return None;
        }
        c.params.check().ok().map(|_| c)
    }
}

/// The family named `name` (`count`, `level`, `duration`, `generic`).
pub fn family_of(name: &str) -> Option<MetricKind> {
    [MetricKind::Count, MetricKind::Level, MetricKind::Duration, MetricKind::Generic].into_iter().find(|k| k.name() == name)
}

/// The families a metric type of kind `own` may be modelled with: its own, and the ones that
/// need no other metric (a level or duration model reads an aux series only its kind has).
pub fn families(own: MetricKind) -> Vec<MetricKind> {
    let mut v = vec![own];
    for k in [MetricKind::Generic, MetricKind::Count] {
        if !v.contains(&k) {
            v.push(k);
        }
    }
    v
}

/// The values tried for `knob` around `c` (the current one excluded later as already seen).
pub fn values(knob: &str, c: &Candidate, own: MetricKind) -> Vec<Value> {
    let p = &c.params;
    match knob {
        "family" => families(own).into_iter().map(|k| json!(k.name())).collect(),
        "alert_p" => [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2].iter().map(|v| json!(v)).collect(),
        "use_forest" => vec![json!(!p.use_forest)],
        "close_p" => [1.0, 5.0, 20.0, 50.0].iter().map(|m| json!((p.alert_p * m).min(0.2))).chain([json!(0.02)]).collect(),
        "interactions" => [0, 3, 6].iter().map(|v| json!(v)).collect(),
        "adapt_hours" => [0.0, 12.0, 24.0, 48.0].iter().map(|v| json!(v)).collect(),
        "change_scan" => vec![json!(!p.change_scan)],
        "max_gap_minutes" => [30.0, 60.0, 120.0, 240.0, 480.0].iter().map(|v| json!(v)).collect(),
        "suppress_hours" => [0.0, 6.0, 24.0, 72.0].iter().map(|v| json!(v)).collect(),
        "reversal_hours" => [0.0, 6.0, 24.0, 72.0].iter().map(|v| json!(v)).collect(),
        "n_trees" => [50, 100, 200].iter().map(|v| json!(v)).collect(),
        "max_samples" => [128, 256, 512].iter().map(|v| json!(v)).collect(),
        "calibration_blocks" => [2000, 4000, 8000].iter().map(|v| json!(v)).collect(),
        "detector_family" => ["calibrated", "sequence", "both"].iter().map(|v| json!(v)).collect(),
        "seq_margin" => [1.0, 2.0, 3.0, 4.0].iter().map(|v| json!(v)).collect(),
        _ => Vec::new(),
    }
}

/// What one configuration did on the tuning data.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Measure {
    pub windows: usize,
    pub found: usize,
    pub alerts: usize,
    pub false_alerts: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub alerts_per_series_week: f64,
    pub false_alerts_per_series_week: f64,
    /// Agreement of the alerts with a refit under another seed (measured without labels,
    /// for a configuration that would become the best).
    pub stability: Option<f64>,
    /// The alert spans (for stability), not serialized.
    #[serde(skip)]
    pub spans: Vec<Span>,
}

/// What a search maximises.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Objective {
    /// Event F1 against labelled windows, among configurations whose false alerts stay within
    /// this many per series-week (or the base's rate, when the base is over it: [`search`]
    /// raises the cap to it).
    EventF1(f64),
    /// Without labels: the most alerts within this many per series-week, stable across seeds.
    AlertBudget(f64),
}

impl Objective {
    /// Stable name (`event_f1`, `alert_budget`).
    pub fn name(&self) -> &'static str {
        match self {
            Objective::EventF1(_) => "event_f1",
            Objective::AlertBudget(_) => "alert_budget",
        }
    }

    /// The comparable value of `m`: larger is better (lexicographic): within the budget
    /// first, then F1 (or, without labels, sensitivity), then fewer alerts.
    pub fn key(&self, m: &Measure) -> (f64, f64, f64) {
        match *self {
            Objective::EventF1(b) => {
                let within = m.false_alerts_per_series_week <= b + 1e-12;
                (if within { 1.0 } else { -m.false_alerts_per_series_week }, m.f1.unwrap_or(0.0), -m.alerts_per_series_week)
            }
            Objective::AlertBudget(b) => {
                let rate = m.alerts_per_series_week;
                if rate <= b + 1e-12 {
                    (1.0, rate, 0.0)
                } else {
                    (0.0, -rate, 0.0)
                }
            }
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(&self, a: &Measure, b: &Measure) -> bool {
        let (x, y) = (self.key(a), self.key(b));
        let gt = |p: f64, q: f64| p > q + 1e-9;
        let eq = |p: f64, q: f64| (p - q).abs() <= 1e-9;
        gt(x.0, y.0) || (eq(x.0, y.0) && (gt(x.1, y.1) || (eq(x.1, y.1) && gt(x.2, y.2))))
    }

    /// The objective's value in one number (for the trials table): F1 (or alerts per
    /// series-week) within the budget, negative over it.
    pub fn score(&self, m: &Measure) -> f64 {
        let (a, b, _) = self.key(m);
        match self {
            Objective::EventF1(_) if a > 0.0 => b,
            Objective::EventF1(_) => b - 1.0 - 1e-9,
            Objective::AlertBudget(_) if a > 0.0 => b,
            Objective::AlertBudget(_) => b.min(-1e-9),
        }
    }

    /// The cap raised to the base's false-alert rate when the base is over it (the base is
    /// always admissible: tuning must not make a metric type worse than it is).
    fn admitting(self, base: &Measure) -> Objective {
        match self {
            Objective::EventF1(b) => Objective::EventF1(b.max(base.false_alerts_per_series_week)),
            other => other,
        }
    }
}

/// Search limits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    pub seconds: f64,
    pub max_trials: usize,
}

/// One trial of a search.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// 0-based; trial 0 is the base.
    pub index: usize,
    pub knob: &'static str,
    pub candidate: Candidate,
    /// None when the trial failed (the error is in `why`).
    pub measure: Option<Measure>,
    pub score: Option<f64>,
    pub seconds: f64,
    /// Best so far after this trial.
    pub best: bool,
    pub why: String,
}

/// What a search did.
#[derive(Clone, Debug, PartialEq)]
pub struct TuneResult {
    pub trials: Vec<Trial>,
    /// Index of the winning trial (0: the base won).
    pub best: usize,
    pub objective: Objective,
    /// `searched` (every candidate tried), `time_budget` or `trial_budget`.
    pub stopped: &'static str,
    pub seconds: f64,
}

impl TuneResult {
    /// The winning configuration.
    pub fn winner(&self) -> &Candidate {
        &self.trials[self.best].candidate
    }
    /// Whether the winner beats the base (and so is worth a new model).
    pub fn improved(&self) -> bool {
        self.best != 0
    }
}

/// Something that measures a configuration: fit, score, compare with the windows.
pub trait Measurer {
    fn measure(&mut self, c: &Candidate) -> CoreResult<Measure>;
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.3}"))
}

/// A measure in words, for `why`.
pub fn describe(obj: &Objective, m: &Measure) -> String {
    match obj {
        Objective::EventF1(b) => format!(
            "event F1 {} (precision {}, recall {}), {:.3} alerts and {:.3} false alerts per series-week (budget {b:.3})",
            fmt(m.f1),
            fmt(m.precision),
            fmt(m.recall),
            m.alerts_per_series_week,
            m.false_alerts_per_series_week
        ),
        Objective::AlertBudget(b) => format!("{:.3} alerts per series-week (budget {b}){}", m.alerts_per_series_week, m.stability.map_or(String::new(), |s| format!(", seed stability {s:.3}"))),
    }
}

/// Runs the search from `base` (see the module doc). `own` is the metric type's own kind.
/// `knobs`: the knobs to search, in order (normally [`KNOBS`]; the SQL layer leaves out
/// `max_gap_minutes`, which `ml_settings.episode_gap` decides there).
pub fn search(base: Candidate, own: MetricKind, objective: Objective, budget: Budget, knobs: &[&'static str], m: &mut impl Measurer) -> TuneResult {
    let started = Instant::now();
    let mut trials: Vec<Trial> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut slowest = 0.0f64;
    let mut best: Option<(usize, Measure)> = None;
    let mut stopped = "searched";
    let mut objective = objective;
    let mut run = |objective: &mut Objective, knob: &'static str, c: Candidate, trials: &mut Vec<Trial>, best: &mut Option<(usize, Measure)>, slowest: &mut f64| {
        let t0 = Instant::now();
        let index = trials.len();
        let mut r = m.measure(&c);
        // the base is judged under a cap raised to its own false-alert rate when over it
        if let (0, Ok(meas)) = (index, &r) {
            *objective = objective.admitting(meas);
        }
        let objective = *objective;
        // without labels, a configuration that would become the best must be stable
        let mut unstable = None;
        if let (Objective::AlertBudget(_), Ok(meas)) = (&objective, &mut r) {
            let wins = best.as_ref().is_none_or(|(_, b)| objective.better(meas, b));
            if wins && meas.stability.is_none() {
                let mut c2 = c.clone();
                c2.params.seed = c.params.seed.wrapping_add(STABILITY_SEED_OFFSET);
                if let Ok(m2) = m.measure(&c2) {
                    meas.stability = Some(agreement(&meas.spans, &m2.spans));
                }
            }
            if wins && index > 0 && meas.stability.is_some_and(|s| s < MIN_STABILITY) {
                unstable = meas.stability;
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        *slowest = slowest.max(seconds);
        let (measure, score, is_best, why) = match r {
            Err(e) => (None, None, false, format!("failed: {}", e.message)),
            Ok(meas) => {
                let score = objective.score(&meas);
                let text = describe(&objective, &meas);
                let (is_best, why) = match (best.as_ref(), unstable) {
                    (None, _) => (true, format!("base: {text}")),
                    (Some(_), Some(s)) => (false, format!("not taken: unstable across seeds ({s:.3} < {MIN_STABILITY}); {text}")),
                    (Some((bi, b)), None) if objective.better(&meas, b) => (true, format!("better than trial {bi} ({}): {text}", describe(&objective, b))),
                    (Some((bi, _)), None) => (false, format!("not better than trial {bi}: {text}")),
                };
                if is_best {
                    *best = Some((index, meas.clone()));
                }
                (Some(meas), Some(score), is_best, why)
            }
        };
        trials.push(Trial { index, knob, candidate: c, measure, score, seconds, best: is_best, why });
    };
    seen.insert(base.to_json().to_string());
    run(&mut objective, "base", base.clone(), &mut trials, &mut best, &mut slowest);
    if best.is_none() {
        // the base could not be measured: nothing to compare with
        return TuneResult { best: 0, objective, stopped: "base_failed", seconds: started.elapsed().as_secs_f64(), trials };
    }
    'passes: for pass in 0..2 {
        let best_at_start = best.as_ref().map(|b| b.0);
        for &knob in knobs {
            let current = trials[best.as_ref().map_or(0, |b| b.0)].candidate.clone();
            for v in values(knob, &current, own) {
                let Some(c) = current.with(knob, &v) else { continue };
                if !seen.insert(c.to_json().to_string()) {
                    continue;
                }
                if trials.len() >= budget.max_trials {
                    stopped = "trial_budget";
                    break 'passes;
                }
                if started.elapsed().as_secs_f64() + slowest > budget.seconds {
                    stopped = "time_budget";
                    break 'passes;
                }
                run(&mut objective, knob, c, &mut trials, &mut best, &mut slowest);
            }
        }
        if pass == 0 && best.as_ref().map(|b| b.0) == best_at_start {
            break;
        }
    }
    let best_index = best.map_or(0, |b| b.0);
    TuneResult { trials, best: best_index, objective, stopped, seconds: started.elapsed().as_secs_f64() }
}

/// Event F1 of `b` against `a` taken as windows (1 when both are empty).
pub fn agreement(a: &[Span], b: &[Span]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    evaluate(a, b, 1, i64::MIN / 4, i64::MAX / 4, 0).f1.unwrap_or(0.0)
}
