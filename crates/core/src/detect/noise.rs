//! Per-entity noise models, one shape per [`MetricKind`], fitted on the rows a mask selects.
//!
//! Each model answers "what is normal for this row, and how much does normal vary", using
//! the physics of its kind of metric rather than generic rolling statistics:
//! - `Count`: an hour x (weekday | weekend) mean profile, interpolated between hour centres,
//!   and a negative-binomial dispersion `alpha` (variance `mu + alpha mu^2`): counts are
//!   Poisson-like with over-dispersion from occupancy.
//! - `Level`: stock should change by minus the recorded consumption; the residual's scale,
//!   the refill jump size, where refills land, the usual minimum, and an hourly consumption
//!   profile used where the consumption value is missing.
//! - `Duration`: the log duration's centre and the log amount refilled (durations grow with
//!   the amount); its scale is shrunk toward the metric type's pooled scale because an entity
//!   refills only a few times in a training span.
//! - `Generic`: an hourly offset around the trailing 1-day median and the residual's scale.
//!
//! Over 400 lines on purpose: one noise model per metric kind, sharing the residual-scale helpers below.

use serde::{Deserialize, Serialize};

use super::mathx::{cells, median, quantile, robust_sd, Cal, CELLS};
use super::SeriesRows;

/// Prior weight (rows) pulling a weekend cell toward the weekday shape scaled to the weekend
/// level, and the weekday cells toward the overall level: two training weeks give only 8-16
/// weekend rows per hour.
const PRIOR_ROWS: f64 = 4.0;
/// Prior weight (refills) of the pooled scale in an entity's duration scale.
const DURATION_PRIOR: f64 = 5.0;

/// Model-level constants estimated over all entities before the per-entity fits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pooled {
    /// Slope of log duration on log amount refilled (0 when unknown).
    pub dur_slope: f64,
    /// Pooled robust scale of log duration around each entity's centre.
    pub dur_sigma: f64,
}

/// The noise model of one entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Noise {
    Count { profile: Vec<f32>, alpha: f64, rho2: f64 },
    Level { profile: Vec<f32>, unit: f64, jump: f64, low: f64, depl_unit: f64, land: f64, land_unit: f64, meas: f64, drift: f64, low_hours: f64 },
    Duration { center: f64, amount_center: Option<f64>, unit: f64, events: bool },
    Generic { profile: Vec<f32>, unit: f64, diff_unit: f64, run_q: f64 },
}

/// Weighted hourly means of `(cal, value)` pairs with the priors described at [`PRIOR_ROWS`];
/// cells nobody filled take the shape of the other day type, or the overall mean.
/// `multiplicative`: weekends relate to weekdays by a factor (counts, consumption) rather
/// than by an offset (deviations around a baseline, whose means sit near 0).
pub(crate) fn fit_profile(points: impl Iterator<Item = (Cal, f64)>, multiplicative: bool) -> Vec<f32> {
    fit_profile_with(points, multiplicative, false, PRIOR_ROWS)
}

/// [`fit_profile`], with `local`: a weekday cell is pulled toward the mean of its two
/// neighbouring hours instead of the overall level. Counts use it (`DetectorParams::
/// count_hour_prior`): pulled toward the day's level, an hour that is always 0 (night, a lunch
/// break) was expected to see a sixth of the day's usual rate or more, so every normal quiet
/// night became an improbable run of zeros in held-out days and set the tails that real
/// outages and stuck readings must beat.
/// `prior`: the priors' weight in rows ([`PRIOR_ROWS`]; counts: [`count_prior_rows`]).
pub(crate) fn fit_profile_with(points: impl Iterator<Item = (Cal, f64)>, multiplicative: bool, local: bool, prior: f64) -> Vec<f32> {
    let mut sum = [0.0f64; CELLS];
    let mut w = [0.0f64; CELLS];
    for (cal, x) in points {
        for (c, wc) in cells(cal) {
            sum[c] += wc * x;
            w[c] += wc;
        }
    }
    let mean_of = |r: std::ops::Range<usize>| {
        let (s, n): (f64, f64) = r.map(|c| (sum[c], w[c])).fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        (n > 0.0).then(|| s / n)
    };
    let all = mean_of(0..CELLS).unwrap_or(0.0);
    let wd_mean = mean_of(0..24).unwrap_or(all);
    let we_mean = mean_of(24..CELLS).unwrap_or(wd_mean);
    // maps a weekday value to the weekend level and back
    let ratio = if multiplicative && wd_mean.abs() > 1e-12 { (we_mean / wd_mean).clamp(0.01, 100.0) } else { 1.0 };
    let to_weekend = |v: f64| if multiplicative { v * ratio } else { v + we_mean - wd_mean };
    let to_weekday = |v: f64| if multiplicative { v / ratio } else { v - we_mean + wd_mean };
    let mut out = [0.0f64; CELLS];
    for h in 0..24 {
        let (a, b) = ((h + 23) % 24, (h + 1) % 24);
        let near = if local && w[a] + w[b] > 0.0 { (sum[a] + sum[b]) / (w[a] + w[b]) } else { wd_mean };
        let own = (sum[h] + prior * near) / (w[h] + prior);
        let c = 24 + h;
        out[h] = if w[h] > 0.0 || w[c] == 0.0 { own } else { to_weekday(sum[c] / w[c]) };
    }
    for h in 0..24 {
        let c = 24 + h;
        out[c] = (sum[c] + prior * to_weekend(out[h])) / (w[c] + prior);
    }
    out.iter().map(|&v| v as f32).collect()
}

