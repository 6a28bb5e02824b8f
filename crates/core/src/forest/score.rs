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
use super::tree::{c_factor, height_limit, walk, Node, LEAF};
use crate::error::{CoreError, CoreResult};

/// Rows scored together, tree by tree: a tree stays in L1 cache while it scores the whole
/// block, instead of all trees cycling through the cache for every row.
const BLOCK_ROWS: usize = 128;

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
    /// and width mismatches. Allocates the output and one block buffer, nothing per row, and
    /// accepts any memory layout.
    pub fn score(&self, records: ArrayView2<f64>) -> Array1<f64> {
        let n_rows = records.nrows();
        let d = self.n_features;
        let mut out = Array1::<f64>::zeros(n_rows);
        let max_depth = height_limit(self.psi);
        let n_trees = self.trees.len().max(1) as f64;
        // rows of the current block, NaN (and missing features) imputed once per row, so the
        // hot loop reads plain finite-or-inf values of exactly n_features per row
        let mut block = vec![0.0; BLOCK_ROWS * d];
        let mut acc = [0.0f64; BLOCK_ROWS];
        let mut first = 0;
        while first < n_rows {
            let m = BLOCK_ROWS.min(n_rows - first);
            for (r, dst) in block.chunks_exact_mut(d).take(m).enumerate() {
                let row = records.row(first + r);
                for (j, v) in dst.iter_mut().enumerate() {
                    let x = row.get(j).copied().unwrap_or(f64::NAN);
                    *v = if x.is_nan() { self.medians[j] } else { x };
                }
            }
            let acc = &mut acc[..m];
            acc.fill(0.0);
            for tree in &self.trees {
                score_block(&tree.nodes, max_depth, &block, d, acc);
            }
            for (r, a) in acc.iter().enumerate() {
                out[first + r] = self.path_to_score(*a / n_trees);
            }
            first += m;
        }
        out
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
        let c = c_factor(self.psi);
        if c <= 0.0 {
            return 0.5;
        }
        (-mean_path / c).exp2()
    }
}

/// Adds one tree's path length of the first `acc.len()` rows of `block` (rows of `d`
/// values, NaN already imputed) to `acc`.
///
/// Why lanes: walking one row is a chain of dependent loads (node -> feature -> next node),
/// so a CPU walking rows one after another mostly waits. Here `LANES` rows walk in lockstep
/// for `max_depth` steps, a row that reached its leaf simply staying there, so the chains are
/// independent and overlap; the step has no data-dependent branch. `max_depth` is the height
/// limit, which every built or validated tree respects, so every lane ends on a leaf.
#[inline]
fn score_block(tree: &[Node], max_depth: u32, block: &[f64], d: usize, acc: &mut [f64]) {
    const LANES: usize = 8;
    let mut rows = block.chunks_exact(d.max(1));
    let mut lanes_acc = acc.chunks_exact_mut(LANES);
    for lanes in &mut lanes_acc {
        let row: [&[f64]; LANES] = std::array::from_fn(|_| rows.next().unwrap_or(&[]));
        let mut idx = [0usize; LANES];
        for _ in 0..max_depth {
            for (i, row) in idx.iter_mut().zip(&row) {
                let Some(node) = tree.get(*i) else { continue };
                let leaf = node.feature == LEAF;
                let f = if leaf { 0 } else { node.feature as usize };
                let x = row.get(f).copied().unwrap_or(0.0);
                let next = node.left as usize + usize::from(x > node.value);
                *i = if leaf { *i } else { next };
            }
        }
        for (a, &i) in lanes.iter_mut().zip(&idx) {
            *a += tree.get(i).map_or(0.0, |n| n.value);
        }
    }
    for a in lanes_acc.into_remainder() {
        let row = rows.next().unwrap_or(&[]);
        *a += walk(tree, row, &[], |_, _, _| {});
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
