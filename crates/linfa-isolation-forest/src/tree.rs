//! One isolation tree stored as a flat arena of nodes, and how it is grown.
//!
//! Why flat: scoring walks 100 trees per row; a `Vec<Node>` per tree with `u32` child
//! indices keeps a whole tree (at most 2·psi − 1 nodes, ~8 KiB for psi = 256 in `f64`) in
//! contiguous memory, with no pointer chasing and no per-node allocation. The two children
//! of a split are adjacent (`left`, `left + 1`) and always stored after their parent, which is
//! also what makes a stored tree cheap to validate (indices strictly forward => no cycles).

use linfa::Float;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// `feature` value marking a leaf.
pub const LEAF: u32 = u32::MAX;

/// Euler–Mascheroni constant, for the harmonic-number approximation H(i) ≈ ln(i) + γ.
const EULER_GAMMA: f64 = 0.577_215_664_9;

/// One isolation tree: the node arena used by scoring, and a parallel array of how many
/// training sample rows reached each node (used by attributions and validation, kept apart
/// so scoring touches only the nodes).
///
/// The fields are public so that a tree can be stored and inspected (attributions, TreeSHAP);
/// a tree built from stored parts must be validated before use (children after their
/// parent, in range). A walk over an invalid index ends with path length 0, never panics.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Tree<F> {
    pub nodes: Vec<Node<F>>,
    pub sizes: Vec<u32>,
}

/// A node of an isolation tree.
///
/// - split: `feature` is the split feature, `value` the threshold; a row goes to the left
///   child (`left`) when `x[feature] <= value`, else to the right child (`left + 1`).
/// - leaf: `feature == LEAF`, `left == 0`, and `value` is the leaf's adjusted path length
///   `depth + c(leaf_size)` (precomputed so scoring only sums).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Node<F> {
    pub feature: u32,
    pub left: u32,
    pub value: F,
}

impl<F> Node<F> {
    /// Whether the node is a leaf.
    pub fn is_leaf(&self) -> bool {
        self.feature == LEAF
    }
}

/// Average path length of an unsuccessful search in a binary search tree of `n` points,
/// c(n) = 2H(n−1) − 2(n−1)/n (Liu, Ting & Zhou 2008, eq. 1). It normalises path lengths and
/// estimates the depth still to go below a leaf holding `n` points.
///
/// Small cases use exact values (as scikit-learn does): c(0) = c(1) = 0 and c(2) = 1; the
/// approximation H(1) ≈ γ would give c(2) ≈ 0.15, which undercounts a two-point leaf.
pub fn c_factor(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let m = (n - 1) as f64;
            2.0 * (m.ln() + EULER_GAMMA) - 2.0 * m / n as f64
        }
    }
}

/// Height limit ceil(log2 psi): the paper's approximation of the average tree height; below
/// it anomalies are already isolated and the rest only costs time.
pub fn height_limit(psi: usize) -> u32 {
    if psi <= 1 {
        0
    } else {
        usize::BITS - (psi - 1).leading_zeros()
    }
}

/// Follows `row` from the root to its leaf, calling `on_split(feature, node, child)` at every
/// split (`child` being the index the row goes to), and returns the leaf's adjusted path
/// length. A NaN feature (or one missing because the row is too short) is replaced by
/// `medians[feature]` (0 when `medians` is shorter).
///
/// Terminates because every child index is greater than its parent's (built so, and to be
/// validated on load); an index out of range ends the walk with path length 0.
#[inline(always)]
pub fn walk<F: Float>(nodes: &[Node<F>], row: &[F], medians: &[F], mut on_split: impl FnMut(usize, usize, usize)) -> F {
    let mut i = 0usize;
    loop {
        let Some(node) = nodes.get(i) else { return F::zero() };
        if node.feature == LEAF {
            return node.value;
        }
        let f = node.feature as usize;
        let x = match row.get(f) {
            Some(&x) if !x.is_nan() => x,
            _ => medians.get(f).copied().unwrap_or_else(F::zero),
        };
        let next = node.left as usize + usize::from(x > node.value);
        on_split(f, i, next);
        i = next;
    }
}

