//! Citus: the stages' per-series work run on the workers, shard by shard (README "Scaling
//! out"). The coordinator hands every shard of ml_metrics the same request at once
//! (`storage::citus::on_shards`); each shard keeps the series it holds, reads them from its
//! own shards and returns only compact results. Feature builds: `features::build_shard`;
//! training samples and detection: here and `detect::detect_shard`.

use super::detect::{self, SeriesOutcome, ShardRequest};
use crate::errors::{invalid, Result};
use crate::storage::{citus, series};
use pg_anomaly_core::detect::{pack_series, unpack_series, SeriesRows};
use pg_anomaly_core::CoreError;
use pgrx::datum::TimestampWithTimeZone;

/// Whether the per-series work runs on the workers: the per-series tables are distributed
/// (`ml_distribute()`) and `pg_anomaly.citus_shard_builds` is on.
pub fn enabled() -> Result<bool> {
    Ok(crate::gucs::citus_shard_builds() && citus::is_distributed("ml_features")?)
}

/// The shard group of `shard` (an ml_metrics shard on this node), or a clear error.
pub fn group(shard: &str) -> Result<citus::ShardGroup> {
    citus::shard_group(shard)?.ok_or_else(|| invalid("shard", shard, "not a shard of ml_metrics on this node"))
}

/// What a shard reads for a training sample: the rows of these series with ts in [from,
/// until) (None: unbounded), with the aux metric's values.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SampleRequest {
    pub metric_type: String,
    pub aux_metric: Option<String>,
    pub entities: Vec<String>,
    pub from_us: Option<i64>,
    pub until_us: Option<i64>,
}

/// Series per read on a worker.
const SERIES_PER_READ: usize = 64;

/// The training series of `entities` read on the workers, each shard its own and packed
/// (`pack_series`): by entity.
pub fn sample(req: &SampleRequest) -> Result<std::collections::HashMap<String, SeriesRows>> {
    let body = serde_json::to_vec(req).map_err(|e| CoreError::internal(format!("encoding a sample request failed: {e}")))?;
    let call = |schema: &str| format!("{schema}.ml_train_sample_shard('%s', {})", citus::bytea_literal(&body));
    let mut out = std::collections::HashMap::new();
    for (shard, text) in citus::on_shards("training sample", call)? {
        let bytes = citus::bytea_of_text(&text).ok_or_else(|| CoreError::corrupt(format!("shard {shard} returned no packed series")))?;
        for s in unpack_series(&bytes)? {
            out.insert(s.entity_id.clone(), s);
        }
    }
    Ok(out)
}

/// One shard's part of a training sample, on the worker that holds it
/// (`ml_train_sample_shard`): the request's series that this shard holds, packed.
pub fn sample_shard(shard: &str, request: &[u8]) -> Result<Vec<u8>> {
    let g = group(shard)?;
    let req: SampleRequest = serde_json::from_slice(request).map_err(|e| invalid("request", "(bytes)", &format!("not a training sample request: {e}")))?;
    let mine = citus::shard_entities(&g, &req.entities)?;
    let from = req.from_us.map(series::ts).unwrap_or_else(TimestampWithTimeZone::negative_infinity);
    let until = req.until_us.map(series::ts);
    let mut data = Vec::with_capacity(mine.len());
    for chunk in mine.chunks(SERIES_PER_READ) {
        pgrx::check_for_interrupts!();
        let froms = vec![from; chunk.len()];
        data.extend(series::read_shard(&g, &req.metric_type, req.aux_metric.as_deref(), chunk, &froms, 0, until)?);
    }
    Ok(pack_series(&data)?)
}

/// A saving detection pass's scoring on every shard at once: the outcomes of every series.
pub fn detect(req: &ShardRequest) -> Result<Vec<SeriesOutcome>> {
    let body = serde_json::to_vec(req).map_err(|e| CoreError::internal(format!("encoding a detection request failed: {e}")))?;
    let call = |schema: &str| format!("{schema}.ml_detect_shard('%s', {}, {})", citus::bytea_literal(&req.model), citus::bytea_literal(&body));
    let mut out = Vec::new();
    for (shard, text) in citus::on_shards("detection", call)? {
        let bytes = citus::bytea_of_text(&text).ok_or_else(|| CoreError::corrupt(format!("shard {shard} returned no detection outcome")))?;
        let part: Vec<SeriesOutcome> =
            serde_json::from_slice(&bytes).map_err(|e| CoreError::corrupt(format!("shard {shard} returned a damaged detection outcome: {e}")))?;
        out.extend(part);
    }
    Ok(out)
}

/// One shard's part of a saving detection pass (`ml_detect_shard`): the outcomes of the
/// series it holds, as bytes.
pub fn detect_shard_bytes(shard: &str, model: &[u8], request: &[u8]) -> Result<Vec<u8>> {
    group(shard)?;
    let mut req: ShardRequest = serde_json::from_slice(request).map_err(|e| invalid("request", "(bytes)", &format!("not a detection request: {e}")))?;
    req.model = model.to_vec();
    let outcomes = detect::detect_shard(shard, &req)?;
    serde_json::to_vec(&outcomes).map_err(|e| CoreError::internal(format!("encoding detection outcomes failed: {e}")).into())
}
