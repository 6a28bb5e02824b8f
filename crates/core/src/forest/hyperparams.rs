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

/// Checked isolation-forest parameters: the `linfa-isolation-forest` crate's, in `f64`
/// (accessors `n_trees`, `max_samples`, `max_features`, `seed`, `contamination`,
/// `features_per_tree`); only [`ParamGuard::check`] builds them.
pub type IsolationForestValidParams = linfa_isolation_forest::IsolationForestValidParams<f64>;

/// Unchecked isolation-forest parameters (Liu, Ting & Zhou 2008). Build with the setters,
/// then [`ParamGuard::check`] (or fit directly: fitting checks first).
///
/// Defaults: `n_trees` 100, `max_samples` 256, `max_features` 1.0, `seed` 42,
/// `contamination` unset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IsolationForestParams(linfa_isolation_forest::IsolationForestParams<f64>);

impl IsolationForestParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the number of trees.
    pub fn n_trees(self, n_trees: usize) -> Self {
        IsolationForestParams(self.0.n_trees(n_trees))
    }
    /// Sets the subsample size per tree.
    pub fn max_samples(self, max_samples: usize) -> Self {
        IsolationForestParams(self.0.max_samples(max_samples))
    }
    /// Sets the fraction of features each tree may split on.
    pub fn max_features(self, max_features: f64) -> Self {
        IsolationForestParams(self.0.max_features(max_features))
    }
    /// Sets the master seed.
    pub fn seed(self, seed: u64) -> Self {
        IsolationForestParams(self.0.seed(seed))
    }
    /// Sets (or clears) the expected share of anomalies.
    pub fn contamination(self, contamination: Option<f64>) -> Self {
        IsolationForestParams(self.0.contamination(contamination))
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

    /// The crate's checks (the domains above), its refusal as an `InvalidParameter` error
    /// naming the parameter.
    fn check_ref(&self) -> CoreResult<&Self::Checked> {
        linfa::ParamGuard::check_ref(&self.0).map_err(refusal)
    }

    fn check(self) -> CoreResult<Self::Checked> {
        linfa::ParamGuard::check(self.0).map_err(refusal)
    }
}

fn refusal(e: linfa_isolation_forest::IsolationForestError) -> CoreError {
    match e {
        linfa_isolation_forest::IsolationForestError::InvalidParameter { name, value, why } => CoreError::invalid_param(name, value, why),
        other => CoreError::invalid_param("isolation forest", other.to_string(), "refused by the forest's parameter check"),
    }
}