pub(crate) fn profile_f64(p: &[f32], cal: Cal) -> f64 {
    let [(a, wa), (b, wb)] = cells(cal);
    f64::from(p.get(a).copied().unwrap_or(0.0)) * wa + f64::from(p.get(b).copied().unwrap_or(0.0)) * wb
}

fn aux_at(s: &SeriesRows, i: usize) -> Option<f64> {
    s.aux.as_ref().and_then(|a| a.get(i).copied().flatten()).filter(|v| v.is_finite())
}

/// Pearson residual beyond which a training row is left out of the count and generic fits'
/// second pass: anomalies nobody labelled (a spike, an outage) must not move the profile or
/// inflate the dispersion (a trimmed estimate; beyond 5 scales a normal row is rarer than
/// one in 10^5 for a Gaussian and about one in 10^3 for the heaviest negative binomial the
/// fit allows).
const TRIM_Z: f64 = 5.0;

/// Count: profile, dispersion (method of moments, clamped to [0, 5]) and day-level variance,
/// fitted twice: the second time without the rows the first fit puts beyond [`TRIM_Z`].
/// `hour_prior` (`DetectorParams::count_hour_prior`): each hour's cell is pulled toward its
/// neighbouring hours, once the span holds [`LOCAL_PRIOR_DAYS`] local days, and no cell expects
/// less than [`COUNT_RATE_FLOOR`] of the series' mean; false is the profile of models stored
/// before version 8 (pulled toward the day's level, no floor). `refine`: the profile is
/// refitted to its interpolation ([`refine_profile`]; the entity's [`count_refine`]).
pub(crate) fn fit_count(s: &SeriesRows, cals: &[Cal], mask: &[bool], hour_prior: bool, refine: bool) -> Noise {
    let local = local_prior(s, cals, mask, hour_prior);
    let prior = count_prior_rows(&s.ts);
    let first = fit_count_once(s, cals, mask, local, hour_prior, refine, prior);
    let Noise::Count { profile, alpha, .. } = &first else { return first };
    let mut trimmed = mask.to_vec();
    let mut dropped = 0usize;
    for i in (0..s.len()).filter(|&i| mask[i]) {
        let mu = profile_f64(profile, cals[i]).max(1e-3);
        // +1: a count of 1 where 0.01 is usual is not a reason to trim
        let sd = (mu + alpha * mu * mu).sqrt() + 1.0;
        if (s.value[i] - mu).abs() > TRIM_Z * sd {
            trimmed[i] = false;
            dropped += 1;
        }
    }
    let kept = trimmed.iter().filter(|m| **m).count();
    // nothing to trim, or so much that the "outliers" are the series' own behaviour
    if dropped == 0 || dropped * 50 > kept {
        return first;
    }
    fit_count_once(s, cals, &trimmed, local, hour_prior, refine, prior)
}

/// Whether a count profile on `mask` is pulled toward neighbouring hours: with
/// `hour_prior`, once the span holds [`LOCAL_PRIOR_DAYS`] local days (a day-one model keeps the
/// day's level as its prior).
fn local_prior(s: &SeriesRows, cals: &[Cal], mask: &[bool], hour_prior: bool) -> bool {
    hour_prior && local_days(s, cals, mask) >= LOCAL_PRIOR_DAYS
}

/// The local days the rows `mask` selects span.
fn local_days(s: &SeriesRows, cals: &[Cal], mask: &[bool]) -> usize {
    (0..s.len()).filter(|&i| mask[i]).map(|i| cals[i].day).collect::<std::collections::BTreeSet<i64>>().len()
}

