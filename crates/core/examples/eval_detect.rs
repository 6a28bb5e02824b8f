//! Event-level quality of the detector on labelled demo data, robustness on differently shaped
//! synthetic series, and fit / score throughput.
//!
//! Protocol (what the SQL layer does): per metric type, features from `compute_series` on the
//! demo's 15-minute rows with the local (UTC+3) calendar; train on the first 14 days with the
//! labelled windows excluded; score days 15-30 with the earlier rows as look-back; form
//! episodes; every non-suppressed episode is an alert.
//! - A label is *found* when an alert overlaps `[start, end + 2 h]` (the tolerance covers
//!   anomalies whose evidence follows the label: a stuck stock's recovery jump).
//! - An alert is a *false positive* when it overlaps no label window (with the same tolerance)
//!   of the same entity and metric type. FP rate = FP alerts / alerts.
//!
//! Run with `bench/detect_quality.sh` (release). Arguments: entities (200), days (30),
//! seeds (42,7); `--speed` adds the 2.9-million-row fit; `--params JSON` other detector
//! parameters; `--no-forest` scores with the
//! per-feature calibrated path alone (ablation); `SHOW_FP=1` lists robustness misses and alerts.

use std::time::Instant;

use pg_anomaly_core::demo::{generate_entity, DemoParams, EntitySeries, DAY_US, LOCAL_OFFSET_US, METRIC_TYPES};
use pg_anomaly_core::detect::{episodes, Detector, DetectorParams, MetricKind, SeriesRows, Window};
use pg_anomaly_core::corpus::{head, series_rows, EventCounts};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HOUR: i64 = 3_600_000_000;
const TOLERANCE: i64 = 2 * HOUR;
const TRAIN_DAYS: i64 = 14;
/// 2025-03-31T00:00:00Z.
const END: i64 = 1_743_379_200_000_000;

/// A series with its stored features, as the SQL layer reads it (the corpus' reader; `aux`
/// shares the series' timestamps).
fn rows(id: String, ts: &[i64], values: &[f64], aux: Option<&[f64]>, offset: i64) -> SeriesRows {
    series_rows(&id, ts, values, aux.map(|a| (ts, a)), offset)
}

type Tally = EventCounts;

/// One printed row of event counts.
fn line(t: &Tally, name: &str) -> String {
    let fpr = if t.alerts > 0 { t.fp as f64 / t.alerts as f64 } else { 0.0 };
    format!("{name:<16} {:>6} {:>6} {:>6} {:>5} {:>9.3} {:>7.3} {:>6.3} {:>8.1}%", t.labels, t.found, t.alerts, t.fp, t.precision(), t.recall(), t.f1(), 100.0 * fpr)
}

/// Alerts (non-suppressed episodes) of one scored series as (start, end) timestamps.
fn alerts(det: &Detector, s: &SeriesRows, first: usize) -> (Vec<(i64, i64)>, usize) {
    let scored = det.score_series(s, first).unwrap_or_default();
    let eps = episodes(&scored, &det.episode_params());
    (eps.iter().filter(|e| !e.suppressed).map(|e| (e.start_ts, e.end_ts)).collect(), scored.len())
}

fn overlaps(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 <= b.1 + TOLERANCE && b.0 <= a.1
}

