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
    /// A role may not do what was asked (a superuser or NOLOGIN role owning a source).
    PermissionDenied,
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

/// An error text with the values it quotes taken out, for tables that readers see: the
/// message of a failed source query (run with its owner's rights) may quote the data it
/// failed on (`invalid input syntax for type integer: "hunter2"`). Quoted runs ("..." and
/// '...') become `"..."`, and the text is cut to `max_chars` characters.
pub fn redact_values(message: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(message.len().min(max_chars + 8));
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push_str("...");
                out.push(q);
                quote = None;
            }
            Some(_) => {}
            None if c == '"' || c == '\'' => {
                out.push(c);
                quote = Some(c);
            }
            None => out.push(c),
        }
    }
    if let Some(q) = quote {
        out.push_str("...");
        out.push(q);
    }
    truncate_chars(&out, max_chars)
}

/// At most `max_chars` characters of `s`, with an ellipsis when cut (error messages that
/// echo a user value never echo a megabyte of it).
pub fn truncate_chars(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_string(),
        Some((i, _)) => format!("{}...", &s[..i]),
    }
}

#[cfg(test)]
mod redact_tests {
    use super::*;

    #[test]
    fn quoted_values_are_removed() {
        let m = r#"invalid input syntax for type integer: "hunter2""#;
        assert_eq!(redact_values(m, 300), r#"invalid input syntax for type integer: "...""#);
        assert_eq!(redact_values("relation \"app.secret\" does not exist", 300), "relation \"...\" does not exist");
        assert_eq!(redact_values("value 'pw' and \"x", 300), "value '...' and \"...\"");
        assert!(!redact_values("password=\"s3cr3t\"", 300).contains("s3cr3t"));
    }

    #[test]
    fn long_texts_are_cut() {
        let long = "x".repeat(10_000);
        assert_eq!(truncate_chars(&long, 5), "xxxxx...");
        assert_eq!(truncate_chars("short", 5), "short");
        assert_eq!(truncate_chars("çok güzel", 3), "çok...");
    }
}
