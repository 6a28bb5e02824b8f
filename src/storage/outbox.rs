//! The notification outbox (ml_notifications) and automatic actions (ml_action_rules).

use super::{exec, subxact};
use crate::errors::Result;
use pgrx::datum::JsonB;
use pgrx::prelude::*;

/// The rank of a severity (dusuk 1 .. kritik 4), as SQL sees it: the opening of
/// `array_position(ARRAY[...], x)`.
fn rank() -> String {
    format!("pg_catalog.array_position({}::text[], ", pg_anomaly_core::Severity::sql_array())
}

/// Queues one notification per matching rule for an alert at its current severity, in the
/// alert's own transaction. Returns how many were queued (repeats are ignored). Each rule
/// is evaluated in its own subtransaction: a rule that fails (a pattern stored before
/// patterns were checked) is recorded in its last_error and skipped; the alert, and the
/// other rules, go on.
pub fn enqueue(alert_id: i64) -> Result<i64> {
    let rules: Vec<i64> = Spi::connect(|client| -> Result<_> {
        let t = client.select(
            "SELECT r.id FROM ml_notification_rules r JOIN ml_channels c ON c.id OPERATOR(pg_catalog.=) r.channel_id AND c.enabled
              WHERE r.enabled ORDER BY r.id",
            None,
            &[],
        )?;
        let mut v = Vec::new();
        for r in t {
            if let Some(id) = r.get::<i64>(1)? {
                v.push(id);
            }
        }
        Ok(v)
    })?;
    let rank = rank();
    let sql = format!(
        "INSERT INTO ml_notifications (alert_id, channel_id, severity, idempotency_key)
         SELECT a.id, r.channel_id, a.severity, pg_catalog.concat('pg_anomaly-', a.id, '-', r.channel_id, '-', a.severity)
           FROM ml_alerts a, ml_notification_rules r
          WHERE a.id OPERATOR(pg_catalog.=) $1 AND r.id OPERATOR(pg_catalog.=) $2
            AND {rank}a.severity) OPERATOR(pg_catalog.>=) {rank}r.min_severity)
            AND (r.alert_type IS NULL OR r.alert_type OPERATOR(pg_catalog.=) a.alert_type)
            AND (r.metric_type IS NULL OR r.metric_type OPERATOR(pg_catalog.=) a.metric_type)
            AND (r.entity_pattern IS NULL OR a.entity_id OPERATOR(pg_catalog.~~) r.entity_pattern)
         ON CONFLICT (alert_id, channel_id, severity) DO NOTHING"
    );
    let mut queued = 0;
    for rule_id in rules {
        match subxact::run(|| exec(&sql, &[alert_id.into(), rule_id.into()])) {
            Ok(Ok(n)) => queued += n,
            Ok(Err(e)) => record_rule_error(rule_id, &e.into_report("notification rule").message().to_string())?,
            Err(f) => record_rule_error(rule_id, &f.message)?,
        }
    }
    Ok(queued)
}

fn record_rule_error(rule_id: i64, message: &str) -> Result<()> {
    pgrx::warning!("pg_anomaly: notification rule {rule_id} skipped: {message}");
    exec(
        "UPDATE ml_notification_rules SET last_error = $2, last_error_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) $1",
        &[rule_id.into(), pg_anomaly_core::truncate_chars(message, 500).into()],
    )?;
    Ok(())
}

/// Runs the matching automatic actions of a new alert, each as its rule's owner and in its
/// own subtransaction (the rule's pattern is evaluated there too): a failing action or a
/// broken rule is recorded in ml_action_runs and never loses or blocks the alert. An owner
/// that is a superuser, cannot log in or no longer exists is refused and recorded.
pub fn run_actions(alert_id: i64) -> Result<()> {
    let rank = rank();
    #[allow(clippy::type_complexity)]
    let rules: Vec<(i64, String, pg_sys::Oid, Option<String>, String)> = Spi::connect(|client| -> Result<_> {
        let t = client.select(
            &format!(
                "SELECT r.id, r.action, r.owner::pg_catalog.oid, r.entity_pattern, a.entity_id
                   FROM ml_alerts a JOIN ml_action_rules r ON r.enabled
                  WHERE a.id OPERATOR(pg_catalog.=) $1 AND {rank}a.severity) OPERATOR(pg_catalog.>=) {rank}r.min_severity)
                    AND (r.alert_type IS NULL OR r.alert_type OPERATOR(pg_catalog.=) a.alert_type)
                    AND (r.metric_type IS NULL OR r.metric_type OPERATOR(pg_catalog.=) a.metric_type)
                  ORDER BY r.id"
            ),
            None,
            &[alert_id.into()],
        )?;
        let mut v = Vec::new();
        for r in t {
            if let (Some(id), Some(f), Some(o), Some(e)) =
                (r.get::<i64>(1)?, r.get::<String>(2)?, r.get::<pg_sys::Oid>(3)?, r.get::<String>(5)?)
            {
                v.push((id, f, o, r.get::<String>(4)?, e));
            }
        }
        Ok(v)
    })?;
    for (rule_id, signature, owner, pattern, entity) in rules {
        if let Some(why) = super::owners::refusal(owner)? {
            record_action(alert_id, rule_id, Some(format!("action not run: {why}")))?;
            continue;
        }
        let outcome = subxact::run(|| -> Result<bool> {
            if let Some(p) = &pattern {
                let matches = super::one::<bool>("SELECT $1 OPERATOR(pg_catalog.~~) $2", &[entity.as_str().into(), p.as_str().into()])?;
                if matches != Some(true) {
                    return Ok(false);
                }
            }
            // The stored signature is resolved at each run (a function dropped or renamed
            // since is a failed run); the call uses the catalog's own quoted rendering of
            // the resolved function (never stored text), the alert id travels as a parameter.
            let Some(function) = super::one::<String>(
                "SELECT pg_catalog.to_regprocedure($1)::pg_catalog.regproc::pg_catalog.text",
                &[signature.as_str().into()],
            )?
            else {
                return Err(crate::errors::not_found(
                    format!("action not run: function {signature} does not exist (dropped or renamed since the rule was stored)"),
                    "Recreate the function, or point the rule at another one (UPDATE ml_action_rules SET action = ...).",
                ));
            };
            let sql = format!("SELECT {function}($1::pg_catalog.int8)");
            subxact::as_role(owner, || exec(&sql, &[alert_id.into()]))?;
            Ok(true)
        });
        let error = match outcome {
            Ok(Ok(false)) => continue,
            Ok(Ok(true)) => None,
            Ok(Err(e)) => Some(e.into_report("action").message().to_string()),
            Err(f) => Some(f.message),
        };
        record_action(alert_id, rule_id, error)?;
    }
    Ok(())
}

