//! Detector parameters: documented defaults, strict JSON, one validation point.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CoreError, CoreResult};
use crate::forest::{json, IsolationForestParams, MAX_CONTAMINATION, MAX_SAMPLES_LIMIT, MAX_TREES};

/// The keys [`DetectorParams::from_json`] accepts.
pub const JSON_KEYS: [&str; 23] = [
    "n_trees",
    "max_samples",
    "seed",
    "contamination",
    "alert_p",
    "close_p",
    "max_gap_minutes",
    "suppress_hours",
    "reversal_hours",
    "calibration_blocks",
    "min_train_days",
    "use_forest",
    "interactions",
    "exclude_inputs",
    "adapt_hours",
    "change_scan",
    "detector_family",
    "seq_margin",
    "seq_rest_hours",
    "count_hour_prior",
    "scan_over_row",
    "stock_skip_unrecorded",
    "count_row_window",
];

/// Largest `adapt_hours`: the look-back of scoring grows to twice it.
pub const MAX_ADAPT_HOURS: f64 = 72.0;

/// Most degree-2 interactions a detector's forest may add.
pub const MAX_INTERACTIONS: usize = 10;

/// Parameters of [`Detector::fit`](super::Detector::fit) and of episode building. Defaults in
/// brackets; `check` validates every field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectorParams {
    /// Trees of the isolation forest [100].
    pub n_trees: usize,
    /// Subsample per tree [256] (Liu et al.: small samples isolate anomalies better).
    pub max_samples: usize,
    /// Seed of the forest and of the calibration subsample [42].
    pub seed: u64,
    /// When set, the alert threshold is instead the score above which this share of held-out
    /// training rows lies (the old system's knob); unset [default], `alert_p` decides.
    pub contamination: Option<f64>,
    /// Alert when a normal series would show a row this unusual on at most this share of days
    /// [0.001]: the threshold is `1 - alert_p`.
    pub alert_p: f64,
    /// Hysteresis: an open episode stays open while `p <= close_p` [0.02], i.e. score >=
    /// `1 - close_p`; must be >= `alert_p`.
    pub close_p: f64,
    /// Episodes closer than this merge into one [120 minutes].
    pub max_gap_minutes: f64,
    /// A new episode starting within this many hours after the end of an alert of the same
    /// series, or of the last suppressed repeat after it, is suppressed unless it is more
    /// unusual than that alert: each suppressed repeat restarts the window, so repeats chain
    /// [24].
    pub suppress_hours: f64,
    /// An episode that reverses the previous one's jump within this many hours merges into it
    /// (an unexplained jump and its recovery are one event) [24].
    pub reversal_hours: f64,
    /// Entity-days sampled for calibration and the forest [4000]; bounds fit time.
    pub calibration_blocks: usize,
    /// Fewest days the training rows must span [7]: a model that never saw a Sunday calls
    /// every quiet Sunday an outage.
    pub min_train_days: f64,
    /// Whether the isolation forest contributes to the score [true]; off leaves the
    /// per-feature calibrated path alone (for comparisons).
    pub use_forest: bool,
    /// Degree-2 interactions the forest sees besides the derived features [0]: products of
    /// pairs of them, computed on the fly in fitting and scoring (never stored), pairs taken
    /// in the kind's feature order (`selection::interaction_pairs`), at most 10.
    pub interactions: usize,
    /// Derived inputs the detector leaves out ([] = none), by name (`count_1h`, ...): set by
    /// recursive feature elimination (`detect::rfe`). A left-out input is zero in every row,
    /// so neither the forest nor the per-input path sees it; checked against the kind at fit
    /// (`inputs.rs`).
    pub exclude_inputs: Vec<String>,
    /// Counts: after a shift in level has lasted this many hours, its level is a second
    /// baseline [24]; the 4-hour and 24-hour inputs measure the deviation from the nearer of
    /// the training baseline and that recent one (`derive.rs`, "two baselines"), so a lasting
    /// change of occupancy alerts at its start and then stops, and a shift that ends does not
    /// alert again. The recent level is measured over `(t - 2 adapt_hours, t - adapt_hours]`, so
    /// scoring reads `max(24, 2 adapt_hours)` hours of look-back. 0 turns it off (models
    /// stored before it existed behave as 0). At most 72.
    pub adapt_hours: f64,
    /// Counts: `count_24h` is a change-point scan [true], the largest standardised deviation
    /// summed since a change at any whole hour of the last 24 (a CUSUM-type statistic for a
    /// shift in rate with unknown start), instead of the fixed 24-hour total (false; models
    /// stored before it existed behave as false).
    pub change_scan: bool,
    /// Which detector family scores ["auto": `both` for generic metric types, `calibrated`
    /// for the four known kinds]: `calibrated` (the noise-model detector), `sequence` (the
    /// sequence-aware family of `seq.rs` alone) or `both` (the larger of the two scores).
    /// A fitted model records the family it used; models stored before it are `calibrated`.
    pub detector_family: super::seq::Family,
    /// Sequence family: nats above the entity's largest held-out surprise at which a row
    /// alarms [2].
    pub seq_margin: f64,
    /// Sequence family: hours it stays silent after an alarm [12], at most 72 (scoring reads
    /// that much look-back to know whether it is resting).
    pub seq_rest_hours: f64,
    /// Counts: each hour of the profile is pulled toward its two neighbouring hours instead of
    /// the day's level, no hour expects less than 1 % of the series' mean, and the profile is
    /// refitted to its interpolation where held-out days prefer it (`noise::count_refine`) [false: on, the
    /// robustness corpus found more labels but raised more false alerts, see the README's "Quiet
    /// hours and the spike explanation"]. Pulled toward the day's level (false; models stored
    /// before version 8 behave as false), an hour that is always quiet expects about a sixth of
    /// the day's rate, so a normal night is an improbable run of zeros and sets the tail real
    /// outages and stuck readings must beat.
    pub count_hour_prior: bool,
    /// Counts: a stretch of the change-point scan (`change_scan`) of at most 2 hours counts
    /// only when its standardised sum exceeds the row's own deviation [false]: such a stretch
    /// carrying no more than the row itself is the row (a spike), which `count_now` scores and
    /// explains; with `count_hour_prior` on it keeps a spike's explanation on `count_now`.
    /// False (and models stored before version 8): every stretch counts.
    pub scan_over_row: bool,
    /// Stock: a row whose consumption was not recorded, in a series whose consumption is
    /// recorded (some row has it), is explained by any fall one row's consumption could cause,
    /// up to the stock's depletion unit; only a rise that is no refill or a larger fall is
    /// unexplained, by its excess [true]. False (and
    /// models stored before version 9): the usual consumption of the hour stands in for it,
    /// and on a stock whose residuals are otherwise exact one lost consumption row is an
    /// "unexplained" change the 24-hour sum carries for a day (the robustness corpus' `gaps`
    /// member: 10 of its 10 false stock alerts on TUNE, see the README's "Lost consumption rows").
    pub stock_skip_unrecorded: bool,
    /// Counts: `count_now` is the deviation of the count over the last 15 minutes (the rows in
    /// `(ts - 15 min, ts]`, summed as the 1-hour total sums its rows), not of the row alone
    /// [true]. At steps of 15 minutes or more that window holds the row alone and nothing
    /// changes; at finer steps a burst spread over a few rows is read whole, as a 15-minute
    /// series reads it, and the row input no longer tests every few minutes against the day's
    /// alert budget (robustness corpus `min5`, see the README's "Counts at 5-minute steps").
    /// False (and models stored before version 10): the row alone.
    pub count_row_window: bool,
}

