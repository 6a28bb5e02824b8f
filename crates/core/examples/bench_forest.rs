//! Isolation-forest figures: fit time (100k and 2.9M rows × 25 features), single-core
//! scoring throughput on 1M × 25, serialized size and load time of a 100-tree model.
//!
//! Run with `bench/forest.sh` (release mode). Only the measured step is timed: building the
//! input matrices is not.

use std::time::{Duration, Instant};

use ndarray::Array2;
use pg_anomaly_core::forest::{IsolationForest, IsolationForestParams};
use pg_anomaly_core::traits::Fit;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FEATURES: usize = 25;

/// Rows around 3 cluster centres with uniform noise: cheap to generate, realistic enough for
/// tree shapes (the forest's cost depends on psi and depth, not on the distribution).
fn matrix(rows: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let centres: Vec<f64> = (0..3 * FEATURES)
        .map(|_| rng.gen_range(-10.0..10.0))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, FEATURES), |(i, j)| {
        centres[(i % 3) * FEATURES + j] + rng.gen_range(-1.0..1.0)
    })
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn fit(x: &Array2<f64>) -> IsolationForest {
    match IsolationForestParams::new().fit(x.view()) {
        Ok(model) => model,
        Err(e) => {
            eprintln!("fit failed: {e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    println!("isolation forest bench: {FEATURES} features, 100 trees, psi 256, single thread");

    for rows in [100_000, 2_900_000] {
        let x = matrix(rows, 1);
        let (_, t) = time(|| fit(&x));
        println!("fit {rows:>9} x {FEATURES}: {:>8.3} s", t.as_secs_f64());
    }

    let model = fit(&matrix(100_000, 2));
    let x = matrix(1_000_000, 3);
    let (scores, t) = time(|| model.score(x.view()));
    let mean = scores.mean().unwrap_or(f64::NAN);
    println!(
        "score 1000000 x {FEATURES}: {:>8.3} s, {:>12.0} rows/s (mean score {mean:.4})",
        t.as_secs_f64(),
        1e6 / t.as_secs_f64()
    );
    let row: Vec<f64> = x.row(0).to_vec();
    let (_, t) = time(|| (0..100_000).map(|_| model.score_row(&row)).sum::<f64>());
    println!(
        "score_row (same row 100k times): {:>8.3} us/row",
        t.as_secs_f64() * 10.0
    );
    let (_, t) = time(|| {
        (0..10_000)
            .map(|i| model.attribution(x.row(i).as_slice().unwrap_or(&row)).len())
            .sum::<usize>()
    });
    println!("attribution: {:>8.3} us/row", t.as_secs_f64() * 100.0);

    let bytes = match model.to_bytes() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("to_bytes failed: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "serialized 100-tree model: {} bytes ({} nodes)",
        bytes.len(),
        model.n_nodes()
    );
    let reps = 100;
    let (ok, t) = time(|| {
        (0..reps)
            .filter(|_| IsolationForest::from_bytes(&bytes).is_ok())
            .count()
    });
    println!(
        "from_bytes (with validation): {:>8.3} ms ({ok}/{reps} ok)",
        t.as_secs_f64() * 1e3 / reps as f64
    );
}
