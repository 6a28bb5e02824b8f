//! Isolation forest (Liu, Ting & Zhou 2008, "Isolation Forest", ICDM) for
//! [linfa](https://docs.rs/linfa): unchecked parameters checked once through
//! [`ParamGuard`], [`Fit`] on any [`DatasetBase`] of a 2-D array, [`PredictInplace`] for
//! anomaly scores and, at a threshold, for labels. Generic over `f32` and `f64`.
//!
//! Anomalies are few and different, so random axis-parallel splits isolate them in fewer
//! steps than normal points; the expected path length over many random trees, normalised by
//! c(psi), becomes the score s(x) = 2^(−E[h(x)] / c(psi)) in (0, 1]: near 1 anomalous, near
//! 0.5 or below typical. Fitting is seeded and reproducible: tree `t` draws from ChaCha8
//! stream `t` of the seed, so the same seed gives the same trees on any machine and in any
//! build order.
//!
//! ```
//! use linfa::prelude::*;
//! use linfa_isolation_forest::IsolationForestParams;
//! use ndarray::array;
//!
//! let x = array![[0.0, 1.0], [0.1, 1.1], [0.2, 0.9], [0.1, 1.0], [9.0, -5.0]];
//! let data = DatasetBase::from(x.clone());
//! let forest = IsolationForestParams::new().n_trees(50).seed(7).fit(&data).unwrap();
//! let scores = forest.predict(&x);
//! assert!(scores[4] > scores[0]);
//! let labels = forest.with_threshold(0.6).predict(&x);
//! assert!(labels[4] && !labels[0]);
//! ```
//!
//! Missing values at scoring: a NaN feature is replaced by that feature's training median
//! (stored in the model), so one missing feature neither hides nor fakes an anomaly. Training
//! values must be finite.

mod error;
mod grow;
mod score;
mod tree;

pub use error::IsolationForestError;
pub use grow::{estimation_rows, feature_medians, grow_tree, median_in_place};
pub use score::{path_to_score, score_block, score_rows};
pub use tree::{c_factor, height_limit, walk, Node, Tree, LEAF};

use linfa::dataset::{DatasetBase, Records};
use linfa::traits::{Fit, PredictInplace};
use linfa::{Float, ParamGuard};
use ndarray::{Array1, ArrayBase, ArrayView2, Data, Ix2};
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// At most this many rows (a seeded subsample) estimate the medians and a contamination
/// threshold, so a fit stays cheap on millions of rows.
pub const ESTIMATION_ROWS: usize = 65_536;
/// Largest total number of nodes a forest may have (n_trees × (2·psi − 1) in the worst case).
pub const MAX_TOTAL_NODES: usize = 3_000_000;

/// Checked parameters; only [`ParamGuard::check`] builds them.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct IsolationForestValidParams<F> {
    n_trees: usize,
    max_samples: usize,
    max_features: f64,
    seed: u64,
    contamination: Option<F>,
}

impl<F: Float> IsolationForestValidParams<F> {
    /// Number of trees, in `1..=10_000` (default 100).
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }
    /// Requested subsample size per tree, in `1..=10_000_000` (default 256); the effective
    /// psi is `min(max_samples, rows)`.
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }
    /// Fraction of features, in `(0, 1]`, each tree may split on (default 1).
    pub fn max_features(&self) -> f64 {
        self.max_features
    }
    /// Master seed (default 42).
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Expected share of anomalies, in `(0, 0.5]`: the fit then derives a score threshold.
    pub fn contamination(&self) -> Option<F> {
        self.contamination
    }
    /// Features a tree may split on: `ceil(max_features × n_features)`, at least 1.
    pub fn features_per_tree(&self, n_features: usize) -> usize {
        let k = (self.max_features * n_features as f64).ceil() as usize;
        k.clamp(1, n_features.max(1))
    }
}

/// Unchecked parameters: build with the setters, then fit (fitting checks first).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct IsolationForestParams<F>(IsolationForestValidParams<F>);

impl<F: Float> Default for IsolationForestParams<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Float> IsolationForestParams<F> {
    /// The paper's defaults: 100 trees, psi 256, every feature, seed 42, no contamination.
    pub fn new() -> Self {
        IsolationForestParams(IsolationForestValidParams { n_trees: 100, max_samples: 256, max_features: 1.0, seed: 42, contamination: None })
    }
    pub fn n_trees(mut self, n: usize) -> Self {
        self.0.n_trees = n;
        self
    }
    pub fn max_samples(mut self, n: usize) -> Self {
        self.0.max_samples = n;
        self
    }
    pub fn max_features(mut self, fraction: f64) -> Self {
        self.0.max_features = fraction;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
    pub fn contamination(mut self, share: Option<F>) -> Self {
        self.0.contamination = share;
        self
    }
}

impl<F: Float> ParamGuard for IsolationForestParams<F> {
    type Checked = IsolationForestValidParams<F>;
    type Error = IsolationForestError;

    fn check_ref(&self) -> Result<&Self::Checked, Self::Error> {
        let p = &self.0;
        let bad = |name, value: String, why| Err(IsolationForestError::InvalidParameter { name, value, why });
        if !(1..=10_000).contains(&p.n_trees) {
            return bad("n_trees", p.n_trees.to_string(), "must be between 1 and 10000");
        }
        if !(1..=10_000_000).contains(&p.max_samples) {
            return bad("max_samples", p.max_samples.to_string(), "must be between 1 and 10000000");
        }
        if !(p.max_features > 0.0 && p.max_features <= 1.0) {
            return bad("max_features", p.max_features.to_string(), "must be in (0, 1]");
        }
        if let Some(c) = p.contamination {
            if !(c > F::zero() && c <= F::cast(0.5)) {
                return bad("contamination", format!("{c}"), "must be in (0, 0.5]");
            }
        }
        Ok(p)
    }

