//! Stage locks: a second concurrent run of the same stage skips instead of doubling work.

use super::one;
use crate::errors::Result;

/// Advisory lock keys (first key: the extension, second: the stage).
const EXTENSION_KEY: i32 = 0x5041_4e4f; // "PANO"

#[derive(Clone, Copy)]
pub enum Stage {
    Features = 1,
    Detection = 2,
    Training = 3,
    Cleanup = 4,
}

/// Tries to take the stage's transaction-level lock; false when another run holds it.
pub fn try_stage(stage: Stage) -> Result<bool> {
    Ok(one::<bool>("SELECT pg_catalog.pg_try_advisory_xact_lock($1, $2)", &[EXTENSION_KEY.into(), (stage as i32).into()])?.unwrap_or(false))
}
