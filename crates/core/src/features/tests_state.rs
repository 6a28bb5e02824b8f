//! Tests of [`SeriesState`]: any split of a series into batches, with or without a warm-up
//! batch, gives bitwise the rows of `compute_series` over the whole series; bad batches are
//! refused without touching the state; memory stays bounded by the look-back.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::params::US_PER_DAY;
use super::tests::{irregular, obs, small_params, BASE, MIN};
use super::*;
use crate::error::ErrorKind;

/// The parameter sets of the tests: the four of `small_params`, plus one whose statistics
/// window is longer than 31 periods (momentum sets the look-back) and one whose seasonal
/// window sets it.
fn params(variant: u8) -> FeatureParams {
    match variant % 6 {
        4 => FeatureParams { period_us: 30 * MIN, stat_window_us: 20 * 60 * MIN, seasonal_periods: 2, ..FeatureParams::default() },
        5 => FeatureParams { period_us: 60 * MIN, stat_window_us: 45 * MIN, seasonal_periods: 50, ..FeatureParams::default() },
        v => small_params(v),
    }
}

/// A series with the shapes that stress exactness: irregular steps, gaps longer than every
/// window (up to 40 days), runs of repeated values, and a level/scale from tiny to huge.
fn varied(seed: u64, n: usize) -> Vec<Observation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (level, scale) = match rng.gen_range(0..5) {
        0 => (0.0, 1.0),
        1 => (1e9, 0.01),
        2 => (0.0, 1e-9),
        3 => (-3e12, 1e6),
        _ => (0.0, 1e150),
    };
    let mut ts = BASE + rng.gen_range(0..US_PER_DAY);
    let mut v = 0.0;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match rng.gen_range(0..10) {
            0..=3 => {} // repeat the value
            4 => v = rng.gen_range(0..3) as f64,
            _ => v = rng.gen_range(-100.0..100.0),
        }
        out.push(obs(ts, level + scale * v));
        ts += match rng.gen_range(0..200) {
            0 => rng.gen_range(1..40) * US_PER_DAY + rng.gen_range(0..US_PER_DAY),
            1..=5 => rng.gen_range(1..72) * 60 * MIN,
            _ => rng.gen_range(1..=40) * MIN + rng.gen_range(0..MIN),
        };
    }
    out
}

fn same_bits(a: &FeatureRow, b: &FeatureRow) -> Result<(), String> {
    if a.ts != b.ts {
        return Err(format!("ts {} vs {}", a.ts, b.ts));
    }
    for (f, name) in FEATURE_NAMES.iter().enumerate() {
        if a.values[f].map(f64::to_bits) != b.values[f].map(f64::to_bits) {
            return Err(format!("row ts {} feature {name}: {:?} vs {:?}", a.ts, a.values[f], b.values[f]));
        }
    }
    Ok(())
}

fn full(s: &[Observation], p: &FeatureParams) -> Vec<FeatureRow> {
    let mut out = Vec::new();
    compute_series(s, 0, p, &mut out);
    out
}

/// Feeds `s` to a fresh state: `s[..warm]` as one warm-up batch without output, then the rest
/// in batches of the sizes in `sizes` (cycled); returns the emitted rows.
fn feed_in_batches(s: &[Observation], warm: usize, sizes: &[usize], p: &FeatureParams) -> Vec<FeatureRow> {
    let mut st = SeriesState::new(p);
    let mut out = Vec::new();
    st.feed(&s[..warm], false, &mut out).expect("warm-up");
    assert!(out.is_empty());
    let mut i = warm;
    let mut k = 0;
    while i < s.len() {
        let n = sizes.get(k % sizes.len().max(1)).copied().unwrap_or(1).max(1).min(s.len() - i);
        st.feed(&s[i..i + n], true, &mut out).expect("sorted batch");
        i += n;
        k += 1;
        assert_eq!(st.last_ts(), Some(s[i - 1].ts));
    }
    out
}

fn assert_batches_equal_full(s: &[Observation], warm: usize, sizes: &[usize], p: &FeatureParams) -> Result<(), String> {
    let want = full(s, p);
    let got = feed_in_batches(s, warm, sizes, p);
    if got.len() != s.len() - warm {
        return Err(format!("{} rows for {} observations", got.len(), s.len() - warm));
    }
    for (a, b) in want[warm..].iter().zip(&got) {
        same_bits(a, b)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn batches_equal_full(
        seed in any::<u64>(),
        n in 1usize..700,
        warm_frac in prop_oneof![Just(0.0), 0.0f64..1.0],
        sizes in prop_oneof![Just(vec![1usize]), prop::collection::vec(1usize..80, 1..12)],
        variant in 0u8..6,
        irregular_only in any::<bool>(),
    ) {
        let s = if irregular_only { irregular(seed, n) } else { varied(seed, n) };
        let warm = ((n as f64 * warm_frac) as usize).min(n);
        let r = assert_batches_equal_full(&s, warm, &sizes, &params(variant));
        prop_assert!(r.is_ok(), "{}", r.err().unwrap_or_default());
    }
}

/// Default parameters on 75 days of 15-minute data (with jitter and a 3-day outage): a 31-day
/// warm-up, then batches of 1, 2 and 96, well past the point where rows are dropped.
#[test]
fn long_default_series_in_small_batches_equals_full() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut s: Vec<Observation> = (0..75 * 96)
        .map(|i| obs(BASE + i * 15 * MIN + rng.gen_range(0..MIN), 1e6 + 50.0 - (i % 70) as f64 + rng.gen_range(-0.3..0.3)))
        .collect();
    s.drain(40 * 96..43 * 96);
    let p = FeatureParams::default();
    for sizes in [&[1usize][..], &[2], &[96, 1, 7]] {
        if let Err(e) = assert_batches_equal_full(&s, 31 * 96, sizes, &p) {
            panic!("batches {sizes:?}: {e}");
        }
    }
    assert_batches_equal_full(&s, 0, &[500], &p).expect("no warm-up");
}

