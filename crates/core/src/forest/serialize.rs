//! Model bytes: a 4-byte magic, a little-endian u16 format version, then bincode 1.3 with
//! `DefaultOptions` (little endian, **varint** integers: node indices and feature numbers
//! mostly take 1–2 bytes instead of 4–8; f64 stays 8 bytes; trailing bytes rejected) and a
//! 64 MiB byte limit.
//!
//! Model bytes live in a table and may be corrupted or forged, so loading must never panic
//! or allocate without bound: the limit makes bincode fail before reading (and serde caps
//! preallocation) on hostile lengths, and every decoded model is structurally validated
//! (through serde's `try_from`, so *any* serde deserialization is validated) before use.
//! Shared with the z-score model (`crate::zscore`).

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::algorithm::{IsolationForest, MAX_FEATURES, MAX_TOTAL_NODES};
use super::hyperparams::{MAX_CONTAMINATION, MAX_SAMPLES_LIMIT, MAX_TREES};
use super::tree::{c_factor, height_limit, Tree};
use crate::error::{CoreError, CoreResult};

/// Largest model accepted (and produced), header excluded.
pub const MODEL_BYTES_LIMIT: u64 = 64 * 1024 * 1024;
const HEADER_LEN: usize = 6;
/// Magic of isolation-forest bytes.
pub const FOREST_MAGIC: [u8; 4] = *b"PGAF";
/// Current isolation-forest format version.
pub const FOREST_VERSION: u16 = 1;
/// Tolerance when re-deriving a leaf's path length on load.
const LEAF_EPS: f64 = 1e-9;

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MODEL_BYTES_LIMIT)
}

/// Header + bincode payload. Fails (`InvalidParameter`) only if the model exceeds the byte limit.
pub(crate) fn encode<T: Serialize>(
    magic: [u8; 4],
    version: u16,
    what: &str,
    value: &T,
) -> CoreResult<Vec<u8>> {
    let payload = options().serialize(value).map_err(|e| {
        CoreError::invalid_param(
            "model",
            what,
            "the model is too large to store (64 MiB limit)",
        )
        .with_detail(e.to_string())
    })?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The format version in model bytes' header (None when there is no header).
pub fn header_version(bytes: &[u8]) -> Option<u16> {
    (bytes.len() >= HEADER_LEN).then(|| u16::from_le_bytes([bytes[4], bytes[5]]))
}

/// Checks the header, decodes with the byte limit and validates (via `T`'s serde `try_from`).
/// Every failure is `ErrorKind::Corrupt`.
pub(crate) fn decode<T: DeserializeOwned>(
    magic: [u8; 4],
    version: u16,
    what: &str,
    bytes: &[u8],
) -> CoreResult<T> {
    let hint = "Refit the model; stored model bytes cannot be repaired.";
    if bytes.len() < HEADER_LEN || bytes[..4] != magic {
        return Err(
            CoreError::corrupt(format!("bytes are not a pg_anomaly {what} (bad magic)"))
                .with_hint(hint),
        );
    }
    let found = u16::from_le_bytes([bytes[4], bytes[5]]);
    if found != version {
        return Err(
            CoreError::corrupt(format!("unsupported {what} format version {found}"))
                .with_detail(format!("This build reads version {version}."))
                .with_hint(hint),
        );
    }
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 > MODEL_BYTES_LIMIT {
        return Err(
            CoreError::corrupt(format!("{what} bytes exceed the 64 MiB limit")).with_hint(hint),
        );
    }
    options().deserialize(payload).map_err(|e| {
        CoreError::corrupt(format!("corrupt {what} bytes"))
            .with_detail(e.to_string())
            .with_hint(hint)
    })
}

impl IsolationForest {
    /// The model as bytes (see the module doc for the format). Fails only beyond the 64 MiB
    /// limit, which fit's node limit keeps a fitted forest well under.
    pub fn to_bytes(&self) -> CoreResult<Vec<u8>> {
        encode(FOREST_MAGIC, FOREST_VERSION, "isolation forest", self)
    }

    /// Loads and validates bytes from [`to_bytes`](Self::to_bytes). Never panics: truncated,
    /// corrupt or hostile bytes give an `ErrorKind::Corrupt` error.
    pub fn from_bytes(bytes: &[u8]) -> CoreResult<IsolationForest> {
        decode(FOREST_MAGIC, FOREST_VERSION, "isolation forest", bytes)
    }
}

/// The serialized shape of [`IsolationForest`] (same fields, same order), validated into it.
#[derive(Deserialize)]
pub(crate) struct ForestWire {
    n_features: usize,
    psi: usize,
    seed: u64,
    contamination: Option<f64>,
    threshold: Option<f64>,
    medians: Vec<f64>,
    trees: Vec<Tree>,
}

impl TryFrom<ForestWire> for IsolationForest {
    type Error = CoreError;

    fn try_from(w: ForestWire) -> CoreResult<Self> {
        if w.n_features == 0 || w.n_features > MAX_FEATURES {
            return Err(CoreError::corrupt(format!(
                "n_features {} out of range",
                w.n_features
            )));
        }
        if w.medians.len() != w.n_features || w.medians.iter().any(|m| !m.is_finite()) {
            return Err(CoreError::corrupt(
                "medians do not match n_features or are not finite",
            ));
        }
        if w.psi == 0 || w.psi > MAX_SAMPLES_LIMIT {
            return Err(CoreError::corrupt(format!("psi {} out of range", w.psi)));
        }
        if w.trees.is_empty() || w.trees.len() > MAX_TREES {
            return Err(CoreError::corrupt(format!(
                "tree count {} out of range",
                w.trees.len()
            )));
        }
        if let Some(c) = w.contamination {
            if !(c > 0.0 && c <= MAX_CONTAMINATION) {
                return Err(CoreError::corrupt(format!(
                    "contamination {c} out of range"
                )));
            }
        }
        if let Some(t) = w.threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(CoreError::corrupt(format!("threshold {t} out of range")));
            }
        }
        let total: usize = w.trees.iter().map(|t| t.nodes.len()).sum();
        if total > MAX_TOTAL_NODES {
            return Err(CoreError::corrupt(format!(
                "{total} nodes exceed the limit"
            )));
        }
        for (t, tree) in w.trees.iter().enumerate() {
            validate_tree(tree, w.n_features, w.psi)
                .map_err(|e| e.with_detail(format!("in tree {t}")))?;
        }
        Ok(IsolationForest {
            n_features: w.n_features,
            psi: w.psi,
            seed: w.seed,
            contamination: w.contamination,
            threshold: w.threshold,
            medians: w.medians,
            trees: w.trees,
        })
    }
}

