//! Strict reading of a user's parameter object (the SQL layer passes `jsonb` here).
//!
//! Strict because a typo such as `{"n_tree": 50}` silently falling back to the default is a
//! worse experience than an error naming the key. Shared by the forest and the z-score model.

use serde_json::{Map, Value};

use crate::error::{CoreError, CoreResult, ErrorKind};

/// Integers up to 2^53 are exact in a JSON number read as f64.
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// The object's entries, after rejecting any key not in `accepted`.
/// `null` means "all defaults" and yields an empty map.
pub(crate) fn object<'a>(
    value: &'a Value,
    accepted: &[&str],
    what: &str,
) -> CoreResult<Option<&'a Map<String, Value>>> {
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        other => {
            return Err(CoreError::new(
                ErrorKind::InvalidParameter,
                format!(
                    "{what} parameters must be a JSON object, not {}",
                    type_name(other)
                ),
            )
            .with_hint(format!("Accepted keys: {}.", accepted.join(", "))))
        }
    };
    if let Some(key) = map.keys().find(|k| !accepted.contains(&k.as_str())) {
        return Err(CoreError::new(
            ErrorKind::InvalidParameter,
            format!("unknown {what} parameter \"{key}\""),
        )
        .with_hint(format!("Accepted keys: {}.", accepted.join(", "))));
    }
    Ok(Some(map))
}

/// A non-negative integer; `100.0` is accepted (jsonb may normalise numbers), `1.5`, `-1`,
/// `"100"` are not.
pub(crate) fn as_u64(key: &str, value: &Value) -> CoreResult<u64> {
    if let Some(u) = value.as_u64() {
        return Ok(u);
    }
    match value.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= MAX_EXACT_INT => Ok(f as u64),
        _ => Err(wrong_type(key, value, "a non-negative integer")),
    }
}

/// [`as_u64`] narrowed to `usize`.
pub(crate) fn as_usize(key: &str, value: &Value) -> CoreResult<usize> {
    let u = as_u64(key, value)?;
    usize::try_from(u).map_err(|_| wrong_type(key, value, "an integer that fits in usize"))
}

/// Any JSON number.
pub(crate) fn as_f64(key: &str, value: &Value) -> CoreResult<f64> {
    value
        .as_f64()
        .ok_or_else(|| wrong_type(key, value, "a number"))
}

/// `true` or `false`.
pub(crate) fn as_bool(key: &str, value: &Value) -> CoreResult<bool> {
    value
        .as_bool()
        .ok_or_else(|| wrong_type(key, value, "a boolean"))
}

/// A number, or `null` for "not set".
pub(crate) fn as_opt_f64(key: &str, value: &Value) -> CoreResult<Option<f64>> {
    if value.is_null() {
        return Ok(None);
    }
    value
        .as_f64()
        .map(Some)
        .ok_or_else(|| wrong_type(key, value, "a number or null"))
}

fn wrong_type(key: &str, value: &Value, expected: &str) -> CoreError {
    CoreError::invalid_param(
        key,
        value,
        &format!("\"{key}\" must be {expected}, got {}", type_name(value)),
    )
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
