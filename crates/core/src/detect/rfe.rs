//! Recursive feature elimination over the detector's inputs (Guyon et al. 2002, "Gene
//! Selection for Cancer Classification using Support Vector Machines", with Shapley importance
//! in place of SVM weights).
//!
//! Each round fits a detector on the current inputs, scores the training series, turns the
//! scores into alerts (episodes, suppressed ones not counted) and measures them; then the
//! input with the smallest global importance (`explain.rs`: mean |Shapley value| over alerted
//! plus sampled rows) is left out and the next round refits. Rounds stop at one input: a
//! detector never keeps zero. Every round is returned.
//!
//! Which round wins:
//! - with labelled anomaly windows in the span: the highest event F1 (an alert episode
//!   overlapping a window finds it; any other alert, including one inside a span marked false
//!   positive, is false), ties to the round with fewer inputs;
//! - without labels: the round with the fewest inputs whose alerts still agree with the
//!   all-input detector's (event F1 of its alerts against the first round's alerts taken as
//!   windows, at least [`MIN_AGREEMENT`]), so the alert rate and which series alert stay put.

use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use super::derive::features;
use super::{episodes, Detector, DetectorParams, MetricKind, SeriesRows, Window};
use crate::error::CoreResult;
use crate::quality::{evaluate, Span};

/// Agreement (F1 against the all-input detector's alerts) a smaller set must keep without labels.
pub const MIN_AGREEMENT: f64 = 0.9;
/// Rows per set (sampled, alerted) the importance of a round is measured on.
pub const IMPORTANCE_ROWS: usize = 300;
/// An alert up to this long after a window's end still finds it (as in training's quality).
pub const TOLERANCE_US: i64 = 2 * 3_600_000_000;
const WEEK_US: f64 = 7.0 * 86_400e6;

/// One round of elimination.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RfeRound {
    /// 0-based.
    pub round: usize,
    /// The inputs of this round's detector.
    pub inputs: Vec<String>,
    /// Importance of each of `inputs` (the ranking key), same order.
    pub importance: Vec<f64>,
    /// The input left out after this round (the least important); None in the last round.
    pub dropped: Option<String>,
    pub f1: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    /// Alert episodes raised on the training series.
    pub alerts: usize,
    pub alerts_per_series_week: f64,
    /// Event F1 of these alerts against the first round's alerts (1 for the first round).
    pub agreement: f64,
    pub seconds: f64,
}

/// What elimination found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RfeResult {
    pub rounds: Vec<RfeRound>,
    /// Index of the chosen round.
    pub chosen: usize,
    /// `event_f1` or `alert_agreement`.
    pub criterion: &'static str,
    /// Every input of the kind.
    pub all_inputs: Vec<&'static str>,
}

impl RfeResult {
    /// The chosen inputs.
    pub fn kept(&self) -> &[String] {
        &self.rounds[self.chosen].inputs
    }
    /// The inputs to leave out (for `DetectorParams::exclude_inputs`).
    pub fn excluded(&self) -> Vec<String> {
        self.all_inputs.iter().filter(|n| !self.kept().iter().any(|k| k == *n)).map(|n| n.to_string()).collect()
    }
    /// As JSON (for logs and reports).
    pub fn to_json(&self) -> Value {
        json!({"criterion": self.criterion, "chosen": self.chosen, "kept": self.kept(), "rounds": self.rounds})
    }
}

/// The alert spans of `det` on `series` (episodes that raised an alert).
fn alerts(det: &Detector, series: &[SeriesRows]) -> CoreResult<Vec<Span>> {
    let p = det.episode_params();
    let mut out = Vec::new();
    for s in series {
        let scored = det.score_series(s, 0)?;
        for e in episodes(&scored, &p).into_iter().filter(|e| !e.suppressed) {
            out.push(Span { entity_id: s.entity_id.clone(), from_us: e.start_ts, to_us: e.end_ts });
        }
    }
    Ok(out)
}

/// Runs elimination for a metric of `kind`: `params` as for [`Detector::fit`] (its
/// `exclude_inputs` is ignored: every round sets it), `labels` the known anomaly windows
/// (left out of fitting, measured against), `normal` the spans marked false positive.
pub fn rfe(kind: MetricKind, params: &DetectorParams, series: &[SeriesRows], labels: &[Window], normal: &[Window]) -> CoreResult<RfeResult> {
    let all: Vec<&'static str> = features(kind).iter().map(|f| f.name).collect();
    let (from, to) = series.iter().filter(|s| !s.is_empty()).fold((i64::MAX, i64::MIN), |(a, b), s| (a.min(s.ts[0]), b.max(s.ts[s.len() - 1])));
    let weeks = if to > from { (to - from) as f64 / WEEK_US } else { 0.0 };
    let windows: Vec<Span> = labels.iter().map(|w| Span { entity_id: w.entity_id.clone(), from_us: w.from_us, to_us: w.to_us }).collect();
    let mut inputs: Vec<String> = all.iter().map(|s| s.to_string()).collect();
    let mut rounds: Vec<RfeRound> = Vec::new();
    let mut first: Vec<Span> = Vec::new();
    loop {
        let started = Instant::now();
        let mut p = params.clone();
        p.exclude_inputs = all.iter().filter(|n| !inputs.iter().any(|k| k == *n)).map(|n| n.to_string()).collect();
        let (det, _) = Detector::fit(kind, &p, series, labels, normal)?;
        let spans = alerts(&det, series)?;
        let q = evaluate(&windows, &spans, series.len(), from, to, TOLERANCE_US);
        if rounds.is_empty() {
            first = spans.clone();
        }
        let agreement = if first.is_empty() && spans.is_empty() {
            1.0
        } else {
            evaluate(&first, &spans, series.len(), from, to, 0).f1.unwrap_or(0.0)
        };
        let imp = det.importance(series, IMPORTANCE_ROWS)?;
        let combined = imp.combined();
        let importance: Vec<f64> = inputs.iter().map(|n| imp.inputs.iter().position(|m| m == n).map_or(0.0, |j| combined[j])).collect();
        // least important; ties: the later input (the longer horizon, the rarer signal) goes first
        let drop = (inputs.len() > 1).then(|| (0..inputs.len()).rev().min_by(|&a, &b| importance[a].total_cmp(&importance[b])).unwrap_or(0));
        rounds.push(RfeRound {
            round: rounds.len(),
            inputs: inputs.clone(),
            importance,
            dropped: drop.map(|j| inputs[j].clone()),
            f1: q.f1,
            precision: q.precision,
            recall: q.recall,
            alerts: spans.len(),
            alerts_per_series_week: if weeks > 0.0 { spans.len() as f64 / (series.len().max(1) as f64 * weeks) } else { 0.0 },
            agreement,
            seconds: started.elapsed().as_secs_f64(),
        });
        match drop {
            Some(j) => {
                inputs.remove(j);
            }
            None => break,
        }
    }
    let labelled = rounds[0].f1.is_some();
    let chosen = if labelled {
        // highest F1; among equal ones the later round (fewer inputs)
        (0..rounds.len()).fold(0, |best, r| if rounds[r].f1.unwrap_or(0.0) >= rounds[best].f1.unwrap_or(0.0) { r } else { best })
    } else {
        (0..rounds.len()).rev().find(|&r| rounds[r].agreement >= MIN_AGREEMENT).unwrap_or(0)
    };
    Ok(RfeResult { rounds, chosen, criterion: if labelled { "event_f1" } else { "alert_agreement" }, all_inputs: all })
}
