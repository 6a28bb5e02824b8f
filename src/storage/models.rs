//! ml_models and ml_training_logs: versioned models, activation, logs, and the
//! per-backend model cache.

use super::{exec, one};
use crate::errors::Result;
use pgrx::datum::{JsonB, TimestampWithTimeZone};
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

pub struct NewModel<'a> {
    pub model_type: &'a str,
    pub metric_type: &'a str,
    pub bytes: Vec<u8>,
    pub parameters: serde_json::Value,
    pub threshold: Option<f64>,
    pub data_points: i64,
    pub trained_from: Option<TimestampWithTimeZone>,
    pub trained_until: Option<TimestampWithTimeZone>,
}

/// Stores a model as the next version of (metric_type, model_type), inactive.
pub fn insert(m: NewModel) -> Result<i64> {
    let id = one::<i64>(
        "INSERT INTO ml_models (model_type, metric_type, version, model_data, parameters, threshold, data_points, trained_from, trained_until)
         SELECT $1, $2, coalesce(pg_catalog.max(version), 0) + 1, $3, $4, $5, $6, $7, $8
           FROM ml_models WHERE metric_type = $2 AND model_type = $1
         RETURNING id",
        &[
            m.model_type.into(),
            m.metric_type.into(),
            m.bytes.into(),
            JsonB(m.parameters).into(),
            m.threshold.into(),
            m.data_points.into(),
            m.trained_from.into(),
            m.trained_until.into(),
        ],
    )?;
    Ok(id.unwrap_or_default())
}

/// Quality figures of a model (None when no labels or feedback covered its period).
pub fn set_quality(id: i64, accuracy: Option<f64>, precision: Option<f64>, recall: Option<f64>, f1: Option<f64>) -> Result<()> {
    exec(
        "UPDATE ml_models SET accuracy = $2, \"precision\" = $3, recall = $4, f1 = $5 WHERE id = $1",
        &[id.into(), accuracy.into(), precision.into(), recall.into(), f1.into()],
    )?;
    Ok(())
}

/// Makes `id` the active model of its (metric_type, model_type); returns false when no such model.
pub fn activate(id: i64) -> Result<bool> {
    let n = exec(
        "WITH m AS (SELECT metric_type, model_type FROM ml_models WHERE id = $1),
              off AS (UPDATE ml_models o SET is_active = false FROM m
                       WHERE o.metric_type = m.metric_type AND o.model_type = m.model_type AND o.is_active AND o.id <> $1
                      RETURNING o.id)
         UPDATE ml_models SET is_active = true, activated_at = pg_catalog.now()
          WHERE id = $1 AND (SELECT pg_catalog.count(*) FROM off) >= 0",
        &[id.into()],
    )?;
    Ok(n > 0)
}

/// The active model of a (metric_type, model_type): id and its quality (accuracy, f1).
pub fn active(metric_type: &str, model_type: &str) -> Result<Option<(i64, Option<f64>, Option<f64>)>> {
    Spi::connect(|client| -> Result<Option<(i64, Option<f64>, Option<f64>)>> {
        let t = client.select(
            "SELECT id, accuracy, f1 FROM ml_models WHERE metric_type = $1 AND model_type = $2 AND is_active",
            None,
            &[metric_type.into(), model_type.into()],
        )?;
        Ok(match t.into_iter().next() {
            Some(r) => r.get::<i64>(1)?.map(|id| (id, r.get::<f64>(2).ok().flatten(), r.get::<f64>(3).ok().flatten())),
            None => None,
        })
    })
}

/// Any active model of a metric type (the forest preferred over the z-score model).
pub fn active_any(metric_type: &str) -> Result<Option<(i64, String)>> {
    Spi::connect(|client| -> Result<Option<(i64, String)>> {
        let t = client.select(
            "SELECT id, model_type FROM ml_models WHERE metric_type = $1 AND is_active
              ORDER BY model_type = 'isolation_forest' DESC LIMIT 1",
            None,
            &[metric_type.into()],
        )?;
        Ok(match t.into_iter().next() {
            Some(r) => match (r.get::<i64>(1)?, r.get::<String>(2)?) {
                (Some(id), Some(t)) => Some((id, t)),
                _ => None,
            },
            None => None,
        })
    })
}

