//! pg_anomaly: in-database anomaly detection for operational time series.
//!
//! Layout: `api/` holds every `#[pg_extern]` (one file per pipeline stage), `storage/` is
//! the only code that talks SPI, `gucs.rs` holds every setting, `errors.rs` maps errors to
//! SQLSTATEs, `workers/` the background workers. The algorithms live in the plain-Rust
//! crate `pg_anomaly_core`, which never imports pgrx.

use pgrx::prelude::*;

mod api;
mod errors;
mod gucs;
mod storage;

::pgrx::pg_module_magic!();

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

/// Whether the library was loaded through shared_preload_libraries (workers need that).
pub fn preloaded() -> bool {
    unsafe { pg_sys::process_shared_preload_libraries_in_progress }
}

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'pg_anomaly'"]
    }
}
