//! Point-in-time feature kernels (stage 2 of the pipeline).
//!
//! [`compute_series`] turns one entity's series of one metric type into one [`FeatureRow`]
//! per observation, in a single pass with sliding windows. Two rules shape everything here:
//!
//! - **Point in time.** A row's features use only observations at or before its `ts`, so the
//!   features of a past row never change when newer data arrives and a model trained on them
//!   sees what the detector will see.
//! - **Bounded dependence.** Every feature of a row depends only on the observations in
//!   `(ts - lookback_us(), ts]`. The SQL layer therefore computes new rows incrementally by
//!   reading only that much history, and gets *bitwise* the same values as a full recompute.
//!   Counters that would otherwise reach back forever (days since change, run length) are
//!   capped at their window, and the sliding sums behind means and deviations are re-summed
//!   from the window contents at the start of each period-aligned block (see `window.rs`), so
//!   their floating-point rounding never depends on where a computation started.
//!
//! Short histories give `None` (SQL NULL), never a made-up 0; the minimum counts are listed
//! with each feature in [`FEATURE_NAMES`].
//!
//! [`SeriesState`] is the same kernel kept alive between batches: it holds one series'
//! windows and the observations they can still read, so a long-lived process feeds only the
//! new observations of a series and gets bitwise the rows of a full recompute.

mod codec;
mod kernels;
mod params;
mod state;
mod window;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_state;
#[cfg(test)]
mod tests_codec;

pub use codec::{owner_tag, CODEC_VERSION};
pub use params::FeatureParams;
pub use state::SeriesState;

/// One observation of one entity's metric. The caller (the SQL layer) supplies the local
/// calendar fields so this crate never needs a time-zone database.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    /// Microseconds since the Unix epoch (UTC).
    pub ts: i64,
    /// The metric value; must be finite (the caller skips NULLs).
    pub value: f64,
    /// Local hour, 0..=23.
    pub hour_of_day: i16,
    /// Local ISO day of week, 1 = Monday .. 7 = Sunday.
    pub day_of_week: i16,
    /// Local day of month, 1..=31.
    pub day_of_month: i16,
}

/// Number of features per row.
pub const NUM_FEATURES: usize = 30;

/// Feature names, in column order; they are the SQL column names of `ml_features`.
///
/// `W` = `stat_window_us`, `P` = `period_us`, `S` = `seasonal_periods`, `T` = the row's ts;
/// "in (a, b]" means observations with `a < ts <= b`; a *difference* is `v[i] - v[i-1]` of
/// two consecutive observations that are both inside the window; minimum counts in brackets,
/// below them the feature is NULL.
///
/// | column | definition |
/// |---|---|
/// | mean_value | mean of the values in (T-W, T] [1] |
/// | std_value | sample standard deviation (n-1) in (T-W, T] [2] |
/// | min_value / max_value | minimum / maximum in (T-W, T] [1] |
/// | median_value / q25_value / q75_value | quantiles, linear interpolation (numpy's default) in (T-W, T] [1] |
/// | trend_slope | least-squares slope of value against time, in value per day, in (T-W, T] [3] |
/// | trend_direction | -1/0/1: sign of trend_slope, 0 when abs(slope) <= trend_dead_band * abs(mean_value) [3] |
/// | volatility | sample standard deviation of the differences in (T-W, T] [3 observations] |
/// | momentum | value minus the value as of T-W: the last observation in (T-2W, T-W] [that one] |
/// | hour_of_day / day_of_week / day_of_month | copied from the observation [always] |
/// | is_weekend | 1 when day_of_week is 6 or 7, else 0 [always] |
/// | days_since_change | days since the latest value change in (T-7P, T]; without one, days since the earliest observation there (a lower bound) [2] |
/// | change_frequency | value changes in (T-7P, T] per day of the span from the earliest observation there to T [2] |
/// | run_length | consecutive identical values ending at this row, counted inside (T-7P, T] [1] |
/// | hours_since_jump | hours since the latest refill-like jump in (T-7P, T]: a difference above max(jump_factor * median abs difference, jump_min_relative * abs(rolling_mean_7)), both over (T-7P, T] and as of T; without one, hours since the earliest observation there [4 observations] |
/// | drop_rate | total decrease (sum of the negative differences' magnitudes) per day in (T-W, T]: the consumption rate, refills ignored [2] |
/// | lag_1 / lag_7 / lag_30 | value as of T-kP: the last observation in (T-(k+1)P, T-kP] [that one] |
/// | rolling_mean_7 / rolling_mean_30 | mean in (T-kP, T] [1] |
/// | rolling_std_7 / rolling_std_30 | sample standard deviation in (T-kP, T] [2] |
/// | zscore_7 | (value - rolling_mean_7) / rolling_std_7 [rolling_std_7 > 0] |
/// | diff_lag_1 | value - lag_1 [lag_1] |
/// | seasonal_zscore | z-score of value against the earlier observations with the same hour_of_day in (T-S*P, T), excluding this row [3 and a non-zero deviation] |
pub const FEATURE_NAMES: [&str; NUM_FEATURES] = [
    "mean_value",
    "std_value",
    "min_value",
    "max_value",
    "median_value",
    "q25_value",
    "q75_value",
    "trend_slope",
    "trend_direction",
    "volatility",
    "momentum",
    "hour_of_day",
    "day_of_week",
    "is_weekend",
    "day_of_month",
    "days_since_change",
    "change_frequency",
    "run_length",
    "hours_since_jump",
    "drop_rate",
    "lag_1",
    "lag_7",
    "lag_30",
    "rolling_mean_7",
    "rolling_std_7",
    "rolling_mean_30",
    "rolling_std_30",
    "zscore_7",
    "diff_lag_1",
    "seasonal_zscore",
];

