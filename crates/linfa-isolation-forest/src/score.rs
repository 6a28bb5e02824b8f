//! Scoring many rows: s(x) = 2^(−E[h(x)] / c(psi)), rows in blocks and lanes.
//!
//! Rows are scored together, tree by tree: a tree stays in L1 cache while it scores a block
//! of rows, instead of all trees cycling through the cache for every row. Within a block,
//! `LANES` rows walk a tree in lockstep (see [`score_block`]).

use linfa::Float;
use ndarray::{Array1, ArrayView2};

use crate::tree::{c_factor, height_limit, walk, Node, Tree, LEAF};

/// Rows scored together, tree by tree.
const BLOCK_ROWS: usize = 128;

/// The score of a mean adjusted path length; a forest fitted on one row (psi = 1, where
/// c(psi) = 0 and the formula is 0/0) scores 0.5: "no evidence either way".
pub fn path_to_score<F: Float>(mean_path: F, psi: usize) -> F {
    let c = c_factor(psi);
    if c <= 0.0 {
        return F::cast(0.5);
    }
    F::cast((-mean_path.to_f64().unwrap_or(0.0) / c).exp2())
}

/// Scores every row of `records` with `trees` (fitted with subsample size `psi` on
/// `medians.len()` features). A NaN feature, or one missing because a row is shorter,
/// takes the training median; extra trailing features are ignored. Allocates the output and
/// one block buffer, nothing per row, and accepts any memory layout.
pub fn score_rows<F: Float>(trees: &[Tree<F>], medians: &[F], psi: usize, records: ArrayView2<F>) -> Array1<F> {
    let n_rows = records.nrows();
    let d = medians.len();
    let mut out = Array1::<F>::zeros(n_rows);
    let max_depth = height_limit(psi);
    let n_trees = F::cast(trees.len().max(1));
    let mut block = vec![F::zero(); BLOCK_ROWS * d];
    let mut acc = [F::zero(); BLOCK_ROWS];
    let mut first = 0;
    while first < n_rows {
        let m = BLOCK_ROWS.min(n_rows - first);
        for (r, dst) in block.chunks_exact_mut(d.max(1)).take(m).enumerate() {
            let row = records.row(first + r);
            for (j, v) in dst.iter_mut().enumerate().take(d) {
                let x = row.get(j).copied().unwrap_or(F::nan());
                *v = if x.is_nan() { medians[j] } else { x };
            }
        }
        let acc = &mut acc[..m];
        acc.fill(F::zero());
        for tree in trees {
            score_block(&tree.nodes, max_depth, &block, d, acc);
        }
        for (r, a) in acc.iter().enumerate() {
            out[first + r] = path_to_score(*a / n_trees, psi);
        }
        first += m;
    }
    out
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
pub fn score_block<F: Float>(tree: &[Node<F>], max_depth: u32, block: &[F], d: usize, acc: &mut [F]) {
    const LANES: usize = 8;
    let mut rows = block.chunks_exact(d.max(1));
    let mut lanes_acc = acc.chunks_exact_mut(LANES);
    for lanes in &mut lanes_acc {
        let row: [&[F]; LANES] = std::array::from_fn(|_| rows.next().unwrap_or(&[]));
        let mut idx = [0usize; LANES];
        for _ in 0..max_depth {
            for (i, row) in idx.iter_mut().zip(&row) {
                let Some(node) = tree.get(*i) else { continue };
                let leaf = node.feature == LEAF;
                let f = if leaf { 0 } else { node.feature as usize };
                let x = row.get(f).copied().unwrap_or(F::zero());
                let next = node.left as usize + usize::from(x > node.value);
                *i = if leaf { *i } else { next };
            }
        }
        for (a, &i) in lanes.iter_mut().zip(&idx) {
            *a += tree.get(i).map_or(F::zero(), |n| n.value);
        }
    }
    for a in lanes_acc.into_remainder() {
        let row = rows.next().unwrap_or(&[]);
        *a += walk(tree, row, &[], |_, _, _| {});
    }
}
