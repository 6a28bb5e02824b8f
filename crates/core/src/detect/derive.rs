//! Derived features: each row of a series becomes a few dimensionless deviations under its
//! entity's noise model (about N(0, 1), or a surprise in nats, on normal data), plus the value
//! that was expected there.
//!
//! Why these: each one answers a question an operator would ask, and each is the signal of a
//! class of anomaly measured in DETECTION.md. Deviations summed over 1 h, 4 h and 24 h
//! (`sum e / sqrt(sum var)`) catch what no single row shows: level shifts on small counts,
//! slow leaks, spikes on high-volume series. A run of repeated values is scored by how
//! improbable each repeat is under the count model, which makes a stuck sensor and an
//! outage (a run of zeros at a busy hour) loud while a quiet night stays quiet.
//!
//! Over 400 lines on purpose: one derivation per noise model, and the counts' recent baseline
//! and change-point scan (`Shift`) beside the horizon sums they replace or complement.

use super::mathx::{nb_log_pmf, Cal, HOUR_US};
use super::noise::{profile_f64, slope_term, Noise, Pooled};
use super::{MetricKind, SeriesRows};
use crate::features::col;

/// Most derived features of any kind.
pub(crate) const MAX_NF: usize = 5;
/// Horizons of the summed deviations.
pub(crate) const HORIZONS_US: [i64; 3] = [HOUR_US, 4 * HOUR_US, 24 * HOUR_US];
/// Rows a derived feature depends on reach back at most this far (the longest horizon).
pub(crate) const LOOKBACK_US: i64 = 24 * HOUR_US;
/// The window of a count's own input (`count_now`) with `DetectorParams::count_row_window`:
/// the rows in `(ts - 15 min, ts]`. A step of 15 minutes or more leaves the row alone there.
pub(crate) const ROW_WINDOW_US: i64 = HOUR_US / 4;
/// Variance added to a count's model variance: a count of 1 where 0.05 is usual is not news.
const COUNT_VAR_FLOOR: f64 = 0.25;
/// Prior (in counts) pulling a recent level ratio toward 1: a window expecting a handful of
/// counts says little about a new level (chosen on TUNE among 3, 10 and 30: F1 0.859 / 0.861 /
/// 0.861).
const ADAPT_PRIOR: f64 = 10.0;

/// The recent level of a count series against its model, per row: `(sum x + c) / (sum mu + c)`
/// over the rows in `(ts - 2 adapt, ts - adapt]`, `c` = [`ADAPT_PRIOR`]; 1 where `adapt_us` is 0.
fn level_ratios(ts: &[i64], x: &[f64], mu: &[f64], adapt_us: i64) -> Vec<f64> {
    let n = ts.len();
    if adapt_us <= 0 {
        return vec![1.0; n];
    }
    let (mut lo, mut hi) = (0usize, 0usize);
    let (mut sx, mut sm) = (0.0, 0.0);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let to = ts[i].saturating_sub(adapt_us);
        let from = to.saturating_sub(adapt_us);
        while hi < n && ts[hi] <= to {
            sx += x[hi];
            sm += mu[hi];
            hi += 1;
        }
        while lo < hi && ts[lo] <= from {
            sx -= x[lo];
            sm -= mu[lo];
            lo += 1;
        }
        let (a, b) = if lo < hi { (sx.max(0.0), sm.max(0.0)) } else { (0.0, 0.0) };
        out.push((a + ADAPT_PRIOR) / (b + ADAPT_PRIOR));
    }
    out
}

/// The deviation from the nearer of two baselines: 0 when the row lies between them (it is
/// normal for one of them), else the smaller of the two.
fn nearer(a: f64, b: f64) -> f64 {
    if a * b <= 0.0 {
        0.0
    } else if a.abs() <= b.abs() {
        a
    } else {
        b
    }
}

