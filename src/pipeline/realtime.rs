//! One micro-batch of the real-time worker: build the features of new metrics and score
//! them with the active forest models, writing alerts. It shares the stage locks, the
//! dirty-series queue and the scored watermark with the scheduled jobs, so the two never
//! process the same observations.

use super::{detect, stage};
use crate::errors::Result;
use crate::storage::{models, series};

/// Whether this process already warned that it does not run on a Citus cluster.
static CITUS_WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs one micro-batch in the caller's transaction. Returns what it did, or None when
/// there was nothing to do (no extension, nothing pending). A failure of a scoring pass is
/// raised as an ERROR, as the SQL call ml_detect would raise it.
pub fn micro_batch() -> Result<Option<String>> {
    if !super::session::enter_extension()? {
        return Ok(None);
    }
    // On a Citus cluster new metrics leave no dirty mark (ml_distribute drops the triggers
    // Citus refuses), so the worker would wait for nothing: it says so once and stays idle;
    // the schedule runs the stages there (README "Scaling out").
    if crate::storage::citus::metrics_distributed()? {
        if !CITUS_WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            pgrx::warning!(
                "pg_anomaly: the real-time worker does not run on a Citus cluster: a distributed ml_metrics has no dirty marks to wait for; it stays idle. Set pg_anomaly.realtime = off and let the schedule (ml_schedule) run the stages."
            );
        }
        return Ok(None);
    }
    if !series::realtime_pending()? {
        return Ok(None);
    }
    let features = stage::run_stage("features", "worker")?;
    // Only metric types with an active forest are scored here; training is the schedule's
    // job, not the real-time path's.
    let mut scored = 0i64;
    for mt in models::active_forest_types()? {
        match detect::detect(Some(&mt), None, None, true, "worker") {
            Ok(rows) => scored += rows.len() as i64,
            Err(e) => e.into_report("ml_detect").report(pgrx::PgLogLevel::ERROR),
        }
    }
    Ok(Some(format!("features {:?}, scored {}", Some(features), scored)))
}
