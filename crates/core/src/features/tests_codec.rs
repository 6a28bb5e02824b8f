//! Tests of the kernel-state encoding: a state encoded after any prefix of a series and
//! decoded (by another "process") gives bitwise the rows `compute_series` gives for the
//! rest; damaged, truncated or foreign bytes are refused without a panic.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::tests::{irregular, obs, small_params, BASE, MIN};
use super::*;
use crate::error::ErrorKind;

fn full(s: &[Observation], p: &FeatureParams) -> Vec<FeatureRow> {
    let mut out = Vec::new();
    compute_series(s, 0, p, &mut out);
    out
}

fn bits(r: &FeatureRow) -> (i64, Vec<Option<u64>>) {
    (r.ts, r.values.iter().map(|v| v.map(f64::to_bits)).collect())
}

/// Feeds `s[..cut]` (as a look-back warm-up or emitted in batches of `batch`), encodes,
/// decodes and feeds the rest; the rows after `cut` must equal the full computation's, and
/// a second round trip in the middle of the rest changes nothing either.
fn round_trip_equals_full(s: &[Observation], cut: usize, batch: usize, p: &FeatureParams) -> Result<(), String> {
    let want = full(s, p);
    let mut st = SeriesState::new(p);
    let mut out = Vec::new();
    for c in s[..cut].chunks(batch.max(1)) {
        st.feed(c, batch % 2 == 0, &mut out).map_err(|e| e.to_string())?;
    }
    let bytes = st.encode(7);
    let mut st = SeriesState::decode(&bytes, p, 7).map_err(|e| format!("decode: {e}"))?;
    if st.last_ts() != s[..cut].last().map(|o| o.ts) {
        return Err("last_ts changed".into());
    }
    let mid = cut + (s.len() - cut) / 2;
    let mut got = Vec::new();
    st.feed(&s[cut..mid], true, &mut got).map_err(|e| e.to_string())?;
    let mut st = SeriesState::decode(&st.encode(7), p, 7).map_err(|e| format!("decode 2: {e}"))?;
    st.feed(&s[mid..], true, &mut got).map_err(|e| e.to_string())?;
    if got.len() != s.len() - cut {
        return Err(format!("{} rows for {}", got.len(), s.len() - cut));
    }
    for (a, b) in want[cut..].iter().zip(&got) {
        if bits(a) != bits(b) {
            return Err(format!("row ts {}: {:?} vs {:?}", a.ts, a.values, b.values));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decoded_state_equals_full(seed in any::<u64>(), n in 1usize..600, cut_frac in 0.0f64..1.0, batch in 1usize..90, variant in 0u8..4) {
        let s = irregular(seed, n);
        let cut = ((n as f64 * cut_frac) as usize).min(n);
        let r = round_trip_equals_full(&s, cut, batch, &small_params(variant));
        prop_assert!(r.is_ok(), "{}", r.err().unwrap_or_default());
    }

    /// Arbitrary bytes, and every truncation or one-byte change of a real state, decode to
    /// an error or to a state that can be fed without a panic.
    #[test]
    fn hostile_bytes_never_panic(seed in any::<u64>(), junk in prop::collection::vec(any::<u8>(), 0..400)) {
        let p = small_params(1);
        let _ = SeriesState::decode(&junk, &p, 7);
        let s = irregular(seed, 200);
        let mut st = SeriesState::new(&p);
        st.feed(&s[..150], false, &mut Vec::new()).expect("sorted");
        let good = st.encode(7);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..64 {
            let mut b = good.clone();
            match rng.gen_range(0..3) {
                0 => b.truncate(rng.gen_range(0..good.len())),
                1 => { let i = rng.gen_range(0..b.len()); b[i] ^= 1 << rng.gen_range(0..8); }
                _ => { let i = rng.gen_range(0..b.len()); b[i] = rng.gen(); }
            }
            if let Ok(mut st) = SeriesState::decode(&b, &p, 7) {
                let mut out = Vec::new();
                let _ = st.feed(&s[150..], true, &mut out);
            }
        }
    }
}

/// Default settings, 15-minute data with jitter: a state after 40 days, stored and read
/// back, goes on bitwise like the full computation; its size is what the README reports.
#[test]
fn default_series_round_trip_and_size() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let s: Vec<Observation> =
        (0..45 * 96).map(|i| obs(BASE + i * 15 * MIN + rng.gen_range(0..MIN), 500.0 - (i % 70) as f64 + rng.gen_range(-0.3..0.3))).collect();
    let p = FeatureParams::default();
    round_trip_equals_full(&s, 40 * 96, 96, &p).expect("round trip");
    round_trip_equals_full(&s, 40 * 96, 7, &p).expect("round trip, odd batches");
    let mut st = SeriesState::new(&p);
    st.feed(&s[..40 * 96], false, &mut Vec::new()).expect("sorted");
    let bytes = st.encode(7);
    println!("encoded state: {} bytes for {} buffered rows (in memory {} bytes)", bytes.len(), st.buffered(), st.approx_bytes());
    assert!(bytes.len() < st.buffered() * 16, "{} bytes for {} rows", bytes.len(), st.buffered());
}

/// Decimal data (integers, one decimal: most operational metrics) stores its values as
/// mantissa differences: a 31-day state of 15-minute data in under 10 kB, still bitwise.
#[test]
fn decimal_values_round_trip_small() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let s: Vec<Observation> = (0..45 * 96)
        .map(|i| obs(BASE + i * 15 * MIN, (4000.0 - (i % 70) as f64 * 3.0 + rng.gen_range(-9..=9) as f64) / 10.0))
        .collect();
    let p = FeatureParams::default();
    round_trip_equals_full(&s, 40 * 96, 96, &p).expect("round trip");
    let mut st = SeriesState::new(&p);
    st.feed(&s[..40 * 96], false, &mut Vec::new()).expect("sorted");
    let bytes = st.encode(7);
    println!("decimal state: {} bytes for {} buffered rows", bytes.len(), st.buffered());
    assert_eq!(bytes[5], 1, "one decimal");
    assert!(bytes.len() < 10_000, "{} bytes for {} rows", bytes.len(), st.buffered());
    // -0.0 and values beyond a 6-digit scale are not decimal: raw bits, still exact
    for odd in [-0.0, 0.1 + 0.2, 1e-7] {
        let mut t = s.clone();
        t[40 * 96 - 5].value = odd;
        round_trip_equals_full(&t, 40 * 96, 96, &p).expect("raw round trip");
        let mut st = SeriesState::new(&p);
        st.feed(&t[..40 * 96], false, &mut Vec::new()).expect("sorted");
        assert_eq!(st.encode(7)[5], 0xff, "raw values for {odd}");
    }
}

