//! Tail calibration: `ln P(X >= x)` of a statistic under its training distribution.
//!
//! Why a table plus an exponential tail: the thresholds that matter (one false alert per
//! thousand series-days) lie at or beyond the most extreme training values, where an
//! empirical distribution has no resolution. The table holds the empirical survival at fixed
//! levels down to the 50th largest value; beyond it the survival decays exponentially with
//! the scale of the excesses over that knot, estimated robustly (the larger of the median-based and the capped mean excess) so a
//! few unlabelled anomalies left in the training span do not stretch the tail. An exponential
//! tail is the generalized Pareto tail with shape 0, the limit for light-tailed statistics and
//! for maxima; it is conservative (too few alerts) for Gaussian-like statistics.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};

/// Survival levels of the knots (besides the minimum, which has survival 1).
const LEVELS: [f64; 24] = [
    0.7, 0.5, 0.3, 0.2, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01, 7e-3, 5e-3, 3e-3, 2e-3, 1e-3, 7e-4, 5e-4, 3e-4, 2e-4, 1e-4, 7e-5,
    5e-5, 3e-5, 2e-5,
];
/// The last knot keeps at least this many values above it (they estimate the tail's scale);
/// small samples keep 5 % of their values there, but at least 10.
const TAIL_COUNT: usize = 50;
/// Weight, in maxima, of the 1-nat prior on the scale of a daily-maximum tail
/// ([`Tail::fit_maxima`]).
const MAXIMA_PRIOR: f64 = 14.0;
/// Largest number of knots a stored tail may have.
pub(crate) const MAX_KNOTS: usize = LEVELS.len() + 1;

/// The `x` with `P(|Z| >= x) = q` for a normal `Z` of scale `s`: `s sqrt(2) erfc^-1(q)`.
fn normal_abs_at(s: f64, q: f64) -> f64 {
    s * std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(q)
}

/// The exponential scale of a normal tail of scale `s` beyond `x`, at its hazard there:
/// `s^2 / x` (`x` at least `s`); heavier than the normal tail further out (conservative).
fn normal_hazard_scale(s: f64, x: f64) -> f64 {
    s * s / x.max(s)
}

/// A fitted survival function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tail {
    /// Knot values, non-decreasing.
    xs: Vec<f64>,
    /// ln survival at each knot, non-increasing, the first 0.
    ls: Vec<f64>,
    /// Scale of the exponential tail beyond the last knot, > 0.
    beta: f64,
}

impl Tail {
    /// Fits on a sample of finite values (reordered). `min_beta` is the smallest tail scale
    /// accepted, in the statistic's own unit: a feature that never moved in training (a value
    /// that never repeated) must not make its first small move infinitely surprising. An empty
    /// sample gives a tail from 0 at rate `1 / min_beta` (never used by a fitted model: fit
    /// refuses empty calibration samples).
    pub(crate) fn fit(sample: &mut [f64], min_beta: f64) -> Tail {
        let n = sample.len();
        let min_beta = if min_beta.is_finite() && min_beta > 0.0 { min_beta } else { 1.0 };
        if n == 0 {
            return Tail { xs: vec![0.0], ls: vec![0.0], beta: min_beta };
        }
        sample.sort_unstable_by(f64::total_cmp);
        let mut xs = vec![sample[0]];
        let mut ls = vec![0.0];
        let mut last_k = 0;
        for &s in &LEVELS {
            let above = (s * n as f64).round() as usize;
            if above < (n / 20).clamp(10, TAIL_COUNT).min(n / 2).max(1) {
                break;
            }
            let k = n - above;
            if k <= last_k {
                continue;
            }
            last_k = k;
            xs.push(sample[k]);
            ls.push(((n - k) as f64 / n as f64).ln());
        }
        let x0 = sample[last_k];
        let mut excess: Vec<f64> = sample[last_k + 1..].iter().map(|v| v - x0).filter(|e| *e > 0.0).collect();
        let spread = (sample[n - 1] - sample[0]).abs().max(x0.abs()).max(1e-9);
        let beta = if excess.is_empty() {
            // nothing above the last knot: the tail falls off within a small fraction of the range
            (0.05 * spread).max(min_beta)
        } else {
            // the larger of two estimates of the exponential's scale: the median excess / ln 2
            // and the mean excess with each excess capped at five of those (so a few
            // contaminating extremes cannot stretch the tail); the larger errs toward fewer alerts
            let by_median = super::mathx::median(&mut excess) / std::f64::consts::LN_2;
            let capped = excess.iter().map(|e| e.min(5.0 * by_median)).sum::<f64>() / excess.len() as f64;
            by_median.max(capped).max(min_beta)
        };
        Tail { xs, ls, beta }
    }

