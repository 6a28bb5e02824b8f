//! Axis ticks of the plot: "nice" 1-2-5 value ticks, and calendar-aware time ticks in a
//! fixed UTC offset (seconds, minutes and hours for spans under two days, days and weeks,
//! months, years beyond), with their labels.

pub(crate) const SECOND_US: i64 = 1_000_000;
pub(crate) use crate::time::{DAY_US, HOUR_US, MINUTE_US};

/// Ticks of the value axis: the axis runs from `min` to `max` (covering the data with a
/// little padding; usually multiples of `step`); `ticks` are the multiples of `step` in it.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueTicks {
    pub min: f64,
    pub max: f64,
    pub step: f64,
    pub ticks: Vec<f64>,
}

/// Value ticks for data in [lo, hi] (finite, in either order): a 1-2-5 step giving 4-6
/// ticks (the count closest to 5 should none). A constant or nearly constant
/// range is padded by 10 % of its magnitude (by 1 around zero), any other by 3 %.
pub fn value_ticks(lo: f64, hi: f64) -> ValueTicks {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let mid_mag = lo.abs().max(hi.abs());
    let (lo, hi) = if hi - lo <= mid_mag * 1e-9 {
        let pad = if mid_mag == 0.0 { 1.0 } else { mid_mag * 0.1 };
        (lo - pad, hi + pad)
    } else {
        let pad = (hi - lo) * 0.03;
        (lo - pad, hi + pad)
    };
    let range = hi - lo;
    let base = 10f64.powf(range.log10().floor());
    // Each 1-2-5 step twice: with the axis extended to the enclosing multiples, and with the
    // axis on the padded data range and the multiples inside it. Best: a count in 4..=6, then
    // the least space wasted by extending, the extended variant, a count near 5.
    let mut best: Option<(f64, ValueTicks)> = None;
    for exp in -2..=1 {
        for m in [1.0, 2.0, 5.0] {
            let step = m * base * 10f64.powi(exp);
            for extended in [true, false] {
                let (k0, k1) = if extended { ((lo / step).floor(), (hi / step).ceil()) } else { ((lo / step).ceil(), (hi / step).floor()) };
                let count = (k1 - k0) as i64 + 1;
                let (min, max) = if extended { (k0 * step, k1 * step) } else { (lo, hi) };
                let off = (count - 5).abs();
                let waste = 1.0 - range / (max - min);
                let score = 100.0 * (off - 1).max(0) as f64 + 10.0 * waste + if extended { 0.0 } else { 1.0 } + 0.3 * off as f64;
                if best.as_ref().is_none_or(|(b, _)| score < *b) {
                    let ticks = (0..count.max(0)).map(|i| clean_zero((k0 + i as f64) * step)).collect();
                    best = Some((score, ValueTicks { min, max, step, ticks }));
                }
            }
        }
    }
    best.expect("candidates are never empty").1
}

fn clean_zero(v: f64) -> f64 {
    if v == 0.0 {
        0.0
    } else {
        v
    }
}

/// The label of value tick `v` on an axis with this step whose largest magnitude is `mag`:
/// as many decimals as the step needs; M/G/T suffixes from a million on; scientific
/// notation for magnitudes from 1e15 on or below 1e-3.
pub fn format_value(v: f64, step: f64, mag: f64) -> String {
    let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
    let decimals = |s: f64| (-s.log10() - 1e-9).ceil().clamp(0.0, 12.0) as usize;
    if mag >= 1e15 || (mag > 0.0 && mag < 1e-3) {
        let p = (mag.log10().floor() - step.log10().floor()).clamp(0.0, 6.0) as usize;
        return format!("{v:.p$e}");
    }
    for (unit, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M")] {
        if mag >= unit {
            let d = decimals(step / unit);
            return format!("{:.d$}{suffix}", v / unit);
        }
    }
    let d = decimals(step);
    format!("{v:.d$}")
}

/// A calendar time in the plot's offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

pub(crate) use crate::time::{civil_from_days, days_from_civil};

/// The calendar time of `local_us` (µs since the epoch, already shifted into the offset).
pub fn civil(local_us: i128) -> Civil {
    let day = i128::from(DAY_US);
    let (year, month, d) = civil_from_days(local_us.div_euclid(day) as i64);
    let secs = (local_us.rem_euclid(day) / i128::from(SECOND_US)) as u32;
    Civil { year, month, day: d, hour: secs / 3600, minute: secs / 60 % 60, second: secs % 60 }
}

