//! The trees of the forest come from the `linfa-isolation-forest` crate (flat node arenas,
//! seeded growth, the path walk), in `f64`; this module names them for the rest of the
//! core, which adds scoring in blocks, attributions, TreeSHAP and validated model bytes.

pub use linfa_isolation_forest::{c_factor, height_limit};

/// One isolation tree of the detector (`f64` values).
pub type Tree = linfa_isolation_forest::Tree<f64>;
/// A node of an isolation tree (`f64` thresholds and leaf path lengths).
pub type Node = linfa_isolation_forest::Node<f64>;

/// Follows `row` to its leaf (see `linfa_isolation_forest::walk`).
#[inline(always)]
pub(crate) fn walk(nodes: &[Node], row: &[f64], medians: &[f64], on_split: impl FnMut(usize, usize, usize)) -> f64 {
    linfa_isolation_forest::walk(nodes, row, medians, on_split)
}
