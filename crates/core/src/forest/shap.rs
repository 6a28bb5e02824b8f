//! Exact Shapley values of the isolation forest's path length (TreeSHAP, Lundberg, Erion & Lee
//! 2018, "Consistent Individualized Feature Attribution for Tree Ensembles", Algorithm 2).
//!
//! What is explained: each tree's adjusted path length `h_t(x) = depth(leaf) + c(leaf size)`
//! (the quantity scoring averages, c(n) of Liu et al. included), and their mean
//! `E[h(x)]` over the trees. Shapley values are linear, so the forest's values are the mean of
//! the trees'. Which game: the *tree-path-dependent* one. The value of a coalition S is
//! `v(S) = E[h(X) | X_S = x_S]` estimated by the tree itself: at a split on a feature in S the
//! row's own branch is followed, at any other split both branches count, weighted by how many
//! training sample rows went each way (the stored node sizes). So `v(∅)` is the mean path
//! length of the training sample, and for every row
//!
//! `sum(phi) = E[h(x)] - base`, `base = mean over trees of v_t(∅)`.
//!
//! A negative value shortens the path, i.e. makes the row more isolated (more anomalous).
//! Since the anomaly score is `s(x) = 2^(-E[h(x)] / c(psi))`, `log2 s` is affine in `E[h]`, and
//! `phi / -c(psi)` are the exact Shapley values of `log2 s(x)` ([`ShapValues::to_log2_score`]),
//! summing to `log2 s(x) - (-base / c(psi))`. A feature no split on the row's relevant paths
//! uses gets exactly 0 (dummy), two features the trees treat alike get equal values (symmetry).
//!
//! Cost per row: every node of every tree is visited once with O(depth) path work, and every
//! leaf with O(depth²): with psi = 256 (depth <= 8) about 0.1 ms per tree and row at most.
//! NaN features are imputed with the training median, as in scoring.

use super::algorithm::IsolationForest;
use super::tree::{c_factor, Node, Tree};

/// Shapley values of one row.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapValues {
    /// Value of the empty coalition (the training sample's mean path length, or its transform).
    pub base: f64,
    /// The explained quantity for the row (`E[h(x)]`, or its transform).
    pub value: f64,
    /// One value per feature; they sum to `value - base` up to rounding.
    pub phi: Vec<f64>,
}

impl ShapValues {
    /// The values of `log2 s(x) = -E[h(x)] / c(psi)` (the anomaly score on a log2 scale),
    /// given `c(psi)`; a degenerate forest (`c <= 0`, every row scores 0.5) gives all zeros.
    pub fn to_log2_score(&self, c_psi: f64) -> ShapValues {
        if c_psi <= 0.0 {
            return ShapValues { base: -1.0, value: -1.0, phi: vec![0.0; self.phi.len()] };
        }
        let k = -1.0 / c_psi;
        ShapValues { base: self.base * k, value: self.value * k, phi: self.phi.iter().map(|p| p * k).collect() }
    }
}

/// One element of the path of unique features leading to the current node: the feature
/// (`usize::MAX` for the root's dummy), the share of "feature absent" weight (`zero`), whether
/// the row itself takes this path (`one`, 0 or 1) and the permutation weight.
#[derive(Clone, Copy, Debug)]
struct Elem {
    feature: usize,
    zero: f64,
    one: f64,
    weight: f64,
}

impl IsolationForest {
    /// Exact tree-path-dependent Shapley values of the mean path length `E[h(x)]` of `row`
    /// (see the module doc); `phi` has [`n_features`](Self::n_features) entries.
    pub fn shap_values(&self, row: &[f64]) -> ShapValues {
        let d = self.n_features;
        let x: Vec<f64> = (0..d)
            .map(|j| match row.get(j) {
                Some(&v) if !v.is_nan() => v,
                _ => self.medians.get(j).copied().unwrap_or(0.0),
            })
            .collect();
        let mut phi = vec![0.0; d];
        let mut base = 0.0;
        let mut value = 0.0;
        let mut scratch = Scratch::default();
        for tree in &self.trees {
            base += tree_base(tree);
            value += super::tree::walk(&tree.nodes, &x, &self.medians, |_, _, _| {});
            scratch.run(tree, &x, &mut phi);
        }
        let n = self.trees.len().max(1) as f64;
        phi.iter_mut().for_each(|p| *p /= n);
        ShapValues { base: base / n, value: value / n, phi }
    }

    /// [`shap_values`](Self::shap_values) of `log2` of the anomaly score.
    pub fn shap_log2_score(&self, row: &[f64]) -> ShapValues {
        self.shap_values(row).to_log2_score(c_factor(self.psi))
    }
}

/// `v(∅)` of a tree: its leaves' values weighted by the share of sample rows reaching them.
fn tree_base(tree: &Tree) -> f64 {
    let root = tree.sizes.first().copied().unwrap_or(0) as f64;
    if root <= 0.0 {
        return tree.nodes.first().map_or(0.0, |n| n.value);
    }
    tree.nodes
        .iter()
        .zip(&tree.sizes)
        .filter(|(n, _)| n.is_leaf())
        .map(|(n, &s)| n.value * s as f64 / root)
        .sum()
}