impl Default for DetectorParams {
    fn default() -> Self {
        DetectorParams {
            n_trees: 100,
            max_samples: 256,
            seed: 42,
            contamination: None,
            alert_p: 1e-3,
            close_p: 0.02,
            max_gap_minutes: 120.0,
            suppress_hours: 24.0,
            reversal_hours: 24.0,
            calibration_blocks: 4000,
            min_train_days: 7.0,
            use_forest: true,
            interactions: 0,
            exclude_inputs: Vec::new(),
            adapt_hours: 24.0,
            change_scan: true,
            detector_family: super::seq::Family::Auto,
            seq_margin: 2.0,
            seq_rest_hours: 12.0,
            count_hour_prior: false,
            scan_over_row: false,
            stock_skip_unrecorded: true,
            count_row_window: true,
        }
    }
}

impl DetectorParams {
    /// Reads a user's parameter object, e.g. `{"alert_p": 0.0005, "n_trees": 200}`. Missing
    /// keys keep their defaults, `null` means all defaults; unknown keys, wrong types and
    /// out-of-domain values are `InvalidParameter` errors naming the key.
    pub fn from_json(value: &Value) -> CoreResult<Self> {
        let mut p = Self::default();
        if let Some(map) = json::object(value, &JSON_KEYS, "detector")? {
            for (key, v) in map {
                match key.as_str() {
                    "n_trees" => p.n_trees = json::as_usize(key, v)?,
                    "max_samples" => p.max_samples = json::as_usize(key, v)?,
                    "seed" => p.seed = json::as_u64(key, v)?,
                    "contamination" => p.contamination = json::as_opt_f64(key, v)?,
                    "alert_p" => p.alert_p = json::as_f64(key, v)?,
                    "close_p" => p.close_p = json::as_f64(key, v)?,
                    "max_gap_minutes" => p.max_gap_minutes = json::as_f64(key, v)?,
                    "suppress_hours" => p.suppress_hours = json::as_f64(key, v)?,
                    "reversal_hours" => p.reversal_hours = json::as_f64(key, v)?,
                    "calibration_blocks" => p.calibration_blocks = json::as_usize(key, v)?,
                    "min_train_days" => p.min_train_days = json::as_f64(key, v)?,
                    "use_forest" => p.use_forest = json::as_bool(key, v)?,
                    "interactions" => p.interactions = json::as_usize(key, v)?,
                    "exclude_inputs" => p.exclude_inputs = super::inputs::names_from_json(key, v)?,
                    "adapt_hours" => p.adapt_hours = json::as_f64(key, v)?,
                    "change_scan" => p.change_scan = json::as_bool(key, v)?,
                    "detector_family" => {
                        p.detector_family = v.as_str().and_then(super::seq::Family::parse).ok_or_else(|| CoreError::invalid_param(key, v, "must be \"auto\", \"calibrated\", \"sequence\" or \"both\""))?
                    }
                    "seq_margin" => p.seq_margin = json::as_f64(key, v)?,
                    "seq_rest_hours" => p.seq_rest_hours = json::as_f64(key, v)?,
                    "count_hour_prior" => p.count_hour_prior = json::as_bool(key, v)?,
                    "scan_over_row" => p.scan_over_row = json::as_bool(key, v)?,
                    "stock_skip_unrecorded" => p.stock_skip_unrecorded = json::as_bool(key, v)?,
                    "count_row_window" => p.count_row_window = json::as_bool(key, v)?,
                    // json::object already rejected every other key
                    _ => {}
                }
            }
        }
        p.check()?;
        Ok(p)
    }

