//! The one-pass kernel: three trailing windows (statistics, 7 periods, 30 periods), four
//! as-of cursors (three lags and momentum) and 24 hour-of-day buckets, all advanced row by row.
//!
//! Per row the work is O(log w) for the sorted bags (plus a short `memmove`) and amortised
//! O(1) for everything else; the float sums are re-summed once per period block (see
//! `window.rs`), which costs about `(W + 37P) / P` additions per row, ~40 with 15-minute data.
//!
//! Over 400 lines on purpose: the one-pass kernel advances every window and cursor in one loop, which is what makes it one pass.

use std::collections::VecDeque;

use super::col::*;
use super::params::{Clamped, US_PER_DAY, US_PER_HOUR};
use super::window::{deque_bytes, rebase_deque, AsOf, Extremum, LatestAbove, Moments, SortedBag, Span, TrendSums};
use super::{FeatureRow, Observation, NUM_FEATURES};

const DAY: f64 = US_PER_DAY as f64;
const HOUR: f64 = US_PER_HOUR as f64;

/// The difference ending at row `i` (`i >= 1`).
#[inline]
fn diff(s: &[Observation], i: usize) -> f64 {
    s[i].value - s[i - 1].value
}

/// Statistics window (T-W, T]: values, time, differences.
#[derive(Clone, Debug, Default)]
pub(super) struct StatWindow {
    pub(super) vals: Moments,
    pub(super) trend: TrendSums,
    pub(super) diffs: Moments,
    /// Sum of the negative differences' magnitudes.
    pub(super) drop: f64,
    /// Differences that are not 0: a window without any is constant, which makes its
    /// deviation exactly 0 instead of rounding noise.
    pub(super) changes: usize,
    /// Consecutive differences that differ: without any, volatility is exactly 0.
    pub(super) diff_changes: usize,
    pub(super) min: Extremum,
    pub(super) max: Extremum,
    pub(super) sorted: SortedBag,
}

/// A long window (T-kP, T]: values and their change count.
#[derive(Clone, Debug, Default)]
pub(super) struct LongWindow {
    pub(super) vals: Moments,
    pub(super) changes: usize,
}

impl LongWindow {
    fn mean_std(&self, x: f64, n: usize) -> (Option<f64>, Option<f64>) {
        if self.changes == 0 {
            (Some(x), (n >= 2).then_some(0.0))
        } else {
            (self.vals.mean(), self.vals.var().map(f64::sqrt))
        }
    }
}

/// The state of every window after the last row stepped. It indexes rows of a buffer the
/// driver owns (see `state.rs`); [`Kernel::first_needed`] and [`Kernel::rebase`] let the
/// driver drop the rows no window can read any more.
#[derive(Clone, Debug)]
pub(super) struct Kernel {
    pub(super) c: Clamped,
    /// Period block of the previous row; `None` before the first.
    pub(super) block: Option<i64>,
    /// First row the hour-of-day buckets take.
    pub(super) season_start: usize,
    pub(super) w: Span,
    pub(super) stat: StatWindow,
    pub(super) p7: Span,
    pub(super) long7: LongWindow,
    pub(super) abs_diffs7: SortedBag,
    pub(super) jumps7: LatestAbove,
    /// Latest row whose value differs from the previous row's (valid only inside the window).
    pub(super) last_change: Option<usize>,
    pub(super) p30: Span,
    pub(super) long30: LongWindow,
    pub(super) lags: [AsOf; 3],
    pub(super) momentum: AsOf,
    pub(super) season: Vec<VecDeque<usize>>,
}

impl Kernel {
    /// Each window family starts at the first row its state at `first_out` can depend on
    /// (its span plus one period block, see `FeatureParams::lookback_us`): look-back rows
    /// older than that would be evicted or re-summed before they matter, so they are skipped.
    ///
    /// `first_out == 0` (or an empty `s`) starts every window at row 0: the state of a series
    /// fed from its beginning.
    pub(super) fn new(c: Clamped, s: &[Observation], first_out: usize) -> Self {
        let p = c.period;
        let start = |span: i64| match s.get(first_out) {
            Some(o) => {
                let from = o.ts.saturating_sub(span);
                s[..first_out].partition_point(|o| o.ts <= from)
            }
            None => 0,
        };
        Kernel {
            c,
            block: None,
            season_start: start(c.seasonal_span),
            w: Span::starting_at(c.window, start(c.window + p)),
            stat: StatWindow::default(),
            p7: Span::starting_at(7 * p, start(8 * p)),
            long7: LongWindow::default(),
            abs_diffs7: SortedBag::default(),
            jumps7: LatestAbove::default(),
            last_change: None,
            p30: Span::starting_at(30 * p, start(31 * p)),
            long30: LongWindow::default(),
            lags: [AsOf::new(p, p), AsOf::new(7 * p, p), AsOf::new(30 * p, p)],
            momentum: AsOf::new(c.window, c.window),
            season: (0..24).map(|_| VecDeque::new()).collect(),
        }
    }

