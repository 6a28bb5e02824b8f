//! The detector (stage 7): per-series noise models, calibrated scores, episodes, severity and
//! explanations.
//!
//! Why it looks like this (see `shared/DETECTION.md` for the measurements behind it): an
//! isolation forest on raw rolling features flags about half of all rows, because one extreme
//! feature drowns among many ordinary ones and because "extreme" means something different
//! for every series. What works is to *normalise first*: each series gets a noise model
//! learned on its training span, fitting its kind of metric, and the detector turns each row
//! into a handful of dimensionless deviations (z-like numbers that are about N(0, 1) on normal
//! data). Only those go to the isolation forest (Liu, Ting & Zhou 2008) and to per-feature
//! tail calibrations, and the final score is a calibrated tail probability.
//!
//! Pipeline of [`Detector::fit`], per metric type:
//! 1. per entity, a noise model for its [`MetricKind`] (`noise.rs`): counts get an hour x
//!    weekday/weekend mean and a negative-binomial dispersion; stock gets the residual of the
//!    stock change against recorded consumption (the aux series); durations get log duration
//!    against the amount refilled; anything else an hour-of-day offset around its trailing
//!    1-day median. Fitted 2-fold (odd / even local days) so that calibration sees held-out
//!    residuals, then once more on all days for scoring.
//! 2. derived features per row (`derive.rs`), e.g. the count's deviation now and summed over
//!    1 h, 4 h and 24 h, the surprise of a run of repeated values, the stock change left
//!    unexplained by consumption, stock below its usual minimum. Each is divided by a
//!    per-entity factor so that the entity's held-out 95th percentile sits at 1.96.
//! 3. calibration (`calib.rs`): per feature a pooled tail `P(|z| >= x)`; the isolation forest on
//!    the derived features and a tail of its score; a row's surprise is the largest
//!    `-ln P` of the two paths; finally the tail of the *daily maximum* of that surprise over
//!    held-out entity-days. The score is `1 - p`, `p` = the probability that a normal series
//!    has a row at least this unusual on a given day. So scores compare across metric types
//!    and sampling rates, and the default threshold (`p = 0.001`) means "about one false
//!    alert per thousand series-days".
//!
//! Scoring ([`Detector::score_series`]) recomputes the derived features from the rows (look-back
//! of [`Detector::lookback_us`] before the first row to score), so it needs no state between
//! runs. [`episodes`] then turns scored rows into alerts, and [`severity`] grades them.

mod bytes;
mod calib;
mod derive;
mod episodes;
mod explain;
mod extend;
mod fit;
mod inputs;
mod mathx;
mod noise;
mod packed;
mod par;
mod params;
pub mod rfe;
mod score;
pub mod seq;
mod shape;
pub mod tune;
mod tune_fit;
mod warm;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_explain;
#[cfg(test)]
mod tests_fit;
#[cfg(test)]
mod tests_rank;
#[cfg(test)]
mod tests_robust;
#[cfg(test)]
mod tests_shape;
#[cfg(test)]
mod tests_shift;
#[cfg(test)]
mod tests_seq;
#[cfg(test)]
mod tests_tune;
#[cfg(test)]
mod tests_warm;
#[cfg(test)]
mod tests_extend;
#[cfg(test)]
mod tests_profile;
#[cfg(test)]
mod tests_gaps;
#[cfg(test)]
mod tests_step;

pub use episodes::{continues_unsettled, episodes, may_continue, severity, Episode, EpisodeParams, SEVERITY_LEVELS};
pub use explain::{Explanation, Importance, InputAttribution};
pub use seq::{SeqBin, SeqContext, SeqExplanation, SeqInput};
pub use extend::Fitted;
pub use fit::{Detector, FitReport};
pub use par::threads as fit_threads;
pub use score::ModelSource;
pub use inputs::inputs_of;
pub use rfe::{rfe, RfeResult, RfeRound};
pub use packed::{pack_series, unpack_series};
pub use params::{DetectorParams, JSON_KEYS};

use crate::features::NUM_FEATURES;

/// Magic of detector model bytes.
pub const DETECTOR_MAGIC: [u8; 4] = *b"PGAD";
/// Current detector format version.
pub const DETECTOR_VERSION: u16 = 10;
/// The previous format, still read (its models behave as before: no recent baseline, no
/// change-point scan).
pub const DETECTOR_VERSION_PREVIOUS: u16 = 4;
/// Version 5 (before the sequence family), still read as a `calibrated` model.
pub const DETECTOR_VERSION_5: u16 = 5;
/// Version 6 (sequence models without their training span), still read: its sequence models
/// count look-back rows inside the training span again, as they did.
pub const DETECTOR_VERSION_6: u16 = 6;
/// Version 7 (before `count_hour_prior` and `scan_over_row`), still read with both false: its
/// count models score as they did.
pub const DETECTOR_VERSION_7: u16 = 7;
/// Version 8 (before `stock_skip_unrecorded`), still read with it false: its stock models
/// score as they did.
pub const DETECTOR_VERSION_8: u16 = 8;
/// Version 9 (before `count_row_window`), still read with it false: its count models score as
/// they did.
pub const DETECTOR_VERSION_9: u16 = 9;