/// What a derived feature is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FeatureInfo {
    /// Identifier (stable; used in reports).
    pub name: &'static str,
    /// Readable explanation for alerts.
    pub label: &'static str,
    /// Two-sided (the calibration uses |z|) or one-sided (>= 0).
    pub signed: bool,
    /// Whether the per-entity factor (held-out 95th percentile to 1.96) applies.
    pub rescale: bool,
}

const fn fi(name: &'static str, label: &'static str, signed: bool, rescale: bool) -> FeatureInfo {
    FeatureInfo { name, label, signed, rescale }
}

const COUNT: [FeatureInfo; 5] = [
    fi("count_now", "count vs usual for this hour", true, true),
    fi("count_1h", "1-hour total vs usual", true, true),
    fi("count_4h", "4-hour total vs usual", true, true),
    fi("count_24h", "shift within the last 24 hours vs usual", true, true),
    fi("repeat_run", "same value repeated improbably long (stuck or outage)", false, false),
];
const LEVEL: [FeatureInfo; 5] = [
    fi("stock_unexplained_1h", "stock change not explained by consumption, 1 hour", true, true),
    fi("stock_unexplained_4h", "stock change not explained by consumption, 4 hours", true, true),
    fi("stock_unexplained_24h", "stock change not explained by consumption, 24 hours", true, true),
    fi("stock_below_usual", "stock below its usual minimum, or there longer than usual", false, false),
    fi("refill_shortfall", "refill landed below the usual level", false, false),
];
const DURATION: [FeatureInfo; 1] = [fi("duration_vs_usual", "refill duration vs usual for the amount", true, false)];
const GENERIC: [FeatureInfo; 5] = [
    fi("value_now", "value vs usual for this hour", true, true),
    fi("value_1h", "1-hour deviation from usual", true, true),
    fi("value_4h", "4-hour deviation from usual", true, true),
    fi("jump", "jump from the previous value", true, true),
    fi("repeat_run", "same value repeated unusually long", false, false),
];

/// How far past a row a derived feature of `kind` (column `j`) still carries it: the horizon
/// of a trailing sum or scan (1 h, 4 h, 24 h), 0 for a feature of the row alone. Feedback on
/// a marked window quiets each feature over the window extended by its reach (`score.rs`).
pub(crate) fn reach_us(kind: MetricKind, j: usize) -> i64 {
    match (kind, j) {
        (MetricKind::Count, 1) | (MetricKind::Level, 0) | (MetricKind::Generic, 1) => HORIZONS_US[0],
        (MetricKind::Count, 2) | (MetricKind::Level, 1) | (MetricKind::Generic, 2) => HORIZONS_US[1],
        (MetricKind::Count, 3) | (MetricKind::Level, 2) => HORIZONS_US[2],
        _ => 0,
    }
}

/// The derived features of a kind, in column order.
pub(crate) fn features(kind: MetricKind) -> &'static [FeatureInfo] {
    match kind {
        MetricKind::Count => &COUNT,
        MetricKind::Level => &LEVEL,
        MetricKind::Duration => &DURATION,
        MetricKind::Generic => &GENERIC,
    }
}

/// One derived row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Row {
    pub z: [f64; MAX_NF],
    /// Expected value; NaN when there is none.
    pub expected: f64,
}

/// The generic kind's baseline: the stored trailing 1-day median, else the trailing 24-hour
/// mean of the rows given.
pub(crate) fn generic_base(s: &SeriesRows) -> Vec<f64> {
    let n = s.len();
    let mut out = Vec::with_capacity(n);
    let (mut j, mut sum) = (0usize, 0.0);
    for i in 0..n {
        sum += s.value[i];
        while s.ts[j] <= s.ts[i] - LOOKBACK_US {
            sum -= s.value[j];
            j += 1;
        }
        let stored = s.features.get(i).and_then(|f| f[col::MEDIAN]).filter(|v| v.is_finite());
        out.push(stored.unwrap_or(sum / (i + 1 - j) as f64));
    }
    out
}

