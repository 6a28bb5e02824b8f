//! Sliding-window building blocks of the feature kernels.
//!
//! Everything here must give the same bits whether a computation started at the beginning
//! of a series or a look-back away from the row. Structures that hold the window contents
//! (sorted bags, monotonic deques, counters) are exact by construction. Running float sums
//! are not: add/subtract rounding depends on history. They are therefore re-summed from the
//! window contents at the first row of each epoch-aligned block of `period_us` (the kernel
//! decides when), and shifted by a reference value taken at that reset, which also avoids the
//! cancellation of `sum(x^2) - sum(x)^2 / n` on large levels with small spread.
//!
//! Over 400 lines on purpose: each window structure sits next to the argument for why it is exact.

use std::collections::VecDeque;

use super::params::US_PER_DAY;
use super::Observation;

/// The index range `[lo, t]` of a trailing time window `(ts[t] - span, ts[t]]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    pub span: i64,
    pub lo: usize,
}

impl Span {
    /// A window whose first row will be `start` (rows before it are never added).
    pub fn starting_at(span: i64, start: usize) -> Self {
        Span { span, lo: start }
    }

    /// Moves `lo` past the rows that left the window at row `t` and returns them. Row `t`
    /// itself always stays, even if the input were not sorted.
    #[inline]
    pub fn advance(&mut self, s: &[Observation], t: usize) -> std::ops::Range<usize> {
        let cutoff = s[t].ts.saturating_sub(self.span);
        let start = self.lo;
        while self.lo < t && s[self.lo].ts <= cutoff {
            self.lo += 1;
        }
        start..self.lo
    }

    /// Number of observations in the window at row `t`.
    #[inline]
    pub fn count(&self, t: usize) -> usize {
        t + 1 - self.lo
    }

    /// Shifts the window after the first `k` rows of the buffer were dropped (`k <= lo`,
    /// or the window has not started yet and `k` is below its first row).
    pub fn rebase(&mut self, k: usize) {
        self.lo = self.lo.saturating_sub(k);
    }
}

/// Count, shifted sum and shifted sum of squares of a window of values.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Moments {
    pub(super) k: f64,
    pub(super) n: usize,
    pub(super) s1: f64,
    pub(super) s2: f64,
}

impl Moments {
    /// Forgets everything and takes `k` as the new reference value.
    #[inline]
    pub fn clear(&mut self, k: f64) {
        *self = Moments { k, ..Moments::default() };
    }
    #[inline]
    pub fn add(&mut self, x: f64) {
        let y = x - self.k;
        self.n += 1;
        self.s1 += y;
        self.s2 += y * y;
    }
    #[inline]
    pub fn remove(&mut self, x: f64) {
        let y = x - self.k;
        self.n = self.n.saturating_sub(1);
        self.s1 -= y;
        self.s2 -= y * y;
    }
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.k + self.s1 / self.n as f64)
    }
    /// Sample variance (n-1); clamped at 0 because rounding can push it a hair below.
    pub fn var(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let n = self.n as f64;
        Some(((self.s2 - self.s1 * self.s1 / n) / (n - 1.0)).max(0.0))
    }
}

/// Sums for the least-squares slope of value against time. Time is in days relative to a
/// reference instant taken at the reset (an exact integer difference, then one division),
/// values relative to a reference value.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct TrendSums {
    pub(super) t0: i64,
    pub(super) k: f64,
    pub(super) n: usize,
    pub(super) su: f64,
    pub(super) suu: f64,
    pub(super) sy: f64,
    pub(super) suy: f64,
}

impl TrendSums {
    #[inline]
    pub fn clear(&mut self, t0: i64, k: f64) {
        *self = TrendSums { t0, k, ..TrendSums::default() };
    }
    #[inline]
    fn uy(&self, o: &Observation) -> (f64, f64) {
        (o.ts.wrapping_sub(self.t0) as f64 / US_PER_DAY as f64, o.value - self.k)
    }
    #[inline]
    pub fn add(&mut self, o: &Observation) {
        let (u, y) = self.uy(o);
        self.n += 1;
        self.su += u;
        self.suu += u * u;
        self.sy += y;
        self.suy += u * y;
    }
    #[inline]
    pub fn remove(&mut self, o: &Observation) {
        let (u, y) = self.uy(o);
        self.n = self.n.saturating_sub(1);
        self.su -= u;
        self.suu -= u * u;
        self.sy -= y;
        self.suy -= u * y;
    }
    /// Slope in value per day; needs 3 points and a positive time spread.
    pub fn slope(&self) -> Option<f64> {
        if self.n < 3 {
            return None;
        }
        let n = self.n as f64;
        let den = self.suu - self.su * self.su / n;
        (den > 0.0).then(|| (self.suy - self.su * self.sy / n) / den)
    }
}

