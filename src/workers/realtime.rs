//! The real-time worker: a static background worker that, every
//! pg_anomaly.realtime_interval seconds, runs one micro-batch
//! (`crate::pipeline::realtime`), so an anomaly is alerted within seconds of its data
//! arriving. A failed round backs off (doubling, up to 60 times the interval).

use crate::gucs;
use crate::pipeline::{realtime, session};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder};
use pgrx::prelude::*;
use std::time::Duration;

/// Registers the worker (from _PG_init, only when preloaded).
pub fn register() {
    BackgroundWorkerBuilder::new("pg_anomaly realtime")
        .set_type("pg_anomaly realtime")
        .set_library("pg_anomaly")
        .set_function("pg_anomaly_realtime_main")
        .enable_spi_access()
        // Restarted by the postmaster after a crash or a fatal error (e.g. the database
        // does not exist yet).
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_anomaly_realtime_main(_arg: pg_sys::Datum) {
    let db = gucs::database();
    super::connect(super::Target::Named(&db));
    log!("pg_anomaly realtime worker started in database \"{}\"", db);
    let mut backoff = 1u32;
    #[allow(clippy::infinite_loop)]
    loop {
        let interval = if gucs::realtime() { gucs::realtime_interval_secs().max(1) as u64 * backoff as u64 } else { 10 };
        super::wait(interval.min(600));
        if !gucs::realtime() {
            continue;
        }
        match BackgroundWorker::transaction(|| session::guarded("realtime", realtime::micro_batch)) {
            Ok(Some(what)) => {
                backoff = 1;
                pgrx::debug1!("pg_anomaly realtime: {}", what);
            }
            Ok(None) => backoff = 1,
            Err(e) => {
                backoff = (backoff * 2).min(60);
                pgrx::warning!("pg_anomaly realtime: micro-batch failed, backing off {}x: {}", backoff, e);
            }
        }
    }
}