    /// Adds row `t` to every window; returns its seasonal z-score when `emit`.
    pub(super) fn step(&mut self, s: &[Observation], t: usize, emit: bool) -> Option<f64> {
        let block = s[t].ts.div_euclid(self.c.period);
        let reset = self.block != Some(block);
        self.block = Some(block);
        let d = (t >= 1).then(|| diff(s, t));
        let changed = d.is_some_and(|d| d != 0.0);
        if changed {
            self.last_change = Some(t);
        }
        self.step_stat(s, t, d, changed, reset);
        self.step_long(s, t, d, changed, reset);
        self.step_season(s, t, emit)
    }

    fn step_stat(&mut self, s: &[Observation], t: usize, d: Option<f64>, changed: bool, reset: bool) {
        if t < self.w.lo {
            return;
        }
        // The difference ending at t is inside only when t - 1 is; a window's first row
        // (t == lo) always starts its sums afresh.
        let d = d.filter(|_| t > self.w.lo);
        let reset = reset || t == self.w.lo;
        let w = &mut self.stat;
        let x = s[t].value;
        w.vals.add(x);
        w.trend.add(&s[t]);
        w.sorted.insert(x);
        w.min.push(s, t, |new, old| new <= old);
        w.max.push(s, t, |new, old| new >= old);
        if let Some(d) = d {
            w.diffs.add(d);
            w.drop += (-d).max(0.0);
            w.changes += usize::from(changed);
            if t >= 2 + self.w.lo {
                w.diff_changes += usize::from(d != diff(s, t - 1));
            }
        }
        for e in self.w.advance(s, t) {
            let xe = s[e].value;
            w.vals.remove(xe);
            w.trend.remove(&s[e]);
            w.sorted.remove(xe);
            // e < t, so the difference ending at e + 1 was inside and leaves with e.
            let de = diff(s, e + 1);
            w.diffs.remove(de);
            w.drop -= (-de).max(0.0);
            w.changes = w.changes.saturating_sub(usize::from(de != 0.0));
            if e + 2 <= t {
                w.diff_changes = w.diff_changes.saturating_sub(usize::from(diff(s, e + 2) != de));
            }
        }
        if reset {
            let lo = self.w.lo;
            w.vals.clear(x);
            w.trend.clear(s[t].ts, x);
            // The reference must come from the window's contents: the difference ending at
            // t only counts when t - 1 is still inside.
            w.diffs.clear(if t > lo { diff(s, t) } else { 0.0 });
            w.drop = 0.0;
            for i in lo..=t {
                w.vals.add(s[i].value);
                w.trend.add(&s[i]);
                if i > lo {
                    let di = diff(s, i);
                    w.diffs.add(di);
                    w.drop += (-di).max(0.0);
                }
            }
        }
    }

    fn step_long(&mut self, s: &[Observation], t: usize, d: Option<f64>, changed: bool, reset: bool) {
        if t >= self.p7.lo {
            if let Some(d) = d.filter(|_| t > self.p7.lo) {
                self.abs_diffs7.insert(d.abs());
                self.jumps7.push(s, t);
            }
            for e in long_step(&mut self.p7, &mut self.long7, s, t, changed, reset) {
                // The difference ending at e + 1 leaves with e (e < t, so it exists).
                self.abs_diffs7.remove(diff(s, e + 1).abs());
            }
            self.jumps7.expire(self.p7.lo + 1);
        }
        if t >= self.p30.lo {
            long_step(&mut self.p30, &mut self.long30, s, t, changed, reset);
        }
    }

    fn step_season(&mut self, s: &[Observation], t: usize, emit: bool) -> Option<f64> {
        let o = &s[t];
        if t < self.season_start {
            return None;
        }
        let h = usize::try_from(o.hour_of_day).ok().filter(|h| *h < 24)?;
        let bucket = &mut self.season[h];
        let cutoff = o.ts.saturating_sub(self.c.seasonal_span);
        while bucket.front().is_some_and(|&i| s[i].ts <= cutoff) {
            bucket.pop_front();
        }
        let z = if emit { seasonal_z(s, bucket, o.value) } else { None };
        bucket.push_back(t);
        z
    }

