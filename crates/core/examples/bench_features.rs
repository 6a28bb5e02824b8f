//! Throughput of the feature kernels: 100 series x 2,880 points (30 days at 15 minutes) of a
//! noisy stock sawtooth, like one metric type of the 11.5-million-row load the SQL layer runs.
//! Prints rows per second for a full computation and for the incremental case (one new
//! 30-minute run's rows after the 31-day look-back).
//!
//! Run with `bench/features_core.sh` (release mode). Optional arguments: series, points.

use std::time::Instant;

use pg_anomaly_core::features::{compute_series, FeatureParams, FeatureRow, Observation};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STEP_US: i64 = 15 * 60 * 1_000_000;
const DAY_US: i64 = 86_400_000_000;
/// 2025-01-01T00:00:00Z.
const BASE: i64 = 1_735_689_600_000_000;

fn series(seed: u64, points: usize) -> Vec<Observation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let refill_every = rng.gen_range(40..120);
    let rate = rng.gen_range(0.5..2.0);
    (0..points as i64)
        .map(|i| {
            let ts = BASE + i * STEP_US;
            let days = ts.div_euclid(DAY_US);
            let value = 200.0 - rate * (i % refill_every) as f64 + rng.gen_range(-1.0..1.0);
            Observation {
                ts,
                value: value.round(),
                hour_of_day: (ts.rem_euclid(DAY_US) / 3_600_000_000) as i16,
                day_of_week: ((days + 3).rem_euclid(7) + 1) as i16,
                day_of_month: (days.rem_euclid(28) + 1) as i16,
            }
        })
        .collect()
}

/// This thread's CPU time in seconds (Linux `schedstat`), so a busy shared machine does not
/// distort the figure; falls back to wall time elsewhere.
fn cpu_seconds(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()))
        .map_or_else(|| wall.elapsed().as_secs_f64(), |ns| ns / 1e9)
}

/// Runs `f` five times; returns the best (wall, cpu) seconds.
fn best_of_5(mut f: impl FnMut()) -> (f64, f64) {
    let origin = Instant::now();
    let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..5 {
        let (w0, c0) = (Instant::now(), cpu_seconds(origin));
        f();
        wall = wall.min(w0.elapsed().as_secs_f64());
        cpu = cpu.min(cpu_seconds(origin) - c0);
    }
    (wall, cpu)
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let n_series = args.next().and_then(Result::ok).unwrap_or(100);
    let points = args.next().and_then(Result::ok).unwrap_or(2_880);
    let params = FeatureParams::default();
    let data: Vec<Vec<Observation>> = (0..n_series as u64).map(|s| series(s, points)).collect();
    let total = n_series * points;

    let mut out: Vec<FeatureRow> = Vec::with_capacity(points);
    let mut checksum = 0.0;
    let (wall, cpu) = best_of_5(|| {
        for s in &data {
            out.clear();
            compute_series(s, 0, &params, &mut out);
            checksum += out.last().and_then(|r| r.values[0]).unwrap_or(0.0);
        }
    });
    println!(
        "full:        {total} rows: {:.2} M rows/s by CPU time ({:.1} ms), {:.2} M rows/s by wall time (best of 5, 1 thread)",
        total as f64 / cpu / 1e6,
        cpu * 1e3,
        total as f64 / wall / 1e6
    );

    // Incremental: the last 2 points of each series are new, everything in the look-back is read.
    let lookback = params.lookback_us();
    let mut emitted = 0;
    let (_, cpu_inc) = best_of_5(|| {
        emitted = 0;
        for s in &data {
            let k = s.len().saturating_sub(2);
            let j = s.partition_point(|o| o.ts <= s[k].ts - lookback);
            out.clear();
            compute_series(&s[j..], k - j, &params, &mut out);
            emitted += out.len();
        }
    });
    println!(
        "incremental: {emitted} new rows for {n_series} series: {:.1} us CPU per series, look-back included",
        cpu_inc * 1e6 / n_series as f64
    );
    println!("(checksum {checksum:.3})");
}
