//! The models the glue scores with ([`pg_anomaly_core::model::Model`]: the detector or the
//! per-entity z-score model), loaded from `ml_models` and decoded once per backend.

use crate::errors::Result;
use crate::storage::models;
pub use pg_anomaly_core::model::Model;
use std::rc::Rc;

/// The model `id`, decoded once per backend and reused until another id is asked for.
pub fn load(id: i64) -> Result<Rc<Model>> {
    models::cached(id, |bytes, params| {
        let t = params.get("model_type").and_then(|v| v.as_str()).unwrap_or(pg_anomaly_core::model::DETECTOR_TYPE);
        Ok(Model::decode(t, bytes)?)
    })
}

/// The type a model decodes as and its bytes, as stored: what a Citus worker is handed to
/// score with (ml_models stays on the coordinator).
pub fn bytes(id: i64) -> Result<(String, Vec<u8>)> {
    let (_, _, bytes, params) = models::load(id)?
        .ok_or_else(|| crate::errors::not_found(format!("model {id} does not exist"), "ml_models lists the trained models."))?;
    let t = params.get("model_type").and_then(|v| v.as_str()).unwrap_or(pg_anomaly_core::model::DETECTOR_TYPE);
    Ok((t.to_string(), bytes))
}
