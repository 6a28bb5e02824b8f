//! Hyperparameters of the isolation forest: an unchecked builder with documented defaults,
//! checked once into [`IsolationForestValidParams`] (linfa's `ParamGuard` pattern).

use serde_json::Value;

use super::json;
use crate::error::{CoreError, CoreResult};
use crate::traits::ParamGuard;

/// Default number of trees: the paper finds path lengths converge well before 100.
pub const DEFAULT_N_TREES: usize = 100;
/// Default subsample size psi: the paper's 256, small samples isolate anomalies better
/// (less swamping and masking).
pub const DEFAULT_MAX_SAMPLES: usize = 256;
/// Default fraction of features a tree may split on: all of them.
pub const DEFAULT_MAX_FEATURES: f64 = 1.0;
/// Default master seed.
pub const DEFAULT_SEED: u64 = 42;
/// Largest accepted `n_trees`.
pub const MAX_TREES: usize = 10_000;
/// Largest accepted `max_samples`.
pub const MAX_SAMPLES_LIMIT: usize = 10_000_000;
/// Largest accepted `contamination`: more than half the data being anomalous is not an anomaly.
pub const MAX_CONTAMINATION: f64 = 0.5;

/// The keys [`IsolationForestParams::from_json`] accepts.
pub const JSON_KEYS: [&str; 5] = [
    "n_trees",
    "max_samples",
    "max_features",
    "seed",
    "contamination",
];

/// Checked isolation-forest parameters; only [`ParamGuard::check`] builds them (no serde:
/// a deserialized value would bypass the check).
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestValidParams {
    n_trees: usize,
    max_samples: usize,
    max_features: f64,
    seed: u64,
    contamination: Option<f64>,
}

impl IsolationForestValidParams {
    /// Number of trees, in `1..=10_000`.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }
    /// Requested subsample size per tree; the effective psi is `min(max_samples, n_rows)`.
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }
    /// Fraction of features, in `(0, 1]`, each tree may split on.
    pub fn max_features(&self) -> f64 {
        self.max_features
    }
    /// Master seed; tree `t` uses ChaCha8 stream `t` of this seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Expected share of anomalies, in `(0, 0.5]`, used to derive a score threshold at fit.
    pub fn contamination(&self) -> Option<f64> {
        self.contamination
    }
    /// Number of features a tree may split on: `ceil(max_features * n_features)`, at least 1,
    /// so any positive fraction keeps at least one feature and 1.0 keeps all of them.
    pub fn features_per_tree(&self, n_features: usize) -> usize {
        let k = (self.max_features * n_features as f64).ceil() as usize;
        k.clamp(1, n_features.max(1))
    }
}

/// Unchecked isolation-forest parameters (Liu, Ting & Zhou 2008). Build with the setters,
/// then [`ParamGuard::check`] (or fit directly: fitting checks first).
///
/// Defaults: `n_trees` 100, `max_samples` 256, `max_features` 1.0, `seed` 42,
/// `contamination` unset.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestParams(IsolationForestValidParams);

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams(IsolationForestValidParams {
            n_trees: DEFAULT_N_TREES,
            max_samples: DEFAULT_MAX_SAMPLES,
            max_features: DEFAULT_MAX_FEATURES,
            seed: DEFAULT_SEED,
            contamination: None,
        })
    }
}

impl IsolationForestParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the number of trees.
    pub fn n_trees(mut self, n_trees: usize) -> Self {
        self.0.n_trees = n_trees;
        self
    }
    /// Sets the subsample size per tree.
    pub fn max_samples(mut self, max_samples: usize) -> Self {
        self.0.max_samples = max_samples;
        self
    }
    /// Sets the fraction of features each tree may split on.
    pub fn max_features(mut self, max_features: f64) -> Self {
        self.0.max_features = max_features;
        self
    }
    /// Sets the master seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
    /// Sets (or clears) the expected share of anomalies.
    pub fn contamination(mut self, contamination: Option<f64>) -> Self {
        self.0.contamination = contamination;
        self
    }

    /// Reads a user's parameter object, e.g. `{"n_trees": 200, "contamination": 0.01}`.
    /// Missing keys keep their defaults, `null` means all defaults; unknown keys, wrong types
    /// and out-of-domain values are errors of kind `InvalidParameter` naming the key.
    pub fn from_json(value: &Value) -> CoreResult<Self> {
        let mut params = Self::default();
        if let Some(map) = json::object(value, &JSON_KEYS, "isolation forest")? {
            for (key, v) in map {
                params = match key.as_str() {
                    "n_trees" => params.n_trees(json::as_usize(key, v)?),
                    "max_samples" => params.max_samples(json::as_usize(key, v)?),
                    "max_features" => params.max_features(json::as_f64(key, v)?),
                    "seed" => params.seed(json::as_u64(key, v)?),
                    "contamination" => params.contamination(json::as_opt_f64(key, v)?),
                    // json::object already rejected every other key
                    _ => params,
                };
            }
        }
        params.check_ref()?;
        Ok(params)
    }
}

impl ParamGuard for IsolationForestParams {
    type Checked = IsolationForestValidParams;

    fn check_ref(&self) -> CoreResult<&Self::Checked> {
        let p = &self.0;
        if p.n_trees == 0 || p.n_trees > MAX_TREES {
            return Err(CoreError::invalid_param(
                "n_trees",
                p.n_trees,
                "n_trees must be between 1 and 10000",
            ));
        }
        if p.max_samples == 0 || p.max_samples > MAX_SAMPLES_LIMIT {
            return Err(CoreError::invalid_param(
                "max_samples",
                p.max_samples,
                "max_samples must be between 1 and 10000000",
            ));
        }
        // written so that NaN fails too
        if !(p.max_features > 0.0 && p.max_features <= 1.0) {
            return Err(CoreError::invalid_param(
                "max_features",
                p.max_features,
                "max_features is a fraction of the features and must be in (0, 1]",
            ));
        }
        if let Some(c) = p.contamination {
            if !(c > 0.0 && c <= MAX_CONTAMINATION) {
                return Err(CoreError::invalid_param(
                    "contamination",
                    c,
                    "contamination is the expected share of anomalies and must be in (0, 0.5]",
                ));
            }
        }
        Ok(p)
    }

    fn check(self) -> CoreResult<Self::Checked> {
        self.check_ref()?;
        Ok(self.0)
    }
}
