//! Stages 4-5: ml_select_features and ml_feature_correlations.

use crate::errors::run;
use crate::gucs;
use crate::pipeline::selection;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Selects the features training uses for a metric type with `method` (variance,
/// correlation, mutual_info or all), persists the set in ml_feature_sets and returns every
/// feature with kept/dropped, its score and the reason.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_select_features(
    metric_type: &str,
    method: default!(&str, "'all'"),
) -> std::result::Result<
    TableIterator<'static, (name!(feature, String), name!(kept, bool), name!(score, Option<f64>), name!(reason, String))>,
    ErrorReport,
> {
    run("ml_select_features", || {
        if method == "rfe" {
            let d = crate::pipeline::explain::select_rfe(metric_type, gucs::run_trigger())?;
            return Ok(TableIterator::new(d));
        }
        let d = selection::select_and_save(metric_type, method, gucs::run_trigger())?;
        Ok(TableIterator::new(d.into_iter().map(|d| (d.feature, d.kept, d.score, d.reason))))
    })
}

/// Pairwise Pearson correlations of the stored features of a metric type (a sample of up
/// to 100,000 rows; pairwise-complete rows; NULL where undefined).
#[pg_extern(volatile, parallel_safe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_feature_correlations(
    metric_type: &str,
) -> std::result::Result<
    TableIterator<'static, (name!(feature_a, String), name!(feature_b, String), name!(correlation, Option<f64>))>,
    ErrorReport,
> {
    run("ml_feature_correlations", || Ok(TableIterator::new(selection::feature_correlations(metric_type)?)))
}
