//! The domain error of the core. The extension maps each kind to a SQLSTATE in
//! exactly one place (`src/errors.rs`); the core never knows about PostgreSQL.

use std::fmt;

/// What went wrong, independent of how it is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A parameter has a value outside its domain (n_trees = 0, ...).
    InvalidParameter,
    /// A required value is NULL.
    NullValue,
    /// A metric value is NaN or infinite.
    NonFiniteValue,
    /// A required text (metric type, entity id, name) is empty.
    EmptyValue,
    /// There is not enough data to do what was asked.
    InsufficientData,
    /// A named thing (metric type, model, source) does not exist.
    NotFound,
    /// Stored bytes (a model) are truncated, corrupt or hostile.
    Corrupt,
    /// Something must be set up first (an active model, a setting).
    NotReady,
    /// A bug: an invariant of ours did not hold.
    Internal,
}

/// The domain error: a kind, a short message and an optional detail and hint.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreError {
    pub kind: ErrorKind,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CoreError { kind, message: message.into(), detail: None, hint: None }
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn invalid_param(name: &str, value: impl fmt::Display, why: &str) -> Self {
        CoreError::new(ErrorKind::InvalidParameter, format!("invalid value for parameter \"{name}\": {value}"))
            .with_detail(why.to_string())
    }
    pub fn insufficient(message: impl Into<String>) -> Self {
        CoreError::new(ErrorKind::InsufficientData, message)
    }
    pub fn corrupt(message: impl Into<String>) -> Self {
        CoreError::new(ErrorKind::Corrupt, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        CoreError::new(ErrorKind::NotFound, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        CoreError::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CoreError {}