/// "YYYY-MM-DD HH:MM" of a UTC timestamp in the offset.
pub fn format_datetime(ts: i64, offset_minutes: i32) -> String {
    let c = civil(i128::from(ts) + i128::from(offset_minutes) * i128::from(MINUTE_US));
    format!("{:04}-{:02}-{:02} {:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute)
}

/// "UTC", "UTC+03:00", "UTC-05:30".
pub fn format_offset(offset_minutes: i32) -> String {
    if offset_minutes == 0 {
        return "UTC".into();
    }
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let m = offset_minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// A tick of the time axis: where (UTC µs), its label, and an optional second line (the date
/// under the first hour tick and under each new day; the year under day ticks when it changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeTick {
    pub ts: i64,
    pub label: String,
    pub sub: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// A fixed length in µs, aligned to multiples of it from `origin` (local µs).
    Fixed(i64, i64),
    Months(i64),
    Years(i64),
}

impl Step {
    fn approx_us(self) -> f64 {
        match self {
            Step::Fixed(us, _) => us as f64,
            Step::Months(n) => n as f64 * 30.44 * DAY_US as f64,
            Step::Years(n) => n as f64 * 365.2425 * DAY_US as f64,
        }
    }
}

fn candidates() -> Vec<Step> {
    let mut c: Vec<Step> = [1, 2, 5, 10, 15, 30].iter().map(|&s| Step::Fixed(s * SECOND_US, 0)).collect();
    c.extend([1, 2, 5, 10, 15, 30].iter().map(|&m| Step::Fixed(m * MINUTE_US, 0)));
    c.extend([1, 2, 3, 6, 12].iter().map(|&h| Step::Fixed(h * HOUR_US, 0)));
    // 1969-12-29 was a Monday: weeks start on Mondays.
    c.extend([Step::Fixed(DAY_US, 0), Step::Fixed(2 * DAY_US, 0), Step::Fixed(7 * DAY_US, -3 * DAY_US), Step::Fixed(14 * DAY_US, -3 * DAY_US)]);
    c.extend([1, 2, 3, 6].iter().map(|&m| Step::Months(m)));
    let mut y = 1;
    while y <= 1_000_000 {
        c.extend([Step::Years(y), Step::Years(2 * y), Step::Years(5 * y)]);
        y *= 10;
    }
    c
}

/// Time ticks over [t0, t1] (UTC µs) labelled in the offset, at most `max_ticks` of them
/// (at least 2 are allowed). Spans under two days get second/minute/hour steps ("HH:MM",
/// "HH:MM:SS" under a minute); longer ones day or week steps ("DD.MM"), then months
/// ("MM.YYYY") and years ("YYYY").
pub fn time_ticks(t0: i64, t1: i64, offset_minutes: i32, max_ticks: usize) -> Vec<TimeTick> {
    let (t0, t1) = (t0.min(t1), t0.max(t1));
    let span = (i128::from(t1) - i128::from(t0)) as f64;
    let max_ticks = max_ticks.max(2) as f64;
    let long = span >= 2.0 * DAY_US as f64;
    let step = candidates()
        .into_iter()
        .filter(|s| !long || s.approx_us() >= DAY_US as f64)
        .find(|s| (span / s.approx_us()).floor() + 1.0 <= max_ticks)
        .unwrap_or(Step::Years(1_000_000));
    let off = i128::from(offset_minutes) * i128::from(MINUTE_US);
    let (l0, l1) = (i128::from(t0) + off, i128::from(t1) + off);
    let day = i128::from(DAY_US);
    let mut locals: Vec<i128> = Vec::new();
    match step {
        Step::Fixed(us, origin) => {
            let (us, origin) = (i128::from(us), i128::from(origin));
            let mut t = origin + (l0 - origin + us - 1).div_euclid(us) * us;
            while t <= l1 && locals.len() < 1000 {
                locals.push(t);
                t += us;
            }
        }
        Step::Months(n) | Step::Years(n) => {
            let months = if let Step::Months(_) = step { n } else { 12 * n };
            let c = civil(l0);
            let mut idx = c.year * 12 + i64::from(c.month) - 1;
            let start = |idx: i64| i128::from(days_from_civil(idx.div_euclid(12), idx.rem_euclid(12) as u32 + 1, 1)) * day;
            if start(idx) < l0 {
                idx += 1;
            }
            idx = (idx + months - 1).div_euclid(months) * months;
            while start(idx) <= l1 && locals.len() < 1000 {
                locals.push(start(idx));
                idx += months;
            }
        }
    }
    let mut prev: Option<Civil> = None;
    let mut out = Vec::with_capacity(locals.len());
    for local in locals {
        let Ok(ts) = i64::try_from(local - off) else { continue };
        let c = civil(local);
        let (label, sub) = match step {
            Step::Fixed(us, _) if us < MINUTE_US => (format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second), None),
            Step::Fixed(us, _) if us < DAY_US => (format!("{:02}:{:02}", c.hour, c.minute), None),
            Step::Fixed(..) => (format!("{:02}.{:02}", c.day, c.month), None),
            Step::Months(_) => (format!("{:02}.{:04}", c.month, c.year), None),
            Step::Years(_) => (format!("{:04}", c.year), None),
        };
        let sub = sub.or_else(|| match step {
            Step::Fixed(us, _) if us < DAY_US => {
                let new_day = prev.is_none_or(|p| (p.year, p.month, p.day) != (c.year, c.month, c.day));
                new_day.then(|| format!("{:02}.{:02}.{:04}", c.day, c.month, c.year))
            }
            Step::Fixed(..) => prev.is_none_or(|p| p.year != c.year).then(|| format!("{:04}", c.year)),
            _ => None,
        });
        prev = Some(c);
        out.push(TimeTick { ts, label, sub });
    }
    out
}
