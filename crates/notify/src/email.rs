//! Email over SMTP with lettre's synchronous transport.
//!
//! One connection per delivery (no pool): the worker sends few emails, and a
//! pooled connection would outlive the worker's per-row error handling.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Message, SmtpTransport, Transport};

use crate::redact::{snippet, Secrets};
use crate::{Channel, Notification, NotifyError, TlsMode};

/// One line naming the alert, e.g.
/// `[pg_anomaly] HIGH stock_drop on room-12 (alert 42)`.
pub fn email_subject(n: &Notification) -> String {
    let s = format!(
        "[pg_anomaly] {} {} on {} (alert {})",
        n.severity.to_uppercase(),
        n.alert_type,
        n.entity_id,
        n.alert_id
    );
    // A header must stay on one line, whatever an entity id contains.
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Plain-text body: the message first (what a person reads on a phone), then
/// every field, so that the email alone is enough to act on.
pub fn email_body(n: &Notification) -> String {
    let mut b = String::new();
    b.push_str(&n.message);
    b.push_str("\n\n");
    let mut line = |k: &str, v: &str| b.push_str(&format!("{k:<17} {v}\n"));
    line("Alert id:", &n.alert_id.to_string());
    line("Severity:", &n.severity);
    line("Alert type:", &n.alert_type);
    line("Entity:", &n.entity_id);
    line("Metric:", &n.metric_type);
    line("Time:", &n.timestamp);
    if let Some(v) = n.metric_value {
        line("Observed value:", &v.to_string());
    }
    if let Some(v) = n.expected_value {
        line("Expected value:", &v.to_string());
    }
    if let Some(a) = &n.suggested_action {
        b.push_str(&format!("\nSuggested action: {a}\n"));
    }
    b.push_str(&format!(
        "\n-- \npg_anomaly notification {}\n",
        n.idempotency_key
    ));
    b
}

/// The EHLO name: the machine's host name when Linux tells it, else lettre's
/// address literal. Some servers reject a bare `[127.0.0.1]`.
fn hello_name() -> ClientId {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .map(ClientId::Domain)
        .unwrap_or_default()
}

/// A Message-ID derived from the idempotency key, so that a resent email is
/// recognisably the same message (and threads with it in mail clients).
fn message_id(key: &str) -> String {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("<{safe}@pg_anomaly.invalid>")
}

pub(crate) fn send(
    channel: &Channel,
    n: &Notification,
    timeout: Duration,
) -> Result<(), NotifyError> {
    channel.validate()?;
    let Channel::Email {
        host,
        port,
        tls,
        username,
        password,
        from,
        to,
    } = channel
    else {
        return Err(NotifyError::permanent(
            "internal error: not an email channel",
        ));
    };
    let mut secrets = Secrets::default();
    secrets.add_smtp(username.as_deref(), password.as_deref());
    let fail = |permanent: bool, msg: String| NotifyError {
        permanent,
        message: secrets.scrub(&msg),
    };

    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|_| fail(true, format!("email: invalid address {a:?}")))
    };
    let mut builder = Message::builder()
        .from(mailbox(from)?)
        .subject(email_subject(n))
        .message_id(Some(message_id(&n.idempotency_key)));
    for t in to {
        builder = builder.to(mailbox(t)?);
    }
    let msg = builder
        .header(ContentType::TEXT_PLAIN)
        .body(email_body(n))
        .map_err(|e| fail(true, format!("email: cannot build the message: {e}")))?;

    let tls = match tls {
        TlsMode::None => Tls::None,
        mode => {
            let params = TlsParameters::new(host.clone())
                .map_err(|e| fail(true, format!("email: TLS setup for {host}: {e}")))?;
            if *mode == TlsMode::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut transport = SmtpTransport::builder_dangerous(host.as_str())
        .port(*port)
        .tls(tls)
        .hello_name(hello_name())
        .timeout(Some(timeout));
    if let (Some(u), Some(p)) = (username, password) {
        transport = transport.credentials(Credentials::new(u.clone(), p.clone()));
    }
    match transport.build().send(&msg) {
        Ok(_) => Ok(()),
        Err(e) => Err(fail(
            smtp_is_permanent(&e),
            describe(&e, host, *port, timeout),
        )),
    }
}

/// SMTP 5xx replies are permanent (bad recipient, auth refused, message
/// rejected), and so are client-side refusals, which mean a configuration the
/// server cannot serve (e.g. STARTTLS or AUTH not offered). 4xx replies,
/// network, TLS and timeout errors are retried: they are usually passing.
fn smtp_is_permanent(e: &lettre::transport::smtp::Error) -> bool {
    e.is_permanent() || (e.is_client() && !is_timeout(e))
}

/// lettre only recognises `TimedOut`, but on Unix a socket read timeout
/// surfaces as `WouldBlock` (EAGAIN).
fn is_timeout(e: &lettre::transport::smtp::Error) -> bool {
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            );
        }
        src = inner.source();
    }
    false
}

fn describe(
    e: &lettre::transport::smtp::Error,
    host: &str,
    port: u16,
    timeout: Duration,
) -> String {
    let what = if is_timeout(e) {
        format!("timed out after {:?}", timeout)
    } else {
        // lettre's Display gives the kind and the server reply; its sources
        // say why a connection failed.
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            let t = inner.to_string();
            if !s.contains(&t) {
                s.push_str(": ");
                s.push_str(&t);
            }
            src = inner.source();
        }
        s
    };
    format!("email via {host}:{port}: {}", snippet(&what, 400))
}
