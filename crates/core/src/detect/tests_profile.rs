//! The count profile refitted to its own interpolation (`noise::refine_profile`) and the
//! held-out choice between it and the weighted-mean profile (`noise::refine_wins`).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::mathx::{calendar, Cal};
use super::noise::{count_prior_rows, count_refine, fit_count, fit_profile, profile_f64, refine_profile, refine_wins, Noise};
use super::tests_fit::cal_feats;
use super::SeriesRows;

/// 2025-01-06T00:00:00Z, a Monday.
const BASE: i64 = 1_736_121_600_000_000;
const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

/// Custody-like use per `step`: `busy` per hour from 08:00 to 17:00 on weekdays, nothing in the
/// lunch hour (12:00-13:00), at night or at weekends (sharp edges, many zero hours); Poisson.
fn working_hours(days: i64, step: i64, busy: f64, seed: u64) -> SeriesRows {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ts: Vec<i64> = (0..days * DAY / step).map(|i| BASE + i * step).collect();
    let value = ts
        .iter()
        .map(|&t| {
            let h = t.rem_euclid(DAY) / HOUR;
            let weekend = (t.div_euclid(DAY) + 3).rem_euclid(7) >= 5;
            let mu = if !weekend && (8..17).contains(&h) && h != 12 { busy * step as f64 / HOUR as f64 } else { 0.0 };
            if mu > 0.0 { Poisson::new(mu).map_or(0.0, |p| p.sample(&mut rng)) } else { 0.0 }
        })
        .collect();
    SeriesRows { entity_id: "w".into(), features: ts.iter().map(|&t| cal_feats(t)).collect(), ts, value, aux: None }
}

fn cals(s: &SeriesRows) -> Vec<Cal> {
    (0..s.len()).map(|i| calendar(s.ts[i], &s.features[i])).collect()
}

/// Squared error of the profile's interpolated values against the true hourly rate.
fn sse(p: &[f32], s: &SeriesRows, c: &[Cal], truth: impl Fn(i64) -> f64) -> f64 {
    (0..s.len()).map(|i| (profile_f64(p, c[i]) - truth(s.ts[i])).powi(2)).sum()
}

#[test]
fn refitted_profile_follows_sharp_working_hours() {
    // 15-minute rows: a weighted mean of the rows around each cell centre spreads every edge
    // over two hours (it expects use in the lunch hour and too little in the first busy hour)
    let step = 15 * 60_000_000;
    let s = working_hours(14, step, 6.0, 1);
    let c = cals(&s);
    let mask = vec![true; s.len()];
    let plain = fit_profile((0..s.len()).map(|i| (c[i], s.value[i])), true);
    let mut refined = plain.clone();
    refine_profile(&mut refined, (0..s.len()).map(|i| (c[i], s.value[i])));
    let truth = |t: i64| {
        let h = t.rem_euclid(DAY) / HOUR;
        let weekend = (t.div_euclid(DAY) + 3).rem_euclid(7) >= 5;
        if !weekend && (8..17).contains(&h) && h != 12 { 1.5 } else { 0.0 }
    };
    let (e0, e1) = (sse(&plain, &s, &c, truth), sse(&refined, &s, &c, truth));
    assert!(e1 < 0.9 * e0, "refitted error {e1:.1} should be well below the weighted mean's {e0:.1}");
    // a weekday lunch row (Tuesday 12:30) and a quiet row before opening (07:15)
    let row = |m: i64| (0..s.len()).find(|&i| s.ts[i] == BASE + DAY + m * 60_000_000).unwrap();
    let (lunch, open) = (row(12 * 60 + 30), row(7 * 60 + 15));
    let (rl, pl, ro, po) = (profile_f64(&refined, c[lunch]), profile_f64(&plain, c[lunch]), profile_f64(&refined, c[open]), profile_f64(&plain, c[open]));
    assert!(rl < 0.5 * pl, "lunch: refined {rl} plain {pl}");
    assert!(ro < 0.5 * po, "before opening: refined {ro} plain {po}");
    // never below half an event over a cell's rows: 14 days of 4 rows an hour (x 2 cells)
    assert!(refined.iter().all(|v| v.is_finite() && *v > 0.0));
    // the data prefer it on held-out days, so the count model uses it with `count_hour_prior`
    // (and keeps the weighted means without it)
    assert!(refine_wins(&s, &c, &mask, false));
    assert!(count_refine(&s, &c, &mask, true) && !count_refine(&s, &c, &mask, false));
    let Noise::Count { profile, .. } = fit_count(&s, &c, &mask, false, refine_wins(&s, &c, &mask, false)) else { panic!("count model expected") };
    assert!(profile_f64(&profile, c[lunch]) < 0.5 * pl, "the count model's lunch expectation {}", profile_f64(&profile, c[lunch]));
}