    fn check(self) -> Result<Self::Checked, Self::Error> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// A fitted isolation forest. Immutable and `Sync`: any number of threads may score with it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct IsolationForest<F> {
    n_features: usize,
    psi: usize,
    seed: u64,
    medians: Vec<F>,
    trees: Vec<Tree<F>>,
    threshold: Option<F>,
}

impl<F: Float, D: Data<Elem = F>, T> Fit<ArrayBase<D, Ix2>, T, IsolationForestError> for IsolationForestValidParams<F> {
    type Object = IsolationForest<F>;

    /// Fits on the dataset's records (rows × features); targets are ignored.
    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<IsolationForest<F>, IsolationForestError> {
        let records = dataset.records().view();
        let (n_rows, n_features) = (records.nsamples(), records.nfeatures());
        if n_rows == 0 {
            return Err(IsolationForestError::EmptyData("zero rows"));
        }
        if n_features == 0 {
            return Err(IsolationForestError::EmptyData("zero features"));
        }
        if let Some((i, j)) = records.indexed_iter().find(|(_, v)| !v.is_finite()).map(|(ix, _)| ix) {
            return Err(IsolationForestError::NonFinite { row: i, column: j });
        }
        let psi = self.max_samples.min(n_rows).max(1);
        let total = self.n_trees.saturating_mul(2 * psi - 1);
        if total > MAX_TOTAL_NODES {
            return Err(IsolationForestError::TooLarge(total, MAX_TOTAL_NODES));
        }
        let rows = estimation_rows(n_rows, ESTIMATION_ROWS, self.seed);
        let medians = feature_medians(&records, &rows);
        let (k, limit) = (self.features_per_tree(n_features), height_limit(psi));
        let trees = (0..self.n_trees).map(|t| grow_tree(&records, psi, k, limit, self.seed, t as u64)).collect();
        let mut forest = IsolationForest { n_features, psi, seed: self.seed, medians, trees, threshold: None };
        if let Some(c) = self.contamination {
            let mut scores: Vec<F> = rows.iter().map(|&r| forest.score_row(&records.row(r).to_vec())).collect();
            forest.threshold = Some(quantile_threshold(&mut scores, c));
        }
        Ok(forest)
    }
}

/// The (1 − contamination) quantile of `scores` (nearest rank from the top).
fn quantile_threshold<F: Float>(scores: &mut [F], contamination: F) -> F {
    scores.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
    let n = scores.len();
    let k = (contamination.to_f64().unwrap_or(0.0) * n as f64).floor() as usize;
    scores[k.min(n - 1)]
}

impl<F: Float> IsolationForest<F> {
    /// Number of feature columns the model was fitted on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Effective subsample size psi = min(max_samples, training rows).
    pub fn psi(&self) -> usize {
        self.psi
    }
    /// Master seed of the fit.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Per-feature training medians (imputed for NaN features).
    pub fn medians(&self) -> &[F] {
        &self.medians
    }
    /// The trees (flat node arenas).
    pub fn trees(&self) -> &[Tree<F>] {
        &self.trees
    }
    /// Score threshold derived from the contamination at fit, if it was given.
    pub fn threshold(&self) -> Option<F> {
        self.threshold
    }

    /// Mean adjusted path length E[h(x)] of `row` over the trees.
    pub fn mean_path_length(&self, row: &[F]) -> F {
        let total = self.trees.iter().fold(F::zero(), |acc, t| acc + walk(&t.nodes, row, &self.medians, |_, _, _| {}));
        total / F::cast(self.trees.len().max(1))
    }

    /// Anomaly score of one row, in (0, 1]; a forest fitted on one row scores 0.5.
    pub fn score_row(&self, row: &[F]) -> F {
        path_to_score(self.mean_path_length(row), self.psi)
    }

    /// Scores every row of `records` (in blocks of rows, tree by tree; see [`score_rows`]).
    pub fn score(&self, records: ArrayView2<F>) -> Array1<F> {
        score_rows(&self.trees, &self.medians, self.psi, records)
    }

    /// A predictor of labels: `true` where the score exceeds `threshold`.
    pub fn with_threshold(&self, threshold: F) -> Labeller<'_, F> {
        Labeller { forest: self, threshold }
    }
}

/// Scores: `forest.predict(&x)` gives one score per row.
impl<F: Float, D: Data<Elem = F>> PredictInplace<ArrayBase<D, Ix2>, Array1<F>> for IsolationForest<F> {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<F>) {
        assert_eq!(x.nrows(), y.len(), "one target per row");
        y.assign(&self.score(x.view()));
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<F> {
        Array1::zeros(x.nrows())
    }
}

/// Labels at a threshold (see [`IsolationForest::with_threshold`]).
#[derive(Debug, Clone, Copy)]
pub struct Labeller<'a, F> {
    forest: &'a IsolationForest<F>,
    threshold: F,
}

impl<F: Float, D: Data<Elem = F>> PredictInplace<ArrayBase<D, Ix2>, Array1<bool>> for Labeller<'_, F> {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<bool>) {
        assert_eq!(x.nrows(), y.len(), "one target per row");
        for (t, s) in y.iter_mut().zip(self.forest.score(x.view())) {
            *t = s > self.threshold;
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<bool> {
        Array1::from_elem(x.nrows(), false)
    }
}

#[cfg(test)]
mod tests;
