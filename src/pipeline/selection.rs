//! Stages 4-5: feature selection over a sample of the stored features, and their
//! correlations.

use super::stage::StageRun;
use crate::errors::Result;
use crate::storage::{matrix, selection as store};
use pg_anomaly_core::features::{FEATURE_NAMES, NUM_FEATURES};
use pg_anomaly_core::selection::{correlations, select_features, SelectionMethod};
use pg_anomaly_core::CoreError;
use ndarray::Array2;

/// Rows read for selection: a repeatable block sample keeps it fast on millions of rows.
const SAMPLE_ROWS: i64 = 100_000;

/// Reads a sample of the stored features of a metric type as a matrix (NaN = NULL) and
/// the label of each row.
pub fn sample(metric_type: &str) -> Result<(Array2<f64>, Vec<bool>)> {
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
pub fn select_and_save(metric_type: &str, method: &str, trigger: &str) -> Result<Vec<pg_anomaly_core::selection::FeatureDecision>> {
    let m: SelectionMethod = method.parse()?;
    let run = StageRun::start("selection", Some(metric_type), trigger)?;
    let (x, labels) = sample(metric_type)?;
    let has_labels = labels.iter().any(|l| *l);
    let decisions = select_features(x.view(), &FEATURE_NAMES, has_labels.then_some(labels.as_slice()), m)?;
    store::save(metric_type, method, &decisions)?;
    run.success(None, x.nrows() as i64, decisions.iter().filter(|d| d.kept).count() as i64)?;
    Ok(decisions)
}

/// Pairwise Pearson correlations of the stored features of a metric type (over the sample).
pub fn feature_correlations(metric_type: &str) -> Result<Vec<(String, String, Option<f64>)>> {
    let (x, _) = sample(metric_type)?;
    Ok(correlations(x.view(), &FEATURE_NAMES).into_iter().collect())
}
