//! The resumable driver of the kernel: one series' window state plus the few observations
//! its windows can still read, fed in time order.
//!
//! The kernel indexes rows of a buffer owned here. When the buffer is full, the kernel
//! settles its lazy clean-up and reports the first row any window can still read; rows
//! before it are dead. They are dropped (and every index the kernel holds is shifted down by
//! as many) when at least a sixteenth of the buffer is dead, so the `memmove` costs a
//! bounded amount per fed row, and the buffer's capacity grows in steps of a sixteenth, so it
//! stays within about 1.15 times the live rows: the look-back, not the series length.
//!
//! Dropping rows never changes a result: the kernel computes the same from the rows it still
//! needs whatever precedes them, and the settled clean-up only runs early what later rows
//! would run anyway. [`super::compute_series`] is this same driver fed in two batches.

use super::kernels::Kernel;
use super::params::Clamped;
use super::{FeatureParams, FeatureRow, Observation};
use crate::error::{CoreError, CoreResult, ErrorKind};

/// The kernel state of one series after its last observation, for feeding new observations
/// without re-reading a look-back.
///
/// Feeding a series to a fresh state, in any split into batches, gives bitwise the rows
/// [`super::compute_series`] gives for the whole series (a first batch fed with `emit =
/// false` is a warm-up: its rows are computed but not output). The state holds only the
/// observations its windows can still read, about [`FeatureParams::lookback_us`] of them, so
/// its memory is bounded by the look-back, not by the series length.
///
/// The parameters are fixed at construction: when a metric type's settings change, drop the
/// state and build a new one from a look-back.
#[derive(Clone, Debug)]
pub struct SeriesState {
    pub(super) params: FeatureParams,
    pub(super) kernel: Kernel,
    /// Observations from the first one a window may still read (or a few dead ones before
    /// it) to the last one fed.
    pub(super) buf: Vec<Observation>,
}

impl SeriesState {
    /// An empty state for a series of one metric type with these parameters. Parameters are
    /// expected to have passed [`FeatureParams::check`]; out-of-domain values are clamped,
    /// as in [`super::compute_series`].
    pub fn new(params: &FeatureParams) -> Self {
        SeriesState::with_kernel(params, Kernel::new(Clamped::from(params), &[], 0))
    }

    pub(super) fn with_kernel(params: &FeatureParams, kernel: Kernel) -> Self {
        SeriesState { params: params.clone(), kernel, buf: Vec::new() }
    }

    /// Feeds observations newer than every one fed before and, when `emit` is true, appends
    /// one [`FeatureRow`] per observation to `out`, in order. With `emit` false the batch
    /// only warms the windows up (a look-back before the first row wanted).
    ///
    /// Timestamps must increase strictly, across batches too, and values must be finite.
    /// Otherwise nothing of the batch is fed, `out` is left as it was, the state is unchanged
    /// and usable, and the error is `InvalidParameter` (out-of-order or repeated `ts`) or
    /// `NonFiniteValue`, with the offending position in the batch as detail.
    pub fn feed(&mut self, obs: &[Observation], emit: bool, out: &mut Vec<FeatureRow>) -> CoreResult<()> {
        let mut prev = self.last_ts();
        for (i, o) in obs.iter().enumerate() {
            if let Some(p) = prev.filter(|&p| o.ts <= p) {
                return Err(CoreError::new(ErrorKind::InvalidParameter, "observations must be fed in strictly increasing time order")
                    .with_detail(format!("observation {i} of the batch has ts {}, not after ts {p}", o.ts)));
            }
            if !o.value.is_finite() {
                return Err(CoreError::new(ErrorKind::NonFiniteValue, "observation values must be finite")
                    .with_detail(format!("observation {i} of the batch (ts {}) has value {}", o.ts, o.value)));
            }
            prev = Some(o.ts);
        }
        self.feed_unchecked(obs, emit, out);
        if obs.len() >= 64 && obs.len() >= self.buf.len() / 16 {
            self.trim();
        }
        Ok(())
    }