/// Whether the aux series is recorded for this entity at all (some row has it). Where it is,
/// a row without it is a lost record, not a row to fill with the usual value.
pub(crate) fn aux_recorded(s: &SeriesRows) -> bool {
    s.aux.as_ref().is_some_and(|a| a.iter().any(|v| v.is_some_and(f64::is_finite)))
}

fn aux_at(s: &SeriesRows, i: usize) -> Option<f64> {
    s.aux.as_ref().and_then(|a| a.get(i).copied().flatten()).filter(|v| v.is_finite())
}

/// Sums of `e` and `v` over `(ts_i - h, ts_i]` for each horizon, by prefix sums.
struct Horizons {
    pe: Vec<f64>,
    pv: Vec<f64>,
    starts: [usize; 3],
    /// Start of the row window ([`Horizons::row_window`]).
    row_start: usize,
}

impl Horizons {
    fn new(e: &[f64], v: &[f64]) -> Self {
        let mut pe = Vec::with_capacity(e.len() + 1);
        let mut pv = Vec::with_capacity(e.len() + 1);
        let (mut a, mut b) = (0.0, 0.0);
        pe.push(0.0);
        pv.push(0.0);
        for (x, y) in e.iter().zip(v) {
            a += x;
            b += y;
            pe.push(a);
            pv.push(b);
        }
        Horizons { pe, pv, starts: [0; 3], row_start: 0 }
    }
    /// (sum e, sum v) over `(ts_i - ROW_WINDOW_US, ts_i]`, and whether row `i` is alone there;
    /// rows must be visited in order.
    fn row_window(&mut self, ts: &[i64], i: usize) -> (f64, f64, bool) {
        let from = ts[i].saturating_sub(ROW_WINDOW_US);
        let j = &mut self.row_start;
        while *j < i && ts[*j] <= from {
            *j += 1;
        }
        (self.pe[i + 1] - self.pe[*j], self.pv[i + 1] - self.pv[*j], *j == i)
    }
    /// (sum e, sum v) of horizon `k` ending at row `i`; rows must be visited in order.
    fn at(&mut self, ts: &[i64], i: usize, k: usize) -> (f64, f64) {
        let from = ts[i].saturating_sub(HORIZONS_US[k]);
        let j = &mut self.starts[k];
        while *j < i && ts[*j] <= from {
            *j += 1;
        }
        (self.pe[i + 1] - self.pe[*j], self.pv[i + 1] - self.pv[*j])
    }
}

/// The change-point scan of a count series: for a row, the largest standardised sum
/// `sum e / sqrt(sum v + rho2 (sum mu)^2)` over the rows since a change at any whole hour of
/// the last [`SCAN_HOURS`] (a CUSUM-type statistic for a shift in rate with unknown start: it
/// weighs exactly the rows since the change, where a fixed horizon dilutes them).
pub(crate) const SCAN_HOURS: usize = 24;
/// Stretches of the scan this short (hours) must carry more evidence than the row alone
/// ([`Shift::over_row`]).
const SHORT_STRETCH_HOURS: usize = 2;

struct Scan {
    /// Prefix sums of (e, v, mu), side by side: a candidate start reads one slot.
    p: Vec<[f64; 3]>,
    starts: [usize; SCAN_HOURS],
}

