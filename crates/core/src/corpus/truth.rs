//! The underlying business, simulated every 5 minutes independently of `demo`: what was really
//! consumed, used, stocked and refilled, and which anomalies happened when. How it is recorded
//! (sampling, units, event-valued durations, counters, gaps) is `record.rs`'s business.
//!
//! Deliberately different from the demo generator: another daily profile (entity-specific
//! peak hours), another time zone, consumption limited by the stock on hand, refill durations
//! with their own scale, and anomalies placed one per segment of the scoring span so they never
//! overlap across metrics.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, StandardNormal};

use super::{Style, STOK, TUKETIM, ZIMMET};

/// The simulation step: 5 minutes.
pub(crate) const BASE_US: i64 = 5 * 60 * 1_000_000;
pub(crate) const BASE_PER_DAY: usize = 288;

/// An anomaly or a neutral span in base steps `[a, b]` (inclusive).
#[derive(Clone, Debug)]
pub(crate) struct TruthLabel {
    pub metric: usize,
    pub kind: &'static str,
    pub a: usize,
    pub b: usize,
}

/// One entity's truth.
pub(crate) struct Truth {
    /// Recorded consumption per base step (what was served: never more than the stock).
    pub cons: Vec<f64>,
    pub custody: Vec<f64>,
    /// True stock at the end of each base step.
    pub stock: Vec<f64>,
    /// Refills: (landing step, minutes it took, amount, slow).
    pub refills: Vec<(usize, f64, f64, bool)>,
    /// Duration in force before the first refill.
    pub first_duration: f64,
    pub capacity: f64,
    pub labels: Vec<TruthLabel>,
    /// Recording-level anomalies: (metric, first step, last step) whose reported value repeats.
    pub stuck: Vec<(usize, usize, usize)>,
    /// Recording-level misreads of the stock: (step, added amount).
    pub glitch: Vec<(usize, f64)>,
    /// What the simulator knows of the normal process (read by `oracle.rs` only; nothing
    /// here is drawn, so recording it leaves every generated value as it was).
    pub known: KnownProcess,
}