/// The entity's choice of count profile ([`refine_wins`] on its training rows, with
/// `DetectorParams::count_hour_prior` only: off, profiles are the weighted means of models
/// before it), made once so
/// that its held-out fold models and its final model are the same kind of model (calibration
/// pools the folds' rows, scoring reads the final model's).
pub(crate) fn count_refine(s: &SeriesRows, cals: &[Cal], mask: &[bool], hour_prior: bool) -> bool {
    hour_prior && refine_wins(s, cals, mask, local_prior(s, cals, mask, hour_prior))
}

/// The count profile's prior weight in rows: one hour of rows at the series' median step
/// ([`PRIOR_ROWS`] rows of 15 minutes), at most [`PRIOR_ROWS`]. Four rows against about 10 per
/// cell of an hourly series over two weeks' weekdays pulled its quiet hours far toward the
/// day's level (custody nights expected at three times the entity's rate or more); one hour is
/// the 15-minute series' weight. Finer steps keep 4 rows (12 measured no better on 5-minute
/// series: `bench/results/quality_profprior.txt`).
pub(crate) fn count_prior_rows(ts: &[i64]) -> f64 {
    median_step(ts).map_or(PRIOR_ROWS, |step| (PRIOR_ROWS * PRIOR_STEP_US / step).min(PRIOR_ROWS))
}

/// The median step (µs) between consecutive rows at `ts` (strictly increasing, as
/// `fit::check_series` demands); None for fewer than two rows.
fn median_step(ts: &[i64]) -> Option<f64> {
    let mut d: Vec<f64> = ts.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    (!d.is_empty()).then(|| median(&mut d))
}

/// The step (µs) at which [`PRIOR_ROWS`] rows are the count profile's prior.
const PRIOR_STEP_US: f64 = 900e6;

/// Fewest local days of training rows for the neighbouring-hours prior of a count profile.
const LOCAL_PRIOR_DAYS: usize = 3;

/// Smallest expected count of a profile cell, as a share of the series' mean count (with the
/// neighbouring-hours prior: an hour never seen busy must not expect almost nothing).
const COUNT_RATE_FLOOR: f64 = 0.01;

/// `prior`: the profile's prior weight in rows ([`count_prior_rows`]).
fn fit_count_once(s: &SeriesRows, cals: &[Cal], mask: &[bool], local: bool, floor: bool, refine: bool, prior: f64) -> Noise {
    let idx = || (0..s.len()).filter(|&i| mask[i]);
    let mut profile = fit_profile_with(idx().map(|i| (cals[i], s.value[i])), true, local, prior);
    if refine {
        refine_profile(&mut profile, idx().map(|i| (cals[i], s.value[i])));
    }
    if floor {
        // an hour or slot never seen busy still expects a little ([`COUNT_RATE_FLOOR`] of the
        // series' mean): one count there is unusual, not impossible
        let (sum, n) = idx().fold((0.0, 0usize), |a, i| (a.0 + s.value[i].max(0.0), a.1 + 1));
        let fl = (COUNT_RATE_FLOOR * sum / n.max(1) as f64) as f32;
        profile.iter_mut().for_each(|v| *v = v.max(fl));
    }
    let (mut num, mut den) = (0.0, 0.0);
    for i in idx() {
        let mu = profile_f64(&profile, cals[i]).max(1e-3);
        let d = s.value[i] - mu;
        num += d * d - mu;
        den += mu * mu;
    }
    let alpha = if den > 0.0 { (num / den).clamp(0.0, 5.0) } else { 0.0 };
    // day-level factor (occupancy): the variance of a day's total beyond what independent
    // rows explain, relative to the squared expected total; it correlates all rows of a day,
    // so it matters for sums over hours, not for single rows
    let mut days: std::collections::BTreeMap<i64, (f64, f64, f64, usize)> = Default::default();
    for i in idx() {
        let mu = profile_f64(&profile, cals[i]).max(1e-3);
        let d = days.entry(cals[i].day).or_default();
        *d = (d.0 + s.value[i], d.1 + mu, d.2 + mu + alpha * mu * mu, d.3 + 1);
    }
    let (mut num, mut den) = (0.0, 0.0);
    let full = days.values().map(|d| d.3).max().unwrap_or(0);
    for &(obs, exp, var, _) in days.values().filter(|d| 2 * d.3 >= full) {
        num += (obs - exp).powi(2) - var;
        den += exp * exp;
    }
    let rho2 = if den > 0.0 { (num / den).clamp(0.0, 0.25) } else { 0.0 };
    Noise::Count { profile, alpha, rho2 }
}

