//! Stage 1, single observations: checked, then inserted or corrected.

use crate::errors::Result;
use crate::storage::metrics;
use pg_anomaly_core::{CoreError, ErrorKind};
use pgrx::datum::{JsonB, TimestampWithTimeZone};

/// Checks one observation the way ml_metrics' constraints do, but with messages that
/// name the offending argument and say what to do.
pub fn check_observation(metric_type: Option<&str>, entity_id: Option<&str>, value: Option<f64>) -> Result<(String, String, f64)> {
    let text = |name: &str, v: Option<&str>| -> Result<String> {
        match v {
            None => Err(CoreError::new(ErrorKind::NullValue, format!("{name} must not be NULL")).into()),
            Some("") => Err(CoreError::new(ErrorKind::EmptyValue, format!("{name} must not be empty"))
                .with_hint(format!("Pass the {name} the observation belongs to."))
                .into()),
            Some(s) if s.chars().count() > 200 => Err(CoreError::new(ErrorKind::EmptyValue, format!("{name} is too long"))
                .with_detail(format!("It has {} characters; at most 200 are allowed.", s.chars().count()))
                .into()),
            Some(s) => Ok(s.to_string()),
        }
    };
    let mt = text("metric_type", metric_type)?;
    let e = text("entity_id", entity_id)?;
    let v = match value {
        None => {
            return Err(CoreError::new(ErrorKind::NullValue, "metric_value must not be NULL")
                .with_hint("A missing observation is no row, not a NULL value.")
                .into())
        }
        Some(v) if !v.is_finite() => {
            return Err(CoreError::new(ErrorKind::NonFiniteValue, format!("metric_value must be finite, got {v}"))
                .with_detail("NaN and infinite values would poison the statistics of every later stage.")
                .with_hint("Send only measured, finite values.")
                .into())
        }
        Some(v) => v,
    };
    Ok((mt, e, v))
}

/// Stores one checked observation; returns 'inserted', 'corrected' or 'unchanged'.
pub fn ingest(
    metric_type: Option<&str>,
    entity_id: Option<&str>,
    metric_value: Option<f64>,
    timestamp: Option<TimestampWithTimeZone>,
    extra_data: Option<JsonB>,
) -> Result<&'static str> {
    let (mt, e, v) = check_observation(metric_type, entity_id, metric_value)?;
    let ts = match timestamp {
        Some(t) if crate::storage::time::in_metric_range(t) => t,
        Some(_) => {
            return Err(CoreError::new(ErrorKind::InvalidParameter, "timestamp out of range")
                .with_detail("Observations are stored from 1900-01-01 up to (not including) 2500-01-01 UTC; infinity is refused.")
                .with_hint("Pass the instant the value was observed.")
                .into())
        }
        None => return Err(CoreError::new(ErrorKind::NullValue, "timestamp must not be NULL").into()),
    };
    Ok(metrics::upsert(&mt, &e, v, ts, extra_data)?.as_str())
}
