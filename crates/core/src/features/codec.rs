//! A versioned binary encoding of a [`SeriesState`], so a process that did not compute a
//! series can resume it (a kernel checkpoint stored in the database).
//!
//! The encoding holds what the state holds: the buffered observations (timestamps as
//! zigzag varints of their second differences; values as zigzag varints of the differences
//! of their decimal mantissas when every buffered value is exactly `m / 10^d` for one `d` in
//! 0..=6, checked bitwise when encoding, else as raw IEEE bits; the calendar fields of past
//! rows are dropped, since the kernel reads them only for the row it steps) and every
//! window's sums, counters, cursors and index lists. The two sorted windows (the statistics
//! window's values, the 7-period window's absolute differences) are not stored: their
//! contents are exactly the buffered rows of their windows, and decoding sorts them again.
//! Decoding gives a state whose next rows are bitwise the rows of the encoded one (tested
//! against `compute_series`).
//!
//! Version 1 (values always raw, sorted windows stored) is still read.
//!
//! Stored bytes come from a table a role with UPDATE can write, so decoding is defensive:
//! every length is bounded by the input's length, every index must point into the buffer
//! (the kernel indexes it without further checks), timestamps must increase strictly and
//! values be finite; anything else is `Corrupt`, never a panic or a huge allocation. A state
//! of other parameters is refused as `InvalidParameter` (the settings changed since).

use std::collections::VecDeque;

use super::kernels::{Kernel, LongWindow};
use super::params::Clamped;
use super::window::{Moments, SortedBag, TrendSums, CHUNK};
use super::{FeatureParams, Observation, SeriesState};
use crate::error::{CoreError, CoreResult, ErrorKind};

const MAGIC: &[u8; 4] = b"PGAK";
/// Format version; a change of the kernel's fields needs a new one (old checkpoints are then
/// refused and the series recompute from their look-back once, unless the decoder still
/// reads them: version 1 is read).
pub const CODEC_VERSION: u8 = 2;
/// Value encoding of version 2: raw IEEE bits.
const RAW_VALUES: u8 = 0xff;
/// Powers of ten of the decimal value encoding (each exact in f64).
const POW10: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];

/// The smallest `d` such that every value is bitwise `m / 10^d` for an integer mantissa `m`
/// of at most 2^53 in magnitude, with the mantissas; `None` when there is none.
fn decimal_mantissas(values: impl Iterator<Item = f64> + Clone) -> Option<(u8, Vec<i64>)> {
    'scale: for (d, &p) in POW10.iter().enumerate() {
        let mut ms = Vec::new();
        for v in values.clone() {
            let m = (v * p).round();
            if !(m.abs() <= 9_007_199_254_740_992.0) {
                continue 'scale;
            }
            // what decoding computes, bit for bit (this also turns -0.0 away)
            let m = m as i64;
            if (m as f64 / p).to_bits() != v.to_bits() {
                continue 'scale;
            }
            ms.push(m);
        }
        return Some((d as u8, ms));
    }
    None
}

struct W(Vec<u8>);

