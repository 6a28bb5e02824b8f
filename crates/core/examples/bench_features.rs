//! Throughput of the feature kernels: 100 series x 2,880 points (30 days at 15 minutes) of a
//! noisy stock sawtooth, like one metric type of the 11.5-million-row load the SQL layer runs.
//! Prints rows per second for a full computation and for the incremental case (one new
//! 30-minute run's rows after the 31-day look-back), then the resumable case: 4,000 series
//! whose `SeriesState` already holds 31 days of history, each fed 2 new observations per
//! batch (time per batch and memory per state).
//!
//! Run with `bench/features_core.sh` (release mode). Optional arguments: series, points,
//! resumable series (0 skips the resumable case).

use std::time::Instant;

use pg_anomaly_core::features::{compute_series, FeatureParams, FeatureRow, Observation, SeriesState};
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
    let resumable = args.next().and_then(Result::ok).unwrap_or(4_000);
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
    if resumable > 0 {
        bench_resumable(resumable, &params);
    }
}

/// 31 days of 15-minute history already fed to each of `n` states, then batches of 2 new
/// observations per series, like a collector flushing every 30 minutes. Batches are timed by
/// wall time: the CPU-time clock ticks too coarsely for a few milliseconds.
fn bench_resumable(n: usize, params: &FeatureParams) {
    const HISTORY: usize = 31 * 96;
    const BATCHES: usize = 20;
    const PER_BATCH: usize = 2;
    let origin = Instant::now();
    let mut states = Vec::with_capacity(n);
    let mut fresh: Vec<Vec<Observation>> = Vec::with_capacity(n);
    let mut sink = Vec::new();
    let c0 = cpu_seconds(origin);
    for seed in 0..n as u64 {
        let s = series(1_000 + seed, HISTORY + BATCHES * PER_BATCH);
        let mut st = SeriesState::new(params);
        if let Err(e) = st.feed(&s[..HISTORY], false, &mut sink) {
            eprintln!("warm-up refused: {e}");
            return;
        }
        states.push(st);
        fresh.push(s[HISTORY..].to_vec());
    }
    let warm = cpu_seconds(origin) - c0;
    let bytes: usize = states.iter().map(SeriesState::approx_bytes).sum();

    let mut out: Vec<FeatureRow> = Vec::with_capacity(n * PER_BATCH);
    let mut per_batch = Vec::with_capacity(BATCHES);
    for b in 0..BATCHES {
        out.clear();
        let w0 = Instant::now();
        for (st, new) in states.iter_mut().zip(&fresh) {
            if let Err(e) = st.feed(&new[b * PER_BATCH..(b + 1) * PER_BATCH], true, &mut out) {
                eprintln!("batch refused: {e}");
                return;
            }
        }
        per_batch.push(w0.elapsed().as_secs_f64());
    }
    per_batch.sort_by(f64::total_cmp);
    let median = per_batch[BATCHES / 2];
    let max_bytes = states.iter().map(SeriesState::approx_bytes).max().unwrap_or(0);
    println!(
        "resumable:   {n} series x {HISTORY} points warmed up in {:.2} s CPU ({:.0} KiB per state, {:.0} MiB in all)",
        warm,
        bytes as f64 / n as f64 / 1024.0,
        bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "resumable:   {} new rows per batch ({PER_BATCH} per series): {:.2} ms wall per batch (median of {BATCHES}; best {:.2}, worst {:.2}), {:.2} us per series; max state {:.0} KiB",
        out.len(),
        median * 1e3,
        per_batch[0] * 1e3,
        per_batch[BATCHES - 1] * 1e3,
        median * 1e6 / n as f64,
        max_bytes as f64 / 1024.0
    );
}