fn record_action(alert_id: i64, rule_id: i64, error: Option<String>) -> Result<()> {
    exec(
        "INSERT INTO ml_action_runs (alert_id, rule_id, success, error) VALUES ($1, $2, $3, $4)",
        &[alert_id.into(), rule_id.into(), error.is_none().into(), error.map(|e| pg_anomaly_core::truncate_chars(&e, 1000)).into()],
    )?;
    Ok(())
}

/// A notification due for delivery, with its alert and channel.
pub struct Due {
    pub id: i64,
    pub attempts: i32,
    pub kind: String,
    pub config: serde_json::Value,
    pub notification: pg_anomaly_notify::Notification,
}

/// Claims up to `limit` due notifications (locked; other deliverers skip them).
pub fn claim_due(limit: i64) -> Result<Vec<Due>> {
    Spi::connect_mut(|client| -> Result<Vec<Due>> {
        let t = client.update(
            "SELECT n.id, n.attempts, c.kind, c.config, n.idempotency_key, a.id, a.alert_type, n.severity, a.entity_id,
                    a.metric_type, pg_catalog.to_char(a.\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    a.message, a.suggested_action, a.metric_value, a.expected_value
               FROM ml_notifications n JOIN ml_channels c ON c.id = n.channel_id JOIN ml_alerts a ON a.id = n.alert_id
              WHERE n.status = 'pending' AND n.next_attempt_at <= pg_catalog.now()
              ORDER BY n.next_attempt_at, n.id LIMIT $1
                FOR UPDATE OF n SKIP LOCKED",
            None,
            &[limit.into()],
        )?;
        let mut out = Vec::new();
        for r in t {
            out.push(Due {
                id: r.get(1)?.unwrap_or_default(),
                attempts: r.get(2)?.unwrap_or_default(),
                kind: r.get(3)?.unwrap_or_default(),
                config: r.get::<JsonB>(4)?.map(|j| j.0).unwrap_or_default(),
                notification: pg_anomaly_notify::Notification {
                    idempotency_key: r.get(5)?.unwrap_or_default(),
                    alert_id: r.get(6)?.unwrap_or_default(),
                    alert_type: r.get(7)?.unwrap_or_default(),
                    severity: r.get(8)?.unwrap_or_default(),
                    entity_id: r.get(9)?.unwrap_or_default(),
                    metric_type: r.get(10)?.unwrap_or_default(),
                    timestamp: r.get(11)?.unwrap_or_default(),
                    message: r.get(12)?.unwrap_or_default(),
                    suggested_action: r.get(13)?,
                    metric_value: r.get(14)?,
                    expected_value: r.get(15)?,
                },
            });
        }
        Ok(out)
    })
}

pub fn mark_sent(id: i64) -> Result<()> {
    exec(
        "UPDATE ml_notifications SET status = 'sent', attempts = attempts + 1, sent_at = pg_catalog.now(), last_error = NULL WHERE id = $1",
        &[id.into()],
    )?;
    Ok(())
}

/// Records a failed attempt: retried after `delay_secs`, or failed for good.
pub fn mark_failed_attempt(id: i64, error: &str, delay_secs: f64, give_up: bool) -> Result<()> {
    exec(
        "UPDATE ml_notifications SET attempts = attempts + 1, last_error = $2,
                status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,
                next_attempt_at = pg_catalog.now() OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $3)
          WHERE id = $1",
        &[id.into(), error.into(), delay_secs.into(), give_up.into()],
    )?;
    Ok(())
}

/// Makes this transaction's commit durable whatever synchronous_commit says: a delivery's
/// "sent" mark must survive a crash, or the notification would be sent again.
pub fn synchronous_commit_on() -> Result<()> {
    super::exec("SET LOCAL synchronous_commit = on", &[])?;
    Ok(())
}
