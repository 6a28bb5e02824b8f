//! Generation speed of the demo data, without the database: `bench/demo_core.sh`.
//!
//! Usage: `bench_demo [entities] [days] [threads]` (default 1000 30 1). One thread is the budget
//! that matters (the SQL function generates on the backend's single core); more threads show how
//! the per-entity independence scales.

use std::time::Instant;

use pg_anomaly_core::demo::{generate_entity, DemoParams, METRIC_TYPES};

fn arg(i: usize, default: u32) -> u32 {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() {
    let params = DemoParams { entities: arg(1, 1000), days: arg(2, 30), seed: 42, end_us: 1_710_158_400_000_000 };
    let threads = arg(3, 1).max(1);
    if let Err(e) = params.check() {
        eprintln!("bench_demo: {e}");
        std::process::exit(2);
    }
    let t0 = Instant::now();
    // Sum the values and count the labels so nothing is optimised away.
    let (checksum, labels) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let params = &params;
                s.spawn(move || {
                    let (mut sum, mut labels) = (0.0f64, 0usize);
                    for k in (t..params.entities).step_by(threads as usize) {
                        let e = generate_entity(params, k);
                        sum += e.values.iter().map(|v| v.iter().sum::<f64>()).sum::<f64>();
                        labels += e.labels.len();
                    }
                    (sum, labels)
                })
            })
            .collect();
        handles.into_iter().fold((0.0, 0), |acc, h| {
            let (s, l) = h.join().unwrap_or((f64::NAN, 0));
            (acc.0 + s, acc.1 + l)
        })
    });
    let secs = t0.elapsed().as_secs_f64();
    let values = params.entities as f64 * params.n_steps() as f64 * METRIC_TYPES.len() as f64;
    println!(
        "demo_core: entities={} days={} threads={} values={} labels={} time={:.3}s values_per_s={:.0} checksum={:.6e}",
        params.entities, params.days, threads, values as u64, labels, secs, values / secs, checksum
    );
}
