//! Event-level quality of a detector against known windows: an anomaly window counts as
//! found when an alert episode overlaps it (with a tolerance after its end); an alert
//! overlapping no window is a false positive. Accuracy is measured on entity-days: a day
//! of an entity is right when it has an alert exactly when it has an anomaly window.

use std::collections::{BTreeSet, HashMap};

/// A span of one entity: [from_us, to_us], inclusive.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub entity_id: String,
    pub from_us: i64,
    pub to_us: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quality {
    pub windows: usize,
    pub found: usize,
    pub alerts: usize,
    pub false_alerts: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub accuracy: Option<f64>,
}

use crate::time::DAY_US;

fn overlaps(a: &Span, b: &Span, tolerance_us: i64) -> bool {
    a.entity_id == b.entity_id && a.from_us <= b.to_us.saturating_add(tolerance_us) && b.from_us <= a.to_us
}

/// Quality of `alerts` against `windows` over the period [from_us, to_us] for `entities`.
/// With no window in the period, precision/recall/F1 are None (nothing to measure against);
/// accuracy is None when there are no entity-days.
pub fn evaluate(windows: &[Span], alerts: &[Span], entities: usize, from_us: i64, to_us: i64, tolerance_us: i64) -> Quality {
    let windows: Vec<&Span> = windows.iter().filter(|w| w.to_us >= from_us && w.from_us <= to_us).collect();
    let alerts: Vec<&Span> = alerts.iter().filter(|a| a.to_us >= from_us && a.from_us <= to_us).collect();
    let found = windows.iter().filter(|w| alerts.iter().any(|a| overlaps(a, w, tolerance_us))).count();
    let false_alerts = alerts.iter().filter(|a| !windows.iter().any(|w| overlaps(a, w, tolerance_us))).count();
    let mut q = Quality { windows: windows.len(), found, alerts: alerts.len(), false_alerts, ..Default::default() };
    if !windows.is_empty() {
        let recall = found as f64 / windows.len() as f64;
        let precision = if alerts.is_empty() { 0.0 } else { (alerts.len() - false_alerts) as f64 / alerts.len() as f64 };
        q.recall = Some(recall);
        q.precision = Some(precision);
        q.f1 = Some(if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 });
    }
    let days = ((to_us - from_us) / DAY_US).max(0) as usize + 1;
    let total = days * entities;
    if total > 0 && to_us >= from_us {
        let day_set = |spans: &[&Span]| -> HashMap<String, BTreeSet<i64>> {
            let mut m: HashMap<String, BTreeSet<i64>> = HashMap::new();
            for s in spans {
                let a = (s.from_us.max(from_us) - from_us) / DAY_US;
                let b = (s.to_us.min(to_us) - from_us) / DAY_US;
                for d in a..=b {
                    m.entry(s.entity_id.clone()).or_default().insert(d);
                }
            }
            m
        };
        let wd = day_set(&windows);
        let ad = day_set(&alerts);
        let mut wrong = 0usize;
        let keys: BTreeSet<&String> = wd.keys().chain(ad.keys()).collect();
        for k in keys {
            let empty = BTreeSet::new();
            let a = wd.get(k).unwrap_or(&empty);
            let b = ad.get(k).unwrap_or(&empty);
            wrong += a.symmetric_difference(b).count();
        }
        q.accuracy = Some(1.0 - wrong.min(total) as f64 / total as f64);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(e: &str, a: i64, b: i64) -> Span {
        Span { entity_id: e.to_string(), from_us: a * DAY_US / 24, to_us: b * DAY_US / 24 }
    }

    #[test]
    fn found_missed_and_false_alerts() {
        let windows = vec![s("a", 10, 12), s("a", 50, 51), s("b", 30, 40)];
        let alerts = vec![s("a", 11, 11), s("b", 41, 41), s("b", 90, 91), s("c", 5, 5)];
        // tolerance 2 hours: b's alert at hour 41 is one hour after its window's end
        let q = evaluate(&windows, &alerts, 3, 0, 5 * DAY_US - 1, 2 * DAY_US / 24);
        assert_eq!((q.windows, q.found, q.alerts, q.false_alerts), (3, 2, 4, 2));
        assert!((q.recall.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((q.precision.unwrap() - 0.5).abs() < 1e-12);
        assert!(q.accuracy.unwrap() < 1.0 && q.accuracy.unwrap() > 0.5);
    }

    #[test]
    fn no_windows_leaves_precision_and_recall_undefined() {
        let q = evaluate(&[], &[s("a", 1, 2)], 1, 0, DAY_US - 1, 0);
        assert_eq!((q.precision, q.recall, q.f1), (None, None, None));
        assert_eq!(q.accuracy, Some(0.0));
    }
}
