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
mod state_cache;
mod storage;
mod workers;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

/// Whether the library was loaded through shared_preload_libraries (workers need that).
pub fn preloaded() -> bool {
    unsafe { pg_sys::process_shared_preload_libraries_in_progress }
}

/// Whether the library was preloaded, asked after start-up (the postmaster's setting as the
/// backend inherited it).
pub fn preloaded_now() -> bool {
    Spi::get_one::<bool>("SELECT pg_catalog.current_setting('shared_preload_libraries') ~ '(^|[ ,])pg_anomaly([ ,]|$)'")
        .ok()
        .flatten()
        .unwrap_or(false)
}

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    if preloaded() {
        workers::realtime::register();
        workers::notifier::register();
    } else {
        // Everything in SQL works without preloading; only the workers need it.
        pgrx::debug1!("pg_anomaly: not in shared_preload_libraries; the real-time worker is not started");
    }
}

/// `#[pg_test]` tests: SQL functions inside a real PostgreSQL started by `cargo pgrx test`.
/// (pg_regress files in pg_test/ and the integration crate in tests/ cover the rest.)
#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn ingest_inserts_then_ignores_then_corrects() {
        let ts = "'2026-01-05 10:00+00'::timestamptz";
        let q = |v: &str| format!("SELECT ml_ingest('tuketim_miktar', 'urun_1', {v}, {ts})");
        assert_eq!(Spi::get_one::<String>(&q("5")).unwrap().as_deref(), Some("inserted"));
        assert_eq!(Spi::get_one::<String>(&q("5")).unwrap().as_deref(), Some("unchanged"));
        assert_eq!(Spi::get_one::<String>(&q("7")).unwrap().as_deref(), Some("corrected"));
        let (v, prev) = Spi::get_two::<f64, f64>(
            "SELECT metric_value, previous_value FROM ml_metrics WHERE entity_id = 'urun_1'",
        )
        .unwrap();
        assert_eq!((v, prev), (Some(7.0), Some(5.0)));
        let dirty = Spi::get_one::<i64>("SELECT pg_catalog.count(*) FROM ml_series_dirty WHERE entity_id = 'urun_1'").unwrap();
        assert_eq!(dirty, Some(1));
    }

    #[pg_test(error = "metric_value must be finite, got NaN")]
    fn ingest_rejects_nan() {
        Spi::run("SELECT ml_ingest('tuketim_miktar', 'urun_1', 'NaN'::float8)").unwrap();
    }

    #[pg_test]
    fn demo_data_is_deterministic_and_labelled() {
        let q = "SELECT pg_catalog.sum(rows)::bigint FROM ml_generate_demo_data(2, 8, 5, '2026-02-01 00:00+00')";
        assert_eq!(Spi::get_one::<i64>(q).unwrap(), Some(2 * 4 * 8 * 96));
        // Only this test's rows (the tests run concurrently; TRUNCATE would wait on them all).
        let sum = "SELECT pg_catalog.sum(metric_value) FROM ml_metrics WHERE \"timestamp\" <= '2026-02-01 00:00+00' AND \"timestamp\" > '2026-01-20'";
        let sum1 = Spi::get_one::<f64>(sum).unwrap();
        Spi::run("DELETE FROM ml_metrics WHERE \"timestamp\" <= '2026-02-01 00:00+00' AND \"timestamp\" > '2026-01-20'").unwrap();
        assert_eq!(Spi::get_one::<i64>(q).unwrap(), Some(2 * 4 * 8 * 96));
        assert_eq!(Spi::get_one::<f64>(sum).unwrap(), sum1);
    }

    #[pg_test]
    fn features_are_built_once() {
        // Another span than the demo test's: the tests run concurrently, and two
        // transactions inserting the same keys would wait on each other.
        Spi::run("SELECT ml_generate_demo_data(1, 3, 5, '2026-03-01 00:00+00')").unwrap();
        let first = Spi::get_one::<i64>("SELECT ml_build_features()").unwrap();
        assert_eq!(first, Some(4 * 3 * 96));
        assert_eq!(Spi::get_one::<i64>("SELECT ml_build_features()").unwrap(), Some(0));
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