/// Poisson deviance of the rows `mask` selects under `profile` (expected counts floored at
/// 1e-3, as scoring floors them).
fn count_deviance(s: &SeriesRows, cals: &[Cal], mask: &[bool], profile: &[f32]) -> f64 {
    (0..s.len())
        .filter(|&i| mask[i])
        .map(|i| {
            let mu = profile_f64(profile, cals[i]).max(1e-3);
            let x = s.value[i].max(0.0);
            2.0 * (if x > 0.0 { x * (x / mu).ln() } else { 0.0 } - (x - mu))
        })
        .sum()
}

/// Whether the refitted profile ([`refine_profile`]) predicts held-out days better than the
/// weighted-mean one: each is fitted on the odd local days and measured on the even ones and
/// the other way round (Poisson deviance). The data decide, not the metric type's name: a
/// count with sharp working hours gains, a smooth one or a span too short to pin its edges
/// (fewer than [`LOCAL_PRIOR_DAYS`] local days: never) keeps the weighted means.
pub(crate) fn refine_wins(s: &SeriesRows, cals: &[Cal], mask: &[bool], local: bool) -> bool {
    if local_days(s, cals, mask) < LOCAL_PRIOR_DAYS {
        return false;
    }
    let (mut plain, mut refined) = (0.0, 0.0);
    let prior = count_prior_rows(&s.ts);
    for k in 0..2 {
        let fit: Vec<bool> = (0..s.len()).map(|i| mask[i] && cals[i].day.rem_euclid(2) == k).collect();
        let test: Vec<bool> = (0..s.len()).map(|i| mask[i] && cals[i].day.rem_euclid(2) != k).collect();
        let pts = || (0..s.len()).filter(|&i| fit[i]).map(|i| (cals[i], s.value[i]));
        let p0 = fit_profile_with(pts(), true, local, prior);
        let mut p1 = p0.clone();
        refine_profile(&mut p1, pts());
        plain += count_deviance(s, cals, &test, &p0);
        refined += count_deviance(s, cals, &test, &p1);
    }
    refined < plain
}

/// Rounds of [`refine_profile`].
const REFINE_ROUNDS: usize = 40;

/// Refits a profile so that its interpolated values ([`profile_f64`]) match the rows, rather
/// than being weighted means of the rows around each cell centre: a weighted mean smooths every
/// sharp edge of a day (a shift starting at 07:30, a lunch hour without any use) over two hours,
/// so the hour before an edge is expected too low, the hour after it too high, and a quiet hour
/// next to a busy one expects a share of the busy one's rate. Least squares of the rows on the
/// interpolated profile, regularised toward the weighted-mean profile with [`PRIOR_ROWS`] per
/// cell (rows, at any step: this prior weighs the smooth profile against the interpolation's
/// fit, not the day's level against a cell, and one hour of rows instead, 1 at hourly steps,
/// measured worse on `hourly` with `count_hour_prior` on: TUNE F1 0.890 -> 0.908 but fresh
/// seeds 303 / 404 / 505 0.878 / 0.923 / 0.831 -> 0.872 / 0.896 / 0.815), by majorise-minimise steps (each row's two weights sum to 1, so `sum_i w_ic + prior`
/// bounds the curvature: every step lowers the objective); a cell stays at or above half an
/// event over its rows (or its weighted mean, when lower).
pub(crate) fn refine_profile(profile: &mut [f32], points: impl Iterator<Item = (Cal, f64)> + Clone) {
    let prior: Vec<f64> = profile.iter().map(|&v| f64::from(v)).collect();
    let mut p = prior.clone();
    let mut wsum = [0.0f64; CELLS];
    for (cal, _) in points.clone() {
        for (c, w) in cells(cal) {
            wsum[c] += w;
        }
    }
    let pts: Vec<([(usize, f64); 2], f64)> = points.map(|(cal, x)| (cells(cal), x)).collect();
    // a cell's rows cannot rule out a rate of about half an event over them (the posterior mean
    // of a Poisson rate after no event under Jeffreys' prior): a refit driven to 0 made every
    // count at a working-hours edge, and every repeat of it, look impossible in held-out days
    let floor: Vec<f64> = (0..CELLS).map(|c| (0.5 / (wsum[c] + PRIOR_ROWS)).min(prior[c])).collect();
    for _ in 0..REFINE_ROUNDS {
        let mut g = [0.0f64; CELLS];
        for (cw, x) in &pts {
            let r = x - (p[cw[0].0] * cw[0].1 + p[cw[1].0] * cw[1].1);
            g[cw[0].0] += cw[0].1 * r;
            g[cw[1].0] += cw[1].1 * r;
        }
        for c in 0..CELLS {
            p[c] = (p[c] + (g[c] - PRIOR_ROWS * (p[c] - prior[c])) / (wsum[c] + PRIOR_ROWS)).max(floor[c]);
        }
    }
    profile.iter_mut().zip(&p).for_each(|(v, x)| *v = *x as f32);
}

