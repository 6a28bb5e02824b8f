//! A detectability bound for the corpus' count series (consumption and custody usage): an
//! oracle that knows each entity's true normal process (the simulator's per-step means, the
//! demand's dispersion, the stock on hand that limits what is served, the day's random
//! factor) and scans windows of 1 row, 1 h, 4 h, 24 h and 72 h ending at every row with the
//! likelihood ratio of the observed total against the true expected total, plus, for a run of
//! one repeated value, the log-probability of the repeats. Whatever this oracle cannot find at
//! a false-alert rate, no detector that has to learn the process from data finds at that rate
//! either (up to the oracle's approximations, see [`quasi_llr`]).
//!
//! Two variants: `full` knows the day's random factor `exp(0.12 N)` as well (an upper bound:
//! no detector can know it before the day is over); `blind` knows everything else and treats
//! that factor as random (its mean in the expectation, its variance added to every window
//! per day it spans), the realistic bound for a detector that has learnt the profile exactly.
//! Holidays and `regime`'s occupancy change are known to both.
//!
//! Used by `examples/eval_quality.rs --oracle`; nothing here changes what the corpus generates.

use statrs::function::gamma::ln_gamma;

use super::truth::{KnownProcess, TruthLabel, BASE_US};
use super::{Style, DAY_US, LOCAL_OFFSET_US, STOK, TUKETIM, ZIMMET};

/// Standard deviation of the log of the simulator's random day factor.
const DAY_SIGMA: f64 = 0.12;
/// Window lengths scanned (besides one row), in hours.
pub const WINDOW_HOURS: [i64; 4] = [1, 4, 24, 72];

/// Per recorded row (before any row is lost to a gap), what the truth expects of the two count
/// metrics.
#[derive(Clone, Debug, Default)]
pub struct Known {
    start_us: i64,
    step_us: i64,
    cumulative: bool,
    units: bool,
    /// [consumption, custody]
    metric: [RowMeans; 2],
}

#[derive(Clone, Debug, Default)]
struct RowMeans {
    /// Mean and variance of the row's count knowing the day factor.
    full: Vec<(f64, f64)>,
    /// Mean and variance (within the day) with the day factor unknown.
    blind: Vec<(f64, f64)>,
}

/// Mean and variance of `min(D, s)` for `D` negative binomial with mean `mu` and variance
/// `mu + alpha mu^2` (Poisson for `alpha` 0): what is served from a stock of `s`.
pub fn censored_nb(mu: f64, alpha: f64, s: f64) -> (f64, f64) {
    let v = mu + alpha * mu * mu;
    if !(mu > 0.0) || s <= 0.0 {
        return (0.0, 0.0);
    }
    if s >= mu + 6.0 * v.sqrt() + 2.0 {
        return (mu, v);
    }
    // pmf recursion: P(0) = p^r, P(k+1) = P(k) (k + r) / (k + 1) (1 - p)
    let s = s as usize;
    let (mut m1, mut m2, mut below) = (0.0, 0.0, 0.0);
    let mut pk = if alpha > 0.0 { (-(1.0 / alpha) * (1.0 + alpha * mu).ln()).exp() } else { (-mu).exp() };
    for k in 0..s {
        m1 += k as f64 * pk;
        m2 += (k * k) as f64 * pk;
        below += pk;
        pk *= if alpha > 0.0 { (k as f64 + 1.0 / alpha) / (k as f64 + 1.0) * (alpha * mu / (1.0 + alpha * mu)) } else { mu / (k as f64 + 1.0) };
    }
    let above = (1.0 - below).max(0.0);
    let (s, m) = (s as f64, m1 + s as f64 * above);
    (m, (m2 + s * s * above - m * m).max(0.0))
}

