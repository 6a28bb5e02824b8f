//! Fitting the isolation forest (Liu, Ting & Zhou 2008, "Isolation Forest", ICDM).
//!
//! Anomalies are few and different, so random axis-parallel splits isolate them in fewer
//! steps than normal points; the expected path length over many random trees, normalised by
//! c(psi), becomes the score. Each tree is grown on a subsample of psi rows without
//! replacement, so fitting costs O(n_trees · psi · log psi) plus one pass over the data to
//! reject non-finite values.

use linfa_isolation_forest::{feature_medians, grow_tree};
use ndarray::{ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::hyperparams::IsolationForestValidParams;
use super::threshold_from_contamination;
use super::tree::{height_limit, Tree};
use crate::error::{CoreError, CoreResult, ErrorKind};
use crate::traits::Fit;

/// Largest number of features a model may have (feature indices are `u32`, and the medians
/// are stored per feature).
pub const MAX_FEATURES: usize = 100_000;
/// Largest total number of nodes a forest may have (n_trees × (2·psi − 1) in the worst case):
/// keeps a model well under the 64 MiB byte limit of [`IsolationForest::from_bytes`], so any
/// model that fits can be stored and loaded again, and bounds fit memory to ~48 MB.
pub const MAX_TOTAL_NODES: usize = 3_000_000;
/// At most this many rows (a seeded subsample) estimate the per-feature medians and the
/// contamination threshold, so fit stays cheap on millions of rows.
pub const ESTIMATION_ROWS: usize = 65_536;

/// A fitted isolation forest. Immutable and `Sync`: any number of threads may score with it.
///
/// Serde: serializes field by field; deserializing goes through `ForestWire` and the full
/// structural validation of `serialize.rs`, whatever the format, so no unvalidated forest can
/// exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "super::serialize::ForestWire")]
pub struct IsolationForest {
    pub(crate) n_features: usize,
    /// Effective subsample size min(max_samples, n_rows).
    pub(crate) psi: usize,
    pub(crate) seed: u64,
    pub(crate) contamination: Option<f64>,
    /// Score above which a row is an anomaly, when contamination was given.
    pub(crate) threshold: Option<f64>,
    /// Per-feature training medians (over at most [`ESTIMATION_ROWS`] seeded rows), imputed
    /// for NaN features at scoring.
    pub(crate) medians: Vec<f64>,
    pub(crate) trees: Vec<Tree>,
}

impl<'a> Fit<ArrayView2<'a, f64>> for IsolationForestValidParams {
    type Object = IsolationForest;

    /// Fits on `records` (rows × features). Errors: zero rows (`InsufficientData`), zero or
    /// too many columns or a too large forest (`InvalidParameter`), a NaN or infinite value
    /// (`NonFiniteValue`, naming its row and column, 0-based).
    ///
    /// A single row fits a forest of single-leaf trees: nothing can be isolated from nothing,
    /// and every row then scores exactly 0.5 (see [`IsolationForest::score_row`]).
    fn fit(&self, records: ArrayView2<'a, f64>) -> CoreResult<IsolationForest> {
        let (n_rows, n_features) = records.dim();
        if n_rows == 0 {
            return Err(
                CoreError::insufficient("cannot fit an isolation forest on zero rows")
                    .with_hint("Provide at least one training row."),
            );
        }
        if n_features == 0 || n_features > MAX_FEATURES {
            return Err(CoreError::invalid_param(
                "features",
                n_features,
                "an isolation forest needs between 1 and 100000 feature columns",
            ));
        }
        check_finite(&records)?;
        let psi = self.max_samples().min(n_rows).max(1);
        let total_nodes = self.n_trees().saturating_mul(2 * psi - 1);
        if total_nodes > MAX_TOTAL_NODES {
            return Err(CoreError::invalid_param(
                "max_samples",
                self.max_samples(),
                &format!(
                    "n_trees x (2 x min(max_samples, rows) - 1) = {total_nodes} nodes exceeds the limit of {MAX_TOTAL_NODES}"
                ),
            )
            .with_hint("Use fewer trees or a smaller max_samples."));
        }

        let estimation_rows = linfa_isolation_forest::estimation_rows(n_rows, ESTIMATION_ROWS, self.seed());
        let medians = feature_medians(&records, &estimation_rows);
        let k = self.features_per_tree(n_features);
        let limit = height_limit(psi);
        let trees = (0..self.n_trees())
            .map(|t| grow_tree(&records, psi, k, limit, self.seed(), t as u64))
            .collect();

        let mut forest = IsolationForest {
            n_features,
            psi,
            seed: self.seed(),
            contamination: self.contamination(),
            threshold: None,
            medians,
            trees,
        };
        if let Some(c) = self.contamination() {
            let sample = records.select(Axis(0), &estimation_rows);
            let scores = forest.score(sample.view());
            forest.threshold = Some(threshold_from_contamination(&scores.to_vec(), c)?);
        }
        Ok(forest)
    }
}

/// Rejects NaN and ±inf, naming the first offending cell: a model trained on them would
/// either split on nonsense or silently ignore them.
fn check_finite(records: &ArrayView2<f64>) -> CoreResult<()> {
    for (i, row) in records.outer_iter().enumerate() {
        if let Some((j, v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(CoreError::new(
                ErrorKind::NonFiniteValue,
                format!("training row {i}, column {j} (0-based) is {v}"),
            )
            .with_detail("An isolation forest is fitted on finite values only.")
            .with_hint("Filter out or impute NaN and infinite feature values before fitting."));
        }
    }
    Ok(())
}

/// Median of finite values (reorders them); 0 for an empty slice (the crate's, in `f64`).
pub(crate) fn median_in_place(values: &mut [f64]) -> f64 {
    linfa_isolation_forest::median_in_place(values)
}
