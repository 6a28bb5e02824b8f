//! Parameters of the feature kernels, with documented defaults and one validation point.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};

/// Microseconds in a day.
pub const US_PER_DAY: i64 = crate::time::DAY_US;
/// Microseconds in an hour.
pub const US_PER_HOUR: i64 = crate::time::HOUR_US;
/// Longest accepted period or statistics window: ten years. Keeps every look-back
/// computation far from `i64` overflow.
pub const MAX_SPAN_US: i64 = 3_660 * US_PER_DAY;
/// Largest accepted `seasonal_periods`.
pub const MAX_SEASONAL_PERIODS: u32 = 1_000;

/// Feature parameters. Unknown JSON keys are rejected (a typo must not silently fall back
/// to a default); missing keys take the defaults below.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureParams {
    /// The seasonal period (lags, rolling windows, change/jump windows are multiples of it).
    /// Default 1 day. It is also the length of the epoch-aligned blocks at whose start the
    /// sliding sums are re-summed.
    pub period_us: i64,
    /// Trailing window of the statistics, trend, volatility, momentum and drop-rate features.
    /// Default 1 day.
    pub stat_window_us: i64,
    /// How many periods back `seasonal_zscore` looks. Default 7 (a week of daily periods).
    pub seasonal_periods: u32,
    /// Dead band of `trend_direction`, as a fraction of `abs(mean_value)` per day: a slope
    /// within it is flat (0). Default 0.05 (5% of the level per day), which keeps noise on a
    /// level series from flipping the direction.
    pub trend_dead_band: f64,
    /// A difference is a refill-like jump when it exceeds this many median absolute
    /// differences of the last 7 periods. Default 4 (for Gaussian noise the median absolute
    /// difference is ~0.95 sigma of a difference, so 4 is a ~3.8-sigma rise).
    pub jump_factor: f64,
    /// A jump must also exceed this fraction of `abs(rolling_mean_7)`, so a series that is
    /// flat most of the time (median difference 0) does not call every tick a jump.
    /// Default 0.01.
    pub jump_min_relative: f64,
}

impl Default for FeatureParams {
    fn default() -> Self {
        FeatureParams {
            period_us: US_PER_DAY,
            stat_window_us: US_PER_DAY,
            seasonal_periods: 7,
            trend_dead_band: 0.05,
            jump_factor: 4.0,
            jump_min_relative: 0.01,
        }
    }
}

impl FeatureParams {
    /// Validates every field; the error names the first bad one.
    pub fn check(&self) -> CoreResult<()> {
        let span_ok = |v: i64| v > 0 && v <= MAX_SPAN_US;
        if !span_ok(self.period_us) {
            return Err(CoreError::invalid_param("period_us", self.period_us, "must be between 1 and 316224000000000 microseconds (ten years)"));
        }
        if !span_ok(self.stat_window_us) {
            return Err(CoreError::invalid_param("stat_window_us", self.stat_window_us, "must be between 1 and 316224000000000 microseconds (ten years)"));
        }
        if self.seasonal_periods == 0 || self.seasonal_periods > MAX_SEASONAL_PERIODS {
            return Err(CoreError::invalid_param("seasonal_periods", self.seasonal_periods, "must be between 1 and 1000"));
        }
        if !(self.trend_dead_band.is_finite() && self.trend_dead_band >= 0.0) {
            return Err(CoreError::invalid_param("trend_dead_band", self.trend_dead_band, "must be a finite number >= 0"));
        }
        if !(self.jump_factor.is_finite() && self.jump_factor > 0.0) {
            return Err(CoreError::invalid_param("jump_factor", self.jump_factor, "must be a finite number > 0"));
        }
        if !(self.jump_min_relative.is_finite() && self.jump_min_relative >= 0.0) {
            return Err(CoreError::invalid_param("jump_min_relative", self.jump_min_relative, "must be a finite number >= 0"));
        }
        Ok(())
    }

    /// How far before a row the computation must reach so the row is exact:
    /// `max(31 * P, W + P, 2 * W, S * P)` with `P` = period, `W` = statistics window,
    /// `S` = seasonal periods (31 days with the defaults).
    ///
    /// The terms: lag_30 reads (T-31P, T-30P]; rolling_30 spans 30P and its sums are
    /// re-summed at the start of the current period block, so 30P + P; the statistics window
    /// likewise W + P; momentum reads (T-2W, T-W]; the seasonal window spans S * P.
    /// (The 7-period windows, 8P with their block, are inside 31P.)
    pub fn lookback_us(&self) -> i64 {
        let c = Clamped::from(self);
        (31 * c.period).max(c.window + c.period).max(2 * c.window).max(c.seasonal_span)
    }
}

/// Parameters clamped into their domain, so the kernel never panics on unchecked input.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clamped {
    pub period: i64,
    pub window: i64,
    pub seasonal_span: i64,
    pub dead_band: f64,
    pub jump_factor: f64,
    pub jump_min_relative: f64,
}

impl From<&FeatureParams> for Clamped {
    fn from(p: &FeatureParams) -> Self {
        let period = p.period_us.clamp(1, MAX_SPAN_US);
        let finite_or = |v: f64, d: f64| if v.is_finite() && v >= 0.0 { v } else { d };
        Clamped {
            period,
            window: p.stat_window_us.clamp(1, MAX_SPAN_US),
            seasonal_span: period * i64::from(p.seasonal_periods.clamp(1, MAX_SEASONAL_PERIODS)),
            dead_band: finite_or(p.trend_dead_band, 0.05),
            jump_factor: finite_or(p.jump_factor, 4.0),
            jump_min_relative: finite_or(p.jump_min_relative, 0.01),
        }
    }
}
