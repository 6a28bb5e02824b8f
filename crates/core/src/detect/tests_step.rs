//! Counts sampled finer than 15 minutes (`DetectorParams::count_row_window`): the row input
//! reads the last 15 minutes, so a burst spread over a few 5-minute rows is read whole, as a
//! 15-minute row reads it; at steps of 15 minutes or more nothing changes, bit for bit; version
//! 9 model bytes (the row alone) still load and score as before.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::tests_fit::{cal_feats, older_bytes, BASE, DAY, HOUR};
use super::*;

const MIN5: i64 = 5 * 60_000_000;
const TRAIN_DAYS: i64 = 14;
const DAYS: i64 = 18;

/// A sparse count (custody-like: about 0.3 per 5 minutes in working hours, 2 % of that
/// outside) simulated per 5 minutes and recorded every `step` (a multiple of 5 minutes: the
/// sum of its 5-minute counts), with `burst` (start, total) added as a third of the total to
/// each of three 5-minute slots.
fn counts(id: &str, seed: u64, step: i64, burst: Option<(i64, f64)>) -> SeriesRows {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base: Vec<(i64, f64)> = (0..DAYS * 288)
        .map(|i| {
            let t = BASE + i * MIN5;
            let h = t.rem_euclid(DAY) as f64 / HOUR as f64;
            let mu = 0.3 * if (8.0..17.0).contains(&h) { 1.0 } else { 0.02 };
            let mut x = Poisson::new(mu).map_or(0.0, |p| p.sample(&mut rng));
            if let Some((at, total)) = burst {
                if t >= at && t < at + 3 * MIN5 {
                    x += (total / 3.0).round();
                }
            }
            (t, x)
        })
        .collect();
    let k = (step / MIN5) as usize;
    // a row at the end of its step holds the counts of the step
    let ts: Vec<i64> = base.chunks(k).map(|c| c[c.len() - 1].0).collect();
    let value: Vec<f64> = base.chunks(k).map(|c| c.iter().map(|p| p.1).sum()).collect();
    SeriesRows { entity_id: id.into(), features: ts.iter().map(|&t| cal_feats(t)).collect(), ts, value, aux: None }
}

fn fitted(step: i64, params: &DetectorParams) -> Detector {
    let train: Vec<SeriesRows> = (0..16)
        .map(|k| {
            let s = counts(&format!("e{k:02}"), 300 + k, step, None);
            crate::corpus::head(&s, first(&s))
        })
        .collect();
    Detector::fit(MetricKind::Count, params, &train, &[], &[]).expect("fit").0
}

fn row_alone() -> DetectorParams {
    DetectorParams { count_row_window: false, ..DetectorParams::default() }
}

/// First row at or after the training span.
fn first(s: &SeriesRows) -> usize {
    s.ts.partition_point(|&t| t < BASE + TRAIN_DAYS * DAY)
}

#[test]
fn a_quarter_hour_burst_at_five_minute_steps_is_read_whole() {
    let at = BASE + 15 * DAY + 10 * HOUR;
    let s = counts("e03", 303, MIN5, Some((at, 12.0)));
    let (new, old) = (fitted(MIN5, &DetectorParams::default()), fitted(MIN5, &row_alone()));
    let f = first(&s);
    let z0 = |det: &Detector| -> Vec<f64> { det.derived(det.entity("e03").expect("known"), &s, f).iter().map(|r| r.z[0]).collect() };
    let (zn, zo) = (z0(&new), z0(&old));
    // the burst's last row: its window holds the whole burst
    let last = s.ts.partition_point(|&t| t < at + 2 * MIN5) - f;
    assert!(zn[last] > 1.4 * zo[last], "window {} row alone {}", zn[last], zo[last]);
    // and the burst scores above every other scored row of the day with the window, where
    // alone its rows stay near the day's other busy rows
    let day: Vec<usize> = (0..zn.len()).filter(|&i| (s.ts[f + i] - at).abs() < 12 * HOUR && (s.ts[f + i] < at || s.ts[f + i] > at + 20 * MIN5)).collect();
    let top = |z: &[f64]| day.iter().map(|&i| z[i].abs()).fold(0.0, f64::max);
    assert!(zn[last] > 2.0 * top(&zn), "burst {} other rows up to {}", zn[last], top(&zn));
    // a detector with the window alerts on it
    let scored = new.score_series(&s, f).expect("score");
    let eps = episodes(&scored, &new.episode_params());
    assert!(eps.iter().any(|e| !e.suppressed && e.start_ts <= at + 3 * HOUR && e.end_ts >= at), "burst not alerted: {eps:?}");
}

#[test]
fn steps_of_a_quarter_hour_or_more_are_unchanged_bit_for_bit() {
    for step in [3 * MIN5, 12 * MIN5] {
        let s = counts("e05", 305, step, Some((BASE + 15 * DAY + 10 * HOUR, 12.0)));
        let (new, old) = (fitted(step, &DetectorParams::default()), fitted(step, &row_alone()));
        let f = first(&s);
        let a = new.score_series(&s, f).expect("a");
        let b = old.score_series(&s, f).expect("b");
        assert_eq!(a, b, "step {step}");
    }
}

#[test]
fn version_9_bytes_still_load_and_score_as_before() {
    // version 9 had no count_row_window: it is the last parameter (a bool), so its payload is
    // this one without that byte before `pooled`
    let det = fitted(MIN5, &row_alone());
    let v9 = older_bytes(&det, 1, 0, 9);
    let back = Detector::from_bytes(&v9).expect("version 9 loads");
    assert_eq!(back, det);
    assert!(!back.params.count_row_window);
    let s = counts("e03", 303, MIN5, Some((BASE + 15 * DAY + 10 * HOUR, 12.0)));
    let f = first(&s);
    let old = back.score_series(&s, f).expect("a");
    assert_eq!(old, det.score_series(&s, f).expect("b"));
    // a model fitted with version 10's default scores the same rows otherwise (loaded with it
    // on, those bytes would not score as before)
    assert_ne!(fitted(MIN5, &DetectorParams::default()).score_series(&s, f).expect("c"), old);
}
