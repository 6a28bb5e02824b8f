//! Path-based feature attribution, in the spirit of DIFFI (Carletti, Terzi & Susto 2020,
//! "Interpretable Anomaly Detection with DIFFI: Depth-based Feature Importance for the
//! Isolation Forest").
//!
//! Why paths: a row is anomalous because random splits isolate it quickly, and the splits
//! that did the isolating are the ones on its path. Scheme, per tree: walk the row to its
//! leaf; every split on the path credits its feature with the bits of isolation it achieved,
//! `log2(n_node / n_child)` (`n_node`, `n_child`: training sample rows that reached the split
//! and the child the row went to), times DIFFI's tree weight `1 / h`, where `h` is the leaf's
//! adjusted path length `depth + c(leaf_size)`. So a split that sent the row to the crowded
//! side (as happens on its ordinary features) earns almost nothing, and a tree that isolated
//! the row early counts more than one where it ended deep among similar points. Credits are
//! summed over trees and normalised to shares that sum to 1.
//!
//! Why not DIFFI's flat `1/h` per split alone: on a row extreme in one feature, splits on the
//! other features still happen along its path about as often, so counting splits spreads the
//! credit almost evenly. Measured on 3 Gaussian clusters, one feature of a row shifted by
//! 15 sigma, 100 trees: the shifted feature ranked first in 47/60 cases (d = 6) and 74/250
//! (d = 25) when counting splits, 59/60 and 185/250 with the bits weighting. The size of the
//! cut plays the role of DIFFI's "induced imbalance" coefficient. Remaining misses at high d
//! are trees that never split on the shifted feature (a path has at most ceil(log2 psi)
//! splits); more trees reduce them.
//!
//! As in DIFFI's local scores we do not divide by the credit of inliers: features are chosen
//! uniformly per split, so a typical row gives every feature about the same expected credit.

use super::algorithm::IsolationForest;
use super::tree::walk;

impl IsolationForest {
    /// Share of the row's isolation credited to each feature (length
    /// [`n_features`](Self::n_features)), summing to 1; all zeros when no tree ever split on
    /// the row's path (every tree is a single leaf, e.g. a model fitted on one row). NaN
    /// features are imputed with the training median as in scoring.
    pub fn attribution(&self, row: &[f64]) -> Vec<f64> {
        let mut credit = vec![0.0; self.n_features];
        // (feature, bits) of the current path; one allocation per call, reused across trees
        let mut path: Vec<(usize, f64)> = Vec::with_capacity(32);
        for tree in &self.trees {
            path.clear();
            let sizes = &tree.sizes;
            let h = walk(&tree.nodes, row, &self.medians, |f, node, child| {
                if let (Some(&n), Some(&m)) = (sizes.get(node), sizes.get(child)) {
                    if m > 0 {
                        path.push((f, (n as f64 / m as f64).log2()));
                    }
                }
            });
            if h <= 0.0 {
                continue;
            }
            for &(f, bits) in &path {
                if let Some(c) = credit.get_mut(f) {
                    *c += bits / h;
                }
            }
        }
        let total: f64 = credit.iter().sum();
        if total > 0.0 {
            credit.iter_mut().for_each(|c| *c /= total);
        }
        credit
    }

    /// The at most `k` features with the largest positive attribution share, as
    /// `(feature index, share)`, largest first (ties: lower index first).
    pub fn top_features(&self, row: &[f64], k: usize) -> Vec<(usize, f64)> {
        let mut ranked: Vec<(usize, f64)> = self
            .attribution(row)
            .into_iter()
            .enumerate()
            .filter(|&(_, s)| s > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}
