//! What a background worker's transaction needs before it runs a stage: the extension's
//! schema on the search path, and errors (a PostgreSQL ERROR or a Rust panic) caught as
//! text so one failed round never stops the worker.

use crate::errors::Result;
use crate::storage::schema;
use pgrx::PgTryBuilder;

/// Puts the extension's schema on the search path for the rest of the transaction; false
/// when the extension is not installed in this database (yet).
pub fn enter_extension() -> Result<bool> {
    match schema::extension_schema()? {
        Some(s) => {
            schema::set_search_path(&s)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Runs `body`, turning its error, an ERROR it raised or a panic into the message text.
/// `function` names the caller in the error report.
pub fn guarded<T>(function: &'static str, body: impl FnOnce() -> Result<T> + std::panic::UnwindSafe) -> std::result::Result<T, String> {
    PgTryBuilder::new(|| body().map_err(|e| e.into_report(function).message().to_string()))
        .catch_others(|e| Err(crate::storage::subxact::report_of(&e).message().to_string()))
        .execute()
}
