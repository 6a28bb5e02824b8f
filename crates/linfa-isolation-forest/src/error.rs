//! The crate's error type.

/// Why parameters were refused or a fit failed.
#[derive(Debug, thiserror::Error)]
pub enum IsolationForestError {
    /// A hyperparameter outside its domain.
    #[error("invalid value for parameter \"{name}\": {value} ({why})")]
    InvalidParameter { name: &'static str, value: String, why: &'static str },
    /// Zero rows or zero features.
    #[error("cannot fit an isolation forest on {0}")]
    EmptyData(&'static str),
    /// A NaN or infinite training value.
    #[error("training row {row}, column {column} (0-based) is not finite")]
    NonFinite { row: usize, column: usize },
    /// The forest would exceed the node budget.
    #[error("n_trees x (2 x min(max_samples, rows) - 1) = {0} nodes exceeds the limit of {1}")]
    TooLarge(usize, usize),
    /// An error of linfa itself.
    #[error(transparent)]
    Linfa(#[from] linfa::error::Error),
}