#[test]
fn refitted_profile_needs_several_days_and_held_out_evidence() {
    // a single day cannot pin an hour's edges: the weighted means stay
    let one = working_hours(1, 15 * 60_000_000, 6.0, 2);
    let c1 = cals(&one);
    assert!(!refine_wins(&one, &c1, &vec![true; one.len()], false));
    // a constant rate has no edges: the refit fits noise, and held-out days say so
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let ts: Vec<i64> = (0..14 * 24).map(|i| BASE + i * HOUR).collect();
    let value: Vec<f64> = ts.iter().map(|_| Poisson::new(3.0).unwrap().sample(&mut rng)).collect();
    let flat = SeriesRows { entity_id: "f".into(), features: ts.iter().map(|&t| cal_feats(t)).collect(), ts, value, aux: None };
    let cf = cals(&flat);
    assert!(!refine_wins(&flat, &cf, &vec![true; flat.len()], false));
}

#[test]
fn count_night_expectation_does_not_depend_on_the_sampling_step() {
    // the same entity's uses recorded every 15 minutes and summed per hour: the profile's prior
    // toward the day's level is one hour of rows, not 4 rows (against about 10 per cell of an
    // hourly series over two weeks' weekdays: nights expected at three times the 15-minute fit)
    let q = working_hours(14, 15 * 60_000_000, 6.0, 4);
    let ts: Vec<i64> = q.ts.iter().step_by(4).copied().collect();
    let value: Vec<f64> = q.value.chunks(4).map(|c| c.iter().sum()).collect();
    let h = SeriesRows { entity_id: "h".into(), features: ts.iter().map(|&t| cal_feats(t)).collect(), ts, value, aux: None };
    let per_hour = |s: &SeriesRows, rows_per_hour: f64| {
        let c = cals(s);
        let Noise::Count { profile, .. } = fit_count(s, &c, &vec![true; s.len()], false, false) else { panic!("count model expected") };
        // Tuesday 02:00-04:00: night, far from the working hours' edges
        let night: Vec<f64> = (0..s.len()).filter(|&i| (BASE + DAY + 2 * HOUR..BASE + DAY + 4 * HOUR).contains(&s.ts[i])).map(|i| profile_f64(&profile, c[i])).collect();
        rows_per_hour * night.iter().sum::<f64>() / night.len() as f64
    };
    let (n15, n60) = (per_hour(&q, 4.0), per_hour(&h, 1.0));
    assert!(n15 > 0.0 && (n60 - n15).abs() < 0.1 * n15, "night uses an hour: 15-minute rows {n15:.3}, hourly rows {n60:.3}");
    // 15-minute (and finer) series keep 4 rows
    assert_eq!(count_prior_rows(&q.ts), 4.0);
    assert_eq!(count_prior_rows(&h.ts), 1.0);
    assert_eq!(count_prior_rows(&(0..100).map(|i| BASE + i * 300_000_000).collect::<Vec<_>>()), 4.0);
}
