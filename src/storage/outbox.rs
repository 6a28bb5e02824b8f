//! The notification outbox (ml_notifications) and automatic actions (ml_action_rules).

use super::{exec, subxact};
use crate::errors::Result;
use pgrx::datum::JsonB;
use pgrx::prelude::*;

/// The rank of a severity (dusuk 1 .. kritik 4), as SQL sees it.
const RANK: &str = "array_position(ARRAY['dusuk','orta','yuksek','kritik'], ";

/// Queues one notification per matching rule for an alert at its current severity, in the
/// alert's own transaction. Returns how many were queued (repeats are ignored).
pub fn enqueue(alert_id: i64) -> Result<i64> {
    exec(
        &format!(
            "INSERT INTO ml_notifications (alert_id, channel_id, severity, idempotency_key)
             SELECT DISTINCT a.id, r.channel_id, a.severity, 'pg_anomaly-' || a.id || '-' || r.channel_id || '-' || a.severity
               FROM ml_alerts a
               JOIN ml_notification_rules r ON r.enabled
               JOIN ml_channels c ON c.id = r.channel_id AND c.enabled
              WHERE a.id = $1 AND {RANK}a.severity) >= {RANK}r.min_severity)
                AND (r.alert_type IS NULL OR r.alert_type = a.alert_type)
                AND (r.metric_type IS NULL OR r.metric_type = a.metric_type)
                AND (r.entity_pattern IS NULL OR a.entity_id LIKE r.entity_pattern)
             ON CONFLICT (alert_id, channel_id, severity) DO NOTHING"
        ),
        &[alert_id.into()],
    )
}

/// Runs the matching automatic actions of a new alert, each as its rule's owner and in its
/// own subtransaction: a failing action is recorded and never loses or blocks the alert.
pub fn run_actions(alert_id: i64) -> Result<()> {
    let rules: Vec<(i64, String, pg_sys::Oid)> = Spi::connect(|client| -> Result<_> {
        let t = client.select(
            &format!(
                "SELECT r.id, r.action::regproc::text, r.owner::oid FROM ml_alerts a JOIN ml_action_rules r ON r.enabled
                  WHERE a.id = $1 AND {RANK}a.severity) >= {RANK}r.min_severity)
                    AND (r.alert_type IS NULL OR r.alert_type = a.alert_type)
                    AND (r.metric_type IS NULL OR r.metric_type = a.metric_type)
                    AND (r.entity_pattern IS NULL OR a.entity_id LIKE r.entity_pattern)
                  ORDER BY r.id"
            ),
            None,
            &[alert_id.into()],
        )?;
        let mut v = Vec::new();
        for r in t {
            if let (Some(id), Some(f), Some(o)) = (r.get::<i64>(1)?, r.get::<String>(2)?, r.get::<pg_sys::Oid>(3)?) {
                v.push((id, f, o));
            }
        }
        Ok(v)
    })?;
    for (rule_id, function, owner) in rules {
        // The function name is the catalog's own quoted rendering of the regprocedure
        // (never user text); the alert id travels as a parameter.
        let sql = format!("SELECT {function}($1::bigint)");
        let outcome = subxact::run(|| subxact::as_role(owner, || exec(&sql, &[alert_id.into()])));
        let error = match outcome {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.into_report("action").message().to_string()),
            Err(f) => Some(f.message),
        };
        exec(
            "INSERT INTO ml_action_runs (alert_id, rule_id, success, error) VALUES ($1, $2, $3, $4)",
            &[alert_id.into(), rule_id.into(), error.is_none().into(), error.into()],
        )?;
    }
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
                    a.metric_type, to_char(a.\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    a.message, a.suggested_action, a.metric_value, a.expected_value
               FROM ml_notifications n JOIN ml_channels c ON c.id = n.channel_id JOIN ml_alerts a ON a.id = n.alert_id
              WHERE n.status = 'pending' AND n.next_attempt_at <= now()
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
        "UPDATE ml_notifications SET status = 'sent', attempts = attempts + 1, sent_at = now(), last_error = NULL WHERE id = $1",
        &[id.into()],
    )?;
    Ok(())
}

/// Records a failed attempt: retried after `delay_secs`, or failed for good.
pub fn mark_failed_attempt(id: i64, error: &str, delay_secs: f64, give_up: bool) -> Result<()> {
    exec(
        "UPDATE ml_notifications SET attempts = attempts + 1, last_error = $2,
                status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,
                next_attempt_at = now() + make_interval(secs => $3)
          WHERE id = $1",
        &[id.into(), error.into(), delay_secs.into(), give_up.into()],
    )?;
    Ok(())
}
