//! Stage 8: ml_deliver_notifications (the notifier worker does the same every second),
//! ml_add_channel, ml_add_notification_rule, ml_add_action.

use crate::errors::{required, run};
use crate::pipeline::notify::{self, Route};
use pgrx::datum::JsonB;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Delivers the due notifications of the outbox now (the notifier worker does this every
/// second when pg_anomaly is preloaded); returns how many were sent, retried, failed.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_deliver_notifications(
    max_notifications: default!(i32, 100),
) -> std::result::Result<TableIterator<'static, (name!(sent, i64), name!(retried, i64), name!(failed, i64))>, ErrorReport> {
    run("ml_deliver_notifications", || Ok(TableIterator::once(notify::deliver_due(max_notifications.max(1) as i64)?)))
}

/// Adds (or replaces) a notification channel after checking its configuration.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_add_channel(name: Option<&str>, kind: Option<&str>, config: Option<JsonB>) -> std::result::Result<i64, ErrorReport> {
    run("ml_add_channel", || {
        let (name, kind, config) = (required("name", name)?, required("kind", kind)?, required("config", config)?);
        notify::add_channel(name, kind, &config.0)
    })
}

/// Routes alerts to a channel by minimum severity, alert type, metric type and entity
/// pattern (LIKE; NULL means any).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_add_notification_rule(
    channel: Option<&str>,
    min_severity: default!(Option<&str>, "'orta'"),
    alert_type: default!(Option<&str>, "NULL"),
    metric_type: default!(Option<&str>, "NULL"),
    entity_pattern: default!(Option<&str>, "NULL"),
) -> std::result::Result<i64, ErrorReport> {
    run("ml_add_notification_rule", || {
        let (channel, min_severity) = (required("channel", channel)?, required("min_severity", min_severity)?);
        notify::add_rule(channel, &Route { min_severity, alert_type, metric_type, entity_pattern })
    })
}

/// Calls `action(alert_id bigint)` for every new matching alert, with the privileges of the
/// login role adding the rule (never a superuser), in a subtransaction: a failing action is recorded in
/// ml_action_runs and never loses or blocks the alert.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_add_action(
    action: Option<&str>,
    min_severity: default!(Option<&str>, "'orta'"),
    alert_type: default!(Option<&str>, "NULL"),
    metric_type: default!(Option<&str>, "NULL"),
    entity_pattern: default!(Option<&str>, "NULL"),
) -> std::result::Result<i64, ErrorReport> {
    run("ml_add_action", || {
        let (action, min_severity) = (required("action", action)?, required("min_severity", min_severity)?);
        notify::add_action(action, &Route { min_severity, alert_type, metric_type, entity_pattern })
    })
}
