//! Stage 6: ml_train, ml_activate_model.

use crate::errors::{required, run};
use crate::gucs;
use crate::pipeline::train;
use pgrx::datum::{JsonB, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// One shard's part of a training sample on a Citus cluster: ml_train on the coordinator
/// runs it on the worker of every shard of ml_metrics at once with the series it planned
/// (README "Scaling out"). `request`: the coordinator's sample request. Returns the series
/// this shard holds, packed. Admin only.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_train_sample_shard(shard: Option<&str>, request: Option<&[u8]>) -> std::result::Result<Vec<u8>, ErrorReport> {
    run("ml_train_sample_shard", || {
        let shard = required("shard", shard)?;
        let request = required("request", request)?;
        crate::pipeline::shards::sample_shard(shard, request)
    })
}

/// Trains a model for a metric type from its stored features and returns the new model id.
/// The model is activated when there is no active one or its quality is not worse.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_train(
    metric_type: Option<&str>,
    model_type: default!(Option<&str>, "'isolation_forest'"),
    params: default!(Option<JsonB>, "'{}'"),
    train_from: default!(Option<TimestampWithTimeZone>, "NULL"),
    train_until: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> std::result::Result<i64, ErrorReport> {
    run("ml_train", || {
        let metric_type = required("metric_type", metric_type)?;
        let model_type = required("model_type", model_type)?;
        let params = required("params", params)?;
        train::check_params_size(&params.0)?;
        train::train_logged(&train::TrainRequest {
            metric_type,
            model_type,
            params: params.0,
            train_from,
            train_until,
            reason: "manual",
            trigger: gucs::run_trigger(),
        })
    })
}

/// Makes an earlier (or any) model version the active one of its metric and model type.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_activate_model(model_id: i64) -> std::result::Result<bool, ErrorReport> {
    run("ml_activate_model", || train::activate(model_id))
}
