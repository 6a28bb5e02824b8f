//! Speed of Shapley explanations and the result and duration of recursive feature elimination
//! on the labelled demo data (what `scripts/demo.sh` loads: 50 entities x 30 days, seed 42).
//!
//! Protocol (what `ml_train` / `ml_select_features(..., 'rfe')` do): per metric type, the
//! stored features of the demo's 15-minute rows (local UTC+3 calendar), the whole span, the
//! labelled windows left out of fitting and measured against (event F1, 2-hour tolerance).
//! Prints per metric type: the time to explain one alert (`explain_row` on each alert's peak
//! row, median and max), the time of the global importance at training, and every RFE round.
//!
//! Run with `bench/explain.sh` (release). Arguments: entities (50), days (30), seed (42).

use std::time::Instant;

use pg_anomaly_core::demo::{generate_entity, DemoParams, EntitySeries, LOCAL_OFFSET_US, METRIC_TYPES};
use pg_anomaly_core::detect::{episodes, rfe, Detector, DetectorParams, MetricKind, SeriesRows, Window};
use pg_anomaly_core::corpus::series_rows;

/// 2025-03-31T00:00:00Z.
const END: i64 = 1_743_379_200_000_000;

/// A series with its stored features, as the SQL layer reads it (the corpus' reader; `aux`
/// shares the series' timestamps).
fn rows(id: String, ts: &[i64], values: &[f64], aux: Option<&[f64]>) -> SeriesRows {
    series_rows(&id, ts, values, aux.map(|a| (ts, a)), LOCAL_OFFSET_US)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let dp = DemoParams { entities: arg(0, 50) as u32, days: arg(1, 30) as u32, seed: arg(2, 42), end_us: END };
    let all: Vec<EntitySeries> = (0..dp.entities).map(|k| generate_entity(&dp, k)).collect();
    let ts: Vec<i64> = (0..dp.n_steps()).map(|i| dp.timestamp_us(i)).collect();
    let params = DetectorParams::default();
    println!("demo: {} entities x {} days, seed {}; default detector parameters", dp.entities, dp.days, dp.seed);
    for (m, name) in METRIC_TYPES.iter().enumerate() {
        let kind = MetricKind::from_metric_type(name);
        let aux_idx = kind.aux_metric().and_then(|a| METRIC_TYPES.iter().position(|x| *x == a));
        let series: Vec<SeriesRows> = all.iter().map(|e| rows(format!("e{}", e.entity_index), &ts, &e.values[m], aux_idx.map(|a| e.values[a].as_slice()))).collect();
        let labels: Vec<Window> = all
            .iter()
            .flat_map(|e| e.labels.iter())
            .filter(|l| l.metric_type == *name)
            .map(|l| Window { entity_id: format!("e{}", l.entity_index), from_us: l.starts_at_us, to_us: l.ends_at_us })
            .collect();
        println!("\n== {name} ({} rows, {} labelled windows) ==", series.iter().map(|s| s.len()).sum::<usize>(), labels.len());
        let t = Instant::now();
        let (det, _) = match Detector::fit(kind, &params, &series, &labels, &[]) {
            Ok(x) => x,
            Err(e) => {
                println!("fit failed: {e}");
                continue;
            }
        };
        let fit_s = t.elapsed().as_secs_f64();
        // explain the peak row of every alert
        let mut times = Vec::new();
        for s in &series {
            let scored = det.score_series(s, 0).unwrap_or_default();
            for e in episodes(&scored, &det.episode_params()).iter().filter(|e| !e.suppressed) {
                let t = Instant::now();
                let x = det.explain_row(s, e.peak).ok().flatten();
                times.push(t.elapsed().as_secs_f64() * 1e3);
                if times.len() == 1 {
                    if let Some(x) = x {
                        println!("example explanation ({}, row {}): score {:.6}, surprise {:.2} nats, base {:.2}", s.entity_id, e.peak, x.score, x.surprise, x.base_surprise);
                        for a in &x.inputs {
                            println!("  {:<24} z {:>8.2}  attribution {:>7.2}  forest {:>7.3}", a.input, a.value, a.attribution, a.forest.unwrap_or(0.0));
                        }
                    }
                }
            }
        }
        times.sort_by(f64::total_cmp);
        let med = times.get(times.len() / 2).copied().unwrap_or(0.0);
        println!("fit {fit_s:.2} s; explain one alert: median {med:.3} ms, max {:.3} ms over {} alerts", times.last().copied().unwrap_or(0.0), times.len());
        let t = Instant::now();
        let imp = det.importance(&series, 500).expect("importance");
        println!("importance at training ({} sampled, {} alerted rows): {:.3} s", imp.rows_sample, imp.rows_alerted, t.elapsed().as_secs_f64());
        for (j, n) in imp.inputs.iter().enumerate() {
            println!("  {:<24} sample {:>7.3}  alerted {:>7.3}  forest {:>7.4}", n, imp.sample[j], imp.alerted[j], imp.forest[j]);
        }
        let t = Instant::now();
        match rfe(kind, &params, &series, &labels, &[]) {
            Ok(r) => {
                println!("RFE: {:.2} s, criterion {}, chosen round {}", t.elapsed().as_secs_f64(), r.criterion, r.chosen);
                for x in &r.rounds {
                    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
                    println!(
                        "  round {} F1 {} P {} R {} alerts {} ({:.2}/series-week) agreement {:.3} {:.2}s  inputs [{}] drop {}",
                        x.round,
                        f(x.f1),
                        f(x.precision),
                        f(x.recall),
                        x.alerts,
                        x.alerts_per_series_week,
                        x.agreement,
                        x.seconds,
                        x.inputs.join(", "),
                        x.dropped.as_deref().unwrap_or("-")
                    );
                }
            }
            Err(e) => println!("RFE failed: {e}"),
        }
    }
}
