//! Delivery tests against real loopback servers (see `crate::testing`).

mod config;
mod email;
mod http;

use std::time::Duration;

use crate::{next_attempt_delay, Notification};

/// The timeout the tests deliver with: generous for a loaded 2-core machine,
/// short enough that the timeout tests stay quick.
pub(crate) const T: Duration = Duration::from_secs(3);

pub(crate) fn alert() -> Notification {
    Notification {
        alert_id: 42,
        idempotency_key: "pg_anomaly-42-7-high".into(),
        alert_type: "stock_drop".into(),
        severity: "high".into(),
        entity_id: "warehouse-3/minibar-12".into(),
        metric_type: "stock_level".into(),
        timestamp: "2024-05-01T12:30:00Z".into(),
        message: "Stock of minibar-12 fell from 40 to 3 in an hour".into(),
        suggested_action: Some("Check the last refill and custody logs".into()),
        metric_value: Some(3.0),
        expected_value: Some(38.5),
    }
}

#[test]
fn backoff_doubles_from_5s_and_caps_at_an_hour() {
    let secs: Vec<u64> = (0..14).map(|a| next_attempt_delay(a).as_secs()).collect();
    assert_eq!(
        secs,
        vec![0, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]
    );
    assert_eq!(next_attempt_delay(u32::MAX), Duration::from_secs(3600));
}

#[test]
fn notification_json_has_every_field() {
    let mut n = alert();
    n.expected_value = Some(f64::NAN);
    n.suggested_action = None;
    let v = n.to_json();
    assert_eq!(v["alert_id"], 42);
    assert_eq!(v["idempotency_key"], "pg_anomaly-42-7-high");
    assert_eq!(v["entity_id"], "warehouse-3/minibar-12");
    assert_eq!(v["metric_value"], 3.0);
    assert!(v["expected_value"].is_null());
    assert!(v["suggested_action"].is_null());
    assert_eq!(v.as_object().map(|o| o.len()), Some(11));
}

#[test]
fn zero_timeout_is_refused() {
    let ch = crate::Channel::Webhook {
        url: "http://127.0.0.1:9/".into(),
        headers: vec![],
    };
    let e = crate::deliver(&ch, &alert(), Duration::ZERO).unwrap_err();
    assert!(e.permanent, "{e}");
}