/// Level (stock): see the module doc. `jump` separates refills from noise: 10 % of the
/// stock's usual range, and at least 6 residual scales.
/// `min_landings`: refills that must have been seen before the usual minimum and landing level
/// mean anything (2 for a warm-up span shorter than a refill cycle or two, else 0). It must be
/// the same for the held-out folds and the final model, or calibration and scoring disagree.
/// `skip_unrecorded`: `DetectorParams::stock_skip_unrecorded` (rows without their recorded
/// consumption leave the residuals' scale, drift and reading noise, as they leave scoring).
pub(crate) fn fit_level(s: &SeriesRows, cals: &[Cal], mask: &[bool], min_landings: usize, skip_unrecorded: bool) -> Noise {
    let adjacent = adjacent_rows(&s.ts);
    let rows: Vec<usize> = (1..s.len()).filter(|&i| mask[i] && mask[i - 1] && adjacent[i]).collect();
    let mut levels: Vec<f64> = (0..s.len()).filter(|&i| mask[i]).map(|i| s.value[i]).collect();
    let q01 = quantile(&mut levels, 0.01);
    let q99 = quantile(&mut levels, 0.99);
    let range = (q99 - q01).abs();
    let tiny = 1e-9 * q99.abs().max(1.0);
    let jump0 = (0.1 * range).max(tiny);
    let raw = |i: usize| s.value[i] - s.value[i - 1] + aux_at(s, i).unwrap_or(0.0);
    let refill: Vec<bool> = rows.iter().map(|&i| raw(i) > jump0).collect();
    // consumption per row: recorded, or what the stock lost where it is missing
    let cons = |i: usize| aux_at(s, i).unwrap_or(s.value[i - 1] - s.value[i]);
    let profile = fit_profile(rows.iter().zip(&refill).filter(|(_, r)| !**r).map(|(&i, _)| (cals[i], cons(i))), true);
    let consumption_of = |i: usize| aux_at(s, i).unwrap_or_else(|| profile_f64(&profile, cals[i]));
    let mut resid: Vec<f64> = Vec::with_capacity(rows.len());
    let mut at: Vec<usize> = Vec::with_capacity(rows.len());
    let mut mean_cons = 0.0;
    let skip_lost = skip_unrecorded && super::derive::aux_recorded(s);
    for (&i, &r) in rows.iter().zip(&refill) {
        let c = consumption_of(i);
        mean_cons += c.max(0.0);
        if !r && !(skip_lost && aux_at(s, i).is_none()) {
            resid.push(s.value[i] - s.value[i - 1] + c);
            at.push(i);
        }
    }
    mean_cons /= rows.len().max(1) as f64;
    let (drift, meas) = residual_structure(&resid, &at);
    let rs = robust_sd(&mut resid);
    // the per-row scale of the part that accumulates (consumption not recorded one for one);
    // the counting noise of the readings is `meas` and does not accumulate over a horizon
    let walk = (rs * rs - 2.0 * meas * meas).max(0.0).sqrt().max(0.25 * rs);
    let unit = walk.max(0.1 * mean_cons).max(1e-6 * range).max(tiny);
    let mut landings: Vec<f64> = rows.iter().zip(&refill).filter(|(_, r)| **r).map(|(&i, _)| s.value[i]).collect();
    // the usual minimum means something only after full refill cycles were seen: before that
    // (a warm-up span), only an empty stock counts as low: at most `EMPTY_SHARE` of the span's
    // range (a stock consumption can no longer draw down often keeps a fraction of a unit, and
    // a skipped refill left at 0.99 items must linger "low" as one left at 0 does)
    let low = if landings.len() >= min_landings { q01 } else { q01.min(EMPTY_SHARE * range) };
    // where refills land is known after two of them; before, a landing is never called short
    let (land, land_sd) = if landings.len() < min_landings {
        (low.min(q01), 0.0)
    } else if landings.is_empty() {
        (q99, 0.0)
    } else { (median(&mut landings.clone()), robust_sd(&mut landings)) };
    Noise::Level {
        profile,
        unit,
        jump: jump0.max(6.0 * unit),
        low,
        low_hours: low_run_hours(s, mask, low).max(MIN_LOW_HOURS),
        depl_unit: (16.0 * mean_cons).max(0.01 * range).max(unit),
        land,
        land_unit: land_sd.max(0.02 * land.abs()).max(unit),
        meas,
        drift,
    }
}

