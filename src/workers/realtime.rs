//! The real-time worker: a static background worker that, every
//! pg_anomaly.realtime_interval seconds, builds the features of new metrics and scores
//! them with the active models, writing alerts, so an anomaly is alerted within seconds of
//! its data arriving. It shares the stage locks, the dirty-series queue and the scored
//! watermark with the scheduled jobs, so the two never process the same observations.

use crate::gucs;
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

/// One micro-batch. Returns what it did, or None when there was nothing to do.
fn micro_batch() -> Result<Option<String>, String> {
    BackgroundWorker::transaction(|| {
        let ready = Spi::get_one::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_anomaly')",
        );
        if ready != Ok(Some(true)) {
            return Ok(None);
        }
        // The functions live in the extension's schema; run with it on the search path.
        let schema = Spi::get_one::<String>(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_anomaly'",
        )
        .ok()
        .flatten()
        .unwrap_or_else(|| "public".into());
        let outcome = PgTryBuilder::new(|| {
            Spi::run_with_args("SELECT pg_catalog.set_config('search_path', pg_catalog.quote_ident($1) || ', pg_temp', true)", &[schema.as_str().into()])
                .map_err(|e| e.to_string())?;
            let pending = Spi::get_one::<bool>(
                "SELECT EXISTS (SELECT 1 FROM ml_series_dirty)
                     OR EXISTS (SELECT 1 FROM ml_series_state s JOIN ml_models m ON m.metric_type = s.metric_type AND m.is_active
                                 WHERE s.scored_until IS DISTINCT FROM s.features_until)",
            )
            .map_err(|e| e.to_string())?
            .unwrap_or(false);
            if !pending {
                return Ok(None);
            }
            let features = Spi::get_one::<pgrx::datum::JsonB>("SELECT ml_run_stage('features', 'worker')")
                .map_err(|e| e.to_string())?;
            // Only metric types with an active model are scored here; training is the
            // schedule's job, not the real-time path's.
            let scored = Spi::get_one::<i64>(
                "SELECT pg_catalog.count(*) FROM ml_models m, LATERAL ml_detect(m.metric_type, save => true) d
                  WHERE m.is_active AND m.model_type = 'isolation_forest'",
            )
            .map_err(|e| e.to_string())?;
            Ok(Some(format!("features {:?}, scored {}", features.map(|j| j.0), scored.unwrap_or(0))))
        })
        .catch_others(|e| Err(crate::storage::subxact::report_of(&e).message().to_string()))
        .execute();
        outcome
    })
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_anomaly_realtime_main(_arg: pg_sys::Datum) {
    super::attach_signals();
    let db = gucs::database();
    BackgroundWorker::connect_worker_to_spi(Some(&db), None);
    log!("pg_anomaly realtime worker started in database \"{}\"", db);
    let mut backoff = 1u32;
    #[allow(clippy::infinite_loop)]
    loop {
        let interval = if gucs::realtime() { gucs::realtime_interval_secs().max(1) as u64 * backoff as u64 } else { 10 };
        BackgroundWorker::wait_latch(Some(Duration::from_secs(interval.min(600))));
        // Exits here on SIGTERM (die() set ProcDiePending).
        pgrx::check_for_interrupts!();
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        if !gucs::realtime() {
            continue;
        }
        match micro_batch() {
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