fn demo(entities: u32, days: u32, seed: u64, params: &DetectorParams) -> Tally {
    let dp = DemoParams { entities, days, seed, end_us: END };
    let all: Vec<EntitySeries> = (0..entities).map(|k| generate_entity(&dp, k)).collect();
    let ts: Vec<i64> = (0..dp.n_steps()).map(|i| dp.timestamp_us(i)).collect();
    let split = (TRAIN_DAYS as usize * 96).min(ts.len());
    let test_start = ts[split.min(ts.len() - 1)];
    println!("\n== demo: {entities} entities x {days} days, seed {seed}: train days 1-{TRAIN_DAYS}, score the rest ==");
    println!("{:<16} {:>6} {:>6} {:>6} {:>5} {:>9} {:>7} {:>6} {:>9}", "metric", "labels", "found", "alerts", "FP", "precision", "recall", "F1", "FP rate");
    let mut total = Tally::default();
    let mut kinds: Vec<(String, usize, usize)> = Vec::new();
    for (m, name) in METRIC_TYPES.iter().enumerate() {
        let kind = MetricKind::from_metric_type(name);
        let aux_idx = kind.aux_metric().and_then(|a| METRIC_TYPES.iter().position(|x| *x == a));
        let series: Vec<SeriesRows> = all.iter().map(|e| rows(format!("e{}", e.entity_index), &ts, &e.values[m], aux_idx.map(|a| e.values[a].as_slice()), LOCAL_OFFSET_US)).collect();
        let train: Vec<SeriesRows> = series.iter().map(|s| head(s, split)).collect();
        let labels: Vec<(u32, i64, i64, &str)> = all.iter().flat_map(|e| e.labels.iter()).filter(|l| l.metric_type == *name).map(|l| (l.entity_index, l.starts_at_us, l.ends_at_us, l.kind)).collect();
        let exclude: Vec<Window> = labels.iter().filter(|l| l.1 < test_start).map(|l| Window { entity_id: format!("e{}", l.0), from_us: l.1, to_us: l.2 }).collect();
        let t0 = Instant::now();
        let (det, rep) = match Detector::fit(kind, params, &train, &exclude, &[]) {
            Ok(x) => x,
            Err(e) => {
                println!("{name}: fit failed: {e}");
                continue;
            }
        };
        let fit_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut tally = Tally::default();
        let mut scored_rows = 0;
        let mut found_by_kind: Vec<(String, bool)> = Vec::new();
        for (e, s) in series.iter().enumerate() {
            let (al, n) = alerts(&det, s, split);
            scored_rows += n;
            let mine: Vec<&(u32, i64, i64, &str)> = labels.iter().filter(|l| l.0 == e as u32 && l.2 >= test_start).collect();
            let own_all: Vec<&(u32, i64, i64, &str)> = labels.iter().filter(|l| l.0 == e as u32).collect();
            for l in &mine {
                let f = al.iter().any(|&a| overlaps(a, (l.1, l.2)));
                let hits: Vec<&(i64, i64)> = al.iter().filter(|&&a| overlaps(a, (l.1, l.2))).collect();
                if hits.len() > 1 && std::env::var("SHOW_MULTI").is_ok() {
                    let h = |t: i64| (t - l.1) as f64 / HOUR as f64;
                    println!("  MULTI e{e} {name} {}: label {:.1}h, alerts {:?}", l.3, h(l.2), hits.iter().map(|a| (h(a.0), h(a.1))).collect::<Vec<_>>());
                }
                tally.labels += 1;
                tally.found += usize::from(f);
                found_by_kind.push((format!("{}/{}", short(name), l.3), f));
            }
            tally.alerts += al.len();
            tally.fp += al.iter().filter(|&&a| !own_all.iter().any(|l| overlaps(a, (l.1, l.2)))).count();
            if std::env::var("SHOW_MULTI").is_ok() {
                for &a in al.iter().filter(|&&a| !own_all.iter().any(|l| overlaps(a, (l.1, l.2)))) {
                    let near: Vec<String> = own_all.iter().filter(|l| (a.0 - l.2).abs() < 72 * HOUR || (a.0 - l.1).abs() < 72 * HOUR).map(|l| format!("{} [{:.1}h..{:.1}h]", l.3, (l.1 - a.0) as f64 / HOUR as f64, (l.2 - a.0) as f64 / HOUR as f64)).collect();
                    let pre: Vec<String> = al.iter().filter(|b| b.0 < a.0 && a.0 - b.1 < 72 * HOUR).map(|b| format!("({:.1}h..{:.1}h)", (b.0 - a.0) as f64 / HOUR as f64, (b.1 - a.0) as f64 / HOUR as f64)).collect();
                    println!("  FP e{e} {name} {:.1}h long; labels near {:?}; alerts before {:?}", (a.1 - a.0) as f64 / HOUR as f64, near, pre);
                }
            }
        }
        let score_s = t1.elapsed().as_secs_f64();
        println!("{}   fit {:.2}s ({:.2} M rows/s), score {:.0} k rows/s, held-out alert days {:.4}", line(&tally, name), fit_s, rep.rows as f64 / fit_s / 1e6, scored_rows as f64 / score_s / 1e3, rep.held_out_alert_share);
        for (k, f) in found_by_kind {
            match kinds.iter_mut().find(|x| x.0 == k) {
                Some(x) => {
                    x.1 += 1;
                    x.2 += usize::from(f);
                }
                None => kinds.push((k, 1, usize::from(f))),
            }
        }
        total.add(&tally);
    }
    println!("{}", line(&total, "overall"));
    kinds.sort();
    println!("recall per kind: {}", kinds.iter().map(|(k, n, f)| format!("{k} {f}/{n}")).collect::<Vec<_>>().join(", "));
    total
}

