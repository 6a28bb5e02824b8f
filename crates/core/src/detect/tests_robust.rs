//! Robustness of the detector on differently shaped synthetic series, as unit tests: the
//! protocol of the robustness part of `examples/eval_detect.rs`, smaller (12 series per shape
//! instead of 40) and with fixed seeds.
//!
//! Per shape: 12 series of 30 days (15-minute steps, or irregular 5-40 minute steps), stored
//! features from `compute_series` on the UTC calendar, three spikes of 8 noise sigmas injected
//! into each series' scoring span; fit on the first 14 days, score the rest with the earlier
//! rows as look-back, form episodes; every non-suppressed episode is an alert.
//! - A spike is *found* when an alert overlaps `[t, t + 2 h]`.
//! - An alert is *false* when it overlaps no spike of its series (same 2 h tolerance).
//!
//! Bounds: see [`BOUNDS`]; the measurements behind them are written there.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::*;
use crate::features::{compute_series, FeatureParams, FeatureRow, Observation};

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
const TOLERANCE: i64 = 2 * HOUR;
const TRAIN_DAYS: i64 = 14;
const DAYS: i64 = 30;
const SERIES: u64 = 12;
const SPIKES_PER_SERIES: usize = 3;
/// 2025-03-31T00:00:00Z (the example's end).
const END: i64 = 1_743_379_200_000_000;

/// Observation with the UTC calendar fields (civil-from-days, H. Hinnant).
fn obs(ts: i64, value: f64) -> Observation {
    crate::corpus::observation(ts, value, 0)
}

/// A series with its stored features, as the SQL layer reads it.
fn rows(id: String, ts: &[i64], values: &[f64]) -> SeriesRows {
    let o: Vec<Observation> = ts.iter().zip(values).map(|(&t, &v)| obs(t, v)).collect();
    let mut f: Vec<FeatureRow> = Vec::with_capacity(o.len());
    compute_series(&o, 0, &FeatureParams::default(), &mut f);
    SeriesRows { entity_id: id, ts: ts.to_vec(), value: values.to_vec(), features: f.into_iter().map(|r| r.values).collect(), aux: None }
}

fn head(s: &SeriesRows, n: usize) -> SeriesRows {
    SeriesRows { entity_id: s.entity_id.clone(), ts: s.ts[..n].to_vec(), value: s.value[..n].to_vec(), features: s.features[..n].to_vec(), aux: None }
}

fn overlaps(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 <= b.1 + TOLERANCE && b.0 <= a.1
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Irregular,
    Trend,
    LevelShift,
    Season12h,
    Counts,
}

impl Shape {
    const ALL: [Shape; 5] = [Shape::Irregular, Shape::Trend, Shape::LevelShift, Shape::Season12h, Shape::Counts];
    fn name(self) -> &'static str {
        match self {
            Shape::Irregular => "irregular",
            Shape::Trend => "trend",
            Shape::LevelShift => "level_shift",
            Shape::Season12h => "season_12h",
            Shape::Counts => "counts",
        }
    }
}

/// One series of `shape` (the example's generator) with three injected spikes: the rows, the
/// index of the first row to score, the spike timestamps.
fn generate(shape: Shape, k: u64, seed_base: u64) -> (SeriesRows, usize, Vec<i64>) {
    let start = END - DAYS * DAY;
    let mut rng = ChaCha8Rng::seed_from_u64(seed_base + k * 31 + shape.name().len() as u64);
    let (mut ts, mut vals) = (Vec::new(), Vec::new());
    let (level, sigma): (f64, f64) = (rng.gen_range(10.0..1000.0), rng.gen_range(0.02..0.1));
    let mut t = start;
    while t < END {
        let d = (t - start) as f64 / DAY as f64;
        let h = t.rem_euclid(DAY) as f64 / HOUR as f64;
        let period = if shape == Shape::Season12h { 12.0 } else { 24.0 };
        let season = (h / period * std::f64::consts::TAU).sin();
        let mut v = level * (1.0 + 0.3 * season);
        if shape == Shape::Trend {
            v += level * 0.02 * d;
        }
        if shape == Shape::LevelShift && d >= 22.0 {
            v += level * 0.5;
        }
        let noise: f64 = rng.sample(StandardNormal);
        v += level * sigma * noise;
        if shape == Shape::Counts {
            let p = Poisson::new((level / 100.0 * (1.0 + 0.8 * season)).max(0.05)).unwrap_or_else(|_| Poisson::new(1.0).expect("valid"));
            v = p.sample(&mut rng);
        }
        ts.push(t);
        vals.push(v);
        t += if shape == Shape::Irregular { rng.gen_range(5..40) * 60_000_000 } else { 15 * 60_000_000 };
    }
    let split = ts.partition_point(|&x| x < start + TRAIN_DAYS * DAY);
    let mut spikes = Vec::with_capacity(SPIKES_PER_SERIES);
    for _ in 0..SPIKES_PER_SERIES {
        let i = rng.gen_range(split + 10..ts.len() - 10);
        let bump = if shape == Shape::Counts { 8.0 * (level / 100.0).sqrt().max(1.0) + 6.0 } else { 8.0 * sigma * level };
        vals[i] += bump;
        spikes.push(ts[i]);
    }
    (rows(format!("s{k}"), &ts, &vals), split, spikes)
}

#[derive(Debug, Default)]
struct Outcome {
    spikes: usize,
    found: usize,
    /// Alerts overlapping no injected spike.
    false_alerts: usize,
    series_weeks: f64,
    scored: usize,
    min_score: f64,
    max_score: f64,
    bad_scores: usize,
}