/// A tree is valid when it is a proper binary tree as `grow` builds it: children adjacent and
/// strictly after their parent (so walks terminate), every node but the root has exactly one
/// parent, depth within the height limit, split features in range, thresholds finite, node
/// sizes adding up from the children to the root's psi (both children non-empty), and each
/// leaf's path length equal to depth + c(size).
fn validate_tree(tree: &Tree, n_features: usize, psi: usize) -> CoreResult<()> {
    let (nodes, sizes) = (&tree.nodes, &tree.sizes);
    let len = nodes.len();
    if len == 0 || len > 2 * psi - 1 || sizes.len() != len || sizes[0] as usize != psi {
        return Err(CoreError::corrupt(format!(
            "tree has {len} nodes and root size {:?}, psi is {psi}",
            sizes.first()
        )));
    }
    let limit = height_limit(psi);
    let mut parents = vec![0u8; len];
    let mut depth = vec![0u32; len];
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 && parents[i] != 1 {
            return Err(CoreError::corrupt(format!(
                "node {i} has {} parents",
                parents[i]
            )));
        }
        let d = depth[i];
        if node.is_leaf() {
            let expected = d as f64 + c_factor(sizes[i] as usize);
            // `is_nan` spelled out: a NaN value must fail too
            if node.left != 0 || node.value.is_nan() || (node.value - expected).abs() > LEAF_EPS {
                return Err(CoreError::corrupt(format!("leaf {i} is malformed")));
            }
            continue;
        }
        let left = node.left as usize;
        if node.feature as usize >= n_features || !node.value.is_finite() {
            return Err(CoreError::corrupt(format!(
                "split {i} has a bad feature or threshold"
            )));
        }
        if left <= i || left + 1 >= len || d >= limit {
            return Err(CoreError::corrupt(format!(
                "split {i} has bad children or is too deep"
            )));
        }
        let (l, r) = (sizes[left] as u64, sizes[left + 1] as u64);
        if l == 0 || r == 0 || l + r != sizes[i] as u64 {
            return Err(CoreError::corrupt(format!(
                "split {i} has inconsistent node sizes"
            )));
        }
        for c in [left, left + 1] {
            parents[c] = parents[c].saturating_add(1);
            depth[c] = d + 1;
        }
    }
    Ok(())
}
