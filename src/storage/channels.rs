//! Notification configuration: channels (ml_channels), routing rules
//! (ml_notification_rules) and actions (ml_action_rules).

use super::one;
use crate::errors::Result;
use pg_anomaly_core::Severity;
use pgrx::datum::JsonB;

/// Adds or replaces a channel; returns its id.
pub fn add_channel(name: &str, kind: &str, config: &serde_json::Value) -> Result<i64> {
    Ok(one::<i64>(
        "INSERT INTO ml_channels (name, kind, config) VALUES ($1, pg_catalog.lower($2), $3)
         ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, config = excluded.config RETURNING id",
        &[name.into(), kind.into(), JsonB(config.clone()).into()],
    )?
    .unwrap_or_default())
}

/// Adds a routing rule to the channel named `channel`; None when there is no such channel.
pub fn add_rule(
    channel: &str,
    min_severity: Severity,
    alert_type: Option<&str>,
    metric_type: Option<&str>,
    entity_pattern: Option<&str>,
) -> Result<Option<i64>> {
    one::<i64>(
        "INSERT INTO ml_notification_rules (channel_id, min_severity, alert_type, metric_type, entity_pattern)
         SELECT id, $2, $3, $4, $5 FROM ml_channels WHERE name = $1 RETURNING id",
        &[channel.into(), min_severity.as_str().into(), alert_type.into(), metric_type.into(), entity_pattern.into()],
    )
}

/// Adds an action rule; its owner (the session's login role) is stamped by the table's
/// trigger, never taken from the caller. Returns its id.
pub fn add_action(
    action: &str,
    min_severity: Severity,
    alert_type: Option<&str>,
    metric_type: Option<&str>,
    entity_pattern: Option<&str>,
) -> Result<i64> {
    Ok(one::<i64>(
        // Resolved here (the function's search_path: the extension's schema, pg_catalog),
        // stored schema-qualified; the table's trigger checks it again and normalises it.
        "INSERT INTO ml_action_rules (action, min_severity, alert_type, metric_type, entity_pattern)
         SELECT pg_catalog.format('%I.%I(%s)', n.nspname, f.proname, pg_catalog.oidvectortypes(f.proargtypes)), $2, $3, $4, $5
           FROM pg_catalog.pg_proc f JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) f.pronamespace
          WHERE f.oid OPERATOR(pg_catalog.=) $1::pg_catalog.regprocedure::pg_catalog.oid
         RETURNING id",
        &[action.into(), min_severity.as_str().into(), alert_type.into(), metric_type.into(), entity_pattern.into()],
    )?
    .unwrap_or_default())
}
