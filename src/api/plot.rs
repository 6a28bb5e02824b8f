//! ml_plot: an SVG picture of one series for analysts.

use crate::errors::{required, run};
use crate::pipeline::plot;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Renders the series of one entity between `since` and `until` (default: the last 7 days
/// of its data) as an SVG document: the values, what the active model expected with a band
/// around it, and the alerts coloured by severity.
#[pg_extern(volatile, parallel_safe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_plot(
    metric_type: Option<&str>,
    entity_id: Option<&str>,
    since: default!(Option<TimestampWithTimeZone>, "NULL"),
    until: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> std::result::Result<String, ErrorReport> {
    run("ml_plot", || plot::plot(required("metric_type", metric_type)?, required("entity_id", entity_id)?, since, until))
}