/// A multiset of floats kept sorted, for exact order statistics, as a list of sorted chunks
/// of at most `2 * CHUNK` elements: an insert or remove is a short search plus a `memmove`
/// inside one chunk, so a 7-period window of ~700 differences costs about what a
/// 60-element sorted `Vec` does. Elements are stored as integer keys with the order of
/// `f64::total_cmp`, which makes every comparison a plain integer compare. Results depend
/// only on the contents, never on the chunk layout.
#[derive(Clone, Debug, Default)]
pub(super) struct SortedBag {
    pub(super) chunks: Vec<Vec<i64>>,
    pub(super) len: usize,
}

/// Chunk size; 32 measured fastest for windows of 96 and 672 elements.
pub(super) const CHUNK: usize = 32;

/// Order-preserving map of a float to an integer (`total_cmp`'s trick); its own inverse.
#[inline]
fn key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

#[inline]
fn unkey(k: i64) -> f64 {
    f64::from_bits(key(f64::from_bits(k as u64)) as u64)
}

impl SortedBag {
    /// The chunk that holds (or would hold) `k`: the first whose last element is >= `k`.
    #[inline]
    fn chunk_of(&self, k: i64) -> usize {
        let i = self.chunks.partition_point(|c| c.last().is_some_and(|&l| l < k));
        i.min(self.chunks.len().saturating_sub(1))
    }
    #[inline]
    pub fn insert(&mut self, x: f64) {
        let k = key(x);
        self.len += 1;
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(2 * CHUNK + 1));
        }
        let ci = self.chunk_of(k);
        let c = &mut self.chunks[ci];
        let i = c.partition_point(|&v| v < k);
        c.insert(i, k);
        if c.len() > 2 * CHUNK {
            let mut tail = Vec::with_capacity(2 * CHUNK + 1);
            tail.extend_from_slice(&c[CHUNK..]);
            c.truncate(CHUNK);
            self.chunks.insert(ci + 1, tail);
        }
    }
    /// Removes one element with exactly these bits, if present.
    #[inline]
    pub fn remove(&mut self, x: f64) {
        if self.chunks.is_empty() {
            return;
        }
        let k = key(x);
        let ci = self.chunk_of(k);
        let c = &mut self.chunks[ci];
        let i = c.partition_point(|&v| v < k);
        if i < c.len() && c[i] == k {
            c.remove(i);
            self.len -= 1;
            if c.is_empty() {
                self.chunks.remove(ci);
            }
        }
    }
    /// A bag holding exactly these values (the same contents as inserting them one by one;
    /// results depend only on the contents, not on the chunk layout).
    pub fn from_values(values: impl Iterator<Item = f64>) -> Self {
        let mut keys: Vec<i64> = values.map(key).collect();
        keys.sort_unstable();
        let len = keys.len();
        let chunks = keys
            .chunks(CHUNK)
            .map(|c| {
                let mut v = Vec::with_capacity(2 * CHUNK + 1);
                v.extend_from_slice(c);
                v
            })
            .collect();
        SortedBag { chunks, len }
    }
    /// Heap bytes held (chunk capacities and the chunk list).
    pub fn heap_bytes(&self) -> usize {
        let keys: usize = self.chunks.iter().map(Vec::capacity).sum();
        keys * std::mem::size_of::<i64>() + self.chunks.capacity() * std::mem::size_of::<Vec<i64>>()
    }
    /// The `k`-th smallest element (0-based).
    fn kth(&self, mut k: usize) -> Option<f64> {
        for c in &self.chunks {
            if k < c.len() {
                return Some(unkey(c[k]));
            }
            k -= c.len();
        }
        None
    }
    /// Quantile with linear interpolation between order statistics (numpy's default).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let last = self.len.checked_sub(1)?;
        let pos = q.clamp(0.0, 1.0) * last as f64;
        let i = (pos.floor() as usize).min(last);
        let frac = pos - i as f64;
        let a = self.kth(i)?;
        Some(if i < last && frac > 0.0 { a + frac * (self.kth(i + 1)? - a) } else { a })
    }
}

/// Monotonic deque of indices for a sliding minimum or maximum (amortised O(1)).
#[derive(Clone, Debug, Default)]
pub(super) struct Extremum {
    pub(super) idx: VecDeque<usize>,
}

impl Extremum {
    /// Pushes row `t`; `dominates(new, old)` says the new value makes the old one useless.
    #[inline]
    pub fn push(&mut self, s: &[Observation], t: usize, dominates: impl Fn(f64, f64) -> bool) {
        let x = s[t].value;
        while let Some(&b) = self.idx.back() {
            if dominates(x, s[b].value) {
                self.idx.pop_back();
            } else {
                break;
            }
        }
        self.idx.push_back(t);
    }
    /// Drops indices before `lo`, then returns the current extremum.
    #[inline]
    pub fn get(&mut self, s: &[Observation], lo: usize) -> Option<f64> {
        while self.idx.front().is_some_and(|&f| f < lo) {
            self.idx.pop_front();
        }
        self.idx.front().map(|&f| s[f].value)
    }
    /// The oldest row still held.
    pub fn first(&self) -> Option<usize> {
        self.idx.front().copied()
    }
    /// Shifts the indices after the first `k` rows were dropped (all held rows are `>= k`).
    pub fn rebase(&mut self, k: usize) {
        rebase_deque(&mut self.idx, k);
    }
    pub fn heap_bytes(&self) -> usize {
        deque_bytes(&self.idx)
    }
}