impl Scan {
    fn new(e: &[f64], v: &[f64], m: &[f64]) -> Self {
        let mut p = Vec::with_capacity(e.len() + 1);
        p.push([0.0; 3]);
        let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
        for ((x, y), z) in e.iter().zip(v).zip(m) {
            a += x;
            b += y;
            c += z;
            p.push([a, b, c]);
        }
        Scan { p, starts: [0; SCAN_HOURS] }
    }
    /// The scan at row `i` (rows visited in order): the signed standardised sum of largest size.
    /// `row_z2`: with [`Shift::over_row`], the row's own squared deviation `e^2 / v`; a stretch
    /// of at most [`SHORT_STRETCH_HOURS`] counts only when its standardised sum exceeds it (such
    /// a stretch carrying no more evidence than the row is the row, which `count_now` already
    /// scores: a spike of a row or two is not a shift).
    fn at(&mut self, ts: &[i64], i: usize, rho2: f64, row_z2: f64) -> f64 {
        // compares z^2 = se^2 / var (no square root per candidate)
        let (mut best_se, mut best_var, mut best_z2) = (0.0f64, 1.0f64, 0.0f64);
        let [pe, pv, pm] = self.p[i + 1];
        let mut from = ts[i];
        for (h, j) in self.starts.iter_mut().enumerate() {
            from = from.saturating_sub(HOUR_US);
            while *j < i && ts[*j] <= from {
                *j += 1;
            }
            let [qe, qv, qm] = self.p[*j];
            let se = pe - qe;
            let sm = pm - qm;
            let var = pv - qv + rho2 * sm * sm;
            let floor = if h < SHORT_STRETCH_HOURS { row_z2.max(best_z2) } else { best_z2 };
            if var > 0.0 && se * se > floor * var {
                (best_se, best_var, best_z2) = (se, var, se * se / var);
            }
        }
        if best_se != 0.0 {
            best_se / best_var.sqrt()
        } else {
            0.0
        }
    }
}

fn ratio(s: f64, v: f64) -> f64 {
    if v > 0.0 {
        s / v.sqrt()
    } else {
        0.0
    }
}

/// How counts treat lasting shifts (from `DetectorParams::adapt_hours` and `change_scan`), and
/// stocks rows without consumption (`DetectorParams::stock_skip_unrecorded`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Shift {
    /// The recent baseline's delay and window (0: the training baseline alone).
    pub adapt_us: i64,
    /// `count_24h` is the change-point scan ([`Scan`]) instead of the fixed 24-hour total.
    pub scan: bool,
    /// The scan's short stretches count only when they carry more evidence than the row alone
    /// (`DetectorParams::scan_over_row`).
    pub over_row: bool,
    /// Stock: a row without its recorded consumption (in a series that records it) is
    /// explained by any fall up to a depletion unit (`DetectorParams::stock_skip_unrecorded`).
    pub skip_unrecorded: bool,
    /// Count: `count_now` reads the rows of the last [`ROW_WINDOW_US`], not the row alone
    /// (`DetectorParams::count_row_window`).
    pub row_window: bool,
}

/// Derives rows `from..` of `s` (earlier rows are look-back) into `out`, dividing each
/// feature by `scales` (one per feature of the kind).
#[allow(clippy::too_many_arguments)]
pub(crate) fn derive(noise: &Noise, pooled: &Pooled, scales: &[f64], s: &SeriesRows, cals: &[Cal], from: usize, shift: Shift, out: &mut Vec<Row>) {
    derive_some(noise, pooled, scales, s, cals, from, shift, None, out)
}

/// A row `derive_some` was not asked for: no deviations, no expected value.
pub(crate) const SKIPPED: Row = Row { z: [0.0; MAX_NF], expected: f64::NAN };