impl Known {
    pub(crate) fn new(k: &KnownProcess, labels: &[TruthLabel], style: &Style, start_us: i64) -> Known {
        let step = style.step_base.max(1);
        let rows = k.cons_mu.len() / step;
        let c = (DAY_SIGMA * DAY_SIGMA / 2.0).exp();
        // the stock on hand limits what the normal process serves (a stock-out of the normal
        // process explains a day without consumption), but not where an anomaly emptied it:
        // from the start of a label that changes the real stock (consumption anomalies, a
        // missing refill, a leak) to a day after its end the normal world had stock
        let mut anomalous = vec![false; k.cons_mu.len()];
        for l in labels.iter().filter(|l| l.metric == TUKETIM || (l.metric == STOK && (l.kind == "missing_refill" || l.kind == "slow_leak"))) {
            let b = (l.b + super::truth::BASE_PER_DAY).min(anomalous.len().saturating_sub(1));
            anomalous.iter_mut().take(b + 1).skip(l.a).for_each(|x| *x = true);
        }
        let mut out = Known { start_us, step_us: step as i64 * BASE_US, cumulative: style.cumulative, units: style.units, metric: Default::default() };
        for j in 0..rows {
            let (mut cf, mut cb, mut uf, mut ub) = ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0));
            for i in j * step..(j + 1) * step {
                let (m, v) = censored_nb(k.cons_mu[i], k.alpha, if anomalous[i] { f64::INFINITY } else { k.avail[i] });
                cf = (cf.0 + m, cf.1 + v);
                let (m, v) = censored_nb(k.cons_mu[i] / k.day_noise[i] * c, k.alpha, if anomalous[i] { f64::INFINITY } else { k.avail[i] });
                cb = (cb.0 + m, cb.1 + v);
                uf = (uf.0 + k.cust_mu[i], uf.1 + k.cust_mu[i]);
                let m = k.cust_mu[i] / k.day_noise[i] * c;
                ub = (ub.0 + m, ub.1 + m);
            }
            if style.units {
                // litres: value / 0.33 is the count times (1 + 0.02 e)
                cf.1 += 4e-4 * (cf.0 * cf.0 + cf.1);
                cb.1 += 4e-4 * (cb.0 * cb.0 + cb.1);
            }
            out.metric[0].full.push(cf);
            out.metric[0].blind.push(cb);
            out.metric[1].full.push(uf);
            out.metric[1].blind.push(ub);
        }
        out
    }
}

/// One recorded series as the oracle reads it: per row the count (increments of a meter
/// total, consumption in items), its expected mean and variance, and its local day.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub ts: Vec<i64>,
    pub x: Vec<f64>,
    pub e: Vec<f64>,
    pub v: Vec<f64>,
    pub day: Vec<i64>,
    /// Index of the last row of each row's day.
    day_end: Vec<usize>,
    /// The day factor is unknown: windows add its variance per day they span.
    pub blind: bool,
}

impl Counts {
    /// The recorded series `ts`/`value` of metric `mi` (consumption or custody usage).
    pub fn new(known: &Known, mi: usize, ts: &[i64], value: &[f64], blind: bool) -> Counts {
        assert!(mi == TUKETIM || mi == ZIMMET, "the oracle reads the count metrics");
        let rm = &known.metric[usize::from(mi == ZIMMET)];
        let means = if blind { &rm.blind } else { &rm.full };
        let (mut x_, mut e_, mut v_) = (Vec::new(), Vec::new(), Vec::new());
        for (r, (&t, &val)) in ts.iter().zip(value).enumerate() {
            let j = ((t - known.start_us) / known.step_us) as usize;
            let (e, v) = means[j];
            let mut x = if known.cumulative {
                // a meter total: the row's count is its increment (the first row says nothing)
                if r == 0 { e } else { val - value[r - 1] }
            } else {
                val
            };
            if known.units && mi == TUKETIM {
                x /= 0.33;
            }
            x_.push(x);
            e_.push(e);
            v_.push(v);
        }
        Counts::from_parts(ts.to_vec(), x_, e_, v_, blind)
    }

    /// Rows given directly: timestamps (increasing), counts, expected means and variances.
    pub fn from_parts(ts: Vec<i64>, x: Vec<f64>, e: Vec<f64>, v: Vec<f64>, blind: bool) -> Counts {
        let day: Vec<i64> = ts.iter().map(|t| (t + LOCAL_OFFSET_US).div_euclid(DAY_US)).collect();
        let mut c = Counts { ts, x, e, v, day, day_end: Vec::new(), blind };
        c.day_end = vec![0; c.day.len()];
        for r in (0..c.day.len()).rev() {
            c.day_end[r] = if r + 1 < c.day.len() && c.day[r + 1] == c.day[r] { c.day_end[r + 1] } else { r };
        }
        c
    }

    /// Observed total, expected total and variance of rows `a..=b` (day-factor variance
    /// included when blind).
    pub fn window(&self, a: usize, b: usize, px: &[f64], pe: &[f64], pv: &[f64]) -> (f64, f64, f64) {
        let (x, e, mut v) = (px[b + 1] - px[a], pe[b + 1] - pe[a], pv[b + 1] - pv[a]);
        if self.blind {
            let s2 = (DAY_SIGMA * DAY_SIGMA).exp() - 1.0;
            let mut i = a;
            while i <= b {
                let j = self.day_end[i].min(b);
                let m = pe[j + 1] - pe[i];
                v += s2 * m * m;
                i = j + 1;
            }
        }
        (x, e, v)
    }

    /// The evidence of rows with `from <= ts <= to` taken as one window: observed and
    /// expected totals and the signed [`quasi_llr`] (None without rows).
    pub fn span(&self, from: i64, to: i64) -> Option<(f64, f64, f64)> {
        let a = self.ts.partition_point(|&t| t < from);
        let b = self.ts.partition_point(|&t| t <= to);
        if b <= a {
            return None;
        }
        let (px, pe, pv) = self.prefix();
        let (x, e, v) = self.window(a, b - 1, &px, &pe, &pv);
        Some((x, e, quasi_llr(x, e, v)))
    }