/// The rows of one entity's series of one metric type, sorted by `ts` (strictly increasing),
/// as stored in `ml_features`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesRows {
    pub entity_id: String,
    /// Microseconds since the Unix epoch (UTC).
    pub ts: Vec<i64>,
    /// `metric_value`; must be finite.
    pub value: Vec<f64>,
    /// The stored feature columns in `FEATURE_NAMES` order. The detector reads the local
    /// calendar (`hour_of_day`, `day_of_week`) and, for generic metrics, `median_value`;
    /// `None` falls back to UTC calendar fields and to its own trailing statistics.
    pub features: Vec<[Option<f64>; NUM_FEATURES]>,
    /// The aligned value of [`MetricKind::aux_metric`] for the same entity at the same ts
    /// (`None` where missing), or `None` when the kind has no aux metric or none was read.
    pub aux: Option<Vec<Option<f64>>>,
}

impl SeriesRows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ts.len()
    }
    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

/// A span of one entity's series, both ends inclusive (microseconds since the epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub entity_id: String,
    pub from_us: i64,
    pub to_us: i64,
}

impl Window {
    /// Whether `ts` lies in the window, optionally extended by `after_us` past its end.
    pub fn covers(&self, ts: i64, after_us: i64) -> bool {
        ts >= self.from_us && ts <= self.to_us.saturating_add(after_us)
    }
}

/// What kind of quantity a metric type is: decides the noise model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MetricKind {
    /// A stock level (`stok_seviye`): falls with consumption, jumps up at refills.
    Level,
    /// Counts per interval (`tuketim_miktar`, `zimmet_kullanim`): daily/weekly seasonal.
    Count,
    /// A duration that changes at events (`dolum_sure`: minutes the last refill took).
    Duration,
    /// Anything else: seasonal around a drifting level.
    Generic,
}

impl MetricKind {
    /// The kind of a metric type name; unknown types are `Generic`.
    pub fn from_metric_type(metric_type: &str) -> MetricKind {
        match metric_type {
            "stok_seviye" => MetricKind::Level,
            "tuketim_miktar" | "zimmet_kullanim" => MetricKind::Count,
            "dolum_sure" => MetricKind::Duration,
            _ => MetricKind::Generic,
        }
    }

    /// The metric type whose aligned value the caller should pass as [`SeriesRows::aux`]:
    /// consumption for a stock level (a leak is stock falling faster than consumption explains),
    /// the stock level for a refill duration (its jump is the amount refilled).
    pub fn aux_metric(self) -> Option<&'static str> {
        match self {
            MetricKind::Level => Some("tuketim_miktar"),
            MetricKind::Duration => Some("stok_seviye"),
            MetricKind::Count | MetricKind::Generic => None,
        }
    }

    /// Stable lowercase name (for reports and JSON).
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Level => "level",
            MetricKind::Count => "count",
            MetricKind::Duration => "duration",
            MetricKind::Generic => "generic",
        }
    }
}

/// One scored row.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub ts: i64,
    pub value: f64,
    /// `1 - p`, `p` the calibrated probability that a normal series has a row at least this
    /// unusual on a given day; 0 for entities the model does not know.
    pub score: f64,
    /// `score >= threshold` of the model.
    pub is_anomaly: bool,
    /// What was normal here (seasonal baseline, or the stock consumption explains).
    pub expected: Option<f64>,
    /// Sign of the dominant deviation: 1 above normal, -1 below, 0 none.
    pub direction: i8,
    /// For rows at or above the model's close level: at most 3 (readable feature name, share)
    /// pairs, largest first; empty otherwise.
    pub top: Vec<(String, f64)>,
    /// `-log10 p` of the score's tail probability (0 for ordinary rows): unlike `score` it
    /// keeps its resolution far into the tail.
    pub neg_log10_p: f64,
    /// Where `top` names the sequence family (`sequence_context`): the row's bin and the
    /// two before it, shown in the explanation ([`crate::row::explanation_json`]).
    pub sequence: Option<SeqContext>,
    /// The row was scored by a warm-up model fitted on the entity's look-back at scoring time
    /// (an entity the model was not trained on, `warm.rs`); the explanation says so
    /// (`"model": "warm_up"`).
    pub warm_up: bool,
    /// The noise model the row's entity was scored with: its recognised shape (`shape.rs`:
    /// `counts`, `event_valued`, `cumulative_counter`, `sawtooth_stock`, ...), shown in the
    /// explanation as `"noise_model"`; None where no per-entity noise model scored it.
    pub noise_model: Option<&'static str>,
}
