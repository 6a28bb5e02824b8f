//! The notifier worker: delivers the outbox every second (email, SMS gateway, webhook)
//! with retries and backoff. It resumes after a restart from the table itself: a
//! notification is pending until a delivery's transaction marks it sent. Each delivery
//! commits on its own, durably, so a crash or an immediate shutdown repeats at most the one
//! in flight (its receiver drops the repeat by its idempotency key).

use crate::gucs;
use crate::pipeline::{notify, session};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder};
use pgrx::prelude::*;
use std::time::Duration;

pub fn register() {
    BackgroundWorkerBuilder::new("pg_anomaly notifier")
        .set_type("pg_anomaly notifier")
        .set_library("pg_anomaly")
        .set_function("pg_anomaly_notifier_main")
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

/// Up to this many deliveries per wake-up.
const PER_ROUND: usize = 50;

/// One wake-up: deliveries one transaction each.
fn one_round() -> Result<(i64, i64, i64), String> {
    let (mut sent, mut retried, mut failed) = (0, 0, 0);
    for _ in 0..PER_ROUND {
        let (s, r, f) = BackgroundWorker::transaction(|| session::guarded("notifier", notify::deliver_one_durably))?;
        if s + r + f == 0 {
            break;
        }
        (sent, retried, failed) = (sent + s, retried + r, failed + f);
        pgrx::check_for_interrupts!();
    }
    Ok((sent, retried, failed))
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_anomaly_notifier_main(_arg: pg_sys::Datum) {
    super::connect(super::Target::Named(&gucs::database()));
    let mut backoff = 1u64;
    loop {
        super::wait(backoff);
        match one_round() {
            Ok((sent, retried, failed)) => {
                backoff = 1;
                if sent + retried + failed > 0 {
                    pgrx::debug1!("pg_anomaly notifier: sent {sent}, retried {retried}, failed {failed}");
                }
            }
            Err(e) => {
                backoff = (backoff * 2).min(60);
                pgrx::warning!("pg_anomaly notifier: round failed, next in {backoff} s: {e}");
            }
        }
    }
}
