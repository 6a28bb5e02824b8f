//! Isolation forest (Liu, Ting & Zhou 2008, "Isolation Forest", ICDM; extended in TKDD 2012,
//! "Isolation-Based Anomaly Detection") with path-based feature attribution and validated
//! model bytes.
//!
//! ```
//! use ndarray::array;
//! use pg_anomaly_core::forest::{IsolationForest, IsolationForestParams};
//! use pg_anomaly_core::traits::Fit;
//!
//! let x = array![[0.0, 1.0], [0.1, 1.1], [0.2, 0.9], [0.1, 1.0], [9.0, -5.0]];
//! let model = IsolationForestParams::new().n_trees(50).fit(x.view()).unwrap();
//! let scores = model.score(x.view());
//! assert!(scores[4] > scores[0]);
//! let again = IsolationForest::from_bytes(&model.to_bytes().unwrap()).unwrap();
//! assert_eq!(again.score(x.view()), scores);
//! ```
//!
//! Files: `hyperparams.rs` (parameters, checks, JSON), `tree.rs` (flat node arena, growing,
//! c(n)), `algorithm.rs` (fit), `score.rs` (scoring, thresholds), `attribution.rs`
//! (DIFFI-style attribution), `shap.rs` (exact TreeSHAP of the path length), `serialize.rs`
//! (bytes and their validation), `json.rs` (strict parameter objects, shared with the z-score
//! model).

mod algorithm;
mod attribution;
mod hyperparams;
pub(crate) mod json;
mod score;
pub(crate) mod serialize;
mod shap;
mod tree;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_attribution;
#[cfg(test)]
mod tests_bytes;
#[cfg(test)]
mod tests_shap;
#[cfg(test)]
mod tests_pinned;

pub(crate) use algorithm::median_in_place as median_of;
pub use algorithm::{IsolationForest, ESTIMATION_ROWS, MAX_FEATURES, MAX_TOTAL_NODES};
pub use hyperparams::{
    IsolationForestParams, IsolationForestValidParams, DEFAULT_MAX_FEATURES, DEFAULT_MAX_SAMPLES,
    DEFAULT_N_TREES, DEFAULT_SEED, JSON_KEYS, MAX_CONTAMINATION, MAX_SAMPLES_LIMIT, MAX_TREES,
};
pub use score::threshold_from_contamination;
pub use shap::ShapValues;
pub use serialize::{header_version, FOREST_MAGIC, FOREST_VERSION, MODEL_BYTES_LIMIT};
pub use tree::{c_factor, height_limit};