fn short(m: &str) -> &str {
    m.split('_').next().unwrap_or(m)
}

/// Synthetic shapes: irregular sampling, trend, level shift, 12-hour seasonality, counts;
/// three spikes of 8 noise sigmas injected into each series' scoring span.
fn robustness(params: &DetectorParams) {
    println!("\n== robustness: 40 series per shape, 30 days, train 14, 3 injected spikes each ==");
    println!("{:<14} {:>7} {:>11} {:>14}", "shape", "spikes", "found", "other alerts/series-week");
    let start = END - 30 * DAY_US;
    for shape in ["irregular", "trend", "level_shift", "season_12h", "counts"] {
        let mut series = Vec::new();
        let mut spikes = Vec::new();
        for k in 0..40u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(k * 31 + shape.len() as u64);
            let (mut ts, mut vals) = (Vec::new(), Vec::new());
            let mut t = start;
            let (level, sigma) = (rng.gen_range(10.0..1000.0), rng.gen_range(0.02..0.1));
            while t < END {
                let d = (t - start) as f64 / DAY_US as f64;
                let h = (t.rem_euclid(DAY_US)) as f64 / HOUR as f64;
                let season = if shape == "season_12h" { (h / 12.0 * std::f64::consts::TAU).sin() } else { (h / 24.0 * std::f64::consts::TAU).sin() };
                let mut v = level * (1.0 + 0.3 * season);
                if shape == "trend" {
                    v += level * 0.02 * d;
                }
                if shape == "level_shift" && d >= 22.0 {
                    v += level * 0.5;
                }
                let noise: f64 = rng.sample(rand_distr::StandardNormal);
                v += level * sigma * noise;
                if shape == "counts" {
                    v = rand_distr::Distribution::sample(&rand_distr::Poisson::new((level / 100.0 * (1.0 + 0.8 * season)).max(0.05)).unwrap_or_else(|_| rand_distr::Poisson::new(1.0).expect("valid")), &mut rng);
                }
                ts.push(t);
                vals.push(v);
                t += if shape == "irregular" { rng.gen_range(5..40) * 60_000_000 } else { 15 * 60_000_000 };
            }
            let split = ts.partition_point(|&x| x < start + TRAIN_DAYS * DAY_US);
            for _ in 0..3 {
                let i = rng.gen_range(split + 10..ts.len() - 10);
                let bump = if shape == "counts" { 8.0 * (level / 100.0).sqrt().max(1.0) + 6.0 } else { 8.0 * sigma * level };
                vals[i] += bump;
                spikes.push((k as usize, ts[i]));
            }
            series.push((rows(format!("s{k}"), &ts, &vals, None, 0), split));
        }
        let kind = if shape == "counts" { MetricKind::Count } else { MetricKind::Generic };
        let train: Vec<SeriesRows> = series.iter().map(|(s, n)| head(s, *n)).collect();
        let det = match Detector::fit(kind, params, &train, &[], &[]) {
            Ok((d, _)) => d,
            Err(e) => {
                println!("{shape}: fit failed: {e}");
                continue;
            }
        };
        if std::env::var("SHOW_FP").is_ok() {
            println!("  calibration {}", det.calibration_summary());
        }
        let (mut found, mut other) = (0, 0);
        for (k, (s, n)) in series.iter().enumerate() {
            let (al, _) = alerts(&det, s, *n);
            let mine: Vec<i64> = spikes.iter().filter(|x| x.0 == k).map(|x| x.1).collect();
            found += mine.iter().filter(|&&t| al.iter().any(|&a| overlaps(a, (t, t)))).count();
            other += al.iter().filter(|&&a| !mine.iter().any(|&t| overlaps(a, (t, t)))).count();
            if std::env::var("SHOW_FP").is_ok() {
                let sc = det.score_series(s, *n).unwrap_or_default();
                for &t in mine.iter().filter(|&&t| !al.iter().any(|&a| overlaps(a, (t, t)))) {
                    if let Some(r) = sc.iter().find(|r| r.ts == t) {
                        println!("  MISS {shape} s{k} day {:.2}: score {:.6} v {:.2} e {:?}", (t - start) as f64 / DAY_US as f64, r.score, r.value, r.expected);
                    }
                }
                for &a in al.iter().filter(|&&a| !mine.iter().any(|&t| overlaps(a, (t, t)))) {
                    let r = sc.iter().filter(|r| r.ts >= a.0 && r.ts <= a.1).max_by(|x, y| x.score.total_cmp(&y.score));
                    if let Some(r) = r {
                        println!("  {shape} s{k} {:.2}h day {:.2}: score {:.6} v {:.2} e {:?} {:?}", (a.1 - a.0) as f64 / HOUR as f64, (r.ts - start) as f64 / DAY_US as f64, r.score, r.value, r.expected, r.top);
                    }
                }
            }
        }
        let weeks = 40.0 * 16.0 / 7.0;
        println!("{shape:<14} {:>7} {:>11} {:>14.3}", spikes.len(), found, other as f64 / weeks);
    }
}

