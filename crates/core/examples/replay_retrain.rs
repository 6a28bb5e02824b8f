//! Nightly retraining replayed over a month of one corpus member: does a detector that is
//! retrained every night on everything so far learn the anomalies it alerted on as normal
//! when nobody reads the alerts?
//!
//! Per metric type: a model trained on the member's clean training span; then every night it
//! scores the day just ended (with the earlier rows as look-back), keeps the day's episodes
//! as alerts, and is retrained on every row up to that night. Three ways of treating the
//! alerts at retraining (what `ml_train` reads from `ml_alerts`):
//! - `reviewed`: every alert was reviewed: alerts on a labelled anomaly are confirmed (left
//!   out of training), the others are marked false positive (learned as normal);
//! - `unread`: nobody read any alert; an alert counts as an anomaly until it is marked false
//!   positive, so every alert's span is left out (the rule `ml_train` applies);
//! - `unread_learned`: nobody read any alert and unread alerts are learned as normal (the
//!   rule before, for comparison).
//!
//! Printed: recall, precision and alerts over the last two weeks per mode. The goal is
//! `unread` within 0.05 of `reviewed`. Arguments: `--member NAME` (other15), `--entities N`
//! (20), `--split tune|report` (report), `--every N` (retrain every N nights, 1).
//! Run with `bench/replay.sh`.

use std::time::Instant;

use pg_anomaly_core::corpus::{generate, head, members, metric_series, train_end_us, CorpusEntity, EventCounts, DAY_US, METRIC_TYPES};
use pg_anomaly_core::detect::{episodes, Detector, DetectorParams, MetricKind, SeriesRows, Window};

const HOUR: i64 = 3_600_000_000;
const TOLERANCE: i64 = 2 * HOUR;
/// 2025-03-31T00:00:00Z (as eval_quality).
const END: i64 = 1_743_379_200_000_000;
const MODES: [&str; 3] = ["reviewed", "unread", "unread_learned"];

fn overlaps(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 <= b.1 + TOLERANCE && b.0 <= a.1
}

type Tally = EventCounts;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
    let member_name = opt("--member").unwrap_or_else(|| "other15".into());
    let n_entities: u32 = opt("--entities").and_then(|v| v.parse().ok()).unwrap_or(20);
    let every: i64 = opt("--every").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let (seed, prefix) = match opt("--split").as_deref() {
        Some("tune") => (101u64, "tune"),
        _ => (202u64, "rep"),
    };
    let Some(m) = members().into_iter().find(|m| m.name == member_name) else {
        eprintln!("unknown member {member_name}");
        std::process::exit(2);
    };
    let t0 = Instant::now();
    let ents: Vec<CorpusEntity> = (0..n_entities).map(|i| generate(&m, seed, prefix, i, END)).collect();
    let te = train_end_us(&m, END);
    let nights = i64::from(m.days - m.train_days);
    let last_two_weeks = te + (nights - 14).max(0) * DAY_US;
    let params = DetectorParams::default();
    println!("replay of nightly retraining: member {}, {} entities, seed {seed}, {nights} nights, retrain every {every}", m.name, n_entities);
    println!("{:<16} {:<15} {:>6} {:>5} {:>6} {:>4} {:>7} {:>7}", "metric", "mode", "labels", "found", "alerts", "FP", "recall", "prec");
    let mut totals = [Tally::default(); 3];
    for (mi, name) in METRIC_TYPES.iter().enumerate() {
        let kind = MetricKind::from_metric_type(name);
        let series = metric_series(&ents, mi);
        let upto = |t: i64| -> Vec<SeriesRows> {
            series.iter().map(|s| head(s, s.ts.partition_point(|&x| x < t))).filter(|s| !s.is_empty()).collect()
        };
        for (mode_i, mode) in MODES.iter().enumerate() {
            let mut det = match Detector::fit(kind, &params, &upto(te), &[], &[]) {
                Ok((d, _)) => d,
                Err(e) => {
                    println!("{name:<16} {mode:<15} fit failed: {}", e.message);
                    continue;
                }
            };
            // (entity index, from, to) of every alert so far
            let mut alerts: Vec<(usize, i64, i64)> = Vec::new();
            for night in 1..=nights {
                let (day_from, day_to) = (te + (night - 1) * DAY_US, te + night * DAY_US);
                for (ei, s) in series.iter().enumerate() {
                    let end = s.ts.partition_point(|&x| x < day_to);
                    let first = s.ts.partition_point(|&x| x < day_from);
                    if first >= end {
                        continue;
                    }
                    let scored = det.score_series(&head(s, end), first).unwrap_or_default();
                    for ep in episodes(&scored, &det.episode_params()).iter().filter(|x| !x.suppressed) {
                        alerts.push((ei, ep.start_ts, ep.end_ts));
                    }
                }
                if night == nights || night % every != 0 {
                    continue;
                }
                // what the nightly training reads from the alerts
                let (mut exclude, mut normal) = (Vec::new(), Vec::new());
                for &(ei, a, b) in &alerts {
                    let w = Window { entity_id: ents[ei].id.clone(), from_us: a, to_us: b };
                    let real = ents[ei].labels.iter().any(|l| overlaps((a, b), (l.from_us, l.to_us)));
                    match *mode {
                        "reviewed" if real => exclude.push(w),
                        "reviewed" => normal.push(w),
                        "unread" => exclude.push(w),
                        _ => {}
                    }
                }
                if let Ok((d, _)) = Detector::fit(kind, &params, &upto(day_to), &exclude, &normal) {
                    det = d;
                }
            }
            let mut t = Tally::default();
            for (ei, e) in ents.iter().enumerate() {
                let mine: Vec<(i64, i64)> = alerts.iter().filter(|a| a.0 == ei && a.2 >= last_two_weeks).map(|a| (a.1, a.2)).collect();
                for l in e.labels.iter().filter(|l| l.metric_type == *name && !l.neutral() && l.from_us >= last_two_weeks) {
                    t.labels += 1;
                    t.found += usize::from(mine.iter().any(|&a| overlaps(a, (l.from_us, l.to_us))));
                }
                t.alerts += mine.len();
                t.fp += mine.iter().filter(|&&a| !e.labels.iter().any(|l| overlaps(a, (l.from_us, l.to_us)))).count();
            }
            println!("{name:<16} {mode:<15} {:>6} {:>5} {:>6} {:>4} {:>7.3} {:>7.3}", t.labels, t.found, t.alerts, t.fp, t.recall(), t.precision());
            totals[mode_i].add(&t);
        }
    }
    for (mode, t) in MODES.iter().zip(&totals) {
        println!("{:<16} {mode:<15} {:>6} {:>5} {:>6} {:>4} {:>7.3} {:>7.3}", "ALL", t.labels, t.found, t.alerts, t.fp, t.recall(), t.precision());
    }
    println!(
        "last two weeks: recall reviewed {:.3}, unread {:.3} (gap {:+.3}), unread learned as normal {:.3}   ({:.0} s)",
        totals[0].recall(),
        totals[1].recall(),
        totals[1].recall() - totals[0].recall(),
        totals[2].recall(),
        t0.elapsed().as_secs_f64()
    );
}