    /// Fits the tail of a daily maximum of row surprises (each `-ln` of a calibrated row tail):
    /// [`fit`](Self::fit), with the exponential scale beyond the last knot shrunk toward 1 nat
    /// with the weight of [`MAXIMA_PRIOR`] maxima. A day's maximum of `m` calibrated surprises
    /// has survival about `m e^-t` far out (scale 1 nat when the rows are independent, below
    /// when they repeat one another), while the scale estimated from the 10-50 maxima beyond the
    /// last knot moves by a third between samples of the same process; the alert threshold
    /// lies about 4 of those scales beyond the knot (one day in 1,000 against one in 20), so it
    /// moved 1-2 nats with it. Gumbel maxima of 96 rows, 320 days: spread of the threshold at
    /// `p = 1e-3` over resamples 1.2 nats with the fitted scale, 0.8 shrunk (core test
    /// `day_tail_threshold_is_stable_across_resamples`).
    pub(crate) fn fit_maxima(sample: &mut [f64], min_beta: f64) -> Tail {
        let mut t = Tail::fit(sample, min_beta);
        let x0 = t.xs[t.xs.len() - 1];
        let k = sample.iter().filter(|v| **v > x0).count() as f64;
        if k > 0.0 {
            t.beta = ((k * t.beta + MAXIMA_PRIOR) / (k + MAXIMA_PRIOR)).max(min_beta);
        }
        t
    }

    /// Fits the tail of `|z|` for a standardised residual observed once per event (a refill's
    /// duration against its usual): `sample` holds one value per observation, not per row, so
    /// the tail does not depend on how many rows a sampling step repeats each refill over.
    /// Events are few (a hundred or two in a week of a metric type), so the empirical table
    /// stops early (where ten values are left above the knot); beyond it the survival follows
    /// the normal tail of the residual's model conditioned on the knot (`P(|Z| >= x) / P(|Z| >=
    /// x0)` times the knot's survival, so a sample heavier than normal up to the knot keeps
    /// that), at the sample's robust scale (median |z| / 0.6745, at least 1: the residual is in
    /// units of the model's own scale, and a narrower held-out spread means in-sample fits),
    /// down to the table's last level; past it, exponential at the normal hazard's scale
    /// `s^2 / x` (heavier than the normal tail: conservative).
    pub(crate) fn fit_normal_events(sample: &mut [f64], min_beta: f64) -> Tail {
        use statrs::function::erf::erfc;
        let mut t = Tail::fit(sample, min_beta);
        let n = sample.len();
        if n < 2 {
            return t;
        }
        let last = t.xs.len() - 1;
        let (x0, l0) = (t.xs[last], t.ls[last]);
        let mut abs = sample.to_vec();
        let robust = super::mathx::median(&mut abs) / 0.674_489_75;
        let s = robust.max(1.0);
        if !(s.is_finite() && s > 0.0 && x0 > 0.0) {
            return t;
        }
        // two-sided normal survival P(|Z| >= y) = erfc(y / sqrt 2)
        let ln_q0 = erfc(x0 / (s * std::f64::consts::SQRT_2)).ln();
        if !ln_q0.is_finite() {
            return t;
        }
        for &level in &LEVELS {
            let l = level.ln();
            if l >= t.ls[t.ls.len() - 1] - 1e-9 {
                continue;
            }
            // P(|Z| >= x) / P(|Z| >= x0) = level / exp(l0)
            let q = (l - l0 + ln_q0).exp();
            let x = normal_abs_at(s, q);
            if x.is_finite() && x > t.xs[t.xs.len() - 1] && t.xs.len() < MAX_KNOTS {
                t.xs.push(x);
                t.ls.push(l);
            }
        }
        let xl = t.xs[t.xs.len() - 1];
        t.beta = normal_hazard_scale(s, xl).max(min_beta);
        t
    }

