//! Stage 8: delivering the outbox (on demand and by the notifier worker), configuring
//! channels, rules and actions, and what follows a new or escalated alert.

use crate::errors::{invalid, Result};
use crate::storage::{channels, outbox};
use pg_anomaly_core::Severity;
use pg_anomaly_notify::{deliver, next_attempt_delay, Channel};
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

/// Adds (or replaces) a notification channel after checking its configuration.
pub fn add_channel(name: &str, kind: &str, config: &serde_json::Value) -> Result<i64> {
    if config.to_string().len() > 64 * 1024 {
        return Err(invalid("config", "(larger than 64 kB)", "a channel's configuration (URL, headers, template) fits in 64 kB"));
    }
    if let Err(e) = Channel::from_json(kind, config) {
        return Err(invalid("config", kind, &e.message));
    }
    channels::add_channel(name, kind, config)
}

fn check_severity(s: &str) -> Result<Severity> {
    Severity::parse(s).ok_or_else(|| invalid("min_severity", s, &format!("severity is {}", Severity::names_for_message())))
}

/// Which alerts a rule or an action applies to.
pub struct Route<'a> {
    pub min_severity: &'a str,
    pub alert_type: Option<&'a str>,
    pub metric_type: Option<&'a str>,
    pub entity_pattern: Option<&'a str>,
}

/// Routes matching alerts to a channel.
pub fn add_rule(channel: &str, route: &Route) -> Result<i64> {
    let sev = check_severity(route.min_severity)?;
    channels::add_rule(channel, sev, route.alert_type, route.metric_type, route.entity_pattern)?
        .ok_or_else(|| crate::errors::not_found(format!("channel \"{channel}\" does not exist"), "Add it with ml_add_channel first."))
}

/// Calls `action(alert_id bigint)` for every new matching alert, with the privileges of the
/// session's login role (stamped by ml_action_rules_check, which also refuses a function
/// not taking exactly one bigint and a malformed pattern).
pub fn add_action(action: &str, route: &Route) -> Result<i64> {
    let sev = check_severity(route.min_severity)?;
    crate::storage::owners::registering_role("an action")?;
    channels::add_action(action, sev, route.alert_type, route.metric_type, route.entity_pattern)
}

/// One delivery round of the notifier worker: at most one due notification, delivered
/// durably (its "sent" mark is durable when the commit returns, or a crash could lose it
/// and send it again). None when the extension is not installed.
pub fn deliver_one_durably() -> Result<(i64, i64, i64)> {
    if !super::session::enter_extension()? {
        return Ok((0, 0, 0));
    }
    crate::storage::outbox::synchronous_commit_on()?;
    deliver_due(1)
}

/// What the detection stage does after writing or escalating an alert.
pub fn after_alert(alert_id: i64, is_new: bool) -> Result<()> {
    outbox::enqueue(alert_id)?;
    if is_new {
        outbox::run_actions(alert_id)?;
    }
    Ok(())
}