/// A checkpoint written by the previous format (version 1: raw values, sorted windows
/// stored) is still read, and goes on bitwise like the full computation.
#[test]
fn version_1_states_are_read() {
    for seed in 0..40u64 {
        let s = irregular(seed, 500);
        let p = small_params((seed % 4) as u8);
        let cut = 100 + (seed as usize * 7) % 350;
        let want = full(&s, &p);
        let mut st = SeriesState::new(&p);
        st.feed(&s[..cut], false, &mut Vec::new()).expect("sorted");
        let v1 = st.encode_as(7, 1);
        assert_eq!(v1[4], 1);
        let mut back = SeriesState::decode(&v1, &p, 7).expect("version 1 decodes");
        let mut got = Vec::new();
        back.feed(&s[cut..], true, &mut got).expect("sorted");
        for (a, b) in want[cut..].iter().zip(&got) {
            assert_eq!(bits(a), bits(b), "seed {seed}");
        }
        // and the same state in the current format decodes to the same rows
        let mut again = SeriesState::decode(&st.encode(7), &p, 7).expect("version 2 decodes");
        let mut got2 = Vec::new();
        again.feed(&s[cut..], true, &mut got2).expect("sorted");
        assert_eq!(got.iter().map(bits).collect::<Vec<_>>(), got2.iter().map(bits).collect::<Vec<_>>());
    }
}

#[test]
fn foreign_and_damaged_states_are_refused() {
    let p = small_params(2);
    let s = irregular(4, 300);
    let mut st = SeriesState::new(&p);
    st.feed(&s, false, &mut Vec::new()).expect("sorted");
    let good = st.encode(7);
    assert!(SeriesState::decode(&good, &p, 7).is_ok());
    let other = FeatureParams { jump_factor: 3.0, ..p.clone() };
    assert_eq!(SeriesState::decode(&good, &other, 7).expect_err("other settings").kind, ErrorKind::InvalidParameter);
    let mut v2 = good.clone();
    v2[4] = CODEC_VERSION + 1;
    assert_eq!(SeriesState::decode(&v2, &p, 7).expect_err("other version").kind, ErrorKind::InvalidParameter);
    for bad in [&b""[..], b"PGA", b"XXXX\x01", &good[..good.len() - 1]] {
        assert_eq!(SeriesState::decode(bad, &p, 7).expect_err("damaged").kind, ErrorKind::Corrupt);
    }
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(SeriesState::decode(&longer, &p, 7).expect_err("trailing").kind, ErrorKind::Corrupt);
    assert_eq!(SeriesState::decode(&good, &p, 8).expect_err("another series").kind, ErrorKind::Corrupt);
    assert_ne!(owner_tag("a", "bc"), owner_tag("ab", "c"));
    // An empty state encodes and decodes too.
    let mut empty = SeriesState::new(&p);
    let e = SeriesState::decode(&empty.encode(7), &p, 7).expect("empty");
    assert_eq!(e.last_ts(), None);
}

/// Not a timing test (nothing asserted about time): prints how long encoding and decoding
/// a 31-day state takes, for the README's cost breakdown (`--nocapture`).
#[test]
fn print_codec_speed() {
    let s: Vec<Observation> = (0..40 * 96).map(|i| obs(BASE + i * 15 * MIN, 500.0 - (i % 70) as f64 + (i % 13) as f64 * 0.37)).collect();
    let p = FeatureParams::default();
    let mut st = SeriesState::new(&p);
    st.feed(&s, false, &mut Vec::new()).expect("sorted");
    for version in [1, CODEC_VERSION] {
        let bytes = st.encode_as(1, version);
        let t = std::time::Instant::now();
        let n = 200;
        for _ in 0..n {
            let d = SeriesState::decode(&bytes, &p, 1).expect("decodes");
            std::hint::black_box(d);
        }
        let dec = t.elapsed() / n;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(st.encode_as(1, version));
        }
        println!("version {version}: state of {} rows: {} bytes, decode {:?}, encode {:?}", st.buffered(), bytes.len(), dec, t.elapsed() / n);
    }
}