/// Share of a warm-up span's stock range (from 0) that counts as empty.
const EMPTY_SHARE: f64 = 0.02;

/// Shortest "longest time at or below the usual minimum" a stock model accepts: a training
/// span whose stock never lingered low must not make one low hour alarming.
const MIN_LOW_HOURS: f64 = 2.0;

/// The longest time (hours) the masked stock stayed at or below `low` in one stretch. A
/// skipped refill shows as stock lingering at its floor (often 0) far longer than normal
/// operation ever leaves it there, even when consumption stops with it and explains the
/// flat stock.
pub(crate) fn low_run_hours(s: &SeriesRows, mask: &[bool], low: f64) -> f64 {
    let mut best = 0.0f64;
    let mut start: Option<i64> = None;
    for i in 0..s.len() {
        if mask[i] && s.value[i] <= low {
            let a = *start.get_or_insert(s.ts[i]);
            best = best.max((s.ts[i] - a) as f64 / 3.6e9);
        } else {
            start = None;
        }
    }
    best
}

/// Whether each row follows its predecessor by about the series' usual step (at most 1.5
/// median steps). After a recording gap the stock change spans consumption nobody recorded in
/// the rows at hand: such a row says nothing about unexplained movements.
pub(crate) fn adjacent_rows(ts: &[i64]) -> Vec<bool> {
    let Some(step) = median_step(ts) else {
        return vec![false; ts.len()];
    };
    let mut out = vec![false; ts.len()];
    for i in 1..ts.len() {
        out[i] = ((ts[i] - ts[i - 1]) as f64) <= 1.5 * step;
    }
    out
}

/// Structure of a stock's residuals (stock change plus consumption, refills left out):
/// their drift (trimmed mean: shrinkage the records do not show) and the scale of counting
/// noise in the readings. Reading noise `m` makes consecutive residuals anti-correlated
/// (`r_i = w_i + m_i - m_(i-1)`: lag-1 covariance `-sd_m^2`), while real unrecorded movements
/// `w` accumulate. Values beyond 6 robust scales of the median are trimmed (anomalies nobody
/// labelled must not shift the fit). `at` holds the row index of each residual.
fn residual_structure(resid: &[f64], at: &[usize]) -> (f64, f64) {
    if resid.len() < 8 {
        return (0.0, 0.0);
    }
    let mut tmp = resid.to_vec();
    let med = median(&mut tmp);
    let rs = robust_sd(&mut tmp);
    if rs <= 0.0 {
        return (0.0, 0.0);
    }
    let keep = |r: f64| (r - med).abs() <= 6.0 * rs;
    let kept: Vec<f64> = resid.iter().copied().filter(|r| keep(*r)).collect();
    let mean = kept.iter().sum::<f64>() / kept.len().max(1) as f64;
    let var = kept.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / kept.len().max(1) as f64;
    let (mut c, mut n) = (0.0, 0usize);
    for k in 1..resid.len() {
        if at[k] == at[k - 1] + 1 && keep(resid[k]) && keep(resid[k - 1]) {
            c += (resid[k] - mean) * (resid[k - 1] - mean);
            n += 1;
        }
    }
    let cov1 = if n > 0 { c / n as f64 } else { 0.0 };
    let meas2 = (-cov1).clamp(0.0, var / 2.0);
    (mean, meas2.sqrt())
}

/// Whether row `i` of a duration series starts a new refill: a change of the held value, or
/// (with `events`, an event-valued series) any non-zero row. Row 0 counts: its value is
/// observed there first.
pub(crate) fn is_duration_event(s: &SeriesRows, i: usize, events: bool) -> bool {
    if events { s.value[i] > 0.0 } else { i == 0 || s.value[i] != s.value[i - 1] }
}

/// Log duration and log amount at each change of a duration series (a new refill), over the
/// masked rows. The amount is the aux (stock) jump at the same row, when positive.
/// With `events` (an event-valued series) every non-zero row is an event.
pub(crate) fn duration_events(s: &SeriesRows, mask: &[bool], events: bool) -> Vec<(f64, Option<f64>)> {
    (0..s.len())
        .filter(|&i| mask[i] && is_duration_event(s, i, events))
        .map(|i| {
            let amount = match (i > 0).then(|| (aux_at(s, i), aux_at(s, i - 1))) {
                Some((Some(a), Some(b))) if a > b => Some((a - b).ln()),
                _ => None,
            };
            (s.value[i].max(1e-9).ln(), amount)
        })
        .collect()
}