/// `derive`, computing the features only of the rows `want` selects (all when None); every
/// other row of `from..` is [`SKIPPED`], so `out` keeps one row per row of `from..`. A
/// selected row is bitwise what `derive` gives it: what one row carries to the next (runs,
/// low stretches, the last event) is still followed over every row, and the trailing sums and
/// the change-point scan read prefix sums whose window starts only move forward, so skipping
/// rows changes none of them. The held-out fits use it: each fold's noise model is read on
/// that fold's rows only, so the other half of its rows (and their scans) was thrown away.
#[allow(clippy::too_many_arguments)]
pub(crate) fn derive_some(noise: &Noise, pooled: &Pooled, scales: &[f64], s: &SeriesRows, cals: &[Cal], from: usize, shift: Shift, want: Option<&[bool]>, out: &mut Vec<Row>) {
    let skip = |i: usize| want.is_some_and(|w| !w[i]);
    let n = s.len();
    if from >= n {
        return;
    }
    let start = out.len();
    match noise {
        Noise::Count { profile, alpha, rho2 } => {
            let mu: Vec<f64> = cals.iter().map(|&c| profile_f64(profile, c).max(1e-3)).collect();
            let e: Vec<f64> = (0..n).map(|i| s.value[i] - mu[i]).collect();
            let v: Vec<f64> = mu.iter().map(|m| m + alpha * m * m + COUNT_VAR_FLOOR).collect();
            let mut h = Horizons::new(&e, &v);
            let mut hm = Horizons::new(&mu, &vec![0.0; n]);
            // the recent baseline (two baselines, see `DetectorParams::adapt_hours`)
            let adapt = shift.adapt_us > 0;
            let lam = level_ratios(&s.ts, &s.value, &mu, shift.adapt_us);
            let mu2: Vec<f64> = if adapt { mu.iter().zip(&lam).map(|(m, l)| (m * l).max(1e-3)).collect() } else { Vec::new() };
            let e2: Vec<f64> = mu2.iter().zip(&s.value).map(|(m, x)| x - m).collect();
            let v2: Vec<f64> = mu2.iter().map(|m| m + alpha * m * m + COUNT_VAR_FLOOR).collect();
            let mut h2 = Horizons::new(&e2, &v2);
            let mut hm2 = Horizons::new(&mu2, &vec![0.0; mu2.len()]);
            let mut scans = shift.scan.then(|| (Scan::new(&e, &v, &mu), adapt.then(|| Scan::new(&e2, &v2, &mu2))));
            let mut run = 0.0;
            // the repeat run only matters from the start of the run still going at `from`
            // (look-back rows before it cost no log-probabilities)
            let mut run_from = from.min(n - 1);
            while run_from > 0 && s.value[run_from] == s.value[run_from - 1] {
                run_from -= 1;
            }
            for i in 0..n {
                if i >= run_from {
                    let repeat = i > 0 && s.value[i] == s.value[i - 1];
                    run = if repeat { run - nb_log_pmf(s.value[i], mu[i], *alpha) } else { 0.0 };
                }
                if i < from {
                    continue;
                }
                if skip(i) {
                    out.push(SKIPPED);
                    continue;
                }
                let mut z = [0.0; MAX_NF];
                z[0] = e[i] / v[i].sqrt();
                if shift.row_window {
                    // the count of the last 15 minutes: at a finer step a burst spread over a
                    // few rows is read whole (as a 15-minute row reads it), and the input tests
                    // once per quarter hour rather than once per row; a row alone in its window
                    // keeps its own deviation bit for bit (steps of 15 minutes or more)
                    let (se, sv, alone) = h.row_window(&s.ts, i);
                    if !alone {
                        z[0] = ratio(se, sv);
                    }
                }
                for k in 0..3 {
                    let (se, sv) = h.at(&s.ts, i, k);
                    let sm = hm.at(&s.ts, i, k).0;
                    z[k + 1] = ratio(se, sv + rho2 * sm * sm);
                    // the long inputs (4 h, 24 h) against the nearer baseline: they are what
                    // keeps a lasting change alerting; the row and the hour stay against the
                    // training baseline, so rows inside a lasting anomaly still rank above
                    // normal ones (TUNE: all five against the nearer baseline had the same F1
                    // but consumption's row AUC 0.85-0.87 where this keeps 0.91-0.93)
                    if adapt && k >= 1 {
                        let (se, sv) = h2.at(&s.ts, i, k);
                        let sm = hm2.at(&s.ts, i, k).0;
                        z[k + 1] = nearer(z[k + 1], ratio(se, sv + rho2 * sm * sm));
                    }
                }
                if let Some((sc, sc2)) = scans.as_mut() {
                    let own = |e: f64, v: f64| if shift.over_row && v > 0.0 { e * e / v } else { 0.0 };
                    z[3] = sc.at(&s.ts, i, *rho2, own(e[i], v[i]));
                    if let Some(sc2) = sc2.as_mut() {
                        z[3] = nearer(z[3], sc2.at(&s.ts, i, *rho2, own(e2[i], v2[i])));
                    }
                }
                z[4] = run;
                out.push(Row { z, expected: mu[i] });
            }
        }
        Noise::Level { profile, unit, jump, low, depl_unit, land, land_unit, meas, drift, low_hours } => {
            let mut e = vec![0.0; n];
            let mut v = vec![0.0; n];
            let mut refill = vec![false; n];
            let adjacent = super::noise::adjacent_rows(&s.ts);
            // a lost consumption row: the usual consumption standing in for it put the actual
            // one's difference into the residual of an otherwise exact stock, "unexplained" for
            // as long as a horizon held it; below, only what no row's consumption explains counts
            let skip_lost = shift.skip_unrecorded && aux_recorded(s);
            for i in (1..n).filter(|&i| adjacent[i]) {
                let a = aux_at(s, i);
                let c = a.unwrap_or_else(|| profile_f64(profile, cals[i]));
                let r = s.value[i] - s.value[i - 1] + c;
                if r > *jump {
                    refill[i] = true;
                } else if a.is_some() || !skip_lost {
                    e[i] = r - drift;
                    v[i] = unit * unit;
                } else {
                    // consumption lost: any stock fall a row's consumption could explain (up to
                    // a depletion unit, 16 mean rows of it) is explained; only a rise or a fall
                    // beyond that is unexplained
                    let d = s.value[i] - s.value[i - 1];
                    e[i] = nearer(d, d + depl_unit);
                    v[i] = unit * unit;
                }
            }
            let mut h = Horizons::new(&e, &v);
            // start of the current stretch at or below the usual minimum
            let mut low_since: Option<i64> = None;
            for i in 0..n {
                if s.value[i] <= *low {
                    low_since.get_or_insert(s.ts[i]);
                } else {
                    low_since = None;
                }
                if i < from {
                    continue;
                }
                if skip(i) {
                    out.push(SKIPPED);
                    continue;
                }
                let mut z = [0.0; MAX_NF];
                let mut sums = [0.0; 3];
                for k in 0..3 {
                    let (se, sv) = h.at(&s.ts, i, k);
                    sums[k] = se;
                    // reading noise enters a horizon's sum once at each end
                    z[k] = ratio(se, sv + 2.0 * meas * meas);
                }
                // how deep below the usual minimum, or how much longer than ever seen in
                // training it lingers there, whichever is more unusual
                let lingering = low_since.map_or(0.0, |a| (s.ts[i] - a) as f64 / 3.6e9 / low_hours);
                z[3] = ((low - s.value[i]) / depl_unit).max(0.0).max(lingering);
                z[4] = if refill[i] { ((land - s.value[i]) / land_unit).max(0.0) } else { 0.0 };
                let k = (0..3).max_by(|&a, &b| z[a].abs().total_cmp(&z[b].abs())).unwrap_or(0);
                let expected = if z[3] > z[k].abs() { *low } else { (s.value[i] - sums[k]).max(0.0) };
                out.push(Row { z, expected });
            }
        }
        Noise::Duration { center, amount_center, unit, events } => {
            let mut la: Option<f64> = None;
            for i in 0..n {
                let event = if *events { s.value[i] > 0.0 } else { i == 0 || s.value[i] != s.value[i - 1] };
                if event {
                    la = match (i > 0).then(|| (aux_at(s, i), aux_at(s, i - 1))) {
                        Some((Some(a), Some(b))) if a > b => Some((a - b).ln()),
                        _ => None,
                    };
                }
                if i < from {
                    continue;
                }
                if skip(i) {
                    out.push(SKIPPED);
                    continue;
                }
                let mean = center + slope_term(pooled.dur_slope, la, *amount_center);
                let mut z = [0.0; MAX_NF];
                if *events && !event {
                    // between events an event-valued series says nothing
                    out.push(Row { z, expected: f64::NAN });
                    continue;
                }
                z[0] = (s.value[i].max(1e-9).ln() - mean) / unit;
                out.push(Row { z, expected: mean.exp() });
            }
        }
        Noise::Generic { profile, unit, diff_unit, run_q } => {
            let base = generic_base(s);
            let ex: Vec<f64> = (0..n).map(|i| base[i] + profile_f64(profile, cals[i])).collect();
            let e: Vec<f64> = (0..n).map(|i| s.value[i] - ex[i]).collect();
            let v = vec![unit * unit; n];
            let mut h = Horizons::new(&e, &v);
            let mut run = 0.0;
            for i in 0..n {
                run = if i > 0 && s.value[i] == s.value[i - 1] { run + 1.0 } else { 0.0 };
                if i < from {
                    continue;
                }
                if skip(i) {
                    out.push(SKIPPED);
                    continue;
                }
                let mut z = [0.0; MAX_NF];
                z[0] = e[i] / unit;
                for k in 0..2 {
                    let (se, sv) = h.at(&s.ts, i, k);
                    z[k + 1] = ratio(se, sv);
                }
                z[3] = if i > 0 { (s.value[i] - s.value[i - 1]) / diff_unit } else { 0.0 };
                z[4] = run / run_q;
                out.push(Row { z, expected: ex[i] });
            }
        }
    }
    for row in &mut out[start..] {
        for (z, sc) in row.z.iter_mut().zip(scales) {
            *z /= sc;
        }
    }
}

