//! Demo data: ml_generate_demo_data.

use crate::errors::{required, run};
use crate::gucs;
use crate::pipeline::demo;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Writes `days` days of 15-minute observations of the four metric types for `entities`
/// entities (urun_0001, ...) ending now, with injected anomalies labelled in ml_labels
/// (source 'demo'). Deterministic for (entities' index, days, seed, end_at); existing rows
/// are kept (a rerun over the same span adds nothing).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_generate_demo_data(
    entities: default!(Option<i32>, 50),
    days: default!(Option<i32>, 30),
    seed: default!(Option<i32>, 42),
    end_at: default!(Option<TimestampWithTimeZone>, "now()"),
    parallel: default!(Option<i32>, 1),
) -> std::result::Result<TableIterator<'static, (name!(metric_type, String), name!(rows, i64), name!(labels, i64))>, ErrorReport> {
    run("ml_generate_demo_data", || {
        let (entities, days, seed) = (required("entities", entities)?, required("days", days)?, required("seed", seed)?);
        let parallel = required("parallel", parallel)?;
        Ok(TableIterator::new(demo::generate(entities, days, seed, end_at, parallel, gucs::run_trigger())?))
    })
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

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
}
