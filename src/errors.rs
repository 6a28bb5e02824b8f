//! The one place where errors become SQLSTATEs.
//!
//! Every `#[pg_extern]` function returns `Result<T, ErrorReport>` through [`run`], so a
//! user sees a proper SQLSTATE, a lowercase message, a detail and a hint, never the
//! XX000 of a bare `error!()`. Errors PostgreSQL itself raises inside SPI (a unique
//! violation, a permission error) keep their own SQLSTATE: they propagate untouched.

use pg_anomaly_core::{CoreError, ErrorKind};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode;

/// An error of the extension layer: a domain error of the core, or an SPI failure.
#[derive(Debug)]
pub enum Error {
    Core(CoreError),
    Spi(pgrx::spi::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<CoreError> for Error {
    fn from(e: CoreError) -> Self {
        Error::Core(e)
    }
}

impl From<pgrx::spi::Error> for Error {
    fn from(e: pgrx::spi::Error) -> Self {
        Error::Spi(e)
    }
}

/// SQLSTATE of each domain error kind.
pub fn sqlstate(kind: ErrorKind) -> PgSqlErrorCode {
    use PgSqlErrorCode::*;
    match kind {
        ErrorKind::InvalidParameter => ERRCODE_INVALID_PARAMETER_VALUE, // 22023
        ErrorKind::NullValue => ERRCODE_NULL_VALUE_NOT_ALLOWED,        // 22004
        ErrorKind::NonFiniteValue => ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, // 22003
        ErrorKind::EmptyValue => ERRCODE_STRING_DATA_LENGTH_MISMATCH, // 22026
        ErrorKind::InsufficientData => ERRCODE_DATA_EXCEPTION,          // 22000
        ErrorKind::NotFound => ERRCODE_UNDEFINED_OBJECT,                // 42704
        ErrorKind::Corrupt => ERRCODE_DATA_CORRUPTED,                   // XX001
        ErrorKind::NotReady => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, // 55000
        ErrorKind::PermissionDenied => ERRCODE_INSUFFICIENT_PRIVILEGE,  // 42501
        ErrorKind::Internal => ERRCODE_INTERNAL_ERROR,                  // XX000
    }
}

impl Error {
    /// The report PostgreSQL raises for this error.
    pub fn into_report(self, function: &'static str) -> ErrorReport {
        match self {
            Error::Core(e) => {
                let mut r = ErrorReport::new(sqlstate(e.kind), e.message, function);
                if let Some(d) = e.detail {
                    r = r.set_detail(d);
                }
                if let Some(h) = e.hint {
                    r = r.set_hint(h);
                }
                r
            }
            Error::Spi(e) => ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("pg_anomaly: SPI failure: {e}"),
                function,
            ),
        }
    }
}

/// Runs the body of a SQL function and maps its error to a report.
pub fn run<T>(function: &'static str, body: impl FnOnce() -> Result<T>) -> std::result::Result<T, ErrorReport> {
    body().map_err(|e| e.into_report(function))
}

/// Shorthands for the errors the glue raises itself.
pub fn invalid(name: &str, value: impl std::fmt::Display, why: &str) -> Error {
    Error::Core(CoreError::invalid_param(name, value, why))
}

pub fn not_found(message: impl Into<String>, hint: impl Into<String>) -> Error {
    Error::Core(CoreError::not_found(message).with_hint(hint))
}

/// A NULL argument: 22004 naming it (pgrx's own check says XX000 and counts from 0).
pub fn required<T>(name: &str, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| {
        Error::Core(
            CoreError::new(pg_anomaly_core::ErrorKind::NullValue, format!("{name} must not be NULL"))
                .with_hint(format!("Pass a value for {name}, or leave it out to use its default where it has one.")),
        )
    })
}