/// Duration: centre of log duration and log amount; scale shrunk toward the pooled one.
pub(crate) fn fit_duration(s: &SeriesRows, mask: &[bool], pooled: &Pooled, events: bool) -> Noise {
    let ev = duration_events(s, mask, events);
    let mut ld: Vec<f64> = ev.iter().map(|e| e.0).collect();
    if ld.is_empty() && !events {
        // no refill inside the mask: the durations still in force there
        ld = (0..s.len()).filter(|&i| mask[i]).map(|i| s.value[i].max(1e-9).ln()).collect();
    }
    let center = if ld.is_empty() { 0.0 } else { median(&mut ld) };
    let mut la: Vec<f64> = ev.iter().filter_map(|e| e.1).collect();
    let amount_center = (!la.is_empty()).then(|| median(&mut la));
    let mut res: Vec<f64> = ev.iter().map(|&(d, a)| d - center - slope_term(pooled.dur_slope, a, amount_center)).collect();
    let n = res.len() as f64;
    let own = robust_sd(&mut res);
    let sigma = pooled.dur_sigma.max(0.02);
    let unit = ((n * own * own + DURATION_PRIOR * sigma * sigma) / (n + DURATION_PRIOR)).sqrt().max(0.02);
    // the centre is itself estimated from n refills (one, the duration in force when the span
    // began, for an entity that did not refill in a day's span): a new refill deviates from it
    // by the refill noise plus the centre's error, sqrt(1 + 1/n) times the noise alone
    let unit = unit * (1.0 + 1.0 / n.max(1.0)).sqrt();
    Noise::Duration { center, amount_center, unit, events }
}

/// `b (ln a - centre)` when both are known, else 0.
pub(crate) fn slope_term(b: f64, la: Option<f64>, center: Option<f64>) -> f64 {
    match (la, center) {
        (Some(a), Some(c)) => b * (a - c),
        _ => 0.0,
    }
}

/// The pooled duration constants: the slope of log duration on log amount (least squares on
/// within-entity deviations, clamped to [0, 1]) and the robust scale of the residuals.
pub(crate) fn pool_durations(events: &[Vec<(f64, Option<f64>)>]) -> Pooled {
    let centred: Vec<Vec<(f64, Option<f64>)>> = events
        .iter()
        .map(|ev| {
            let mut d: Vec<f64> = ev.iter().map(|e| e.0).collect();
            let mut a: Vec<f64> = ev.iter().filter_map(|e| e.1).collect();
            let (cd, ca) = (median(&mut d), (!a.is_empty()).then(|| median(&mut a)));
            ev.iter().map(|&(x, y)| (x - cd, y.zip(ca).map(|(y, c)| y - c))).collect()
        })
        .collect();
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(d, a) in centred.iter().flatten() {
        if let Some(a) = a {
            sxy += a * d;
            sxx += a * a;
        }
    }
    let dur_slope = if sxx > 1e-6 { (sxy / sxx).clamp(0.0, 1.0) } else { 0.0 };
    // small-sample correction: deviations from an entity's own median understate its spread
    let mut res: Vec<f64> = centred
        .iter()
        .filter(|ev| ev.len() >= 2)
        .flat_map(|ev| {
            let k = (ev.len() as f64 / (ev.len() as f64 - 1.0)).sqrt();
            ev.iter().map(move |&(d, a)| k * (d - a.map_or(0.0, |a| dur_slope * a)))
        })
        .collect();
    // few refills seen (a day of history): the pooled scale leans on a prior instead of
    // collapsing to its floor (which made every later refill infinitely unusual in held-out
    // calibration, and no real shift could alert after it)
    let m = res.len() as f64;
    let own = robust_sd(&mut res);
    let dur_sigma = ((m * own * own + DUR_SIGMA_PRIOR_N * DUR_SIGMA_PRIOR * DUR_SIGMA_PRIOR) / (m + DUR_SIGMA_PRIOR_N)).sqrt();
    Pooled { dur_slope, dur_sigma: dur_sigma.max(0.02) }
}

/// Prior scale of log duration (about +-25 % between refills of one entity, typical of timed
/// operations) and its weight in residuals: it matters only while the metric type has seen
/// few refills in all (with 100 or more it moves the pooled scale by a few per cent).
const DUR_SIGMA_PRIOR: f64 = 0.25;
const DUR_SIGMA_PRIOR_N: f64 = 10.0;

