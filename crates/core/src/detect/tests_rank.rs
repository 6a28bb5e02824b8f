//! Scores that rank: degenerate training spans (constant, square wave) get a floor scale, so
//! normal rows after them do not score 1.0, and the score stays strictly increasing for
//! increasingly extreme values far into the tail (it never reaches 1.0).

use super::score::score_from_ln_p;
use super::*;

const MIN: i64 = 60_000_000;
/// 2025-03-03T00:00:00Z.
const START: i64 = 1_740_960_000_000_000;

fn rows(id: &str, values: &[f64]) -> SeriesRows {
    let ts: Vec<i64> = (0..values.len() as i64).map(|i| START + i * 15 * MIN).collect();
    crate::corpus::series_rows(id, &ts, values, None, 0)
}

/// `n` rows of `f(entity, row)`.
fn series(entities: usize, n: usize, f: impl Fn(usize, usize) -> f64) -> Vec<SeriesRows> {
    (0..entities).map(|e| rows(&format!("e{e}"), &(0..n).map(|i| f(e, i)).collect::<Vec<_>>())).collect()
}

fn head(s: &SeriesRows, n: usize) -> SeriesRows {
    crate::corpus::head(s, n)
}

/// Trains on the first `train` rows of each series and scores the rest.
fn fit_and_score(all: &[SeriesRows], train: usize) -> (Detector, Vec<Vec<Scored>>) {
    let heads: Vec<SeriesRows> = all.iter().map(|s| head(s, train)).collect();
    let p = DetectorParams { min_train_days: 1.0, ..DetectorParams::default() };
    let (det, _) = Detector::fit(MetricKind::Generic, &p, &heads, &[], &[]).expect("fit");
    let scored = all.iter().map(|s| det.score_series(s, train).expect("score")).collect();
    (det, scored)
}

/// Tiny deterministic jitter in [-1, 1].
fn jitter(e: usize, i: usize) -> f64 {
    let x = ((e * 7919 + i * 104_729) % 2001) as f64;
    x / 1000.0 - 1.0
}

#[test]
fn constant_training_span_does_not_saturate_normal_rows() {
    // 3 days flat at 50, then 3 days at 50 with a reading noise of 0.01 %
    let day = 96;
    let all = series(6, 6 * day, |e, i| if i < 3 * day { 50.0 } else { 50.0 + 0.005 * jitter(e, i) });
    let (det, scored) = fit_and_score(&all, 3 * day);
    let rows: Vec<&Scored> = scored.iter().flatten().collect();
    let ones = rows.iter().filter(|r| r.score >= 1.0).count();
    let alerts = rows.iter().filter(|r| r.is_anomaly).count();
    assert_eq!(ones, 0, "rows at score 1.0");
    assert!(alerts * 100 <= rows.len(), "{alerts} of {} normal rows above the threshold {}", rows.len(), det.threshold());
}

#[test]
fn square_wave_training_span_does_not_saturate_normal_rows() {
    // 0 / 10 alternating every 5 hours (not a divisor of a day), a little reading noise
    let day = 96;
    let all = series(6, 8 * day, |e, i| if (i / 20 + e) % 2 == 0 { 0.0 } else { 10.0 } + 0.01 * jitter(e, i));
    let (_, scored) = fit_and_score(&all, 4 * day);
    let rows: Vec<&Scored> = scored.iter().flatten().collect();
    let ones = rows.iter().filter(|r| r.score >= 1.0).count();
    let high = rows.iter().filter(|r| r.score > 0.999_999).count();
    assert_eq!(ones, 0, "rows at score 1.0");
    assert!(high * 20 <= rows.len(), "{high} of {} normal rows score above 0.999999", rows.len());
}

#[test]
fn scores_stay_strictly_ordered_far_into_the_tail() {
    let day = 96;
    let all = series(6, 5 * day, |e, i| 100.0 + 3.0 * jitter(e, i));
    let (det, _) = fit_and_score(&all, 4 * day);
    // the last row of entity 0 replaced by ever larger spikes
    let mut last = (0.0, f64::NEG_INFINITY);
    for k in 1..=12 {
        let spike = 10f64.powi(k);
        let mut s = all[0].clone();
        let n = s.len();
        s.value[n - 1] = 100.0 + spike;
        let s = crate::corpus::series_rows("e0", &s.ts, &s.value, None, 0);
        let r = det.score_series(&s, n - 1).expect("score")[0].clone();
        assert!(r.score < 1.0, "spike 1e{k}: score reached 1.0");
        if k >= 2 {
            assert!(r.score > last.0, "spike 1e{k}: score {} not above {}", r.score, last.0);
            assert!(r.neg_log10_p > last.1, "spike 1e{k}: -log10 p {} not above {}", r.neg_log10_p, last.1);
        }
        last = (r.score, r.neg_log10_p);
    }
    assert!(last.1 > 12.0, "-log10 p of the largest spike {}", last.1);
    // the mapping itself: continuous at p = 1e-12, monotone, below 1
    let a = score_from_ln_p(-27.631_021_115_928_547 + 1e-9);
    let b = score_from_ln_p(-27.631_021_115_928_547 - 1e-9);
    assert!((a - b).abs() < 1e-15 && b >= a);
    let mut prev = 0.0;
    for e in 1..120 {
        let s = score_from_ln_p(-(1.3f64.powi(e)));
        assert!(s > prev && s < 1.0, "ln p = -1.3^{e}: {s} after {prev}");
        prev = s;
    }
    assert_eq!(score_from_ln_p(0.0), 0.0);
}