/// The normal process per base step, without the anomalies: the demand mean (negative
/// binomial with dispersion `alpha`) before the stock limits it, the stock on hand when it is
/// served, the custody mean (Poisson), and the day's random factor (`exp(0.12 N)`, part of
/// both means; holidays and the regime change are in the means but not in this factor).
#[derive(Clone, Debug, Default)]
pub(crate) struct KnownProcess {
    pub cons_mu: Vec<f64>,
    pub avail: Vec<f64>,
    pub alpha: f64,
    pub cust_mu: Vec<f64>,
    pub day_noise: Vec<f64>,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> f64 {
    if !(lambda > 0.0) || !lambda.is_finite() {
        return 0.0;
    }
    if lambda < 30.0 {
        let u: f64 = rng.gen();
        let (mut p, mut k) = ((-lambda).exp(), 0.0);
        let mut cdf = p;
        while u > cdf && k < 500.0 {
            k += 1.0;
            p *= lambda / k;
            cdf += p;
        }
        k
    } else {
        (lambda + lambda.sqrt() * normal(rng)).round().max(0.0)
    }
}

/// Negative binomial (gamma-Poisson) with mean `mu` and variance `mu + alpha mu^2`.
fn nb(rng: &mut ChaCha8Rng, mu: f64, alpha: f64) -> f64 {
    if mu <= 0.0 {
        return 0.0;
    }
    let g = Gamma::new(1.0 / alpha, mu * alpha).map(|d| d.sample(rng)).unwrap_or(mu);
    poisson(rng, g)
}

/// Smooth two-peak daily shape (local hour), mean about 1 over the day.
fn day_shape(h: f64, p1: f64, p2: f64, night: f64) -> f64 {
    let bump = |c: f64, w: f64| {
        let d = ((h - c + 36.0) % 24.0) - 12.0;
        (-0.5 * (d / w).powi(2)).exp()
    };
    night + 1.3 * bump(p1, 1.8) + 1.0 * bump(p2, 2.2) + 0.35 * bump(13.0, 3.0)
}

/// Simulates one entity over `n` base steps from `start_us`; anomalies only at or after
/// step `anomalies_from`; `local_us` is the local-time offset.
pub(crate) fn simulate(rng: &mut ChaCha8Rng, style: &Style, start_us: i64, n: usize, anomalies_from: usize, local_us: i64) -> Truth {
    let local0 = start_us + local_us;
    let hour_of = |i: usize| ((local0 + i as i64 * BASE_US).rem_euclid(86_400_000_000)) as f64 / 3.6e9;
    let day_of = |i: usize| (local0 + i as i64 * BASE_US).div_euclid(86_400_000_000);
    let weekend_of = |i: usize| (day_of(i) + 3).rem_euclid(7) >= 5;
    let day0 = day_of(0);
    let n_days = (day_of(n.saturating_sub(1)) - day0 + 1) as usize;

    // entity profile
    let level = (rng.gen_range(0.07f64.ln()..10.0f64.ln())).exp();
    let alpha = rng.gen_range(0.05..0.4);
    let (p1, p2, night) = (rng.gen_range(6.5..10.5), rng.gen_range(17.0..21.5), rng.gen_range(0.08..0.3));
    let weekend_factor = rng.gen_range(0.5..1.5);
    let norm = (0..96).map(|q| day_shape(q as f64 / 4.0, p1, p2, night)).sum::<f64>() / 96.0;
    let cust_level = (rng.gen_range(0.03f64.ln()..3.0f64.ln())).exp();
    let (w0, w1) = (rng.gen_range(7.0..9.5), rng.gen_range(16.0..19.0));
    let cust_weekend = rng.gen_range(0.15..0.4);
    let daily_cons = level * BASE_PER_DAY as f64;
    let capacity = (daily_cons * rng.gen_range(2.0..6.0)).max(20.0).round();
    let reorder = capacity * rng.gen_range(0.25..0.4);
    let dur_base = rng.gen_range(15.0..80.0);
    let mut day_factor: Vec<f64> = (0..n_days).map(|_| (0.12 * normal(rng)).exp()).collect();
    let day_noise = day_factor.clone();
    let mut known = KnownProcess { alpha, ..KnownProcess::default() };

    // anomaly plan: one per segment of the span after `anomalies_from`
    let mut labels: Vec<TruthLabel> = Vec::new();
    let mut stuck = Vec::new();
    let mut glitch = Vec::new();
    let mut rate = vec![1.0f64; n];
    let mut cust_rate = vec![1.0f64; n];
    let mut cons_extra = vec![0.0f64; n];
    let mut cust_extra = vec![0.0f64; n];
    let mut leak = vec![0.0f64; n];
    let mut slow_from: Option<(usize, usize, f64)> = None;
    let mut skip_after: Option<usize> = None;
    if style.regime && n_days > 12 {
        // a lasting change of occupancy (neutral for a day: one alert there is fair) and two
        // holidays at 60 % (normal: no alert expected)
        let d = rng.gen_range(n_days / 3..n_days - 3);
        let f = if rng.gen_bool(0.5) { 0.6 } else { 1.6 };
        day_factor.iter_mut().skip(d).for_each(|x| *x *= f);
        let a = (0..n).find(|&i| (day_of(i) - day0) as usize >= d).unwrap_or(n - 1);
        labels.push(TruthLabel { metric: TUKETIM, kind: "regime", a, b: (a + BASE_PER_DAY).min(n - 1) });
        for _ in 0..2 {
            let h = rng.gen_range(n_days / 4..n_days - 1);
            day_factor[h] *= 0.6;
        }
    }
    let span = n.saturating_sub(anomalies_from);
    let k = if span >= 3 * BASE_PER_DAY { ((span / BASE_PER_DAY) as f64 / 28.0 * 3.0).round().max(1.0) as usize } else { 0 };
    let seg = if k > 0 { span / k } else { 0 };
    const KINDS: [(usize, &str); 11] = [
        (TUKETIM, "spike"),
        (TUKETIM, "drop"),
        (TUKETIM, "rate_shift"),
        (ZIMMET, "spike"),
        (ZIMMET, "stuck"),
        (ZIMMET, "rate_shift"),
        (STOK, "missing_refill"),
        (STOK, "slow_leak"),
        (STOK, "stuck"),
        (STOK, "spike"),
        (super::DOLUM, "level_shift"),
    ];
    for s in 0..k {
        let lo = anomalies_from + s * seg + BASE_PER_DAY / 4;
        let hi = anomalies_from + (s + 1) * seg - BASE_PER_DAY / 2;
        if hi <= lo + 12 {
            continue;
        }
        let (metric, kind) = KINDS[rng.gen_range(0..KINDS.len())];
        let mut a = rng.gen_range(lo..hi);
        let room = hi - a;
        match (metric, kind) {
            (TUKETIM | ZIMMET, "spike") => {
                // 15 minutes of 6-12x the usual 15-minute amount, at least 8 items
                if metric == ZIMMET {
                    // custody is used in working hours: move to 10:00 local of that day
                    a = a - a % BASE_PER_DAY + ((10.0 - local_us as f64 / 3.6e9).rem_euclid(24.0) * 12.0) as usize % BASE_PER_DAY;
                    a = a.clamp(lo, hi);
                }
                let base = if metric == TUKETIM { 3.0 * level * day_shape(hour_of(a), p1, p2, night) / norm } else { 3.0 * cust_level };
                let total = (rng.gen_range(6.0..12.0) * base).max(8.0).round();
                let b = (a + 2).min(n - 1);
                for i in a..=b {
                    let x = if metric == TUKETIM { &mut cons_extra } else { &mut cust_extra };
                    x[i] += (total / 3.0).round();
                }
                labels.push(TruthLabel { metric, kind, a, b });
            }
            (TUKETIM, "drop") => {
                // an outage of 2-10 h in busy hours (start between 08 and 14 local)
                let start_hour = rng.gen_range(8.0..14.0);
                let a = a - a % BASE_PER_DAY + ((start_hour - local_us as f64 / 3.6e9).rem_euclid(24.0) * 12.0) as usize;
                let a = a.clamp(lo, hi);
                let b = (a + rng.gen_range(24..120)).min(n - 1);
                (a..=b).for_each(|i| rate[i] = 0.0);
                labels.push(TruthLabel { metric, kind, a, b });
            }
            (TUKETIM | ZIMMET, "rate_shift") => {
                let b = (a + rng.gen_range(BASE_PER_DAY..4 * BASE_PER_DAY).min(room)).min(n - 1);
                let f = rng.gen_range(1.5..4.0);
                let r = if metric == TUKETIM { &mut rate } else { &mut cust_rate };
                (a..=b).for_each(|i| r[i] = f);
                labels.push(TruthLabel { metric, kind, a, b });
            }
            (ZIMMET, "stuck") => {
                let a = a - a % BASE_PER_DAY + ((11.0 - local_us as f64 / 3.6e9).rem_euclid(24.0) * 12.0) as usize % BASE_PER_DAY;
                let a = a.clamp(lo, hi);
                let b = (a + rng.gen_range(96..288)).min(n - 1);
                stuck.push((ZIMMET, a, b));
                labels.push(TruthLabel { metric, kind, a, b });
            }
            (STOK, "stuck") => {
                let b = (a + rng.gen_range(96..288)).min(n - 1);
                stuck.push((STOK, a, b));
                labels.push(TruthLabel { metric, kind, a, b });
            }
            (STOK, "spike") => {
                let sign = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
                glitch.push((a, sign * rng.gen_range(0.3..0.6) * capacity));
                labels.push(TruthLabel { metric, kind, a, b: a });
            }
            (STOK, "slow_leak") => {
                let b = (a + rng.gen_range(96..432)).min(n - 1);
                let per = (rng.gen_range(0.4..1.0) * level).max(1.0 / 3.0);
                (a..=b).for_each(|i| leak[i] = per);
                labels.push(TruthLabel { metric, kind, a, b });
            }
            (STOK, "missing_refill") => skip_after = Some(a),
            (_, "level_shift") => slow_from = Some((a, (a + rng.gen_range(BASE_PER_DAY..3 * BASE_PER_DAY)).min(n - 1), rng.gen_range(2.5..4.0))),
            _ => {}
        }
    }

    // the simulation
    let mut cons = Vec::with_capacity(n);
    let mut custody = Vec::with_capacity(n);
    let mut stock_v = Vec::with_capacity(n);
    let mut refills: Vec<(usize, f64, f64, bool)> = Vec::new();
    let mut stock = capacity * rng.gen_range(0.5..1.0);
    let mut pending: Option<usize> = None;
    let mut skipped: Option<usize> = None; // landing step of the skipped refill
    let mut empty_since: Option<usize> = None;
    let mut wait = 0usize;
    let mut slow_open: Option<usize> = None; // first slow refill's landing
    let mut slow_done = false;
    for i in 0..n {
        let d = (day_of(i) - day0) as usize;
        let h = hour_of(i);
        let we = weekend_of(i);
        let shape = day_shape(if we { (h - 1.0).rem_euclid(24.0) } else { h }, p1, p2, night) / norm;
        // the normal mean, then the anomaly's rate factor on it
        let normal_mu = level * shape * day_factor[d] * if we { weekend_factor } else { 1.0 };
        let mu = normal_mu * rate[i];
        let demand = nb(rng, mu, alpha) + cons_extra[i];
        known.cons_mu.push(normal_mu);
        known.avail.push(stock.max(0.0).floor());
        known.day_noise.push(day_noise[d]);
        let served = demand.min(stock.max(0.0).floor());
        stock -= served;
        if style.shrink && rng.gen_bool(0.01) {
            stock -= f64::from(rng.gen_range(1..4u8));
        }
        stock = (stock - leak[i]).max(0.0);
        cons.push(served);
        let working = h >= w0 && h < w1 && !(12.0..13.0).contains(&h);
        let normal_cmu = cust_level * if working { 1.0 } else { 0.02 } * if we { cust_weekend } else { 1.0 } * day_factor[d];
        custody.push(poisson(rng, normal_cmu * cust_rate[i]) + cust_extra[i]);
        known.cust_mu.push(normal_cmu);
        // refills
        if pending == Some(i) {
            pending = None;
            if skip_after.is_some_and(|s| i >= s) && skipped.is_none() {
                skipped = Some(i);
                skip_after = None;
                wait = rng.gen_range(72..288);
            } else {
                let fill = if style.shrink { rng.gen_range(0.55..1.0) } else { rng.gen_range(0.92..1.0) };
                let amount = (fill * capacity - stock).max(1.0).round();
                stock += amount;
                let slow = match slow_from {
                    Some((a, b, _)) if i >= a && (i <= b || slow_open.is_none()) && !slow_done => true,
                    _ => false,
                };
                let f = if slow { slow_from.map_or(1.0, |x| x.2) } else { 1.0 };
                let minutes = (dur_base * (amount / capacity).max(0.05).powf(0.3) * (0.15 * normal(rng)).exp() * f).max(1.0);
                if slow && slow_open.is_none() {
                    slow_open = Some(i);
                }
                if !slow {
                    if let Some(a) = slow_open.take() {
                        labels.push(TruthLabel { metric: super::DOLUM, kind: "level_shift", a, b: i - 1 });
                        slow_done = true;
                    }
                }
                if let Some(s) = skipped.take() {
                    labels.push(TruthLabel { metric: STOK, kind: "missing_refill", a: s, b: i });
                }
                refills.push((i, minutes.round(), amount, slow));
            }
        }
        if stock <= 0.0 {
            empty_since.get_or_insert(i);
        } else {
            empty_since = None;
        }
        if pending.is_none() && stock < reorder {
            let may_order = skipped.is_none() || empty_since.is_some_and(|e| i >= e + wait);
            if may_order {
                pending = Some(i + rng.gen_range(12..96));
            }
        }
        stock_v.push(stock);
    }
    if let Some(a) = slow_open {
        labels.push(TruthLabel { metric: super::DOLUM, kind: "level_shift", a, b: n - 1 });
    }
    if let Some(s) = skipped {
        labels.push(TruthLabel { metric: STOK, kind: "missing_refill", a: s, b: n - 1 });
    }
    let first_duration = (dur_base * (0.15 * normal(rng)).exp()).round().max(1.0);
    Truth { cons, custody, stock: stock_v, refills, first_duration, capacity, labels, stuck, glitch, known }
}
