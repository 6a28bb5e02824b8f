//! Tests of the feature kernels: fast path against the brute-force reference, incremental
//! against full computation, point-in-time, short histories, and the contract's constants.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::col::*;
use super::params::{US_PER_DAY, US_PER_HOUR};
use super::reference::reference_row;
use super::*;

pub(super) const MIN: i64 = 60_000_000;
/// 2025-01-01T00:00:00Z, a Wednesday.
pub(super) const BASE: i64 = 1_735_689_600_000_000;

/// An observation with UTC calendar fields (day of month is a stand-in: it is only copied).
pub(super) fn obs(ts: i64, value: f64) -> Observation {
    let days = ts.div_euclid(US_PER_DAY);
    Observation {
        ts,
        value,
        hour_of_day: (ts.rem_euclid(US_PER_DAY) / US_PER_HOUR) as i16,
        day_of_week: ((days + 3).rem_euclid(7) + 1) as i16,
        day_of_month: (days.rem_euclid(28) + 1) as i16,
    }
}

/// Irregular series with gaps: steps of 1-40 minutes, sometimes a gap of hours or days;
/// values either continuous or from a handful of levels (so runs and ties happen).
pub(super) fn irregular(seed: u64, n: usize) -> Vec<Observation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let discrete = rng.gen_bool(0.5);
    let mut ts = BASE + rng.gen_range(0..US_PER_DAY);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let v = if discrete { rng.gen_range(0..4) as f64 * 2.5 } else { rng.gen_range(-100.0..100.0) };
        out.push(obs(ts, v));
        ts += match rng.gen_range(0..100) {
            0..=2 => rng.gen_range(1..72) * 60 * MIN,
            _ => rng.gen_range(1..=40) * MIN,
        };
    }
    out
}

/// Small periods so short test series exercise lags, 30-period windows and block resets.
pub(super) fn small_params(variant: u8) -> FeatureParams {
    let (period, window, seasonal) = match variant % 4 {
        0 => (2 * 60 * MIN, 90 * MIN, 3),
        1 => (30 * MIN, 4 * 60 * MIN, 5),
        2 => (5 * 60 * MIN, 60 * MIN, 2),
        _ => (US_PER_DAY, US_PER_DAY, 7),
    };
    FeatureParams { period_us: period, stat_window_us: window, seasonal_periods: seasonal, ..FeatureParams::default() }
}

fn compute(s: &[Observation], first: usize, p: &FeatureParams) -> Vec<FeatureRow> {
    let mut out = Vec::new();
    compute_series(s, first, p, &mut out);
    out
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-8 * (1.0 + a.abs() + b.abs()),
        _ => false,
    }
}

fn assert_matches_reference(s: &[Observation], p: &FeatureParams, what: &str) {
    let rows = compute(s, 0, p);
    assert_eq!(rows.len(), s.len());
    for (t, row) in rows.iter().enumerate() {
        let want = reference_row(s, t, p);
        for f in 0..NUM_FEATURES {
            assert!(
                close(row.values[f], want[f]),
                "{what}: row {t} feature {}: kernel {:?} reference {:?}",
                FEATURE_NAMES[f],
                row.values[f],
                want[f]
            );
        }
        assert_eq!(row.ts, s[t].ts);
    }
}

#[test]
fn kernels_match_reference_on_irregular_series() {
    for seed in 0..24 {
        let s = irregular(seed, 150 + (seed as usize * 13) % 200);
        assert_matches_reference(&s, &small_params(seed as u8), &format!("seed {seed}"));
    }
}

#[test]
fn kernels_match_reference_on_a_noisy_sawtooth() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let s: Vec<Observation> = (0..1200)
        .map(|i| {
            let level = 100.0 - (i % 96) as f64 + rng.gen_range(-0.5..0.5);
            obs(BASE + i * 15 * MIN, level)
        })
        .collect();
    let p = FeatureParams { period_us: 6 * 60 * MIN, ..FeatureParams::default() };
    assert_matches_reference(&s, &p, "sawtooth");
}

#[test]
fn short_history_gives_null_not_zero() {
    let p = FeatureParams::default();
    let s: Vec<Observation> = (0..3).map(|i| obs(BASE + i * 15 * MIN, 10.0 + i as f64)).collect();
    let rows = compute(&s, 0, &p);
    let r0 = &rows[0].values;
    assert_eq!(r0[MEAN], Some(10.0));
    assert_eq!(r0[RUN_LENGTH], Some(1.0));
    for f in [STD, TREND_SLOPE, TREND_DIRECTION, VOLATILITY, MOMENTUM, DAYS_SINCE_CHANGE, CHANGE_FREQUENCY] {
        assert_eq!(r0[f], None, "{}", FEATURE_NAMES[f]);
    }
    for f in [HOURS_SINCE_JUMP, LAG_1, LAG_7, LAG_30, ROLLING_STD_7, ZSCORE_7, DIFF_LAG_1, SEASONAL_ZSCORE, DROP_RATE] {
        assert_eq!(r0[f], None, "{}", FEATURE_NAMES[f]);
    }
    assert!(rows[1].values[STD].is_some() && rows[1].values[TREND_SLOPE].is_none());
    assert!(rows[2].values[TREND_SLOPE].is_some() && rows[2].values[VOLATILITY].is_some());
    assert_eq!(rows[2].values[HOURS_SINCE_JUMP], None);
}

