//! Small numeric helpers of the detector: the negative-binomial log-probability (statrs) and
//! the local calendar of a row (quantiles and robust scales are in `crate::stats`).

use crate::features::{col, NUM_FEATURES};

pub(crate) use crate::stats::{median, quantile, robust_sd};
pub(crate) use crate::time::{DAY_US, HOUR_US};

/// ln P(X = k) for a negative binomial with mean `mu` and variance `mu + alpha mu^2`
/// (Poisson when alpha is 0), from statrs' distributions. `k` is rounded and clamped at 0.
pub(crate) fn nb_log_pmf(k: f64, mu: f64, alpha: f64) -> f64 {
    use statrs::distribution::{Discrete, NegativeBinomial, Poisson};
    let k = k.round().max(0.0) as u64;
    let mu = mu.max(1e-9);
    if alpha < 1e-8 {
        return Poisson::new(mu).map(|d| d.ln_pmf(k)).unwrap_or(f64::NAN);
    }
    // statrs' parameters: r successes with success probability p, mean r (1 - p) / p.
    let r = 1.0 / alpha;
    NegativeBinomial::new(r, r / (r + mu)).map(|d| d.ln_pmf(k)).unwrap_or(f64::NAN)
}

/// Local calendar position of a row: fractional local hour (0..24), weekend flag, local day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cal {
    pub hour: f64,
    pub weekend: bool,
    pub day: i64,
}

/// The row's local calendar. The local hour and day of week come from the stored features
/// (the SQL layer computes them in the database's time zone), minutes from the UTC timestamp
/// (exact for whole-hour offsets); the local day is derived from the implied offset. Without
/// stored calendar fields, UTC.
pub(crate) fn calendar(ts: i64, f: &[Option<f64>; NUM_FEATURES]) -> Cal {
    let utc_hour = ts.rem_euclid(DAY_US) / HOUR_US;
    let minute = ts.rem_euclid(HOUR_US) as f64 / 60e6;
    let local_hour = match f[col::HOUR_OF_DAY] {
        Some(h) if (0.0..24.0).contains(&h) => h.floor() as i64,
        _ => utc_hour,
    };
    let mut offset = (local_hour - utc_hour).rem_euclid(24);
    if offset > 12 {
        offset -= 24;
    }
    let day = (ts + offset * HOUR_US).div_euclid(DAY_US);
    let weekend = match (f[col::IS_WEEKEND], f[col::DAY_OF_WEEK]) {
        (_, Some(d)) if (1.0..=7.0).contains(&d) => d >= 6.0,
        (Some(w), _) => w >= 0.5,
        // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Monday
        _ => (day + 3).rem_euclid(7) >= 5,
    };
    Cal { hour: local_hour as f64 + minute / 60.0, weekend, day }
}

/// Cells of a daily profile: 24 hours for weekdays, then 24 for weekends.
pub(crate) const CELLS: usize = 48;

/// The two profile cells around `cal` and their interpolation weights (cell centres sit at
/// half past each hour; linear in between, wrapping at midnight).
pub(crate) fn cells(cal: Cal) -> [(usize, f64); 2] {
    let p = cal.hour - 0.5;
    let fl = p.floor();
    let w = p - fl;
    let h0 = (fl as i64).rem_euclid(24) as usize;
    let h1 = (h0 + 1) % 24;
    let base = if cal.weekend { 24 } else { 0 };
    [(base + h0, 1.0 - w), (base + h1, w)]
}