    /// The tail made no lighter than a two-sided normal tail of `|z|` at scale `s` (> 0): at
    /// each level of the table the larger of the two values, beyond the last level the larger
    /// exponential scale (the normal hazard's `s^2 / x` there). For a statistic in units of a
    /// model's own scale whose held-out sample says little (a warm-up duration model's held-out
    /// rows mostly repeat the value it was fitted on, |z| 0), so that an honest model scale is
    /// not overruled by a calibration sample of in-sample fits.
    pub(crate) fn at_least_normal(&self, s: f64) -> Tail {
        if !(s.is_finite() && s > 0.0) {
            return self.clone();
        }
        let mut xs = vec![self.xs[0].min(0.0)];
        let mut ls = vec![0.0];
        for &level in &LEVELS {
            let l = level.ln();
            let x = self.inverse(l).max(normal_abs_at(s, level));
            if x.is_finite() && x > xs[xs.len() - 1] {
                xs.push(x);
                ls.push(l);
            }
        }
        let xl = xs[xs.len() - 1];
        let beta = self.beta.max(normal_hazard_scale(s, xl));
        Tail { xs, ls, beta }
    }

    /// Lowers the survival at the last knot and beyond by `nats` (> 0): from the knot before
    /// it to the last one the survival falls linearly to the lowered value, beyond it the
    /// exponential tail keeps its scale. Surprises from the last knot on grow by `nats`, so a
    /// value there reaches a threshold `nats` stricter at the level it reached the unraised
    /// one. A tail of one knot (no table) is left as it is.
    pub(crate) fn lower_far_tail(&mut self, nats: f64) {
        let last = self.xs.len() - 1;
        if last == 0 || !(nats.is_finite() && nats > 0.0) {
            return;
        }
        self.ls[last] -= nats;
    }
    /// Caps the scale of the exponential tail beyond the last knot at `b` (> 0).
    pub(crate) fn cap_beta(&mut self, b: f64) {
        self.beta = self.beta.min(b);
    }

    /// `ln P(X >= x)`, in (-inf, 0]; 0 at or below the minimum.
    pub(crate) fn ln_survival(&self, x: f64) -> f64 {
        if x.is_nan() {
            return 0.0;
        }
        let i = self.xs.partition_point(|&k| k < x);
        if i == 0 {
            return 0.0;
        }
        let last = self.xs.len() - 1;
        if i > last {
            return self.ls[last] - (x - self.xs[last]) / self.beta;
        }
        let (x0, x1) = (self.xs[i - 1], self.xs[i]);
        let t = (x - x0) / (x1 - x0);
        self.ls[i - 1] + t * (self.ls[i] - self.ls[i - 1])
    }

    /// The surprise `-ln P(X >= x)`, >= 0.
    pub(crate) fn surprise(&self, x: f64) -> f64 {
        -self.ln_survival(x)
    }

    /// The smallest `x` with `ln P(X >= x) <= ln_p` (the inverse of [`ln_survival`]).
    pub(crate) fn inverse(&self, ln_p: f64) -> f64 {
        let last = self.xs.len() - 1;
        if ln_p >= 0.0 {
            return self.xs[0];
        }
        if ln_p <= self.ls[last] {
            return self.xs[last] + (self.ls[last] - ln_p) * self.beta;
        }
        let i = self.ls.partition_point(|&l| l > ln_p);
        let (l0, l1) = (self.ls[i - 1], self.ls[i]);
        let t = if l1 < l0 { (l0 - ln_p) / (l0 - l1) } else { 1.0 };
        self.xs[i - 1] + t * (self.xs[i] - self.xs[i - 1])
    }

    /// Structural validation of decoded bytes.
    pub(crate) fn validate(&self, what: &str) -> CoreResult<()> {
        let n = self.xs.len();
        let ok = (1..=MAX_KNOTS).contains(&n)
            && self.ls.len() == n
            && self.ls[0] == 0.0
            && self.xs.iter().all(|x| x.is_finite())
            && self.ls.iter().all(|l| l.is_finite() && *l <= 0.0)
            && self.xs.windows(2).all(|w| w[0] <= w[1])
            && self.ls.windows(2).all(|w| w[0] > w[1])
            && self.beta.is_finite()
            && self.beta > 0.0;
        if ok {
            Ok(())
        } else {
            Err(CoreError::corrupt(format!("calibration table of {what} is malformed")))
        }
    }
}