#[cfg(test)]
mod scan_tests {
    use super::*;

    /// The scan as first written: separate prefix sums, each start found afresh, the best
    /// kept with a branch. `Scan::at` must give the same bits.
    fn reference(ts: &[i64], e: &[f64], v: &[f64], m: &[f64], i: usize, rho2: f64) -> f64 {
        let prefix = |x: &[f64]| {
            let mut p = vec![0.0];
            let mut a = 0.0;
            for y in x {
                a += y;
                p.push(a);
            }
            p
        };
        let (pe, pv, pm) = (prefix(e), prefix(v), prefix(m));
        let (mut best_se, mut best_var, mut best_z2) = (0.0f64, 1.0f64, 0.0f64);
        for k in 1..=SCAN_HOURS as i64 {
            let from = ts[i].saturating_sub(k * HOUR_US);
            let j = ts[..i].partition_point(|t| *t <= from);
            let se = pe[i + 1] - pe[j];
            let sm = pm[i + 1] - pm[j];
            let var = pv[i + 1] - pv[j] + rho2 * sm * sm;
            if var > 0.0 && se * se > best_z2 * var {
                (best_se, best_var, best_z2) = (se, var, se * se / var);
            }
        }
        if best_z2 > 0.0 {
            best_se / best_var.sqrt()
        } else {
            0.0
        }
    }