    /// The features of row `t` from the current window states.
    pub(super) fn row(&mut self, s: &[Observation], t: usize, seasonal: Option<f64>) -> FeatureRow {
        let o = &s[t];
        let (ts, x) = (o.ts, o.value);
        let mut v = [None; NUM_FEATURES];

        let n = self.w.count(t);
        let w = &mut self.stat;
        let flat = w.changes == 0;
        let mean = if flat { Some(x) } else { w.vals.mean() };
        v[MEAN] = mean;
        v[STD] = if n < 2 { None } else if flat { Some(0.0) } else { w.vals.var().map(f64::sqrt) };
        v[MIN] = w.min.get(s, self.w.lo);
        v[MAX] = w.max.get(s, self.w.lo);
        v[MEDIAN] = w.sorted.quantile(0.5);
        v[Q25] = w.sorted.quantile(0.25);
        v[Q75] = w.sorted.quantile(0.75);
        let slope = if n < 3 { None } else if flat { Some(0.0) } else { w.trend.slope() };
        v[TREND_SLOPE] = slope;
        v[TREND_DIRECTION] = slope.map(|b| direction(b, mean, self.c.dead_band));
        v[VOLATILITY] = if n < 3 {
            None
        } else if w.diff_changes == 0 {
            Some(0.0)
        } else {
            w.diffs.var().map(f64::sqrt)
        };
        v[MOMENTUM] = self.momentum.value(s, t).map(|p| x - p);
        let span_w_days = ts.saturating_sub(s[self.w.lo].ts) as f64 / DAY;
        v[DROP_RATE] = (n >= 2).then(|| if flat { 0.0 } else { w.drop.max(0.0) / span_w_days });

        v[HOUR_OF_DAY] = Some(f64::from(o.hour_of_day));
        v[DAY_OF_WEEK] = Some(f64::from(o.day_of_week));
        v[IS_WEEKEND] = Some(if o.day_of_week == 6 || o.day_of_week == 7 { 1.0 } else { 0.0 });
        v[DAY_OF_MONTH] = Some(f64::from(o.day_of_month));

        let n7 = self.p7.count(t);
        let lo7 = self.p7.lo;
        let (m7, sd7) = self.long7.mean_std(x, n7);
        let since_lo7 = ts.saturating_sub(s[lo7].ts);
        let run_start = self.last_change.filter(|&i| i > lo7).unwrap_or(lo7);
        v[DAYS_SINCE_CHANGE] = (n7 >= 2).then(|| ts.saturating_sub(s[run_start].ts) as f64 / DAY);
        v[CHANGE_FREQUENCY] = (n7 >= 2).then(|| self.long7.changes as f64 / (since_lo7 as f64 / DAY));
        v[RUN_LENGTH] = Some((t + 1 - run_start) as f64);
        v[HOURS_SINCE_JUMP] = if n7 >= 4 {
            self.abs_diffs7.quantile(0.5).map(|mad| {
                let thr = (self.c.jump_factor * mad).max(self.c.jump_min_relative * m7.map_or(0.0, f64::abs));
                let at = self.jumps7.latest_above(s, thr).unwrap_or(lo7);
                ts.saturating_sub(s[at].ts) as f64 / HOUR
            })
        } else {
            None
        };

        let lag1 = self.lags[0].value(s, t);
        v[LAG_1] = lag1;
        v[LAG_7] = self.lags[1].value(s, t);
        v[LAG_30] = self.lags[2].value(s, t);
        v[ROLLING_MEAN_7] = m7;
        v[ROLLING_STD_7] = sd7;
        let (m30, sd30) = self.long30.mean_std(x, self.p30.count(t));
        v[ROLLING_MEAN_30] = m30;
        v[ROLLING_STD_30] = sd30;
        v[ZSCORE_7] = match (m7, sd7) {
            (Some(m), Some(sd)) if sd > 0.0 => Some((x - m) / sd),
            _ => None,
        };
        v[DIFF_LAG_1] = lag1.map(|l| x - l);
        v[SEASONAL_ZSCORE] = seasonal;
        FeatureRow { ts, values: v }
    }
}

impl Kernel {
    /// Does now, as of the last stepped row `last`, the lazy clean-up that later rows would
    /// do anyway: moves the as-of cursors, drops minimum/maximum candidates that left the
    /// statistics window and seasonal entries older than `ts[last] - S * P`. Each of these
    /// only depends on thresholds that never decrease for increasing `ts`, so doing it early
    /// changes no result; it lets [`Kernel::first_needed`] see which rows are dead.
    pub(super) fn settle(&mut self, s: &[Observation], last: usize) {
        for lag in &mut self.lags {
            lag.value(s, last);
        }
        self.momentum.value(s, last);
        if last >= self.w.lo {
            self.stat.min.get(s, self.w.lo);
            self.stat.max.get(s, self.w.lo);
        }
        let cutoff = s[last].ts.saturating_sub(self.c.seasonal_span);
        for bucket in &mut self.season {
            while bucket.front().is_some_and(|&i| s[i].ts <= cutoff) {
                bucket.pop_front();
            }
        }
    }

