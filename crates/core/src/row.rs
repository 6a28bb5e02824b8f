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
/// value or when it is near zero: below 1e-9, or below 1 % of the deviation itself (a
/// percentage beyond 10,000 % says only "expected about zero", e.g. an event-valued duration
/// whose usual value between events is 0). The alert message then says so in words.
pub fn deviation_percent(value: f64, expected: Option<f64>) -> Option<f64> {
    let e = expected?;
    if !e.is_finite() || !value.is_finite() || e.abs() < 1e-9 || 100.0 * e.abs() < (value - e).abs() {
        return None;
    }
    Some(100.0 * (value - e) / e.abs())
}

/// The explanation of a scored row as JSON: `[{"feature": name, "share": share,
/// "neg_log10_p": x}, ...]`; `neg_log10_p` is the row's `-log10` tail probability (the same
/// in every element; it keeps ranking where the score is within 1e-12 of 1). The element of
/// the sequence family (`"feature": "sequence_context"`) also carries its bins when `sequence`
/// is given: `sequence_bin` (the row's bin, its range and bounds, the value as the family
/// read it), `sequence_previous` and `sequence_two_before` (see
/// [`SeqContext::to_json`](crate::detect::SeqContext::to_json)). A row a warm-up model scored
/// (an entity the model was not trained on, fitted on its look-back: `warm_up`) carries
/// `"model": "warm_up"` in every element.
pub fn explanation_json(top: &[(String, f64)], neg_log10_p: f64, sequence: Option<&crate::detect::SeqContext>, warm_up: bool, noise_model: Option<&str>) -> serde_json::Value {
    let l = if neg_log10_p.is_finite() { (neg_log10_p.max(0.0) * 1000.0).round() / 1000.0 } else { f64::MAX };
    serde_json::Value::Array(
        top.iter()
            .map(|(f, s)| {
                let mut v = serde_json::json!({"feature": f, "share": s, "neg_log10_p": l});
                if let (Some(q), Some(o)) = (sequence.filter(|_| f == crate::detect::seq::SEQ_LABEL), v.as_object_mut()) {
                    o.extend(q.to_json());
                }
                if let (true, Some(o)) = (warm_up, v.as_object_mut()) {
                    o.insert("model".into(), serde_json::json!("warm_up"));
                }
                if let (Some(m), Some(o)) = (noise_model, v.as_object_mut()) {
                    o.insert("noise_model".into(), serde_json::json!(m));
                }
                v
            })
            .collect(),
    )
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
        // near zero relative to the deviation: no percentage (it was "+2693371694875%")
        assert_eq!(deviation_percent(27.0, Some(1.0e-8)), None);
        assert_eq!(deviation_percent(27.0, Some(0.2)), None);
        assert!(deviation_percent(27.0, Some(0.3)).is_some_and(|d| (d - 8900.0).abs() < 1e-6));
        assert_eq!(deviation_percent(-5.0, Some(0.01)), None);
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
            explanation: Some(explanation_json(&[("lag_1".into(), 0.5)], 3.0, None, false, Some("counts"))),
        };
        let back: DetectRow = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(serde_json::to_value(&r).unwrap()["severity"], "yuksek");
        assert_eq!(r.explanation.as_ref().unwrap()[0]["neg_log10_p"], 3.0);
        assert_eq!(r.explanation.as_ref().unwrap()[0]["noise_model"], "counts");
        assert!(explanation_json(&[("lag_1".into(), 0.5)], 3.0, None, false, None)[0].get("noise_model").is_none());
    }
}
