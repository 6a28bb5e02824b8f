//! Whose rights run a stored query or action. Owners are stamped by the tables' triggers
//! (sql/schema.sql, never by a table grant); this module refuses, at run time, an owner
//! that must not run anything: a superuser, a role that cannot log in, a dropped role.

use crate::errors::Result;
use pg_anomaly_core::{CoreError, ErrorKind};
use pgrx::prelude::*;

/// Why `owner` may not run a source query or an action, or None when it may.
pub fn refusal(owner: pg_sys::Oid) -> Result<Option<String>> {
    let row = Spi::connect(|client| -> Result<Option<(String, bool, bool)>> {
        let t = client.select(
            "SELECT r.rolname::text, r.rolsuper, r.rolcanlogin FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) $1",
            None,
            &[owner.into()],
        )?;
        Ok(match t.into_iter().next() {
            Some(r) => Some((r.get::<String>(1)?.unwrap_or_default(), r.get::<bool>(2)?.unwrap_or(true), r.get::<bool>(3)?.unwrap_or(false))),
            None => None,
        })
    })?;
    Ok(match row {
        None => Some(format!("owner role (oid {}) no longer exists", owner.to_u32())),
        Some((name, true, _)) => Some(format!("owner role {name} is a superuser")),
        Some((name, _, false)) => Some(format!("owner role {name} cannot log in")),
        Some(_) => None,
    })
}

/// The error a refused owner gives (42501), for recording in the run's row.
pub fn refused(what: &str, why: String) -> crate::errors::Error {
    CoreError::new(ErrorKind::PermissionDenied, format!("{what} not run: {why}"))
        .with_hint("Register it again from the login role whose privileges it should use (not a superuser).")
        .into()
}

/// The login role of this session: the role a registration is stamped with. Refuses a
/// superuser or NOLOGIN session role up front (it would be refused at every run).
pub fn registering_role(what: &str) -> Result<pg_sys::Oid> {
    let role = unsafe { pg_sys::GetSessionUserId() };
    if let Some(why) = refusal(role)? {
        return Err(CoreError::new(ErrorKind::PermissionDenied, format!("{what} cannot be owned by this session's login role: {why}"))
            .with_detail("A source query or action runs with the privileges of the login role that registered it; superusers are refused so a stored text never runs with superuser rights.")
            .with_hint("Log in (or SET SESSION AUTHORIZATION) as a non-superuser role that is a member of anomaly_admin and has the privileges the query or action needs.")
            .into());
    }
    Ok(role)
}