    #[test]
    fn scan_matches_the_reference_bitwise() {
        // irregular steps (gaps of up to 3 hours, repeated timestamps), deviations of both
        // signs, a zero-variance stretch
        let mut x: u64 = 7;
        let mut rnd = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let n = 600;
        let (mut ts, mut e, mut v, mut m) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut t = 1_735_689_600_000_000i64;
        for k in 0..n {
            let r = rnd();
            t += if r < 0.05 { 0 } else if r < 0.1 { 3 * HOUR_US } else { 15 * 60_000_000 };
            ts.push(t);
            let zero = (200..230).contains(&k);
            e.push(if zero { 0.0 } else { (rnd() - 0.45) * 10.0 });
            v.push(if zero { 0.0 } else { rnd() * 4.0 });
            m.push(rnd() * 3.0);
        }
        for rho2 in [0.0, 0.01, 0.3] {
            let mut sc = Scan::new(&e, &v, &m);
            for i in 0..n {
                // rows visited in order, some skipped (as derive_some does)
                if i % 5 == 2 {
                    continue;
                }
                assert_eq!(sc.at(&ts, i, rho2, 0.0).to_bits(), reference(&ts, &e, &v, &m, i, rho2).to_bits(), "row {i} rho2 {rho2}");
            }
        }
    }
}