/// Fit on ~2.9 M rows (1000 entities x 30 days of consumption) and score 16,000 new rows
/// (1000 series x 16 rows, each with a day of look-back).
fn speed(params: &DetectorParams) {
    let dp = DemoParams { entities: 1000, days: 30, seed: 5, end_us: END };
    let ts: Vec<i64> = (0..dp.n_steps()).map(|i| dp.timestamp_us(i)).collect();
    let series: Vec<SeriesRows> = (0..1000).map(|k| rows(format!("e{k}"), &ts, &generate_entity(&dp, k).values[1], None, LOCAL_OFFSET_US)).collect();
    let t0 = Instant::now();
    let det = match Detector::fit(MetricKind::Count, params, &series, &[], &[]) {
        Ok((d, r)) => {
            println!("\n== speed ==\nfit {} rows: {:.2} s", r.rows, t0.elapsed().as_secs_f64());
            d
        }
        Err(e) => return println!("speed fit failed: {e}"),
    };
    let first = ts.len() - 16;
    // the look-back the model asks for (a day; counts with a recent baseline two)
    let lb_rows = (det.lookback_us() / (15 * 60_000_000)) as usize;
    let tail: Vec<SeriesRows> = series.iter().map(|s| {
        let from = first - lb_rows;
        SeriesRows { entity_id: s.entity_id.clone(), ts: s.ts[from..].to_vec(), value: s.value[from..].to_vec(), features: s.features[from..].to_vec(), aux: None }
    }).collect();
    let t1 = Instant::now();
    let mut n = 0;
    for s in &tail {
        let sc = det.score_series(s, lb_rows).unwrap_or_default();
        n += sc.len();
        std::hint::black_box(episodes(&sc, &det.episode_params()));
    }
    let bytes = det.to_bytes().map(|b| b.len()).unwrap_or(0);
    println!("score {n} new rows (+ {lb_rows} rows of look-back each) with episodes: {:.3} s; model {} KiB", t1.elapsed().as_secs_f64(), bytes / 1024);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--params JSON`: detector parameters other than the defaults (before/after comparisons)
    let json = args.iter().position(|a| a == "--params").and_then(|i| args.get(i + 1)).cloned();
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--") && Some(*a) != json.as_ref()).collect();
    let num = |i: usize, d: u32| positional.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let seeds: Vec<u64> = positional.get(2).map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect()).unwrap_or_else(|| vec![42, 7]);
    let base = match &json {
        Some(j) => DetectorParams::from_json(&serde_json::from_str(j).expect("--params: JSON")).expect("--params"),
        None => DetectorParams::default(),
    };
    let params = DetectorParams { use_forest: !args.iter().any(|a| a == "--no-forest"), ..base };
    let mut total = Tally::default();
    for seed in seeds {
        total.add(&demo(num(0, 200), num(1, 30), seed, &params));
    }
    println!("\n{}", line(&total, "ALL SEEDS"));
    robustness(&params);
    if args.iter().any(|a| a == "--speed") {
        speed(&params);
    }
}
