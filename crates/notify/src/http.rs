//! Webhooks and SMS gateways: one HTTP POST with ureq, bounded by a global
//! timeout (connect, TLS, send, response headers and body together).
//!
//! TLS is rustls with the Mozilla roots compiled in (webpki-roots), so the
//! delivery does not depend on the system's OpenSSL or CA bundle. ureq
//! honours the `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` (and `NO_PROXY`)
//! variables of the process, i.e. of the PostgreSQL server: that is how a
//! database host without direct egress reaches a webhook.

use std::io::Read as _;
use std::time::Duration;

use crate::config::content_type;
use crate::redact::{display_url, snippet, Secrets};
use crate::{template, Channel, Notification, NotifyError};

/// How much of an error response we read and quote: enough for the reason a
/// gateway gives, not enough to fill the outbox with an HTML page.
const MAX_QUOTED_BODY: u64 = 2048;

pub(crate) fn send_webhook(
    url: &str,
    headers: &[(String, String)],
    n: &Notification,
    timeout: Duration,
) -> Result<(), NotifyError> {
    Channel::Webhook {
        url: url.to_string(),
        headers: headers.to_vec(),
    }
    .validate()?;
    let body = n.to_json().to_string();
    post(
        "webhook",
        url,
        headers,
        &content_type(headers),
        body,
        n,
        timeout,
    )
}

pub(crate) fn send_sms(
    url: &str,
    headers: &[(String, String)],
    body_template: &str,
    phone: Option<&str>,
    n: &Notification,
    timeout: Duration,
) -> Result<(), NotifyError> {
    Channel::Sms {
        url: url.to_string(),
        headers: headers.to_vec(),
        body_template: body_template.to_string(),
        phone: phone.map(str::to_string),
    }
    .validate()?;
    let ct = content_type(headers);
    let body = template::render(body_template, n, phone, &ct);
    post("sms", url, headers, &ct, body, n, timeout)
}

fn post(
    kind: &str,
    url: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: String,
    n: &Notification,
    timeout: Duration,
) -> Result<(), NotifyError> {
    let mut secrets = Secrets::default();
    secrets.add_http(url, headers);
    let shown = format!("{kind} POST {}", display_url(url));
    let fail = |permanent: bool, msg: String| NotifyError {
        permanent,
        message: secrets.scrub(&format!("{shown}: {msg}")),
    };

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        // We classify statuses ourselves, and a 3xx is reported rather than
        // followed: a POST must not silently turn into a GET elsewhere.
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(concat!("pg_anomaly_notify/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut req = agent
        .post(url)
        .header("Content-Type", content_type)
        .header("Idempotency-Key", n.idempotency_key.as_str());
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("content-type") {
            req = req.header(k.as_str(), v.as_str());
        }
    }
    let mut resp = match req.send(body.as_bytes()) {
        Ok(r) => r,
        Err(e) => return Err(fail(ureq_is_permanent(&e), describe(&e, timeout))),
    };
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    // The reason a gateway gives is in the body; reading it is best effort.
    let mut quoted = Vec::new();
    let _ = resp
        .body_mut()
        .as_reader()
        .take(MAX_QUOTED_BODY)
        .read_to_end(&mut quoted);
    let reason = snippet(&String::from_utf8_lossy(&quoted), 300);
    let mut msg = format!("HTTP {}", status.as_u16());
    if let Some(r) = status.canonical_reason() {
        msg.push_str(&format!(" {r}"));
    }
    if status.is_redirection() {
        msg.push_str(" (redirects are not followed: configure the final URL)");
    }
    if !reason.is_empty() {
        msg.push_str(&format!(": {reason}"));
    }
    Err(fail(status_is_permanent(status.as_u16()), msg))
}

/// 2xx is success. 408 (request timeout), 425 (too early), 429 (rate
/// limited) and 5xx are passing conditions: retry. Any other 4xx means the
/// request itself is wrong (auth, URL, payload) and a 3xx means the URL
/// moved: retrying the same request cannot help.
pub fn status_is_permanent(status: u16) -> bool {
    !matches!(status, 408 | 425 | 429 | 500..=599)
}

/// Transport errors are retried (a host down, a timeout, a TLS hiccup)
/// except those caused by the request as configured.
fn ureq_is_permanent(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::RequireHttpsOnly(_)
    )
}

fn describe(e: &ureq::Error, timeout: Duration) -> String {
    match e {
        ureq::Error::Timeout(_) => format!("timed out after {timeout:?}"),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            format!("timed out after {timeout:?}")
        }
        ureq::Error::Io(io) => format!("network error: {}", snippet(&io.to_string(), 300)),
        other => snippet(&other.to_string(), 300),
    }
}
