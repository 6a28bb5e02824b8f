//! One scored observation as ml_detect returns it, and as a parallel worker hands it to its
//! leader (serialised with these field names).

use crate::severity::Severity;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectRow {
    pub metric_type: String,
    pub entity_id: String,
    /// Microseconds since the Unix epoch.
    pub ts_us: i64,
    pub metric_value: f64,
    pub score: f64,
    pub is_anomaly: bool,
    /// Set on anomalous rows only.
    pub severity: Option<Severity>,
    pub expected_value: Option<f64>,
    pub deviation_percent: Option<f64>,
    /// The top features and their shares, `[{"feature": .., "share": ..}]`.
    pub explanation: Option<serde_json::Value>,
}

/// How far `value` lies from `expected`, in percent of |expected|; None without an expected
/// value or when it is (about) zero.
pub fn deviation_percent(value: f64, expected: Option<f64>) -> Option<f64> {
    let e = expected?;
    if e.abs() < 1e-9 {
        return None;
    }
    Some(100.0 * (value - e) / e.abs())
}

/// The explanation of a scored row as JSON: `[{"feature": name, "share": share}, ...]`.
pub fn explanation_json(top: &[(String, f64)]) -> serde_json::Value {
    serde_json::Value::Array(top.iter().map(|(f, s)| serde_json::json!({"feature": f, "share": s})).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviation_and_round_trip() {
        assert_eq!(deviation_percent(150.0, Some(100.0)), Some(50.0));
        assert_eq!(deviation_percent(50.0, Some(-100.0)), Some(150.0));
        assert_eq!(deviation_percent(1.0, Some(0.0)), None);
        assert_eq!(deviation_percent(1.0, None), None);
        let r = DetectRow {
            metric_type: "stok_miktar".into(),
            entity_id: "urun_1".into(),
            ts_us: 1_790_000_000_000_000,
            metric_value: 3.0,
            score: 0.999,
            is_anomaly: true,
            severity: Some(Severity::Yuksek),
            expected_value: Some(10.0),
            deviation_percent: Some(-70.0),
            explanation: Some(explanation_json(&[("lag_1".into(), 0.5)])),
        };
        let back: DetectRow = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(serde_json::to_value(&r).unwrap()["severity"], "yuksek");
    }
}