/// Per-depth path buffers, reused across trees and rows of one call.
#[derive(Default)]
struct Scratch {
    levels: Vec<Vec<Elem>>,
}

impl Scratch {
    fn run(&mut self, tree: &Tree, x: &[f64], phi: &mut [f64]) {
        if tree.nodes.is_empty() {
            return;
        }
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].clear();
        self.recurse(tree, x, phi, 0, 0, 1.0, 1.0, usize::MAX);
    }

    /// Visits node `j` at recursion `level`: copies the parent's path (level - 1), extends it
    /// with the split that led here, then either credits the leaf or descends both ways.
    #[allow(clippy::too_many_arguments)]
    fn recurse(&mut self, tree: &Tree, x: &[f64], phi: &mut [f64], j: usize, level: usize, zero: f64, one: f64, feature: usize) {
        if self.levels.len() <= level + 1 {
            self.levels.resize_with(level + 2, Vec::new);
        }
        if level > 0 {
            let (lo, hi) = self.levels.split_at_mut(level);
            hi[0].clone_from(&lo[level - 1]);
        }
        let path = &mut self.levels[level];
        extend(path, zero, one, feature);
        let Some(node) = tree.nodes.get(j).copied() else { return };
        if node.is_leaf() {
            for i in 1..path.len() {
                let w = unwound_sum(path, i);
                let e = path[i];
                if let Some(p) = phi.get_mut(e.feature) {
                    *p += w * (e.one - e.zero) * node.value;
                }
            }
            return;
        }
        let f = node.feature as usize;
        let (hot, cold) = children(&node, x);
        let size = |k: usize| tree.sizes.get(k).copied().unwrap_or(0) as f64;
        let (r, rh, rc) = (size(j), size(hot), size(cold));
        let (fh, fc) = if r > 0.0 { (rh / r, rc / r) } else { (0.5, 0.5) };
        // a feature already on the path: undo its earlier extension, carry its fractions
        let (mut iz, mut io) = (1.0, 1.0);
        if let Some(k) = path.iter().skip(1).position(|e| e.feature == f).map(|k| k + 1) {
            iz = path[k].zero;
            io = path[k].one;
            unwind(path, k);
        }
        self.recurse(tree, x, phi, hot, level + 1, iz * fh, io, f);
        self.recurse(tree, x, phi, cold, level + 1, iz * fc, 0.0, f);
    }
}

/// (child the row takes, the other child) of split `node`.
fn children(node: &Node, x: &[f64]) -> (usize, usize) {
    let left = node.left as usize;
    let v = x.get(node.feature as usize).copied().unwrap_or(0.0);
    if v > node.value {
        (left + 1, left)
    } else {
        (left, left + 1)
    }
}

/// Adds an element to the path, updating the permutation weights of every subset size.
fn extend(path: &mut Vec<Elem>, zero: f64, one: f64, feature: usize) {
    let l = path.len();
    path.push(Elem { feature, zero, one, weight: if l == 0 { 1.0 } else { 0.0 } });
    for i in (0..l).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / (l + 1) as f64;
        path[i].weight = zero * path[i].weight * (l - i) as f64 / (l + 1) as f64;
    }
}

/// Removes element `i` from the path, inverting [`extend`].
fn unwind(path: &mut Vec<Elem>, i: usize) {
    let l = path.len() - 1;
    let (one, zero) = (path[i].one, path[i].zero);
    let mut n = path[l].weight;
    for j in (0..l).rev() {
        if one != 0.0 {
            let t = path[j].weight;
            path[j].weight = n * (l + 1) as f64 / ((j + 1) as f64 * one);
            n = t - path[j].weight * zero * (l - j) as f64 / (l + 1) as f64;
        } else {
            path[j].weight = path[j].weight * (l + 1) as f64 / (zero * (l - j) as f64);
        }
    }
    for j in i..l {
        path[j].feature = path[j + 1].feature;
        path[j].zero = path[j + 1].zero;
        path[j].one = path[j + 1].one;
    }
    path.pop();
}

/// Total permutation weight of the path with element `i` removed (without modifying it).
fn unwound_sum(path: &[Elem], i: usize) -> f64 {
    let l = path.len() - 1;
    let (one, zero) = (path[i].one, path[i].zero);
    let mut total = 0.0;
    let mut n = path[l].weight;
    for j in (0..l).rev() {
        if one != 0.0 {
            let t = n * (l + 1) as f64 / ((j + 1) as f64 * one);
            total += t;
            n = path[j].weight - t * zero * (l - j) as f64 / (l + 1) as f64;
        } else if zero != 0.0 {
            total += path[j].weight * (l + 1) as f64 / (zero * (l - j) as f64);
        }
    }
    total
}