/// Grows one tree on a row-major sample of `n_rows × n_features` values.
pub(crate) struct TreeBuilder<'a, F> {
    sample: &'a [F],
    n_features: usize,
    /// Features this tree may split on; reordered in place by the partial shuffles.
    features: Vec<u32>,
    height_limit: u32,
    nodes: Vec<Node<F>>,
    sizes: Vec<u32>,
    rng: &'a mut ChaCha8Rng,
}

impl<'a, F: Float> TreeBuilder<'a, F> {
    pub(crate) fn new(sample: &'a [F], n_features: usize, features: Vec<u32>, height_limit: u32, rng: &'a mut ChaCha8Rng) -> Self {
        TreeBuilder { sample, n_features, features, height_limit, nodes: Vec::new(), sizes: Vec::new(), rng }
    }

    /// Grows the tree over all rows of the sample.
    pub(crate) fn grow(mut self) -> Tree<F> {
        let n_rows = self.sample.len().checked_div(self.n_features).unwrap_or(0);
        let mut rows: Vec<u32> = (0..n_rows as u32).collect();
        self.nodes.reserve(2 * n_rows.max(1) - 1);
        self.sizes.reserve(2 * n_rows.max(1) - 1);
        self.push_placeholder();
        self.grow_node(0, &mut rows, 0);
        Tree { nodes: self.nodes, sizes: self.sizes }
    }

    fn push_placeholder(&mut self) {
        self.nodes.push(leaf(0, 0));
        self.sizes.push(0);
    }

    fn grow_node(&mut self, idx: usize, rows: &mut [u32], depth: u32) {
        self.sizes[idx] = rows.len() as u32;
        if depth >= self.height_limit || rows.len() <= 1 {
            self.nodes[idx] = leaf(depth, rows.len());
            return;
        }
        let Some((feature, threshold)) = self.pick_split(rows) else {
            // every allowed feature is constant on this node's rows: nothing can isolate them
            self.nodes[idx] = leaf(depth, rows.len());
            return;
        };
        let mid = self.partition(rows, feature, threshold);
        let left = self.nodes.len();
        self.push_placeholder();
        self.push_placeholder();
        self.nodes[idx] = Node { feature: feature as u32, left: left as u32, value: threshold };
        let (l, r) = rows.split_at_mut(mid);
        self.grow_node(left, l, depth + 1);
        self.grow_node(left + 1, r, depth + 1);
    }

    /// A feature chosen uniformly among those not constant on `rows`, and a threshold drawn
    /// uniformly between its min and max. Trying features in the order of a lazy Fisher–Yates
    /// shuffle and taking the first non-constant one is uniform over the non-constant ones,
    /// and usually costs one min/max scan instead of one per feature. The uniform draw is an
    /// `f64` for every `F`, so `f32` and `f64` forests see the same random stream.
    fn pick_split(&mut self, rows: &[u32]) -> Option<(usize, F)> {
        let k = self.features.len();
        for i in 0..k {
            let j = self.rng.gen_range(i..k);
            self.features.swap(i, j);
            let f = self.features[i] as usize;
            let (lo, hi) = self.min_max(rows, f);
            if hi > lo {
                let u = F::cast(self.rng.gen::<f64>());
                let span = hi - lo;
                let mut t = if span.is_finite() { lo + u * span } else { lo * (F::one() - u) + hi * u };
                // rounding (or overflow) must never leave one side empty: with `x <= t` going
                // left, any t in [lo, hi) puts lo left and hi right
                if !(t >= lo && t < hi) {
                    t = lo;
                }
                return Some((f, t));
            }
        }
        None
    }

    fn min_max(&self, rows: &[u32], f: usize) -> (F, F) {
        let mut lo = F::infinity();
        let mut hi = F::neg_infinity();
        for &r in rows {
            let x = self.sample[r as usize * self.n_features + f];
            lo = lo.min(x);
            hi = hi.max(x);
        }
        (lo, hi)
    }

    /// Moves rows with `x[f] <= t` to the front; returns how many there are.
    fn partition(&self, rows: &mut [u32], f: usize, t: F) -> usize {
        let mut mid = 0;
        for i in 0..rows.len() {
            if self.sample[rows[i] as usize * self.n_features + f] <= t {
                rows.swap(i, mid);
                mid += 1;
            }
        }
        mid
    }
}

fn leaf<F: Float>(depth: u32, size: usize) -> Node<F> {
    Node { feature: LEAF, left: 0, value: F::cast(depth as f64 + c_factor(size)) }
}
