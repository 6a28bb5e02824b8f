//! Scoring with a fitted forest: s(x) = 2^(−E[h(x)] / c(psi)).
//!
//! Scores lie in (0, 1]: near 1 the row is isolated much faster than average (anomalous),
//! near 0.5 or below it is as hard to isolate as a typical point.
//!
//! Missing values: a NaN feature is replaced by that feature's training median (stored in the
//! model), i.e. it is treated as unremarkable, so one missing feature neither hides nor fakes an
//! anomaly in the others. A row shorter than the model's width is treated as if its missing
//! trailing features were NaN, extra trailing features are ignored; use the `try_` variants to
//! get an error instead. ±inf is a legal, extreme value (+inf goes right of every split, −inf left).

use ndarray::{Array1, ArrayView2};

use super::algorithm::IsolationForest;
use super::tree::walk;
use crate::error::{CoreError, CoreResult};


impl IsolationForest {
    /// Number of feature columns the model was fitted on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }
    /// Effective subsample size psi = min(max_samples, training rows).
    pub fn psi(&self) -> usize {
        self.psi
    }
    /// Master seed the model was fitted with.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Contamination given at fit, if any.
    pub fn contamination(&self) -> Option<f64> {
        self.contamination
    }
    /// Score threshold derived from the contamination at fit (the (1 − contamination)
    /// quantile of training scores), if contamination was given.
    pub fn threshold(&self) -> Option<f64> {
        self.threshold
    }
    /// Per-feature training medians used for NaN features.
    pub fn medians(&self) -> &[f64] {
        &self.medians
    }
    /// Total number of nodes over all trees.
    pub fn n_nodes(&self) -> usize {
        self.trees.iter().map(|t| t.nodes.len()).sum()
    }

    /// Mean adjusted path length E[h(x)] of `row` over the trees.
    pub fn mean_path_length(&self, row: &[f64]) -> f64 {
        let total: f64 = self
            .trees
            .iter()
            .map(|t| walk(&t.nodes, row, &self.medians, |_, _, _| {}))
            .sum();
        total / self.trees.len().max(1) as f64
    }

    /// Anomaly score of one row, in (0, 1]. A model fitted on a single row (psi = 1, where
    /// c(psi) = 0 and the formula is 0/0) scores every row 0.5: "no evidence either way".
    pub fn score_row(&self, row: &[f64]) -> f64 {
        self.path_to_score(self.mean_path_length(row))
    }

    /// Scores every row of `records` (rows × features); see the module doc for NaN handling
    /// and width mismatches. Rows go in blocks, tree by tree, several rows walking a tree in
    /// lockstep (`linfa_isolation_forest::score_rows`).
    pub fn score(&self, records: ArrayView2<f64>) -> Array1<f64> {
        linfa_isolation_forest::score_rows(&self.trees, &self.medians, self.psi, records)
    }

    /// [`score_row`](Self::score_row), but a row whose length differs from
    /// [`n_features`](Self::n_features) is an `InvalidParameter` error.
    pub fn try_score_row(&self, row: &[f64]) -> CoreResult<f64> {
        self.check_width(row.len())?;
        Ok(self.score_row(row))
    }

    /// [`score`](Self::score), but a width mismatch is an `InvalidParameter` error.
    pub fn try_score(&self, records: ArrayView2<f64>) -> CoreResult<Array1<f64>> {
        self.check_width(records.ncols())?;
        Ok(self.score(records))
    }

    /// `score > threshold` when the model has a threshold, else `None`.
    pub fn is_anomaly(&self, score: f64) -> Option<bool> {
        self.threshold.map(|t| score > t)
    }

    pub(crate) fn check_width(&self, width: usize) -> CoreResult<()> {
        if width == self.n_features {
            return Ok(());
        }
        Err(CoreError::invalid_param(
            "features",
            width,
            &format!(
                "the model was fitted on {} features, the row has {width}",
                self.n_features
            ),
        ))
    }

    fn path_to_score(&self, mean_path: f64) -> f64 {
        linfa_isolation_forest::path_to_score(mean_path, self.psi)
    }
}

/// The score above which a share `contamination` of `scores` lies: the (1 − contamination)
/// quantile with linear interpolation between order statistics (numpy's default), so rows
/// with `score > threshold` are about `contamination` of the data.
///
/// Errors (`InvalidParameter`/`InsufficientData`): contamination outside (0, 0.5], no scores, a
/// NaN score.
pub fn threshold_from_contamination(scores: &[f64], contamination: f64) -> CoreResult<f64> {
    if !(contamination > 0.0 && contamination <= super::hyperparams::MAX_CONTAMINATION) {
        return Err(CoreError::invalid_param(
            "contamination",
            contamination,
            "contamination must be in (0, 0.5]",
        ));
    }
    if scores.is_empty() {
        return Err(CoreError::insufficient(
            "cannot derive a threshold from zero scores",
        ));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(CoreError::invalid_param(
            "scores",
            format!("NaN at {i}"),
            "scores must not be NaN",
        ));
    }
    let mut sorted = scores.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let pos = (1.0 - contamination) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    Ok(sorted[lo] + frac * (sorted[hi] - sorted[lo]))
}
