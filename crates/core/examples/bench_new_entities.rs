//! Cost of scoring new entities in the hourly detection run (`bench/new_entities.sh`): the
//! core part of one detection hour (every series scored from its look-back, as the tick does)
//! at N entities of the corpus member `other15` (15-minute steps), four metric types, with
//! no new entity, with 10 % new entities that joined two days ago (warm-up models fitted on
//! their look-back) and with 10 % that joined three hours ago (a count type's borrowed models;
//! the other types' rows score 0 until 24 rows). The database part of the tick (reading the
//! look-back, saving) is the same for a new entity as for a known one and is not included.
//! Prints the fastest of 9 runs of each case, milliseconds of the thread's CPU time (the
//! wall-clock time on a shared machine measures the other work too).
//! Usage: bench_new_entities [entities (1000)]

use pg_anomaly_core::corpus::{generate, head, members, metric_series, train_end_us, METRIC_TYPES};
use pg_anomaly_core::detect::{Detector, DetectorParams, MetricKind, SeriesRows};

/// 2025-06-30T00:00:00Z.
const END: i64 = 1_751_241_600_000_000;
const HOUR: i64 = 3_600_000_000;

fn tail_from(s: &SeriesRows, a: usize) -> SeriesRows {
    SeriesRows { entity_id: s.entity_id.clone(), ts: s.ts[a..].to_vec(), value: s.value[a..].to_vec(), features: s.features[a..].to_vec(), aux: s.aux.as_ref().map(|x| x[a..].to_vec()) }
}

/// CPU time of this thread in nanoseconds (`/proc/thread-self/schedstat`: time on a CPU), so
/// that other work on a shared machine does not count.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok().and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok())).expect("schedstat")
}

/// The fastest of the runs: on a machine shared with other work the slower ones measure the
/// other work.
fn fastest(v: Vec<f64>) -> f64 {
    v.into_iter().fold(f64::INFINITY, f64::min)
}

fn main() {
    let n: u32 = std::env::args().nth(1).and_then(|v| v.parse().ok()).unwrap_or(1000);
    let mut m = members().into_iter().find(|m| m.name == "other15").expect("member");
    m.days = 10;
    let ents: Vec<_> = (0..n).map(|i| generate(&m, 303, "bench", i, END)).collect();
    let te = train_end_us(&m, END);
    // the hour scored: 12:00-13:00 UTC of the last day
    let hour_from = END - END.rem_euclid(24 * HOUR) - 12 * HOUR;
    let hour_to = hour_from + HOUR;
    let new_every = 10; // every 10th entity is new in the 10 % cases
    let mut totals = [0.0f64; 3];
    println!("{:<16} {:>9} {:>12} {:>14} {:>14}", "metric", "entities", "0 % new ms", "10 % warm ms", "10 % first-h ms");
    for (mi, name) in METRIC_TYPES.iter().enumerate() {
        let kind = MetricKind::from_metric_type(name);
        let series = metric_series(&ents, mi);
        let upto = |s: &SeriesRows| head(s, s.ts.partition_point(|&t| t < hour_to));
        let train = |skip_new: bool| -> Detector {
            let t: Vec<SeriesRows> = series
                .iter()
                .enumerate()
                .filter(|(i, _)| !(skip_new && i % new_every == 0))
                .map(|(_, s)| head(s, s.ts.partition_point(|&t| t < te)))
                .collect();
            Detector::fit(kind, &DetectorParams::default(), &t, &[], &[]).expect("fit").0
        };
        let all = train(false);
        let most = train(true);
        let scored: Vec<SeriesRows> = series.iter().map(upto).collect();
        // new entities that joined 3 hours before the hour: their rows from then on only
        let fresh: Vec<SeriesRows> = scored
            .iter()
            .enumerate()
            .map(|(i, s)| if i % new_every == 0 { tail_from(s, s.ts.partition_point(|&t| t < hour_from - 3 * HOUR)) } else { s.clone() })
            .collect();
        let run = |det: &Detector, ss: &[SeriesRows]| -> f64 {
            let t0 = cpu_ns();
            let mut rows = 0usize;
            for s in ss {
                let first = s.ts.partition_point(|&t| t < hour_from);
                rows += det.score_series(s, first).expect("score").len();
            }
            assert!(rows > 0);
            (cpu_ns() - t0) as f64 / 1e6
        };
        let cases = [(&all, &scored), (&most, &scored), (&most, &fresh)];
        let ms: Vec<f64> = cases.iter().map(|(d, ss)| fastest((0..9).map(|_| run(d, ss)).collect())).collect();
        for (t, v) in totals.iter_mut().zip(&ms) {
            *t += v;
        }
        println!("{:<16} {:>9} {:>12.1} {:>14.1} {:>14.1}", name, n, ms[0], ms[1], ms[2]);
    }
    println!("{:<16} {:>9} {:>12.1} {:>14.1} {:>14.1}", "all four", n, totals[0], totals[1], totals[2]);
}