impl Outcome {
    fn recall(&self) -> f64 {
        self.found as f64 / self.spikes as f64
    }
    fn false_per_week(&self) -> f64 {
        self.false_alerts as f64 / self.series_weeks
    }
}

fn run(shape: Shape, seed_base: u64) -> Outcome {
    let data: Vec<(SeriesRows, usize, Vec<i64>)> = (0..SERIES).map(|k| generate(shape, k, seed_base)).collect();
    let kind = if shape == Shape::Counts { MetricKind::Count } else { MetricKind::Generic };
    let train: Vec<SeriesRows> = data.iter().map(|(s, n, _)| head(s, *n)).collect();
    let (det, _) = Detector::fit(kind, &DetectorParams::default(), &train, &[], &[]).expect("fit");
    let ep = det.episode_params();
    let mut o = Outcome { min_score: f64::INFINITY, max_score: f64::NEG_INFINITY, series_weeks: SERIES as f64 * (DAYS - TRAIN_DAYS) as f64 / 7.0, ..Outcome::default() };
    for (s, n, spikes) in &data {
        let scored = det.score_series(s, *n).expect("score");
        assert_eq!(scored.len(), s.len() - n, "{}: one score per row to score", shape.name());
        for r in &scored {
            o.scored += 1;
            o.min_score = o.min_score.min(r.score);
            o.max_score = o.max_score.max(r.score);
            if !(0.0..=1.0).contains(&r.score) {
                o.bad_scores += 1;
            }
        }
        let alerts: Vec<(i64, i64)> = episodes(&scored, &ep).iter().filter(|e| !e.suppressed).map(|e| (e.start_ts, e.end_ts)).collect();
        o.spikes += spikes.len();
        o.found += spikes.iter().filter(|&&t| alerts.iter().any(|&a| overlaps(a, (t, t)))).count();
        o.false_alerts += alerts.iter().filter(|&&a| !spikes.iter().any(|&t| overlaps(a, (t, t)))).count();
    }
    o
}

/// (shape, max false alerts per series-week, min share of spikes found).
///
/// Measured with the current detector (release; 12 series x 30 days per shape, seed_base 0,
/// 36 spikes per shape; in brackets the range over seed_base 0, 1000, ..., 7000 from the
/// ignored `robustness_measure` test):
/// - irregular:   found 31/36 = 0.861 [0.611-1.000], false alerts 0 = 0.000/series-week [0-0]
/// - trend:       found 33/36 = 0.917 [0.778-0.972], false alerts 0 = 0.000 [0-0]
/// - level_shift: found 28/36 = 0.778 [0.778-0.917], false alerts 9 = 0.328 [0.292-0.438]
///   (the +50 % shift on day 22 itself raises about one alert per series)
/// - season_12h:  found 33/36 = 0.917 [0.667-0.944], false alerts 0 = 0.000 [0-0]
/// - counts:      found 36/36 = 1.000 [0.861-1.000], false alerts 0 = 0.000 [0-0.036]
/// - scores: all in [0, 1] for every shape and seed set.
///
/// The example (40 series per shape) measured 108/120, 107/120, 93/120, 90/120, 117/120 found
/// and 0 other alerts per series-week except 0.317 for level shift. The bounds below hold for
/// every seed set measured, and with margin for the asserted one (seed_base 0): recall >= 0.6
/// is at least 6 spikes below each measurement; <= 0.1 false alerts per series-week allows 2
/// alerts in the 27.4 series-weeks, <= 0.5 for level shift allows 13 (9 measured).
const BOUNDS: [(Shape, f64, f64); 5] = [(Shape::Irregular, 0.1, 0.6), (Shape::Trend, 0.1, 0.6), (Shape::LevelShift, 0.5, 0.6), (Shape::Season12h, 0.1, 0.6), (Shape::Counts, 0.1, 0.6)];

fn check(shape: Shape) {
    let o = run(shape, 0);
    let &(_, max_fp, min_recall) = BOUNDS.iter().find(|b| b.0 == shape).expect("bounds");
    let name = shape.name();
    assert!(o.scored > 0, "{name}: nothing scored");
    assert_eq!(o.bad_scores, 0, "{name}: scores outside [0, 1]: min {} max {}", o.min_score, o.max_score);
    assert!(o.min_score >= 0.0 && o.max_score <= 1.0, "{name}: scores in [{}, {}]", o.min_score, o.max_score);
    assert!(o.false_per_week() <= max_fp, "{name}: {} false alerts = {:.3} per series-week > {max_fp} ({o:?})", o.false_alerts, o.false_per_week());
    assert!(o.recall() >= min_recall, "{name}: found {}/{} spikes = {:.3} < {min_recall} ({o:?})", o.found, o.spikes, o.recall());
}

#[test]
fn robust_irregular_sampling() {
    check(Shape::Irregular);
}

#[test]
fn robust_trend() {
    check(Shape::Trend);
}

#[test]
fn robust_level_shift() {
    check(Shape::LevelShift);
}

#[test]
fn robust_season_12h() {
    check(Shape::Season12h);
}

#[test]
fn robust_poisson_counts() {
    check(Shape::Counts);
}

/// Prints the measurements behind [`BOUNDS`] over several seed sets:
/// `cargo test -p pg_anomaly_core --release --lib robustness_measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn robustness_measure() {
    for shape in Shape::ALL {
        for seed_base in (0..8).map(|i| i * 1000) {
            let o = run(shape, seed_base);
            println!("{:<12} seed_base {seed_base:>5}: found {:>2}/{} ({:.3}), false alerts {:>2} ({:.3}/series-week), scores [{:.4}, {:.6}]", shape.name(), o.found, o.spikes, o.recall(), o.false_alerts, o.false_per_week(), o.min_score, o.max_score);
        }
    }
}
