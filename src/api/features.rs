//! Stages 2-3: ml_build_features.

use crate::errors::run;
use crate::gucs;
use crate::pipeline::{features, parallel};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Computes features for new, late and corrected metrics (incremental, the default) or for
/// everything (full_rebuild). Returns the number of feature rows written. Idempotent: a
/// second run with no new metrics writes nothing.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_build_features(
    metric_type: default!(Option<&str>, "NULL"),
    full_rebuild: default!(Option<bool>, false),
    parallel: default!(Option<i32>, 1),
) -> std::result::Result<i64, ErrorReport> {
    run("ml_build_features", || {
        let full_rebuild = crate::errors::required("full_rebuild", full_rebuild)?;
        let parallel = crate::errors::required("parallel", parallel)?;
        if parallel > 1 && full_rebuild {
            return parallel::features(metric_type, parallel, gucs::run_trigger());
        }
        features::build(metric_type, full_rebuild, gucs::run_trigger())
    })
}

/// One shard's part of a feature build on a Citus cluster: ml_build_features on the
/// coordinator runs it on the worker of every shard of ml_metrics at once (README "Scaling
/// out"). `shard`: the ml_metrics shard on this node; `settings`: the coordinator's feature
/// settings. Returns {rows read, rows written}. Admin only.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_build_features_shard(
    shard: Option<&str>,
    metric_type: Option<&str>,
    full_rebuild: Option<bool>,
    settings: Option<&str>,
) -> std::result::Result<Vec<i64>, ErrorReport> {
    run("ml_build_features_shard", || {
        let shard = crate::errors::required("shard", shard)?;
        let full_rebuild = crate::errors::required("full_rebuild", full_rebuild)?;
        let settings = crate::errors::required("settings", settings)?;
        let (read, written) = features::build_shard(shard, metric_type, full_rebuild, settings)?;
        Ok(vec![read, written])
    })
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn features_are_built_once() {
        // Another span than the demo test's: the tests run concurrently, and two
        // transactions inserting the same keys would wait on each other.
        Spi::run("SELECT ml_generate_demo_data(1, 3, 5, '2026-03-01 00:00+00')").unwrap();
        let first = Spi::get_one::<i64>("SELECT ml_build_features()").unwrap();
        assert_eq!(first, Some(4 * 3 * 96));
        assert_eq!(Spi::get_one::<i64>("SELECT ml_build_features()").unwrap(), Some(0));
    }
}