    fn prefix(&self) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let p = |s: &[f64]| {
            let mut o = vec![0.0];
            for v in s {
                o.push(o.last().copied().unwrap_or(0.0) + v);
            }
            o
        };
        (p(&self.x), p(&self.e), p(&self.v))
    }
}

/// Signed log-likelihood ratio (nats) of a window total `x` against its expected total `e`
/// with variance `v`: the Poisson ratio `x ln(x / e) - (x - e)` of the best rate against the
/// true one, divided by the dispersion `v / e` (at least 1) as a quasi-likelihood does;
/// positive above the expectation. Exact for Poisson windows (`v = e`); for over-dispersed
/// ones it matches the Gaussian `(x - e)^2 / 2 v` for large counts.
pub fn quasi_llr(x: f64, e: f64, v: f64) -> f64 {
    let e = e.max(1e-9);
    let x = x.max(0.0);
    let dev = if x > 0.0 { x * (x / e).ln() - (x - e) } else { e };
    let phi = (v / e).max(1.0);
    (if x >= e { 1.0 } else { -1.0 }) * dev.max(0.0) / phi
}

/// `-ln P(X = k)` for `X` with mean `e` and variance `v`: Poisson when `v <= e`, else the
/// negative binomial with that mean and variance.
pub fn neg_ln_pmf(k: f64, e: f64, v: f64) -> f64 {
    let e = e.max(1e-9);
    if v <= e * (1.0 + 1e-9) {
        return e - k * e.ln() + ln_gamma(k + 1.0);
    }
    let r = e * e / (v - e);
    let p = r / (r + e);
    -(ln_gamma(k + r) - ln_gamma(r) - ln_gamma(k + 1.0) + r * p.ln() + k * (1.0 - p).ln())
}

/// The oracle's score of one row.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OracleRow {
    pub ts: i64,
    /// Largest evidence (nats) of a window ending at this row, or of the repeated-value run
    /// ending here.
    pub nats: f64,
    /// 1 above expected, -1 below, 0 a repeated-value run.
    pub dir: i8,
    /// Largest evidence of any scanned window (or run) that contains this row, also ones
    /// ending later: what ranks rows for a non-causal AUC.
    pub cover: f64,
}

/// Scores every row of `c`: windows of one row and of [`WINDOW_HOURS`] ending at it, and the
/// run of rows repeating one integer value ending at it (`-ln P` of every repeat after the
/// run's first row).
pub fn score(c: &Counts) -> Vec<OracleRow> {
    let n = c.ts.len();
    let (px, pe, pv) = c.prefix();
    let mut out: Vec<OracleRow> = c.ts.iter().map(|&ts| OracleRow { ts, ..OracleRow::default() }).collect();
    let step = c.ts.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(BASE_US);
    let mut lens: Vec<i64> = vec![step];
    lens.extend(WINDOW_HOURS.iter().map(|h| h * 3_600_000_000).filter(|&l| l > step));
    for &len in &lens {
        let mut a = 0usize;
        let mut s = vec![0.0f64; n];
        let mut starts = vec![0usize; n];
        for b in 0..n {
            while c.ts[a] <= c.ts[b] - len {
                a += 1;
            }
            let (x, e, v) = c.window(a, b, &px, &pe, &pv);
            let l = quasi_llr(x, e, v);
            s[b] = l.abs();
            starts[b] = a;
            if l.abs() > out[b].nats {
                out[b].nats = l.abs();
                out[b].dir = if l > 0.0 { 1 } else { -1 };
            }
        }
        // cover[r] = max s[b] over b >= r with starts[b] <= r: both ends move forward with r
        let mut dq: std::collections::VecDeque<usize> = Default::default();
        let mut hi = 0usize;
        for r in 0..n {
            while hi < n && starts[hi] <= r {
                while dq.back().is_some_and(|&k| s[k] <= s[hi]) {
                    dq.pop_back();
                }
                dq.push_back(hi);
                hi += 1;
            }
            while dq.front().is_some_and(|&k| k < r) {
                dq.pop_front();
            }
            if let Some(&k) = dq.front() {
                out[r].cover = out[r].cover.max(s[k]);
            }
        }
    }
    // repeated-value runs
    let mut run = vec![0.0f64; n];
    for r in 1..n {
        if c.x[r] == c.x[r - 1] && c.x[r] >= 0.0 && c.x[r] == c.x[r].round() {
            run[r] = run[r - 1] + neg_ln_pmf(c.x[r], c.e[r], c.v[r]);
        }
    }
    let mut tail = 0.0f64;
    for r in (0..n).rev() {
        if r + 1 < n && run[r + 1] > 0.0 {
            tail = tail.max(run[r + 1]);
        } else {
            tail = run[r];
        }
        if run[r] > out[r].nats {
            out[r].nats = run[r];
            out[r].dir = 0;
        }
        out[r].cover = out[r].cover.max(tail).max(out[r].nats);
    }
    out
}