#[test]
fn bad_batches_are_refused_and_change_nothing() {
    let p = small_params(1);
    let s = irregular(21, 300);
    let want = full(&s, &p);
    let mut st = SeriesState::new(&p);
    let mut out = Vec::new();
    st.feed(&s[..100], false, &mut out).expect("warm-up");
    let bytes = st.approx_bytes();
    let mut junk = out.clone();
    let repeated = [s[99]];
    let older = [s[50]];
    let inner_order = [s[100], s[102], s[101]];
    let inner_dup = [s[100], s[101], s[101]];
    let mut nan = s[100..103].to_vec();
    nan[2].value = f64::NAN;
    let mut inf = s[100..103].to_vec();
    inf[0].value = f64::NEG_INFINITY;
    for (bad, kind) in [
        (&repeated[..], ErrorKind::InvalidParameter),
        (&older[..], ErrorKind::InvalidParameter),
        (&inner_order[..], ErrorKind::InvalidParameter),
        (&inner_dup[..], ErrorKind::InvalidParameter),
        (&nan[..], ErrorKind::NonFiniteValue),
        (&inf[..], ErrorKind::NonFiniteValue),
    ] {
        for emit in [false, true] {
            let e = st.feed(bad, emit, &mut junk).expect_err("bad batch accepted");
            assert_eq!(e.kind, kind, "{e}");
            assert!(junk.is_empty(), "rows emitted for a refused batch");
            assert_eq!(st.last_ts(), Some(s[99].ts));
            assert_eq!(st.approx_bytes(), bytes);
        }
    }
    st.feed(&[], true, &mut out).expect("empty batch");
    st.feed(&s[100..], true, &mut out).expect("rest");
    for (a, b) in want[100..].iter().zip(&out) {
        same_bits(a, b).expect("state used after refusals");
    }
    assert_eq!(out.len(), 200);
}

#[test]
fn params_and_last_ts_of_a_new_state() {
    let p = FeatureParams { period_us: 3_600_000_000, ..FeatureParams::default() };
    let st = SeriesState::new(&p);
    assert_eq!(st.params(), &p);
    assert_eq!(st.last_ts(), None);
    assert_eq!(st.buffered(), 0);
    // Out-of-domain parameters are clamped, as in compute_series.
    let bad = FeatureParams { period_us: 0, stat_window_us: i64::MAX, seasonal_periods: 0, ..FeatureParams::default() };
    let s = irregular(3, 50);
    let mut a = Vec::new();
    SeriesState::new(&bad).feed(&s, true, &mut a).expect("sorted");
    for (x, y) in full(&s, &bad).iter().zip(&a) {
        same_bits(x, y).expect("clamped params");
    }
    // Extreme timestamps do not panic.
    let extremes = [obs(i64::MIN, 1.0), obs(-1, 2.0), obs(0, 3.0), obs(i64::MAX - 1, 1.0), obs(i64::MAX, 5.0)];
    let mut st = SeriesState::new(&FeatureParams::default());
    for o in extremes {
        st.feed(&[o], true, &mut a).expect("increasing");
    }
    assert!(st.feed(&[obs(i64::MAX, 1.0)], true, &mut a).is_err());
}

/// 200 days of 15-minute data, fed 1, 2 or 96 observations at a time or all at once: the buffer
/// never holds more than 35 days of observations (the 30-period window and lag_30 need 30
/// days of them, the rest is the buffer's slack), and the bytes never exceed 35 days of
/// observations plus the windows' own structures (their size at 31 days, doubled).
#[test]
fn memory_stays_bounded_by_the_lookback() {
    let p = FeatureParams::default();
    let day = 96;
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let s: Vec<Observation> = (0..200 * day).map(|i| obs(BASE + i as i64 * 15 * MIN, (i % 70) as f64 + rng.gen_range(-1.0..1.0))).collect();
    let obs_bytes = std::mem::size_of::<Observation>();
    for batch in [1, 2, day, 200 * day] {
        let mut st = SeriesState::new(&p);
        let mut out = Vec::new();
        let (mut max_bytes, mut max_rows, mut windows_31) = (0, 0, 0);
        for (i, chunk) in s.chunks(batch).enumerate() {
            out.clear();
            st.feed(chunk, true, &mut out).expect("sorted");
            if (i + 1) * batch == 31 * day {
                windows_31 = st.approx_bytes() - st.capacity() * obs_bytes;
            }
            if batch > 31 * day {
                // One batch: its rows were held while it was computed, then dropped.
                windows_31 = st.approx_bytes() - st.capacity() * obs_bytes;
            }
            max_bytes = max_bytes.max(st.approx_bytes());
            max_rows = max_rows.max(st.capacity());
        }
        println!("batch {batch}: max {max_rows} rows of capacity, max {max_bytes} bytes, windows {windows_31} bytes at 31 days");
        assert!(max_rows <= 35 * day, "batch {batch}: capacity of {max_rows} rows");
        assert!(max_bytes <= 35 * day * obs_bytes + 2 * windows_31, "batch {batch}: {max_bytes} bytes");
    }
}
