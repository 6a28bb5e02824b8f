//! Stages 4-5: feature selection (ml_select_features) and correlations.

use crate::errors::{run, Result};
use crate::storage::{matrix, runs, selection as store};
use pg_anomaly_core::features::{FEATURE_NAMES, NUM_FEATURES};
use pg_anomaly_core::selection::{correlations, select_features, SelectionMethod};
use pg_anomaly_core::CoreError;
use ndarray::Array2;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Rows read for selection: a repeatable block sample keeps it fast on millions of rows.
const SAMPLE_ROWS: i64 = 100_000;

/// Reads a sample of the stored features of a metric type as a matrix (NaN = NULL) and
/// the label of each row.
fn sample(metric_type: &str) -> Result<(Array2<f64>, Vec<bool>)> {
    let n = matrix::count(metric_type)?;
    if n == 0 {
        return Err(CoreError::insufficient(format!("no stored features for metric type \"{metric_type}\""))
            .with_hint("Load metrics and run ml_build_features() first.")
            .into());
    }
    // a share of the blocks holding about SAMPLE_ROWS rows of the type (all of it when small)
    let rows = matrix::read(metric_type, None, None, SAMPLE_ROWS as f64 / n as f64)?;
    let mut x = Array2::from_elem((rows.len(), NUM_FEATURES), f64::NAN);
    let mut labels = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        for (j, v) in r.features.iter().enumerate() {
            if let Some(v) = v {
                x[[i, j]] = *v;
            }
        }
        labels.push(r.labelled);
    }
    Ok((x, labels))
}

/// Runs the selection and persists it (used by ml_train when none exists yet).
pub fn select_and_save(metric_type: &str, method: &str) -> Result<Vec<pg_anomaly_core::selection::FeatureDecision>> {
    let m: SelectionMethod = method.parse()?;
    let started = runs::now()?;
    let (x, labels) = sample(metric_type)?;
    let has_labels = labels.iter().any(|l| *l);
    let decisions = select_features(x.view(), &FEATURE_NAMES, has_labels.then_some(labels.as_slice()), m)?;
    store::save(metric_type, method, &decisions)?;
    runs::success("selection", Some(metric_type), None, started, x.nrows() as i64, decisions.iter().filter(|d| d.kept).count() as i64)?;
    Ok(decisions)
}

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
            let d = super::explain::select_rfe(metric_type)?;
            return Ok(TableIterator::new(d));
        }
        let d = select_and_save(metric_type, method)?;
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
    run("ml_feature_correlations", || {
        let (x, _) = sample(metric_type)?;
        Ok(TableIterator::new(correlations(x.view(), &FEATURE_NAMES)))
    })
}
