//! What a background worker's transaction needs before it runs a stage: the extension's
//! schema on the search path, and errors (a PostgreSQL ERROR or a Rust panic) caught as
//! text so one failed round never stops the worker.

use crate::errors::Result;
use crate::storage::schema;
use pgrx::{pg_sys, PgTryBuilder};

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

/// Who started a dynamic worker. A worker must log in as a role that may log in, so it
/// logs in as the starting backend's authenticated role and then acts as the role that
/// backend was acting as (after `SET ROLE anomaly_admin`, inside a SECURITY DEFINER
/// function), as PostgreSQL's own parallel workers do. The switch is marked a local user
/// id change, so nothing the worker runs can `SET ROLE` back to the login role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub login: pg_sys::Oid,
    pub acting: pg_sys::Oid,
}

impl Caller {
    /// The calling backend's login and acting roles.
    pub fn current() -> Caller {
        unsafe { Caller { login: pg_sys::GetAuthenticatedUserId(), acting: pg_sys::GetUserId() } }
    }

    /// The acting role when it differs from the login role (what a job carries).
    pub fn acting_if_other(&self) -> Option<u32> {
        (self.acting != self.login).then(|| u32::from(self.acting))
    }

    /// From the login role and the acting role carried by a job (None: the login role).
    pub fn from_parts(login: u32, acting: Option<u32>) -> Caller {
        let login = pg_sys::Oid::from(login);
        Caller { login, acting: acting.map(pg_sys::Oid::from).unwrap_or(login) }
    }
}