    /// The parameters as a JSON object (for `ml_models.parameters`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Validates every field; the error names the first bad one.
    pub fn check(&self) -> CoreResult<()> {
        if self.n_trees == 0 || self.n_trees > MAX_TREES {
            return Err(CoreError::invalid_param("n_trees", self.n_trees, "must be between 1 and 10000"));
        }
        if self.max_samples < 2 || self.max_samples > MAX_SAMPLES_LIMIT {
            return Err(CoreError::invalid_param("max_samples", self.max_samples, "must be between 2 and 10000000"));
        }
        if let Some(c) = self.contamination {
            if !(c > 0.0 && c <= MAX_CONTAMINATION) {
                return Err(CoreError::invalid_param("contamination", c, "must be in (0, 0.5]"));
            }
        }
        if !(self.alert_p > 0.0 && self.alert_p < 0.5) {
            return Err(CoreError::invalid_param("alert_p", self.alert_p, "must be in (0, 0.5)"));
        }
        if !(self.close_p >= self.alert_p && self.close_p < 1.0) {
            return Err(CoreError::invalid_param("close_p", self.close_p, "must be in [alert_p, 1)"));
        }
        let hours = |name: &str, v: f64, max: f64| {
            if v.is_finite() && (0.0..=max).contains(&v) {
                Ok(())
            } else {
                Err(CoreError::invalid_param(name, v, &format!("must be a number between 0 and {max}")))
            }
        };
        hours("max_gap_minutes", self.max_gap_minutes, 10_080.0)?;
        hours("suppress_hours", self.suppress_hours, 720.0)?;
        hours("reversal_hours", self.reversal_hours, 720.0)?;
        hours("min_train_days", self.min_train_days, 365.0)?;
        hours("adapt_hours", self.adapt_hours, MAX_ADAPT_HOURS)?;
        hours("seq_margin", self.seq_margin, 50.0)?;
        hours("seq_rest_hours", self.seq_rest_hours, MAX_ADAPT_HOURS)?;
        if self.interactions > MAX_INTERACTIONS {
            return Err(CoreError::invalid_param("interactions", self.interactions, "must be between 0 and 10"));
        }
        super::inputs::check_shape(&self.exclude_inputs)?;
        if !(100..=1_000_000).contains(&self.calibration_blocks) {
            return Err(CoreError::invalid_param("calibration_blocks", self.calibration_blocks, "must be between 100 and 1000000"));
        }
        Ok(())
    }

    /// `adapt_hours` in microseconds (0: off).
    pub(crate) fn adapt_us(&self) -> i64 {
        (self.adapt_hours * 3600e6) as i64
    }

    /// How far before the first row to score a detector of `kind` reads rows: 24 hours, for
    /// counts at least twice `adapt_hours` (the recent baseline's window).
    pub(crate) fn lookback_us(&self, kind: super::MetricKind) -> i64 {
        let base = match kind {
            super::MetricKind::Count => super::derive::LOOKBACK_US.max(2 * self.adapt_us()),
            _ => super::derive::LOOKBACK_US,
        };
        if self.detector_family.resolve(kind) == super::seq::Family::Calibrated {
            base
        } else {
            base.max((self.seq_rest_hours * 3600e6) as i64)
        }
    }

    /// How counts treat lasting shifts, and stocks rows without consumption.
    pub(crate) fn shift(&self) -> super::derive::Shift {
        super::derive::Shift { adapt_us: self.adapt_us(), scan: self.change_scan, over_row: self.scan_over_row, skip_unrecorded: self.stock_skip_unrecorded, row_window: self.count_row_window }
    }

    /// The embedded forest parameters.
    pub(crate) fn forest(&self) -> IsolationForestParams {
        IsolationForestParams::new().n_trees(self.n_trees).max_samples(self.max_samples).seed(self.seed)
    }
}