/// Subtracts `k` from every index of a deque whose indices are all `>= k`.
pub(super) fn rebase_deque(d: &mut VecDeque<usize>, k: usize) {
    if k > 0 {
        for i in d.iter_mut() {
            *i = i.saturating_sub(k);
        }
    }
}

/// Heap bytes of a deque of indices.
pub(super) fn deque_bytes(d: &VecDeque<usize>) -> usize {
    d.capacity() * std::mem::size_of::<usize>()
}

/// Finds the latest upward difference above a threshold that is only known at query time.
///
/// Keeps the indices `i` (of differences `v[i] - v[i-1]`) whose difference is strictly larger
/// than every later one in the window: the latest difference above any threshold is always
/// one of them, and their differences decrease, so a binary search finds it.
#[derive(Clone, Debug, Default)]
pub(super) struct LatestAbove {
    pub(super) idx: VecDeque<usize>,
}

impl LatestAbove {
    #[inline]
    fn diff(s: &[Observation], i: usize) -> f64 {
        s[i].value - s[i - 1].value
    }
    /// Pushes the difference ending at row `t` (`t >= 1`).
    #[inline]
    pub fn push(&mut self, s: &[Observation], t: usize) {
        let d = Self::diff(s, t);
        while self.idx.back().is_some_and(|&b| Self::diff(s, b) <= d) {
            self.idx.pop_back();
        }
        self.idx.push_back(t);
    }
    /// Drops differences ending before `first` (the first difference inside the window).
    #[inline]
    pub fn expire(&mut self, first: usize) {
        while self.idx.front().is_some_and(|&f| f < first) {
            self.idx.pop_front();
        }
    }
    /// The latest row whose difference is above `threshold`.
    #[inline]
    pub fn latest_above(&self, s: &[Observation], threshold: f64) -> Option<usize> {
        let p = self.idx.partition_point(|&i| Self::diff(s, i) > threshold);
        p.checked_sub(1).map(|k| self.idx[k])
    }
    /// The oldest difference still held (the row it ends at).
    pub fn first_ref(&self) -> Option<&usize> {
        self.idx.front()
    }
    /// Shifts the indices after the first `k` rows were dropped (every held difference's
    /// first row, `i - 1`, is `>= k`).
    pub fn rebase(&mut self, k: usize) {
        rebase_deque(&mut self.idx, k);
    }
    pub fn heap_bytes(&self) -> usize {
        deque_bytes(&self.idx)
    }
}

/// The as-of lookup of a lag: the last observation at or before `T - offset`, accepted only
/// if it lies in `(T - offset - width, T - offset]`. The cursor only moves forward.
#[derive(Clone, Copy, Debug)]
pub(super) struct AsOf {
    offset: i64,
    width: i64,
    pub(super) next: usize,
}

impl AsOf {
    pub fn new(offset: i64, width: i64) -> Self {
        AsOf { offset, width, next: 0 }
    }
    #[inline]
    pub fn value(&mut self, s: &[Observation], t: usize) -> Option<f64> {
        let target = s[t].ts.saturating_sub(self.offset);
        while self.next <= t && s[self.next].ts <= target {
            self.next += 1;
        }
        let i = self.next.checked_sub(1)?;
        (s[i].ts > target.saturating_sub(self.width)).then_some(s[i].value)
    }
    /// The first row a later lookup can read: the current as-of candidate (or row 0 before
    /// the cursor found one). Rows before it are never read again, since targets only grow.
    pub fn first_needed(&self) -> usize {
        self.next.saturating_sub(1)
    }
    /// Shifts the cursor after the first `k <= first_needed()` rows were dropped.
    pub fn rebase(&mut self, k: usize) {
        self.next = self.next.saturating_sub(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_total_order_and_invert() {
        let xs = [f64::NEG_INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-310, 3.0, f64::INFINITY];
        for w in xs.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} {}", w[0], w[1]);
        }
        for x in xs {
            assert_eq!(unkey(key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn sorted_bag_matches_a_sorted_vec() {
        let mut bag = SortedBag::default();
        let mut v: Vec<f64> = Vec::new();
        let mut state = 12345u64;
        for step in 0..5000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let x = ((state >> 33) % 50) as f64 - 25.0;
            if step % 3 == 2 && !v.is_empty() {
                let gone = v.remove((state >> 20) as usize % v.len());
                bag.remove(gone);
            } else {
                v.push(x);
                bag.insert(x);
            }
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let built = SortedBag::from_values(v.iter().copied());
            for (k, x) in sorted.iter().enumerate() {
                assert_eq!(bag.kth(k), Some(*x));
                assert_eq!(built.kth(k).map(f64::to_bits), Some(x.to_bits()));
            }
            assert_eq!(bag.kth(sorted.len()), None);
            assert_eq!(built.len, bag.len);
        }
    }
}
