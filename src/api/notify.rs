//! Stage 8: delivering the outbox (ml_deliver_notifications, also run by the notifier
//! worker), configuring channels, rules and actions, and the SVG plot for analysts.

use crate::errors::{invalid, required, run, Result};
use crate::storage::{one, outbox};
use pg_anomaly_notify::{deliver, next_attempt_delay, Channel};
use pgrx::datum::JsonB;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use std::time::Duration;

/// Attempts after which a retryable failure is given up (about 2.5 hours of backoff).
pub const MAX_ATTEMPTS: i32 = 12;
/// Per-delivery network timeout.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Delivers due notifications; returns (sent, retried later, failed for good).
pub fn deliver_due(limit: i64) -> Result<(i64, i64, i64)> {
    let (mut sent, mut retried, mut failed) = (0, 0, 0);
    for due in outbox::claim_due(limit)? {
        pgrx::check_for_interrupts!();
        let outcome = Channel::from_json(&due.kind, &due.config).and_then(|c| deliver(&c, &due.notification, TIMEOUT));
        match outcome {
            Ok(()) => {
                outbox::mark_sent(due.id)?;
                sent += 1;
            }
            Err(e) => {
                let attempts = due.attempts + 1;
                let give_up = e.permanent || attempts >= MAX_ATTEMPTS;
                let delay = next_attempt_delay(attempts as u32).as_secs_f64();
                outbox::mark_failed_attempt(due.id, &e.message, delay, give_up)?;
                if give_up {
                    failed += 1;
                } else {
                    retried += 1;
                }
            }
        }
    }
    Ok((sent, retried, failed))
}

/// Delivers the due notifications of the outbox now (the notifier worker does this every
/// second when pg_anomaly is preloaded); returns how many were sent, retried, failed.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_deliver_notifications(
    max_notifications: default!(i32, 100),
) -> std::result::Result<TableIterator<'static, (name!(sent, i64), name!(retried, i64), name!(failed, i64))>, ErrorReport> {
    run("ml_deliver_notifications", || Ok(TableIterator::once(deliver_due(max_notifications.max(1) as i64)?)))
}

/// Adds (or replaces) a notification channel after checking its configuration.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_add_channel(name: Option<&str>, kind: Option<&str>, config: Option<JsonB>) -> std::result::Result<i64, ErrorReport> {
    run("ml_add_channel", || {
        let name = required("name", name)?;
        let kind = required("kind", kind)?;
        let config = required("config", config)?;
        if config.0.to_string().len() > 64 * 1024 {
            return Err(invalid("config", "(larger than 64 kB)", "a channel's configuration (URL, headers, template) fits in 64 kB"));
        }
        if let Err(e) = Channel::from_json(kind, &config.0) {
            return Err(invalid("config", kind, &e.message));
        }
        Ok(one::<i64>(
            "INSERT INTO ml_channels (name, kind, config) VALUES ($1, pg_catalog.lower($2), $3)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, config = excluded.config RETURNING id",
            &[name.into(), kind.into(), config.into()],
        )?
        .unwrap_or_default())
    })
}

fn check_severity(s: &str) -> Result<()> {
    match s {
        "dusuk" | "orta" | "yuksek" | "kritik" => Ok(()),
        other => Err(invalid("min_severity", other, "severity is dusuk, orta, yuksek or kritik")),
    }
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
        let channel = required("channel", channel)?;
        let min_severity = required("min_severity", min_severity)?;
        check_severity(min_severity)?;
        one::<i64>(
            "INSERT INTO ml_notification_rules (channel_id, min_severity, alert_type, metric_type, entity_pattern)
             SELECT id, $2, $3, $4, $5 FROM ml_channels WHERE name = $1 RETURNING id",
            &[channel.into(), min_severity.into(), alert_type.into(), metric_type.into(), entity_pattern.into()],
        )?
        .ok_or_else(|| crate::errors::not_found(format!("channel \"{channel}\" does not exist"), "Add it with ml_add_channel first."))
    })
}

/// Calls `action(alert_id bigint)` for every new matching alert, with the privileges of the
/// role adding the rule, in a subtransaction: a failing action is recorded in
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
        let action = required("action", action)?;
        let min_severity = required("min_severity", min_severity)?;
        check_severity(min_severity)?;
        // The owner (the session's login role) is stamped by ml_action_rules_check, which
        // also refuses a function not taking exactly one bigint and a malformed pattern.
        crate::storage::owners::registering_role("an action")?;
        Ok(one::<i64>(
            "INSERT INTO ml_action_rules (action, min_severity, alert_type, metric_type, entity_pattern)
             VALUES ($1::pg_catalog.regprocedure, $2, $3, $4, $5) RETURNING id",
            &[action.into(), min_severity.into(), alert_type.into(), metric_type.into(), entity_pattern.into()],
        )?
        .unwrap_or_default())
    })
}

/// What the detection stage does after writing or escalating an alert.
pub fn after_alert(alert_id: i64, is_new: bool) -> Result<()> {
    outbox::enqueue(alert_id)?;
    if is_new {
        outbox::run_actions(alert_id)?;
    }
    Ok(())
}