#[test]
fn regular_daily_data_has_exact_lags_and_calendar() {
    let p = FeatureParams::default();
    let s: Vec<Observation> = (0..40 * 96).map(|i| obs(BASE + i * 15 * MIN, i as f64)).collect();
    let rows = compute(&s, 0, &p);
    let r = &rows[35 * 96 + 5].values;
    let x = (35 * 96 + 5) as f64;
    assert_eq!(r[LAG_1], Some(x - 96.0));
    assert_eq!(r[LAG_7], Some(x - 7.0 * 96.0));
    assert_eq!(r[LAG_30], Some(x - 30.0 * 96.0));
    assert_eq!(r[DIFF_LAG_1], Some(96.0));
    assert_eq!(r[VOLATILITY], Some(0.0));
    assert_eq!(r[RUN_LENGTH], Some(1.0));
    assert_eq!(r[DAYS_SINCE_CHANGE], Some(0.0));
    // 96 points a day, value per step 1: slope 96 per day.
    assert!((r[TREND_SLOPE].unwrap_or(0.0) - 96.0).abs() < 1e-6);
    // 96 per day is under the dead band: 5% of the ~3,360 level.
    assert_eq!(r[TREND_DIRECTION], Some(0.0));
    let climbing = compute(&s[..2 * 96], 0, &p);
    assert_eq!(climbing[2 * 96 - 1].values[TREND_DIRECTION], Some(1.0));
    // BASE is a Wednesday; row 35 days later is a Wednesday too (35 = 5 weeks).
    assert_eq!(r[DAY_OF_WEEK], Some(3.0));
    assert_eq!(r[IS_WEEKEND], Some(0.0));
    assert_eq!(rows[3 * 96].values[IS_WEEKEND], Some(1.0));
}

#[test]
fn refills_are_found_as_jumps() {
    // Stock falls 1 per 15 minutes and is refilled to 100 every 24 hours.
    let s: Vec<Observation> = (0..10 * 96).map(|i| obs(BASE + i * 15 * MIN, 100.0 - (i % 96) as f64)).collect();
    let rows = compute(&s, 0, &FeatureParams::default());
    let r = &rows[5 * 96 + 8].values;
    assert_eq!(r[HOURS_SINCE_JUMP], Some(2.0));
    assert_eq!(rows[5 * 96].values[HOURS_SINCE_JUMP], Some(0.0));
    // Consumption: 94 decreases of 1 over the window's span of 23.75 hours, the refill ignored.
    let drop = r[DROP_RATE].unwrap_or(0.0);
    assert!((drop - 94.0 / (23.75 / 24.0)).abs() < 1e-9, "{drop}");
}

#[test]
fn constant_series_has_exact_zero_spread() {
    let s: Vec<Observation> = (0..500).map(|i| obs(BASE + i * 17 * MIN, 0.1)).collect();
    let rows = compute(&s, 0, &FeatureParams::default());
    let r = &rows[499].values;
    assert_eq!((r[STD], r[ROLLING_STD_7], r[ROLLING_STD_30]), (Some(0.0), Some(0.0), Some(0.0)));
    assert_eq!((r[MEAN], r[ROLLING_MEAN_30]), (Some(0.1), Some(0.1)));
    assert_eq!((r[ZSCORE_7], r[SEASONAL_ZSCORE], r[TREND_SLOPE]), (None, None, Some(0.0)));
    assert_eq!(r[CHANGE_FREQUENCY], Some(0.0));
    // No change ever: capped at the window's earliest observation (here the first one).
    assert_eq!(r[DAYS_SINCE_CHANGE], Some((499 * 17 * MIN) as f64 / US_PER_DAY as f64));
    assert_eq!(r[RUN_LENGTH], Some(500.0));
    let longer: Vec<Observation> = (0..1000).map(|i| obs(BASE + i * 17 * MIN, 0.1)).collect();
    let capped = compute(&longer, 999, &FeatureParams::default())[0].values;
    let d = capped[DAYS_SINCE_CHANGE].unwrap_or(0.0);
    assert!(d < 7.0 && d > 6.98, "{d}");
}

#[test]
fn future_values_never_change_past_rows() {
    let s = irregular(99, 400);
    let p = small_params(1);
    let base = compute(&s, 0, &p);
    for m in [0, 1, 57, 200, 399] {
        let mut t = s.clone();
        t[m].value += 1000.0;
        let rows = compute(&t, 0, &p);
        assert_eq!(rows[..m], base[..m], "changing row {m}");
    }
}