    /// The first row any window may still read after row `last` (call [`Kernel::settle`]
    /// first): the minimum of every held index, the window starts, the as-of candidates
    /// and `last` itself (the next difference reads it). Never above `last`.
    pub(super) fn first_needed(&self, last: usize) -> usize {
        let mut k = last.min(self.w.lo).min(self.p7.lo).min(self.p30.lo);
        for lag in self.lags.iter().chain([&self.momentum]) {
            k = k.min(lag.first_needed());
        }
        for i in [self.stat.min.first(), self.stat.max.first()].into_iter().flatten() {
            k = k.min(i);
        }
        // A jump's difference also reads the row before it.
        if let Some(&i) = self.jumps7.first_ref() {
            k = k.min(i.saturating_sub(1));
        }
        for bucket in &self.season {
            if let Some(&i) = bucket.front() {
                k = k.min(i);
            }
        }
        k
    }

    /// Shifts every index after the driver dropped the first `k` rows of its buffer;
    /// `k` must not exceed [`Kernel::first_needed`].
    pub(super) fn rebase(&mut self, k: usize) {
        if k == 0 {
            return;
        }
        self.season_start = self.season_start.saturating_sub(k);
        self.w.rebase(k);
        self.p7.rebase(k);
        self.p30.rebase(k);
        self.stat.min.rebase(k);
        self.stat.max.rebase(k);
        self.jumps7.rebase(k);
        // An older change lies before the 7-period window, where it no longer counts.
        self.last_change = self.last_change.and_then(|i| i.checked_sub(k));
        for lag in &mut self.lags {
            lag.rebase(k);
        }
        self.momentum.rebase(k);
        for bucket in &mut self.season {
            rebase_deque(bucket, k);
        }
    }

    /// Heap bytes held by the windows (not counting the driver's buffer).
    pub(super) fn heap_bytes(&self) -> usize {
        let season: usize = self.season.iter().map(deque_bytes).sum::<usize>()
            + self.season.capacity() * std::mem::size_of::<VecDeque<usize>>();
        self.stat.sorted.heap_bytes()
            + self.stat.min.heap_bytes()
            + self.stat.max.heap_bytes()
            + self.abs_diffs7.heap_bytes()
            + self.jumps7.heap_bytes()
            + season
    }
}

/// Adds row `t` (not before the window's start) to a long window, evicts, re-sums on a block reset; returns the evicted rows.
fn long_step(
    span: &mut Span,
    long: &mut LongWindow,
    s: &[Observation],
    t: usize,
    changed: bool,
    reset: bool,
) -> std::ops::Range<usize> {
    let x = s[t].value;
    let reset = reset || t == span.lo;
    long.vals.add(x);
    long.changes += usize::from(changed && t > span.lo);
    let gone = span.advance(s, t);
    for e in gone.clone() {
        long.vals.remove(s[e].value);
        long.changes = long.changes.saturating_sub(usize::from(diff(s, e + 1) != 0.0));
    }
    if reset {
        long.vals.clear(x);
        for o in &s[span.lo..=t] {
            long.vals.add(o.value);
        }
    }
    gone
}

/// -1/0/1 with a dead band of `band * |mean|` per day.
fn direction(slope: f64, mean: Option<f64>, band: f64) -> f64 {
    let tol = band * mean.map_or(0.0, f64::abs);
    if slope > tol {
        1.0
    } else if slope < -tol {
        -1.0
    } else {
        0.0
    }
}

/// z-score of `x` against the bucket's values (two passes over the ~S * samples-per-hour
/// values, exact and cheap); `None` under 3 values or when they are all equal.
fn seasonal_z(s: &[Observation], bucket: &VecDeque<usize>, x: f64) -> Option<f64> {
    let n = bucket.len();
    if n < 3 {
        return None;
    }
    let first = s[bucket[0]].value;
    let mut sum = 0.0;
    let mut all_equal = true;
    for &i in bucket {
        let v = s[i].value;
        sum += v;
        all_equal &= v == first;
    }
    if all_equal {
        return None;
    }
    let mean = sum / n as f64;
    let ss: f64 = bucket.iter().map(|&i| (s[i].value - mean).powi(2)).sum();
    let sd = (ss / (n - 1) as f64).sqrt();
    (sd > 0.0).then(|| (x - mean) / sd)
}
