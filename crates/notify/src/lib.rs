//! Delivery of pg_anomaly alerts: email (SMTP), webhooks and SMS gateways.
//!
//! This crate is plain Rust and never imports pgrx: the extension's background
//! worker reads a row of the durable outbox, builds a [`Notification`] and a
//! [`Channel`] (from the channel's kind and JSON config, see
//! [`Channel::from_json`]), calls [`deliver`] and, on failure, either marks
//! the row failed ([`NotifyError::permanent`]) or schedules the next attempt
//! after [`next_attempt_delay`]. Everything is synchronous with explicit
//! timeouts because the worker delivers one row at a time and must never hang.
//!
//! Delivery is at-least-once (a crash between the send and the outbox update
//! resends), so every message carries the notification's idempotency key: the
//! `Idempotency-Key` header for HTTP, the `Message-ID` for email.

mod config;
mod email;
mod http;
mod redact;
mod template;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use config::{Channel, TlsMode};
pub use email::{email_body, email_subject};

/// One alert to deliver through one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub alert_id: i64,
    /// Stable across retries, e.g. `pg_anomaly-<alert_id>-<channel_id>-<severity>`,
    /// so that receivers can drop the duplicates that at-least-once delivery makes.
    pub idempotency_key: String,
    pub alert_type: String,
    pub severity: String,
    pub entity_id: String,
    pub metric_type: String,
    /// RFC 3339.
    pub timestamp: String,
    pub message: String,
    pub suggested_action: Option<String>,
    pub metric_value: Option<f64>,
    pub expected_value: Option<f64>,
}

impl Notification {
    /// The webhook body: every field under its own name, `null` for the
    /// missing optional ones (and for non-finite numbers, which JSON lacks).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "alert_id": self.alert_id,
            "idempotency_key": self.idempotency_key,
            "alert_type": self.alert_type,
            "severity": self.severity,
            "entity_id": self.entity_id,
            "metric_type": self.metric_type,
            "timestamp": self.timestamp,
            "message": self.message,
            "suggested_action": self.suggested_action,
            "metric_value": finite(self.metric_value),
            "expected_value": finite(self.expected_value),
        })
    }
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Why a delivery failed, and whether retrying can help.
///
/// `message` is meant for logs and the outbox's `last_error` column, so it is
/// built to never contain passwords, usernames, header values or URL
/// credentials (they are redacted even when a server echoes them back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyError {
    /// True when retrying the same delivery cannot succeed without a change of
    /// configuration: bad config, HTTP 4xx other than 408/429, SMTP 5xx.
    pub permanent: bool,
    pub message: String,
}

impl NotifyError {
    pub fn permanent(message: impl Into<String>) -> Self {
        NotifyError {
            permanent: true,
            message: message.into(),
        }
    }

    pub fn retryable(message: impl Into<String>) -> Self {
        NotifyError {
            permanent: false,
            message: message.into(),
        }
    }
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.permanent {
            "permanent"
        } else {
            "retryable"
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for NotifyError {}

/// Sends `n` through `channel`, giving up on any single network step
/// (connect, read, write) after `timeout`.
///
/// For HTTP channels `timeout` bounds the whole request. SMTP is a dialogue of
/// several round trips and lettre applies `timeout` to each of them, so a
/// server that answers, slowly, every step can take a few multiples of it; a
/// server that stops answering fails after one `timeout`.
pub fn deliver(channel: &Channel, n: &Notification, timeout: Duration) -> Result<(), NotifyError> {
    if timeout.is_zero() {
        // A zero timeout means "no timeout" to the socket APIs: refuse it.
        return Err(NotifyError::permanent(
            "delivery timeout must be greater than zero",
        ));
    }
    match channel {
        Channel::Email { .. } => email::send(channel, n, timeout),
        Channel::Webhook { url, headers } => http::send_webhook(url, headers, n, timeout),
        Channel::Sms {
            url,
            headers,
            body_template,
            phone,
        } => http::send_sms(url, headers, body_template, phone.as_deref(), n, timeout),
    }
}

/// First retry delay, doubled at each further failed attempt.
pub const BASE_DELAY: Duration = Duration::from_secs(5);
/// Upper bound of the retry delay: an endpoint down for a day is retried hourly.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// How long to wait before the next attempt, given the number of attempts
/// already made (and failed): 0 -> now, 1 -> 5 s, 2 -> 10 s, 3 -> 20 s, ...,
/// `5 s * 2^(attempts-1)` capped at 1 h (reached at the 11th attempt).
///
/// Deterministic, without jitter: the worker delivers sequentially, so there
/// is no herd of clients to spread out, and tests and operators can predict it.
pub fn next_attempt_delay(attempts: u32) -> Duration {
    if attempts == 0 {
        return Duration::ZERO;
    }
    // 2^12 * 5 s is already past the cap; clamping the exponent avoids overflow.
    let exp = (attempts - 1).min(12);
    BASE_DELAY.saturating_mul(1u32 << exp).min(MAX_DELAY)
}
