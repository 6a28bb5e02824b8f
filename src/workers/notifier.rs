//! The notifier worker: delivers the outbox every second (email, SMS gateway, webhook)
//! with retries and backoff. It resumes after a restart from the table itself: a
//! notification is pending until a delivery's transaction marks it sent. Each delivery
//! commits on its own, durably (synchronous_commit on for it), so a crash or an immediate
//! shutdown repeats at most the one in flight.

use crate::gucs;
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

/// One wake-up: deliveries one transaction each, so a crash repeats at most the one in
/// flight (its receiver drops the repeat by its idempotency key).
fn one_round() -> Result<(i64, i64, i64), String> {
    let (mut sent, mut retried, mut failed) = (0, 0, 0);
    for _ in 0..PER_ROUND {
        let (s, r, f) = deliver_one()?;
        if s + r + f == 0 {
            break;
        }
        (sent, retried, failed) = (sent + s, retried + r, failed + f);
        pgrx::check_for_interrupts!();
    }
    Ok((sent, retried, failed))
}

fn deliver_one() -> Result<(i64, i64, i64), String> {
    BackgroundWorker::transaction(|| {
        let schema = Spi::get_one::<String>(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_anomaly'",
        );
        let Ok(Some(schema)) = schema else { return Ok((0, 0, 0)) };
        PgTryBuilder::new(|| {
            Spi::run_with_args("SELECT pg_catalog.set_config('search_path', pg_catalog.quote_ident($1) || ', pg_temp', true)", &[schema.as_str().into()])
                .map_err(|e| e.to_string())?;
            // A delivery is an outside effect: its "sent" mark must be durable when the commit
            // returns, or a crash could lose it (synchronous_commit = off) and send it again.
            Spi::run("SET LOCAL synchronous_commit = on").map_err(|e| e.to_string())?;
            crate::api::notify::deliver_due(1).map_err(|e| e.into_report("notifier").message().to_string())
        })
        .catch_others(|e| Err(crate::storage::subxact::report_of(&e).message().to_string()))
        .execute()
    })
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_anomaly_notifier_main(_arg: pg_sys::Datum) {
    super::attach_signals();
    BackgroundWorker::connect_worker_to_spi(Some(&gucs::database()), None);
    let mut backoff = 1u64;
    loop {
        BackgroundWorker::wait_latch(Some(Duration::from_secs(backoff)));
        pgrx::check_for_interrupts!();
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
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
