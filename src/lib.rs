//! pg_anomaly: in-database anomaly detection for operational time series.
//!
//! Layers, arrows only downward (scripts/check_layers.sh checks them):
//!
//! ```text
//! api/ (#[pg_extern] shells)    workers/ (background-worker entry points)
//!            \                      /
//!             pipeline/ (the stages: what each does, in which order)
//!              /                    \
//!   storage/ (every SQL statement)   pg_anomaly_core (pure algorithms, no pgrx)
//! ```
//!
//! `gucs.rs` holds every setting, `errors.rs` maps errors to SQLSTATEs; both are used by
//! every layer.

use pgrx::prelude::*;

mod api;
mod errors;
mod gucs;
mod pipeline;
mod storage;
mod workers;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

/// Whether the library was loaded through shared_preload_libraries (workers need that).
pub fn preloaded() -> bool {
    unsafe { pg_sys::process_shared_preload_libraries_in_progress }
}

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    if preloaded() && unsafe { pg_sys::IsBinaryUpgrade } {
        // pg_upgrade's servers (postgres -b) restore the catalog: no worker may run there.
        pgrx::debug1!("pg_anomaly: binary upgrade mode; the workers are not started");
    } else if preloaded() {
        workers::realtime::register();
        workers::notifier::register();
    } else {
        // Everything in SQL works without preloading; only the workers need it.
        pgrx::debug1!("pg_anomaly: not in shared_preload_libraries; the real-time worker is not started");
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'pg_anomaly'"]
    }
}