/// The bytes and parameters of a model. Read as the owner of ml_models: the reader role
/// may score with a model but not read its bytes (they encode per-entity training
/// statistics), so this one fixed, parameterised query runs with the owner's rights.
pub fn load(id: i64) -> Result<Option<(String, String, Vec<u8>, serde_json::Value)>> {
    let owner = one::<pg_sys::Oid>("SELECT relowner FROM pg_class WHERE oid = 'ml_models'::regclass", &[])?
        .unwrap_or(pg_sys::Oid::INVALID);
    super::subxact::as_role(owner, || load_as_owner(id))
}

fn load_as_owner(id: i64) -> Result<Option<(String, String, Vec<u8>, serde_json::Value)>> {
    Spi::connect(|client| -> Result<Option<(String, String, Vec<u8>, serde_json::Value)>> {
        let t = client.select(
            "SELECT model_type, metric_type, model_data, parameters FROM ml_models WHERE id = $1",
            None,
            &[id.into()],
        )?;
        Ok(match t.into_iter().next() {
            Some(r) => Some((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<Vec<u8>>(3)?.unwrap_or_default(),
                r.get::<JsonB>(4)?.map(|j| j.0).unwrap_or(serde_json::Value::Null),
            )),
            None => None,
        })
    })
}

pub struct TrainingLog<'a> {
    pub model_id: Option<i64>,
    pub metric_type: &'a str,
    pub model_type: &'a str,
    pub started: TimestampWithTimeZone,
    pub data_points: Option<i64>,
    pub success: bool,
    pub error: Option<&'a str>,
    pub reason: &'a str,
    pub metrics: serde_json::Value,
}

pub fn log(l: TrainingLog) -> Result<()> {
    exec(
        "INSERT INTO ml_training_logs (model_id, metric_type, model_type, training_start, training_end, data_points, success, error_message, reason, metrics)
         VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp(), $5, $6, $7, $8, $9)",
        &[
            l.model_id.into(),
            l.metric_type.into(),
            l.model_type.into(),
            l.started.into(),
            l.data_points.into(),
            l.success.into(),
            l.error.into(),
            l.reason.into(),
            JsonB(l.metrics).into(),
        ],
    )?;
    Ok(())
}

thread_local! {
    /// Per-backend cache of decoded models, keyed by model id (ids are never reused and a
    /// model's bytes never change, so a hit is always current).
    static CACHE: RefCell<HashMap<i64, Rc<dyn std::any::Any>>> = RefCell::new(HashMap::new());
}

/// The decoded model `id`, from the backend's cache or decoded with `decode` once.
pub fn cached<T: 'static>(id: i64, decode: impl FnOnce(&[u8], &serde_json::Value) -> Result<T>) -> Result<Rc<T>> {
    if let Some(hit) = CACHE.with(|c| c.borrow().get(&id).cloned()) {
        if let Ok(m) = hit.downcast::<T>() {
            return Ok(m);
        }
    }
    let (_, _, bytes, params) = load(id)?.ok_or_else(|| {
        crate::errors::not_found(format!("model {id} does not exist"), "ml_models lists the trained models.")
    })?;
    let model = Rc::new(decode(&bytes, &params)?);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 64 {
            c.clear();
        }
        c.insert(id, model.clone() as Rc<dyn std::any::Any>);
    });
    Ok(model)
}

/// The metric types with an active isolation-forest model (what the real-time worker scores).
pub fn active_forest_types() -> Result<Vec<String>> {
    Spi::connect(|client| -> Result<Vec<String>> {
        let mut v = Vec::new();
        for r in client.select(
            "SELECT metric_type FROM ml_models WHERE is_active AND model_type = 'isolation_forest' ORDER BY metric_type",
            None,
            &[],
        )? {
            if let Some(m) = r.get::<String>(1)? {
                v.push(m);
            }
        }
        Ok(v)
    })
}
