//! Stage 1, single observations: ml_ingest.

use crate::errors::run;
use crate::pipeline::ingest;
use pgrx::datum::{JsonB, TimestampWithTimeZone};
use pgrx::prelude::*;

/// Stores one observation: inserts it, or, when the series already has a value at that
/// timestamp, replaces a different value (a correction) and leaves an identical one alone.
/// Returns 'inserted', 'corrected' or 'unchanged'.
///
/// SECURITY DEFINER (with a fixed search_path): a correction is an UPDATE, which the
/// writer role is not granted on ml_metrics; this function is its only way to correct.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_ingest(
    metric_type: Option<&str>,
    entity_id: Option<&str>,
    metric_value: Option<f64>,
    timestamp: default!(Option<TimestampWithTimeZone>, "now()"),
    extra_data: default!(Option<JsonB>, "NULL"),
) -> std::result::Result<&'static str, pgrx::pg_sys::panic::ErrorReport> {
    run("ml_ingest", || ingest::ingest(metric_type, entity_id, metric_value, timestamp, extra_data))
}

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
}
