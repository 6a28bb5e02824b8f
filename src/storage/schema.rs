//! The extension's schema, looked up once per call here, and the search path of a
//! background worker's transaction.

use super::one;
use crate::errors::Result;

/// The schema pg_anomaly is installed in; None when it is not installed in this database.
pub fn extension_schema() -> Result<Option<String>> {
    one::<String>(
        "SELECT n.nspname::text FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
          WHERE e.extname = 'pg_anomaly'",
        &[],
    )
}

/// The version of pg_anomaly's SQL objects in this database (`extversion`); None when it is
/// not installed here.
pub fn installed_version() -> Result<Option<String>> {
    one::<String>("SELECT e.extversion::text FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_anomaly'", &[])
}

/// The extension's schema as an identifier fit for SQL text ("public" when not installed).
pub fn quoted_extension_schema() -> Result<String> {
    let s = extension_schema()?.unwrap_or_else(|| "public".into());
    Ok(one::<String>("SELECT pg_catalog.quote_ident($1)", &[s.as_str().into()])?.unwrap_or(s))
}

/// Puts `schema` (then pg_temp) on the search path for the rest of the transaction.
pub fn set_search_path(schema: &str) -> Result<()> {
    one::<String>("SELECT pg_catalog.set_config('search_path', pg_catalog.quote_ident($1) || ', pg_temp', true)", &[schema.into()])?;
    Ok(())
}