    /// After a large batch (a long warm-up): drops the dead rows now and gives back the
    /// capacity beyond the live rows plus a sixteenth, so the state is as small as a streamed
    /// one right away, not only after the next batch.
    pub(super) fn trim(&mut self) {
        if let Some(last) = self.buf.len().checked_sub(1) {
            self.kernel.settle(&self.buf, last);
            let dead = self.kernel.first_needed(last);
            if dead > 0 {
                self.buf.drain(..dead);
                self.kernel.rebase(dead);
            }
        }
        let len = self.buf.len();
        self.buf.shrink_to(len + len / 16);
    }

    /// [`SeriesState::feed`] without the order and finiteness checks: the kernel's
    /// preconditions, whose violation gives meaningless rows but never a panic.
    fn feed_unchecked(&mut self, obs: &[Observation], emit: bool, out: &mut Vec<FeatureRow>) {
        if obs.is_empty() {
            return;
        }
        self.make_room(obs.len());
        let first = self.buf.len();
        self.buf.extend_from_slice(obs);
        let s = &self.buf[..];
        if emit {
            out.reserve(obs.len());
            for t in first..s.len() {
                let seasonal = self.kernel.step(s, t, true);
                out.push(self.kernel.row(s, t, seasonal));
            }
        } else {
            for t in first..s.len() {
                self.kernel.step(s, t, false);
            }
        }
    }

    /// Ensures room for `n` more rows: drops the dead rows when the buffer is full and at
    /// least a sixteenth of it is dead, then grows the capacity if still needed, to the rows
    /// plus a sixteenth. In a steady stream the capacity thus settles at about the live rows plus
    /// two sixteenths, and each fed row pays for at most ~16 row copies of `memmove`.
    fn make_room(&mut self, n: usize) {
        let len = self.buf.len();
        if len + n <= self.buf.capacity() {
            return;
        }
        if let Some(last) = len.checked_sub(1) {
            self.kernel.settle(&self.buf, last);
            let dead = self.kernel.first_needed(last);
            if dead > 0 && dead >= len / 16 {
                self.buf.drain(..dead);
                self.kernel.rebase(dead);
            }
        }
        let len = self.buf.len();
        if len + n > self.buf.capacity() {
            self.buf.reserve_exact(n + (len + n) / 16);
        }
    }

    /// The `ts` of the last observation fed, if any.
    pub fn last_ts(&self) -> Option<i64> {
        self.buf.last().map(|o| o.ts)
    }

    /// The `ts` of the oldest observation held: rows before it can no longer change any
    /// result of this state.
    pub fn first_ts(&self) -> Option<i64> {
        self.buf.first().map(|o| o.ts)
    }

    /// Approximate heap bytes held: the buffered observations (by capacity) and the windows'
    /// own structures. For a memory-bounded cache of states.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.buf.capacity() * std::mem::size_of::<Observation>()
            + self.kernel.heap_bytes()
    }

    /// Number of observations held (live and not yet dropped dead ones).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Capacity of the observation buffer, in rows.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The parameters the state was built with.
    pub fn params(&self) -> &FeatureParams {
        &self.params
    }
}

/// See [`super::compute_series`]: one state warmed up with the look-back, then fed the rows
/// to output. Rows older than `lookback_us()` before `series[first_out]` cannot reach a
/// result and are not fed; each window family starts at the first row its state at
/// `first_out` can depend on, as [`Kernel::new`] works out.
pub(super) fn run(series: &[Observation], first_out: usize, params: &FeatureParams, out: &mut Vec<FeatureRow>) {
    let Some(first) = series.get(first_out) else {
        return;
    };
    let from = first.ts.saturating_sub(params.lookback_us());
    let j = series[..first_out].partition_point(|o| o.ts <= from);
    let s = &series[j..];
    let k = first_out - j;
    let mut state = SeriesState::with_kernel(params, Kernel::new(Clamped::from(params), s, k));
    state.buf.reserve_exact(s.len());
    state.feed_unchecked(&s[..k], false, out);
    state.feed_unchecked(&s[k..], true, out);
}
