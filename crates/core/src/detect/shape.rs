//! What a series looks like, recognised from its training rows rather than assumed from the
//! metric type's name.
//!
//! Why: the same metric is recorded in different ways. A noise model chosen by name alone
//! breaks silently when the recording differs (DETECTION.md, "Generalisation"): a refill
//! duration stored only in the slot the refill finished (0 elsewhere) never alerts under a
//! model that expects the last duration held between refills; a consumption meter that
//! reports running totals looks like a steadily rising level. The recognised shape decides
//! how the rows are presented to the kind's noise model:
//! - `cumulative_counter` (values never fall, by more than a few per mille of steps, and
//!   grow by far more than a typical step): the model sees per-row increments; a fall is a
//!   meter reset and counts as the new total. The same test applies to the aux series (the
//!   consumption a stock level is explained by).
//! - `event_valued` (a duration series that is 0 on most rows): the model sees only the
//!   non-zero rows as events; the zero rows carry no information and score 0.
//! - otherwise the kind's own model on the raw values (`counts`, `sawtooth_stock`,
//!   `held_duration`, `continuous_level`).

use serde::{Deserialize, Serialize};

use super::{MetricKind, SeriesRows};
use crate::features::col;

/// The recognised presentation of one entity's series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Shape {
    /// The values are a running total: score increments.
    pub cumulative: bool,
    /// The aux values are a running total: use their increments.
    pub aux_cumulative: bool,
    /// A duration recorded only at events (0 elsewhere).
    pub events: bool,
}

/// Running total: non-decreasing on at least 99.5 % of steps (a reset now and then is fine),
/// rising on at least 12 of them (and 0.5 %) and at least four times as often as it falls,
/// over the span by at least 8 typical positive steps, never negative.
fn is_cumulative(v: &[f64]) -> bool {
    if v.len() < 24 || v.iter().any(|x| *x < 0.0) {
        return false;
    }
    let falls = v.windows(2).filter(|w| w[1] < w[0]).count();
    if falls as f64 > 0.005 * v.len() as f64 {
        return false;
    }
    let mut ups: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0.0).collect();
    // a sparse counter (a count that is 0 on most rows, summed) rises on few rows; what tells
    // it from a count is that its rises are not undone: a count falls back about as often as
    // it rises
    if ups.len() < (v.len() / 200).max(12) || ups.len() < 4 * falls {
        return false;
    }
    let typical = super::mathx::median(&mut ups);
    let rise = v[v.len() - 1] - v[0];
    rise > 8.0 * typical
}

impl Shape {
    /// Recognises the shape of `s` on the rows `mask` selects.
    pub(crate) fn recognise(kind: MetricKind, s: &SeriesRows, mask: &[bool]) -> Shape {
        let vals: Vec<f64> = (0..s.len()).filter(|&i| mask[i]).map(|i| s.value[i]).collect();
        let mut shape = Shape::default();
        match kind {
            MetricKind::Duration => {
                let zeros = vals.iter().filter(|v| **v == 0.0).count();
                shape.events = vals.len() >= 24 && zeros * 2 > vals.len() && zeros < vals.len();
            }
            _ => shape.cumulative = is_cumulative(&vals),
        }
        if let Some(a) = &s.aux {
            let av: Vec<f64> = (0..s.len()).filter(|&i| mask[i]).filter_map(|i| a[i]).collect();
            shape.aux_cumulative = kind == MetricKind::Level && is_cumulative(&av);
        }
        shape
    }

    /// The name recorded in the model and in alert explanations.
    pub(crate) fn name(&self, kind: MetricKind) -> &'static str {
        match (self.cumulative, self.events, kind) {
            (true, _, _) => "cumulative_counter",
            (_, true, _) => "event_valued",
            (_, _, MetricKind::Count) => "counts",
            (_, _, MetricKind::Level) if self.aux_cumulative => "sawtooth_stock_vs_counter",
            (_, _, MetricKind::Level) => "sawtooth_stock",
            (_, _, MetricKind::Duration) => "held_duration",
            (_, _, MetricKind::Generic) => "continuous_level",
        }
    }

    /// Whether the rows need rewriting before the noise model sees them.
    pub(crate) fn transforms(&self) -> bool {
        self.cumulative || self.aux_cumulative
    }

    /// `s` as the noise model sees it: increments of running totals (the first row and a
    /// reset take the value itself). Stored trailing statistics describe the totals, so the
    /// median column is dropped for a cumulative series (generic kinds fall back to their own).
    pub(crate) fn apply(&self, s: &SeriesRows) -> SeriesRows {
        let mut out = s.clone();
        if self.cumulative {
            out.value = increments(&s.value);
            out.features.iter_mut().for_each(|f| f[col::MEDIAN] = None);
        }
        if self.aux_cumulative {
            if let Some(a) = &s.aux {
                let mut prev: Option<f64> = None;
                out.aux = Some(
                    a.iter()
                        .map(|v| {
                            let d = match (v, prev) {
                                (Some(x), Some(p)) if *x >= p => Some(x - p),
                                _ => None,
                            };
                            if v.is_some() {
                                prev = *v;
                            }
                            d
                        })
                        .collect(),
                );
            }
        }
        out
    }
}

fn increments(v: &[f64]) -> Vec<f64> {
    // the first row has no predecessor: count it as an average increment, not its total
    let mut out: Vec<f64> = v.windows(2).map(|w| if w[1] >= w[0] { w[1] - w[0] } else { w[1] }).collect();
    let mut sorted = out.clone();
    let first = if sorted.is_empty() { 0.0 } else { super::mathx::median(&mut sorted) };
    out.insert(0, first);
    out.truncate(v.len());
    out
}
