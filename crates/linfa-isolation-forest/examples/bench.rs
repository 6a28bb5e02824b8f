//! Figures of the linfa isolation forest: fit and score of 1 M rows x 25 features, in f64 and
//! f32, through linfa's traits (`Fit` on a `DatasetBase`, `Predict`). Run with
//! `bench/linfa_forest.sh` (release mode); only the measured step is timed.

use std::time::Instant;

use linfa::prelude::*;
use linfa::Float;
use linfa_isolation_forest::IsolationForestParams;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ROWS: usize = 1_000_000;
const FEATURES: usize = 25;

/// Rows around 3 cluster centres with uniform noise (as the core's forest bench).
fn matrix<F: Float>(seed: u64) -> Array2<F> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let centres: Vec<f64> = (0..3 * FEATURES).map(|_| rng.gen_range(-10.0..10.0)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((ROWS, FEATURES), |(i, j)| F::cast(centres[(i % 3) * FEATURES + j] + rng.gen_range(-1.0..1.0)))
}

fn run<F: Float>(name: &str) {
    let x = matrix::<F>(1);
    let data = DatasetBase::from(x.clone());
    let start = Instant::now();
    let forest = match IsolationForestParams::<F>::new().fit(&data) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fit failed: {e}");
            std::process::exit(1);
        }
    };
    let fit = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let scores = forest.predict(&x);
    let score = start.elapsed().as_secs_f64();
    let mean = scores.iter().fold(0.0, |a, s| a + s.to_f64().unwrap_or(0.0)) / ROWS as f64;
    println!("{name}: fit {ROWS} x {FEATURES} {fit:>7.3} s; score {ROWS} x {FEATURES} {score:>7.3} s ({:>10.0} rows/s, mean score {mean:.4})", ROWS as f64 / score);
}

fn main() {
    println!("linfa-isolation-forest bench: 100 trees, psi 256, single thread");
    run::<f64>("f64");
    run::<f32>("f32");
}