/// Generic: hourly offsets around `base` (the trailing median), residual and difference
/// scales, and the 99th percentile of repeated-value run lengths. The profile is fitted
/// again without rows beyond [`TRIM_Z`] residual scales (unlabelled anomalies).
/// Degenerate spans (constant, two-valued, near-zero spread) get a floor scale: 5 % of the
/// span's central range, or 0.1 % of its level when it never moved, so that the first small
/// move of a flat series is not infinitely unusual (scores would saturate and rank nothing).
pub(crate) fn fit_generic(s: &SeriesRows, cals: &[Cal], mask: &[bool], base: &[f64]) -> Noise {
    let idx = || (0..s.len()).filter(|&i| mask[i]);
    let mut vals: Vec<f64> = idx().map(|i| s.value[i]).collect();
    let (q01, q99) = (quantile(&mut vals, 0.01), quantile(&mut vals, 0.99));
    let level = median(&mut vals.iter().map(|v| v.abs()).collect::<Vec<_>>()).max(1e-3);
    let range = if (q99 - q01).is_finite() { (q99 - q01).abs() } else { 0.0 };
    let floor = (1e-6 * level).max(0.05 * range).max(if range > 0.0 { 0.0 } else { 1e-3 * level });
    let mut profile = fit_profile(idx().map(|i| (cals[i], s.value[i] - base[i])), false);
    let resid = |p: &[f32], i: usize| s.value[i] - base[i] - profile_f64(p, cals[i]);
    // the scale: the MAD-based one, but at least what covers 90 % of the residuals (a
    // two-valued or mostly flat residual has MAD 0 or tiny while a tenth of its rows or more
    // move by the series' full step; the same as the MAD for Gaussian residuals)
    let scale = |e: &mut Vec<f64>| {
        let mad = robust_sd(e);
        let m = median(e);
        let mut a: Vec<f64> = e.iter().map(|v| (v - m).abs()).collect();
        mad.max(quantile(&mut a, 0.9) / 1.645).max(floor)
    };
    let mut e: Vec<f64> = idx().map(|i| resid(&profile, i)).collect();
    let mut unit = scale(&mut e);
    let keep: Vec<usize> = idx().filter(|&i| resid(&profile, i).abs() <= TRIM_Z * unit).collect();
    let dropped = idx().count() - keep.len();
    if dropped > 0 && dropped * 50 <= keep.len() {
        profile = fit_profile(keep.iter().map(|&i| (cals[i], s.value[i] - base[i])), false);
        let mut e: Vec<f64> = idx().map(|i| resid(&profile, i)).collect();
        unit = scale(&mut e);
    }
    let mut d: Vec<f64> = (1..s.len()).filter(|&i| mask[i] && mask[i - 1]).map(|i| s.value[i] - s.value[i - 1]).collect();
    let diff_unit = robust_sd(&mut d).max(0.1 * unit).max(floor);
    let mut runs: Vec<f64> = Vec::new();
    let mut run = 0.0;
    #[allow(clippy::needless_range_loop)] // the index also reads parallel arrays
    for i in 0..s.len() {
        run = if i > 0 && s.value[i] == s.value[i - 1] { run + 1.0 } else { 0.0 };
        if mask[i] {
            runs.push(run);
        }
    }
    let run_q = if runs.is_empty() { 1.0 } else { quantile(&mut runs, 0.99).max(1.0) };
    Noise::Generic { profile, unit, diff_unit, run_q }
}

impl Noise {
    /// Structural validation of decoded bytes: profile lengths and finite, positive scales.
    pub(crate) fn valid(&self) -> bool {
        let prof = |p: &[f32]| p.len() == CELLS && p.iter().all(|v| v.is_finite());
        let pos = |v: f64| v.is_finite() && v > 0.0;
        match self {
            Noise::Count { profile, alpha, rho2 } => prof(profile) && alpha.is_finite() && *alpha >= 0.0 && rho2.is_finite() && *rho2 >= 0.0,
            Noise::Level { profile, unit, jump, low, depl_unit, land, land_unit, meas, drift, low_hours } => {
                prof(profile) && pos(*unit) && pos(*jump) && low.is_finite() && pos(*depl_unit) && land.is_finite() && pos(*land_unit) && meas.is_finite() && *meas >= 0.0 && drift.is_finite() && pos(*low_hours)
            }
            Noise::Duration { center, amount_center, unit, .. } => center.is_finite() && amount_center.is_none_or(f64::is_finite) && pos(*unit),
            Noise::Generic { profile, unit, diff_unit, run_q } => prof(profile) && pos(*unit) && pos(*diff_unit) && pos(*run_q),
        }
    }
}
