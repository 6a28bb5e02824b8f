//! One micro-batch of the real-time worker: build the features of new metrics and score
//! them with the active forest models, writing alerts. It shares the stage locks, the
//! dirty-series queue and the scored watermark with the scheduled jobs, so the two never
//! process the same observations.

use super::{detect, stage};
use crate::errors::Result;
use crate::storage::{models, series};

/// Runs one micro-batch in the caller's transaction. Returns what it did, or None when
/// there was nothing to do (no extension, nothing pending). A failure of a scoring pass is
/// raised as an ERROR, as the SQL call ml_detect would raise it.
pub fn micro_batch() -> Result<Option<String>> {
    if !super::session::enter_extension()? {
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
