//! Stage locks: a second concurrent run of the same stage skips instead of doubling work.

use super::one;
use crate::errors::Result;

/// Advisory lock keys (first key: the extension, second: the stage).
const EXTENSION_KEY: i32 = 0x5041_4e4f; // "PANO"

#[derive(Clone, Copy)]
pub enum Stage {
    Features = 1,
    // 2 was the one detection lock of every metric type: see try_detection
    Training = 3,
    Cleanup = 4,
}

/// First key of the saving detection locks, one per metric type (second key: the type's
/// hashtext; two types of equal hash share one, so one may skip while the other runs).
const DETECTION_KEY: i32 = 0x5041_4e44; // "PAND"

/// Tries to take the saving detection lock of a metric type for the transaction; false when
/// another saving pass of that type holds it. Per type: the real-time worker scoring the
/// types with an active forest must not make the schedule skip the others.
pub fn try_detection(metric_type: &str) -> Result<bool> {
    Ok(one::<bool>("SELECT pg_catalog.pg_try_advisory_xact_lock($1, pg_catalog.hashtext($2))", &[DETECTION_KEY.into(), metric_type.into()])?
        .unwrap_or(false))
}

/// Tries to take the stage's transaction-level lock; false when another run holds it.
pub fn try_stage(stage: Stage) -> Result<bool> {
    Ok(one::<bool>("SELECT pg_catalog.pg_try_advisory_xact_lock($1, $2)", &[EXTENSION_KEY.into(), (stage as i32).into()])?.unwrap_or(false))
}