/// The SQL type a feature column is stored as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureType {
    /// `double precision`
    Float,
    /// `integer` (the value in the row is a whole number stored as f64)
    Int,
    /// `boolean` (0.0 = false, 1.0 = true in the row)
    Bool,
}

use FeatureType::{Bool, Float, Int};

/// Column types, aligned with [`FEATURE_NAMES`].
pub const FEATURE_TYPES: [FeatureType; NUM_FEATURES] = [
    Float, Float, Float, Float, Float, Float, Float, // statistics
    Float, Int, Float, Float, // trend
    Int, Int, Bool, Int, // calendar
    Float, Float, Int, Float, Float, // domain
    Float, Float, Float, // lags
    Float, Float, Float, Float, // rolling
    Float, Float, Float, // derived
];

/// Column indices into [`FeatureRow::values`], aligned with [`FEATURE_NAMES`].
pub mod col {
    pub const MEAN: usize = 0;
    pub const STD: usize = 1;
    pub const MIN: usize = 2;
    pub const MAX: usize = 3;
    pub const MEDIAN: usize = 4;
    pub const Q25: usize = 5;
    pub const Q75: usize = 6;
    pub const TREND_SLOPE: usize = 7;
    pub const TREND_DIRECTION: usize = 8;
    pub const VOLATILITY: usize = 9;
    pub const MOMENTUM: usize = 10;
    pub const HOUR_OF_DAY: usize = 11;
    pub const DAY_OF_WEEK: usize = 12;
    pub const IS_WEEKEND: usize = 13;
    pub const DAY_OF_MONTH: usize = 14;
    pub const DAYS_SINCE_CHANGE: usize = 15;
    pub const CHANGE_FREQUENCY: usize = 16;
    pub const RUN_LENGTH: usize = 17;
    pub const HOURS_SINCE_JUMP: usize = 18;
    pub const DROP_RATE: usize = 19;
    pub const LAG_1: usize = 20;
    pub const LAG_7: usize = 21;
    pub const LAG_30: usize = 22;
    pub const ROLLING_MEAN_7: usize = 23;
    pub const ROLLING_STD_7: usize = 24;
    pub const ROLLING_MEAN_30: usize = 25;
    pub const ROLLING_STD_30: usize = 26;
    pub const ZSCORE_7: usize = 27;
    pub const DIFF_LAG_1: usize = 28;
    pub const SEASONAL_ZSCORE: usize = 29;
}

/// The position of a feature name in [`FEATURE_NAMES`].
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURE_NAMES.iter().position(|n| *n == name)
}

/// The features of one observation; `None` is SQL NULL.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureRow {
    pub ts: i64,
    pub values: [Option<f64>; NUM_FEATURES],
}

/// Computes one [`FeatureRow`] for each of `series[first_out..]` and appends them to `out`;
/// `series[..first_out]` is look-back only.
///
/// `series` must be sorted by `ts`, strictly increasing, with finite values. To compute only
/// rows newer than some instant, pass the observations in `(first_new_ts - lookback_us(),
/// ..]` and `first_out` = the index of the first new one: the rows equal a full recompute.
/// Parameters are expected to have passed [`FeatureParams::check`]; out-of-domain values are
/// clamped instead of panicking (unsorted input gives meaningless rows, never a panic).
///
/// This is a [`SeriesState`] warmed up with the look-back and then fed the new rows; a
/// long-lived process that keeps the state of each series feeds only new observations.
pub fn compute_series(series: &[Observation], first_out: usize, params: &FeatureParams, out: &mut Vec<FeatureRow>) {
    state::run(series, first_out, params, out);
}