#[test]
fn params_check_and_lookback() {
    let p = FeatureParams::default();
    assert!(p.check().is_ok());
    assert_eq!(p.lookback_us(), 31 * US_PER_DAY);
    let big_window = FeatureParams { stat_window_us: 20 * US_PER_DAY, ..p.clone() };
    assert_eq!(big_window.lookback_us(), 40 * US_PER_DAY);
    let seasonal = FeatureParams { seasonal_periods: 60, ..p.clone() };
    assert_eq!(seasonal.lookback_us(), 60 * US_PER_DAY);
    for bad in [
        FeatureParams { period_us: 0, ..p.clone() },
        FeatureParams { stat_window_us: -5, ..p.clone() },
        FeatureParams { seasonal_periods: 0, ..p.clone() },
        FeatureParams { trend_dead_band: f64::NAN, ..p.clone() },
        FeatureParams { jump_factor: 0.0, ..p.clone() },
        FeatureParams { jump_min_relative: -1.0, ..p.clone() },
    ] {
        let e = bad.check().unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidParameter);
    }
    let parsed: FeatureParams = serde_json::from_str(r#"{"period_us": 3600000000}"#).expect("partial json");
    assert_eq!(parsed.seasonal_periods, 7);
    assert!(serde_json::from_str::<FeatureParams>(r#"{"periods": 1}"#).is_err());
}

#[test]
fn names_and_types_are_consistent() {
    let mut names = FEATURE_NAMES.to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), NUM_FEATURES);
    assert_eq!(feature_index("seasonal_zscore"), Some(SEASONAL_ZSCORE));
    assert_eq!(feature_index("lag_30"), Some(LAG_30));
    assert_eq!(FEATURE_TYPES[IS_WEEKEND], FeatureType::Bool);
    assert_eq!(FEATURE_TYPES[RUN_LENGTH], FeatureType::Int);
    assert_eq!(FEATURE_TYPES[TREND_DIRECTION], FeatureType::Int);
}

#[test]
fn odd_inputs_do_not_panic() {
    let mut out = Vec::new();
    compute_series(&[], 0, &FeatureParams::default(), &mut out);
    let s = irregular(3, 20);
    compute_series(&s, 50, &FeatureParams::default(), &mut out);
    assert!(out.is_empty());
    let bad = FeatureParams { period_us: 0, stat_window_us: i64::MAX, seasonal_periods: 0, ..FeatureParams::default() };
    compute_series(&s, 0, &bad, &mut out);
    assert_eq!(out.len(), 20);
    let mut weird = s.clone();
    weird[4].hour_of_day = 99;
    weird[5].ts = weird[4].ts; // violates the preconditions: must not panic
    weird[6].value = f64::NAN;
    weird[9].value = f64::INFINITY;
    weird[12].ts = weird[0].ts - 1;
    compute_series(&weird, 0, &FeatureParams::default(), &mut out);
    let extremes = [obs(i64::MIN, 1.0), obs(-1, 2.0), obs(0, 3.0), obs(i64::MAX - 1, 1.0), obs(i64::MAX, 5.0)];
    compute_series(&extremes, 0, &FeatureParams::default(), &mut out);
    compute_series(&extremes, 3, &FeatureParams::default(), &mut out);
}

/// The first index whose row is inside `(ts[k] - lookback, ..]`.
fn lookback_start(s: &[Observation], k: usize, p: &FeatureParams) -> usize {
    s.partition_point(|o| o.ts <= s[k].ts - p.lookback_us())
}

fn assert_incremental_equals_full(s: &[Observation], k: usize, p: &FeatureParams) {
    let full = compute(s, 0, p);
    let j = lookback_start(s, k, p);
    let inc = compute(&s[j..], k - j, p);
    assert_eq!(inc.len(), s.len() - k);
    // The untrimmed series with first_out = k must agree too (the kernel skips history).
    let untrimmed = compute(s, k, p);
    for (a, b) in full[k..].iter().zip(&inc).chain(full[k..].iter().zip(&untrimmed)) {
        for (f, name) in FEATURE_NAMES.iter().enumerate() {
            let same = a.values[f].map(f64::to_bits) == b.values[f].map(f64::to_bits);
            assert!(same, "row ts {} feature {name}: full {:?} incremental {:?}", a.ts, a.values[f], b.values[f]);
        }
    }
}

#[test]
fn incremental_equals_full_on_long_default_series() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let s: Vec<Observation> = (0..60 * 96)
        .map(|i| obs(BASE + i * 15 * MIN + rng.gen_range(0..MIN), 1e6 + 50.0 - (i % 70) as f64 + rng.gen_range(-0.3..0.3)))
        .collect();
    let p = FeatureParams::default();
    for k in [31 * 96, 40 * 96 + 17, 59 * 96 + 95] {
        assert_incremental_equals_full(&s, k, &p);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_full(seed in any::<u64>(), n in 1usize..400, k_frac in 0.0f64..1.0, variant in 0u8..4) {
        let s = irregular(seed, n);
        let k = ((n as f64 * k_frac) as usize).min(n - 1);
        assert_incremental_equals_full(&s, k, &small_params(variant));
    }
}
