//! Brute-force reference of every feature, written straight from the definitions in
//! `FEATURE_NAMES`'s table: each row re-collects its windows from `s[..=t]` and recomputes
//! everything with two-pass formulas. Slow and obviously right; the kernel is tested against it.

use super::col::*;
use super::params::{US_PER_DAY, US_PER_HOUR};
use super::{FeatureParams, Observation, NUM_FEATURES};

const DAY: f64 = US_PER_DAY as f64;

/// Indices `i <= t` with `ts[i]` in `(ts[t] - span, ts[t]]`.
fn window(s: &[Observation], t: usize, span: i64) -> Vec<usize> {
    (0..=t).filter(|&i| s[i].ts > s[t].ts - span).collect()
}

fn values(s: &[Observation], idx: &[usize]) -> Vec<f64> {
    idx.iter().map(|&i| s[i].value).collect()
}

/// Differences of consecutive observations that are both in the window.
fn diffs(s: &[Observation], idx: &[usize]) -> Vec<f64> {
    idx.windows(2).map(|p| s[p[1]].value - s[p[0]].value).collect()
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn std(v: &[f64]) -> Option<f64> {
    let m = mean(v)?;
    (v.len() >= 2).then(|| (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
}

fn quantile(v: &[f64], q: f64) -> Option<f64> {
    let mut a = v.to_vec();
    a.sort_by(f64::total_cmp);
    if a.is_empty() {
        return None;
    }
    let pos = q * (a.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    Some(if i + 1 < a.len() { a[i] + frac * (a[i + 1] - a[i]) } else { a[i] })
}

fn slope(s: &[Observation], idx: &[usize], t: usize) -> Option<f64> {
    if idx.len() < 3 {
        return None;
    }
    let u: Vec<f64> = idx.iter().map(|&i| (s[i].ts - s[t].ts) as f64 / DAY).collect();
    let y = values(s, idx);
    let (mu, my) = (mean(&u)?, mean(&y)?);
    let sxy: f64 = u.iter().zip(&y).map(|(a, b)| (a - mu) * (b - my)).sum();
    let sxx: f64 = u.iter().map(|a| (a - mu).powi(2)).sum();
    Some(sxy / sxx)
}

/// Value of the last observation at or before `T - offset`, if inside `(T - offset - width, ..]`.
fn as_of(s: &[Observation], t: usize, offset: i64, width: i64) -> Option<f64> {
    let target = s[t].ts - offset;
    let i = (0..=t).rev().find(|&i| s[i].ts <= target)?;
    (s[i].ts > target - width).then_some(s[i].value)
}

/// All features of row `t` from the definitions.
pub(super) fn reference_row(s: &[Observation], t: usize, p: &FeatureParams) -> [Option<f64>; NUM_FEATURES] {
    let (o, x, ts) = (&s[t], s[t].value, s[t].ts);
    let per = p.period_us;
    let mut v = [None; NUM_FEATURES];

    let w = window(s, t, p.stat_window_us);
    let wv = values(s, &w);
    let all_equal = |v: &[f64]| v.iter().all(|a| *a == v[0]);
    let flat = all_equal(&wv);
    v[MEAN] = mean(&wv);
    v[STD] = std(&wv);
    v[MIN] = wv.iter().copied().reduce(f64::min);
    v[MAX] = wv.iter().copied().reduce(f64::max);
    v[MEDIAN] = quantile(&wv, 0.5);
    v[Q25] = quantile(&wv, 0.25);
    v[Q75] = quantile(&wv, 0.75);
    let b = if flat && wv.len() >= 3 { Some(0.0) } else { slope(s, &w, t) };
    v[TREND_SLOPE] = b;
    v[TREND_DIRECTION] = b.map(|b| {
        let tol = p.trend_dead_band * v[MEAN].map_or(0.0, f64::abs);
        if b > tol { 1.0 } else if b < -tol { -1.0 } else { 0.0 }
    });
    let wd = diffs(s, &w);
    v[VOLATILITY] = if wd.len() >= 2 && all_equal(&wd) { Some(0.0) } else { std(&wd) };
    v[MOMENTUM] = as_of(s, t, p.stat_window_us, p.stat_window_us).map(|a| x - a);
    v[DROP_RATE] = (w.len() >= 2).then(|| wd.iter().map(|d| (-d).max(0.0)).sum::<f64>() / ((ts - s[w[0]].ts) as f64 / DAY));

    v[HOUR_OF_DAY] = Some(o.hour_of_day as f64);
    v[DAY_OF_WEEK] = Some(o.day_of_week as f64);
    v[IS_WEEKEND] = Some(if o.day_of_week >= 6 { 1.0 } else { 0.0 });
    v[DAY_OF_MONTH] = Some(o.day_of_month as f64);

    let w7 = window(s, t, 7 * per);
    let w7v = values(s, &w7);
    let d7 = diffs(s, &w7);
    let first7 = w7[0];
    let last_change = w7.windows(2).rev().find(|p| s[p[1]].value != s[p[0]].value).map(|p| p[1]);
    let start = last_change.unwrap_or(first7);
    v[DAYS_SINCE_CHANGE] = (w7.len() >= 2).then(|| (ts - s[start].ts) as f64 / DAY);
    let changes = d7.iter().filter(|d| **d != 0.0).count();
    v[CHANGE_FREQUENCY] = (w7.len() >= 2).then(|| changes as f64 / ((ts - s[first7].ts) as f64 / DAY));
    v[RUN_LENGTH] = Some(w7.iter().filter(|&&i| i >= start).count() as f64);
    let m7 = mean(&w7v);
    v[HOURS_SINCE_JUMP] = (w7.len() >= 4).then(|| {
        let abs: Vec<f64> = d7.iter().map(|d| d.abs()).collect();
        let thr = (p.jump_factor * quantile(&abs, 0.5).unwrap_or(0.0)).max(p.jump_min_relative * m7.map_or(0.0, f64::abs));
        let jump = w7.windows(2).rev().find(|q| s[q[1]].value - s[q[0]].value > thr).map(|q| q[1]);
        (ts - s[jump.unwrap_or(first7)].ts) as f64 / US_PER_HOUR as f64
    });

    v[LAG_1] = as_of(s, t, per, per);
    v[LAG_7] = as_of(s, t, 7 * per, per);
    v[LAG_30] = as_of(s, t, 30 * per, per);
    v[ROLLING_MEAN_7] = m7;
    v[ROLLING_STD_7] = std(&w7v);
    let w30v = values(s, &window(s, t, 30 * per));
    v[ROLLING_MEAN_30] = mean(&w30v);
    v[ROLLING_STD_30] = std(&w30v);
    v[ZSCORE_7] = match (m7, v[ROLLING_STD_7]) {
        (Some(m), Some(sd)) if sd > 0.0 && !all_equal(&w7v) => Some((x - m) / sd),
        _ => None,
    };
    v[DIFF_LAG_1] = v[LAG_1].map(|l| x - l);
    let same_hour: Vec<f64> = (0..t)
        .filter(|&i| s[i].ts > ts - per * p.seasonal_periods as i64 && s[i].hour_of_day == o.hour_of_day)
        .map(|i| s[i].value)
        .collect();
    v[SEASONAL_ZSCORE] = match (mean(&same_hour), std(&same_hour)) {
        (Some(m), Some(sd)) if same_hour.len() >= 3 && sd > 0.0 && !all_equal(&same_hour) => Some((x - m) / sd),
        _ => None,
    };
    v
}
