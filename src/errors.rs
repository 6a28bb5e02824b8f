//! The one place where errors become SQLSTATEs.
//!
//! Every `#[pg_extern]` function returns `Result<T, ErrorReport>` through [`run`], so a
//! user sees a proper SQLSTATE, a lowercase message, a detail and a hint, never the
//! XX000 of a bare `error!()`. Errors PostgreSQL itself raises inside SPI (a unique
//! violation, a permission error) keep their own SQLSTATE: they propagate untouched;
//! failures the SPI wrapper reports itself map to a precise SQLSTATE ([`spi_failure`]).

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
            Error::Spi(e) => {
                let (code, message, hint) = spi_failure(&e);
                ErrorReport::new(code, message, function).set_detail(format!("SPI: {e}")).set_hint(hint)
            }
        }
    }
}

/// The SQLSTATE, message and hint of a failure the SPI wrapper reports itself (errors
/// PostgreSQL raises while running a statement never get here: they propagate with their
/// own SQLSTATE). Most come from a stored query (a source, an action) returning something
/// other than what the extension reads; the rest are internal.
fn spi_failure(e: &pgrx::spi::Error) -> (PgSqlErrorCode, String, String) {
    use pgrx::datum::TryFromDatumError as D;
    use pgrx::spi::{SpiError as S, SpiErrorCodes as C};
    use PgSqlErrorCode::*;
    let stored = "A stored query (a source's) must return the columns the extension reads, with their types: see README, \"Stage 1: metrics\".";
    let internal = "This is a fault of pg_anomaly: report it with the statement that raised it.";
    let (code, message, hint) = match e {
        S::DatumError(D::IncompatibleTypes { .. }) => (ERRCODE_DATATYPE_MISMATCH, "a query returned a column of another type than expected", stored),
        S::DatumError(D::NoSuchAttributeNumber(_) | D::NoSuchAttributeName(_)) => {
            (ERRCODE_UNDEFINED_COLUMN, "a query returned fewer or other columns than expected", stored)
        }
        S::NoTupleTable => (ERRCODE_SYNTAX_ERROR, "a statement that must return rows returned none (an empty query, or a statement that is not a query)", stored),
        S::PreparedStatementArgumentMismatch { .. } | S::SpiError(C::Param | C::Argument) => {
            (ERRCODE_UNDEFINED_PARAMETER, "a statement got another number of parameters than it uses", stored)
        }
        S::SpiError(C::NoAttribute) => (ERRCODE_UNDEFINED_COLUMN, "a query returned fewer columns than expected", stored),
        S::SpiError(C::TypUnknown) => (ERRCODE_UNDEFINED_OBJECT, "a query returned a column of an unknown type", stored),
        S::SpiError(C::RelNotFound) => (ERRCODE_UNDEFINED_TABLE, "a relation the statement names does not exist", stored),
        S::SpiError(C::RelDuplicate) => (ERRCODE_DUPLICATE_TABLE, "a relation the statement creates exists already", stored),
        S::SpiError(C::Copy) => (ERRCODE_FEATURE_NOT_SUPPORTED, "COPY cannot run inside a function", stored),
        S::SpiError(C::Transaction) => (ERRCODE_INVALID_TRANSACTION_TERMINATION, "a stored query may not end or start transactions", stored),
        S::CursorNotFound(_) => (ERRCODE_INVALID_CURSOR_NAME, "internal error: a cursor was not found", internal),
        _ => (ERRCODE_INTERNAL_ERROR, "internal error in the SPI layer", internal),
    };
    (code, format!("pg_anomaly: {message}"), hint.to_string())
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

#[cfg(test)]
mod tests {
    use super::spi_failure;
    use pgrx::datum::TryFromDatumError;
    use pgrx::spi::{SpiError, SpiErrorCodes};
    use pgrx::PgSqlErrorCode::*;

    #[test]
    fn spi_failures_get_precise_sqlstates() {
        let code = |e: SpiError| spi_failure(&e).0;
        assert_eq!(code(SpiError::NoTupleTable), ERRCODE_SYNTAX_ERROR);
        assert_eq!(code(SpiError::DatumError(TryFromDatumError::NoSuchAttributeName("entity_id".into()))), ERRCODE_UNDEFINED_COLUMN);
        assert_eq!(code(SpiError::PreparedStatementArgumentMismatch { expected: 1, got: 2 }), ERRCODE_UNDEFINED_PARAMETER);
        assert_eq!(code(SpiError::SpiError(SpiErrorCodes::Transaction)), ERRCODE_INVALID_TRANSACTION_TERMINATION);
        assert_eq!(code(SpiError::SpiError(SpiErrorCodes::Connect)), ERRCODE_INTERNAL_ERROR);
        assert_eq!(code(SpiError::InvalidPosition), ERRCODE_INTERNAL_ERROR);
        let (_, message, hint) = spi_failure(&SpiError::NoTupleTable);
        assert!(message.starts_with("pg_anomaly: ") && !hint.is_empty());
    }
}