impl W {
    fn u(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn z(&mut self, v: i64) {
        self.u(((v << 1) ^ (v >> 63)) as u64);
    }
    fn i(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    fn opt(&mut self, v: Option<usize>) {
        self.u(v.map_or(0, |i| i as u64 + 1));
    }
    fn moments(&mut self, m: &Moments) {
        self.f(m.k);
        self.u(m.n as u64);
        self.f(m.s1);
        self.f(m.s2);
    }
    fn long(&mut self, l: &LongWindow) {
        self.moments(&l.vals);
        self.u(l.changes as u64);
    }
    /// Increasing indices, as differences.
    fn deque(&mut self, d: &VecDeque<usize>) {
        self.u(d.len() as u64);
        let mut prev = 0usize;
        for &i in d {
            self.u(i.wrapping_sub(prev) as u64);
            prev = i;
        }
    }
    fn bag(&mut self, b: &SortedBag) {
        self.u(b.len as u64);
        for c in &b.chunks {
            for &k in c {
                self.i(k);
            }
        }
    }
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

fn corrupt(what: &str) -> CoreError {
    CoreError::new(ErrorKind::Corrupt, "stored kernel state is corrupt").with_detail(what.to_string())
}

impl R<'_> {
    fn take(&mut self, n: usize) -> CoreResult<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len()).ok_or_else(|| corrupt("truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    #[inline(always)]
    fn u(&mut self) -> CoreResult<u64> {
        // most varints of a state are one byte (regular sampling, small mantissa steps)
        if let Some(&byte) = self.b.get(self.at) {
            if byte < 0x80 {
                self.at += 1;
                return Ok(u64::from(byte));
            }
        }
        self.u_long()
    }
    #[inline(never)]
    fn u_long(&mut self) -> CoreResult<u64> {
        let mut v = 0u64;
        let mut shift = 0u32;
        while let Some(&byte) = self.b.get(self.at) {
            self.at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift >= 64 {
                return Err(corrupt("varint longer than 10 bytes"));
            }
        }
        Err(corrupt("truncated"))
    }
    #[inline(always)]
    fn z(&mut self) -> CoreResult<i64> {
        let v = self.u()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }
    #[inline]
    fn i(&mut self) -> CoreResult<i64> {
        match self.b.get(self.at..self.at.saturating_add(8)).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
            Some(a) => {
                self.at += 8;
                Ok(i64::from_le_bytes(a))
            }
            None => Err(corrupt("truncated")),
        }
    }
    #[inline]
    fn f(&mut self) -> CoreResult<f64> {
        Ok(f64::from_bits(self.i()? as u64))
    }
    /// A count of items of at least `min_bytes` each that must fit in the rest of the input.
    fn count(&mut self, min_bytes: usize) -> CoreResult<usize> {
        let n = self.u()?;
        let room = (self.b.len() - self.at) / min_bytes.max(1);
        usize::try_from(n).ok().filter(|&n| n <= room).ok_or_else(|| corrupt("a length beyond the input"))
    }
    /// An index into a buffer of `n` rows; `upto` allows `n` itself (a cursor past the end).
    fn index(&mut self, n: usize, upto: bool) -> CoreResult<usize> {
        let v = self.u()?;
        usize::try_from(v).ok().filter(|&i| i < n || (upto && i == n)).ok_or_else(|| corrupt("an index outside the buffer"))
    }
    fn opt(&mut self, n: usize) -> CoreResult<Option<usize>> {
        match self.u()? {
            0 => Ok(None),
            v => usize::try_from(v - 1).ok().filter(|&i| i < n).map(Some).ok_or_else(|| corrupt("an index outside the buffer")),
        }
    }
    fn moments(&mut self) -> CoreResult<Moments> {
        Ok(Moments { k: self.f()?, n: usize::try_from(self.u()?).map_err(|_| corrupt("count"))?, s1: self.f()?, s2: self.f()? })
    }
    fn long(&mut self) -> CoreResult<LongWindow> {
        Ok(LongWindow { vals: self.moments()?, changes: usize::try_from(self.u()?).map_err(|_| corrupt("count"))? })
    }
    /// Strictly increasing indices below `n` (at least `min` each).
    fn deque(&mut self, n: usize, min: usize) -> CoreResult<VecDeque<usize>> {
        let len = self.count(1)?;
        let mut d = VecDeque::with_capacity(len);
        let mut prev: Option<usize> = None;
        for _ in 0..len {
            let delta = usize::try_from(self.u()?).map_err(|_| corrupt("index"))?;
            let i = prev.unwrap_or(0).checked_add(delta).ok_or_else(|| corrupt("index"))?;
            if i >= n || i < min || prev.is_some_and(|p| i <= p) {
                return Err(corrupt("an index list not increasing inside the buffer"));
            }
            d.push_back(i);
            prev = Some(i);
        }
        Ok(d)
    }
    fn bag(&mut self) -> CoreResult<SortedBag> {
        let len = self.count(8)?;
        let mut chunks: Vec<Vec<i64>> = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut prev = i64::MIN;
        for k in 0..len {
            let v = self.i()?;
            if v < prev {
                return Err(corrupt("a sorted window out of order"));
            }
            prev = v;
            if k % CHUNK == 0 {
                chunks.push(Vec::with_capacity(2 * CHUNK + 1));
            }
            if let Some(c) = chunks.last_mut() {
                c.push(v);
            }
        }
        Ok(SortedBag { chunks, len })
    }
}

fn write_params(w: &mut W, p: &FeatureParams) {
    w.i(p.period_us);
    w.i(p.stat_window_us);
    w.u(u64::from(p.seasonal_periods));
    w.f(p.trend_dead_band);
    w.f(p.jump_factor);
    w.f(p.jump_min_relative);
}

fn same_params(r: &mut R<'_>, p: &FeatureParams) -> CoreResult<bool> {
    let period = r.i()? == p.period_us;
    let window = r.i()? == p.stat_window_us;
    let seasonal = r.u()? == u64::from(p.seasonal_periods);
    let band = r.f()?.to_bits() == p.trend_dead_band.to_bits();
    let factor = r.f()?.to_bits() == p.jump_factor.to_bits();
    let relative = r.f()?.to_bits() == p.jump_min_relative.to_bits();
    Ok(period && window && seasonal && band && factor && relative)
}

impl SeriesState {
    /// The state as bytes (see the module doc), marked with `owner` (a hash of the series it
    /// belongs to: [`owner_tag`]). Drops the rows no window can read first, which changes no
    /// later result. An empty state (nothing fed) encodes too.
    pub fn encode(&mut self, owner: u64) -> Vec<u8> {
        self.encode_as(owner, CODEC_VERSION)
    }

    /// [`SeriesState::encode`] in format `version` (1 or 2; 1 only for the tests that an
    /// old checkpoint is still read).
    pub(super) fn encode_as(&mut self, owner: u64, version: u8) -> Vec<u8> {
        self.trim();
        let k = &self.kernel;
        let mut w = W(Vec::with_capacity(64 + self.buf.len() * 10 + (k.stat.sorted.len + k.abs_diffs7.len) * 8));
        w.0.extend_from_slice(MAGIC);
        w.0.push(version);
        let decimal = if version >= 2 { decimal_mantissas(self.buf.iter().map(|o| o.value)) } else { None };
        if version >= 2 {
            w.0.push(decimal.as_ref().map_or(RAW_VALUES, |d| d.0));
        }
        w.0.extend_from_slice(&owner.to_le_bytes());
        write_params(&mut w, &self.params);
        w.u(self.buf.len() as u64);
        let (mut prev_ts, mut prev_d) = (0i64, 0i64);
        for (i, o) in self.buf.iter().enumerate() {
            if i == 0 {
                w.i(o.ts);
            } else {
                let d = o.ts.wrapping_sub(prev_ts);
                w.z(d.wrapping_sub(prev_d));
                prev_d = d;
            }
            prev_ts = o.ts;
            match &decimal {
                Some((_, ms)) => w.z(ms[i].wrapping_sub(if i == 0 { 0 } else { ms[i - 1] })),
                None => w.f(o.value),
            }
        }
        match k.block {
            None => w.u(0),
            Some(b) => {
                w.u(1);
                w.i(b);
            }
        }
        w.u(k.season_start as u64);
        w.u(k.w.lo as u64);
        let st = &k.stat;
        w.moments(&st.vals);
        let t = &st.trend;
        w.i(t.t0);
        w.f(t.k);
        w.u(t.n as u64);
        for v in [t.su, t.suu, t.sy, t.suy] {
            w.f(v);
        }
        w.moments(&st.diffs);
        w.f(st.drop);
        w.u(st.changes as u64);
        w.u(st.diff_changes as u64);
        w.deque(&st.min.idx);
        w.deque(&st.max.idx);
        if version < 2 {
            w.bag(&st.sorted);
        }
        w.u(k.p7.lo as u64);
        w.long(&k.long7);
        if version < 2 {
            w.bag(&k.abs_diffs7);
        }
        w.deque(&k.jumps7.idx);
        w.opt(k.last_change);
        w.u(k.p30.lo as u64);
        w.long(&k.long30);
        for a in k.lags.iter().chain([&k.momentum]) {
            w.u(a.next as u64);
        }
        w.u(k.season.len() as u64);
        for b in &k.season {
            w.deque(b);
        }
        w.0
    }

    /// A state from [`SeriesState::encode`]'s bytes, for these parameters and this owner.
    /// `Corrupt` when the bytes are not a valid state of this format version or belong to
    /// another series; `InvalidParameter` when they are one of other parameters (or of
    /// another version): both mean "recompute from the look-back".
    pub fn decode(bytes: &[u8], params: &FeatureParams, owner: u64) -> CoreResult<SeriesState> {
        let mut r = R { b: bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(corrupt("not a kernel state"));
        }
        let version = r.take(1)?[0];
        if version != CODEC_VERSION && version != 1 {
            return Err(CoreError::new(ErrorKind::InvalidParameter, "kernel state of another format version")
                .with_detail(format!("version {version}, this build reads 1 and {CODEC_VERSION}")));
        }
        let scale = if version >= 2 {
            match r.take(1)?[0] {
                RAW_VALUES => None,
                d => Some(*POW10.get(usize::from(d)).ok_or_else(|| corrupt("value scale"))?),
            }
        } else {
            None
        };
        if r.i()? as u64 != owner {
            return Err(corrupt("a state of another series"));
        }
        if !same_params(&mut r, params)? {
            return Err(CoreError::new(ErrorKind::InvalidParameter, "kernel state of other feature settings"));
        }
        // at least one byte of timestamp and one of value per row
        let n = r.count(2)?;
        let mut buf: Vec<Observation> = Vec::with_capacity(n + n / 16);
        let (mut prev_ts, mut prev_d, mut prev_m) = (0i64, 0i64, 0i64);
        for i in 0..n {
            let ts = if i == 0 {
                r.i()?
            } else {
                let d = prev_d.wrapping_add(r.z()?);
                let ts = prev_ts.wrapping_add(d);
                if ts <= prev_ts {
                    return Err(corrupt("timestamps not increasing"));
                }
                prev_d = d;
                ts
            };
            prev_ts = ts;
            let value = match scale {
                // an i64 over a power of ten is always finite
                Some(p) => {
                    prev_m = prev_m.wrapping_add(r.z()?);
                    prev_m as f64 / p
                }
                None => {
                    let v = r.f()?;
                    if !v.is_finite() {
                        return Err(corrupt("a value that is not finite"));
                    }
                    v
                }
            };
            buf.push(Observation { ts, value, hour_of_day: 0, day_of_week: 0, day_of_month: 0 });
        }
        let mut k = Kernel::new(Clamped::from(params), &[], 0);
        k.block = match r.u()? {
            0 => None,
            1 => Some(r.i()?),
            _ => return Err(corrupt("block flag")),
        };
        k.season_start = r.index(n, true)?;
        k.w.lo = r.index(n, true)?;
        k.stat.vals = r.moments()?;
        k.stat.trend = TrendSums {
            t0: r.i()?,
            k: r.f()?,
            n: usize::try_from(r.u()?).map_err(|_| corrupt("count"))?,
            su: r.f()?,
            suu: r.f()?,
            sy: r.f()?,
            suy: r.f()?,
        };
        k.stat.diffs = r.moments()?;
        k.stat.drop = r.f()?;
        k.stat.changes = usize::try_from(r.u()?).map_err(|_| corrupt("count"))?;
        k.stat.diff_changes = usize::try_from(r.u()?).map_err(|_| corrupt("count"))?;
        k.stat.min.idx = r.deque(n, 0)?;
        k.stat.max.idx = r.deque(n, 0)?;
        if version < 2 {
            k.stat.sorted = r.bag()?;
        }
        k.p7.lo = r.index(n, true)?;
        k.long7 = r.long()?;
        if version < 2 {
            k.abs_diffs7 = r.bag()?;
        } else {
            // the windows' contents: the values of rows lo..=last, and the absolute
            // differences ending at rows lo+1..=last
            k.stat.sorted = SortedBag::from_values(buf[k.w.lo.min(n)..].iter().map(|o| o.value));
            let from = (k.p7.lo + 1).min(n);
            k.abs_diffs7 = SortedBag::from_values((from..n).map(|i| (buf[i].value - buf[i - 1].value).abs()));
        }
        // a jump's difference reads the row before it
        k.jumps7.idx = r.deque(n, 1)?;
        k.last_change = r.opt(n)?;
        k.p30.lo = r.index(n, true)?;
        k.long30 = r.long()?;
        for a in k.lags.iter_mut() {
            a.next = r.index(n, true)?;
        }
        k.momentum.next = r.index(n, true)?;
        if r.u()? != k.season.len() as u64 {
            return Err(corrupt("hour buckets"));
        }
        for b in k.season.iter_mut() {
            *b = r.deque(n, 0)?;
        }
        if r.at != bytes.len() {
            return Err(corrupt("trailing bytes"));
        }
        let mut st = SeriesState::with_kernel(params, k);
        st.buf = buf;
        Ok(st)
    }
}

/// The owner mark of a series' state: FNV-1a of its metric type and entity (a state copied
/// to another series is refused).
pub fn owner_tag(metric_type: &str, entity_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in metric_type.bytes().chain([0u8]).chain(entity_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
