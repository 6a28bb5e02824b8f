//! Running a piece of work in a subtransaction, so that a failing source (or action)
//! is rolled back alone and recorded, while the rest of the run goes on.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::PgTryBuilder;
use std::panic::UnwindSafe;

/// What a failed subtransaction reports: the SQLSTATE-bearing message of the error.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    pub detail: Option<String>,
}

/// Runs `f` inside an internal subtransaction. On success the subtransaction is released
/// (its effects stay); on any error (PostgreSQL ERROR or Rust panic) it is rolled back and
/// the error is returned as data. `f` must not leave SPI connections open.
pub fn run<T>(f: impl FnOnce() -> T + UnwindSafe) -> Result<T, Failure> {
    run_inner(f, true)
}

/// Like [`run`], but the subtransaction is rolled back even when `f` succeeds: for trying
/// something out (validating a source query) without keeping any of its effects.
pub fn run_then_rollback<T>(f: impl FnOnce() -> T + UnwindSafe) -> Result<T, Failure> {
    run_inner(f, false)
}

fn run_inner<T>(f: impl FnOnce() -> T + UnwindSafe, keep: bool) -> Result<T, Failure> {
    // SAFETY: the standard PL pattern (plpython's PLy_spi_subtransaction_begin): remember
    // the memory context and resource owner, start a subtransaction, and restore both after
    // it ends, whichever way it ends.
    let (old_cx, old_owner) = unsafe {
        let old_cx = pg_sys::CurrentMemoryContext;
        let old_owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(old_cx);
        (old_cx, old_owner)
    };
    let outcome = PgTryBuilder::new(move || Ok(f()))
        .catch_others(|e| Err(e))
        .execute();
    unsafe {
        match &outcome {
            Ok(_) if keep => pg_sys::ReleaseCurrentSubTransaction(),
            Ok(_) => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
            Err(_) => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
        }
        pg_sys::MemoryContextSwitchTo(old_cx);
        pg_sys::CurrentResourceOwner = old_owner;
    }
    outcome.map_err(|e| {
        let report = report_of(&e);
        Failure { message: report.message().to_string(), detail: report.detail().map(str::to_owned) }
    })
}

/// The report inside a caught error, whatever raised it.
pub fn report_of(e: &CaughtError) -> &pgrx::pg_sys::panic::ErrorReportWithLevel {
    match e {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r,
        CaughtError::RustPanic { ereport, .. } => ereport,
    }
}

/// Runs `f` with the privileges of `role` (a role oid) and restores the caller's identity
/// afterwards. Uses the same mechanism PostgreSQL uses for SECURITY DEFINER functions and
/// maintenance commands; an error inside `f` is unwound by the transaction abort, which
/// restores the identity too.
pub fn as_role<T>(role: pg_sys::Oid, f: impl FnOnce() -> T) -> T {
    let mut saved_user = pg_sys::Oid::INVALID;
    let mut saved_ctx: i32 = 0;
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_ctx);
        pg_sys::SetUserIdAndSecContext(role, saved_ctx | (pg_sys::SECURITY_LOCAL_USERID_CHANGE | pg_sys::SECURITY_RESTRICTED_OPERATION) as i32);
    }
    let out = f();
    unsafe {
        pg_sys::SetUserIdAndSecContext(saved_user, saved_ctx);
    }
    out
}
