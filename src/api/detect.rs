//! Stage 7: ml_detect.

use crate::errors::run;
use crate::gucs;
use crate::pipeline::{detect, parallel};
use crate::storage::from_unix_us;
use pg_anomaly_core::DetectRow;
use pgrx::datum::{JsonB, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// A row of ml_detect's result, in column order.
type Row = (
    String,
    String,
    TimestampWithTimeZone,
    f64,
    f64,
    bool,
    Option<String>,
    Option<f64>,
    Option<f64>,
    Option<JsonB>,
);

fn sql_row(r: DetectRow) -> Row {
    (
        r.metric_type,
        r.entity_id,
        from_unix_us(r.ts_us),
        r.metric_value,
        r.score,
        r.is_anomaly,
        r.severity.map(|s| s.as_str().to_string()),
        r.expected_value,
        r.deviation_percent,
        r.explanation.map(JsonB),
    )
}

/// One shard's part of a saving detection pass on a Citus cluster: the detection stage on
/// the coordinator runs it on the worker of every shard of ml_metrics at once, with the
/// active model's bytes and its request (series, known alerts, alert settings; README
/// "Scaling out"). Returns what to write for the series this shard holds (alerts, not
/// rows); writes nothing. Admin only.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_detect_shard(shard: Option<&str>, model: Option<&[u8]>, request: Option<&[u8]>) -> std::result::Result<Vec<u8>, ErrorReport> {
    run("ml_detect_shard", || {
        let shard = crate::errors::required("shard", shard)?;
        let model = crate::errors::required("model", model)?;
        let request = crate::errors::required("request", request)?;
        crate::pipeline::shards::detect_shard_bytes(shard, model, request)
    })
}

/// Scores stored observations and returns one row per scored observation. With
/// save => true and no `since` it scores what no saving run scored yet and writes alerts
/// (one per anomaly episode per series), advancing the watermark in the same transaction.
/// entity_id limits an unsaved pass to one entity's series (of every metric type holding it
/// when metric_type is NULL); an entity no type holds is an error.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_detect(
    metric_type: default!(Option<&str>, "NULL"),
    since: default!(Option<TimestampWithTimeZone>, "NULL"),
    until: default!(Option<TimestampWithTimeZone>, "NULL"),
    save: default!(Option<bool>, false),
    parallel: default!(Option<i32>, 1),
    entity_id: default!(Option<&str>, "NULL"),
) -> std::result::Result<
    TableIterator<
        'static,
        (
            name!(metric_type, String),
            name!(entity_id, String),
            name!(timestamp, TimestampWithTimeZone),
            name!(metric_value, f64),
            name!(score, f64),
            name!(is_anomaly, bool),
            name!(severity, Option<String>),
            name!(expected_value, Option<f64>),
            name!(deviation_percent, Option<f64>),
            name!(explanation, Option<JsonB>),
        ),
    >,
    ErrorReport,
> {
    run("ml_detect", || {
        let save = crate::errors::required("save", save)?;
        let parallel = crate::errors::required("parallel", parallel)?;
        let trigger = gucs::run_trigger();
        if let (Some(e), true) = (entity_id, save) {
            return Err(crate::errors::Error::Core(
                pg_anomaly_core::CoreError::invalid_param("entity_id", e, "a saving pass scores every series of its metric types")
                    .with_hint("Leave entity_id out to save, or pass save => false to score one entity's rows without writing alerts."),
            ));
        }
        if parallel > 1 && save {
            return Ok(TableIterator::new(parallel::detection(metric_type, since, until, parallel, trigger)?.into_iter().map(sql_row)));
        }
        if !save {
            return Ok(TableIterator::new(detect::Streamed::new(metric_type, entity_id, since, until, trigger)?.map(sql_row)));
        }
        Ok(TableIterator::new(detect::detect(metric_type, since, until, save, trigger)?.into_iter().map(sql_row)))
    })
}
