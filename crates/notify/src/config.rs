//! Channels and their validation from the JSON config stored with each channel.
//!
//! Validation happens when a channel is created (the extension calls
//! [`Channel::from_json`] then, and again before each delivery) so that a typo
//! is reported to the person configuring it instead of surfacing hours later
//! as a failed delivery. Unknown keys are rejected for the same reason.

use serde_json::{Map, Value};

use crate::{template, NotifyError};

/// How the SMTP connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text: only for a relay on a trusted network (e.g. localhost).
    None,
    /// Connect in plain text, then require STARTTLS (submission, port 587).
    StartTls,
    /// TLS from the first byte (submissions, port 465).
    Tls,
}

impl TlsMode {
    fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::StartTls => 587,
            TlsMode::Tls => 465,
        }
    }
}

/// Where and how a notification is sent. Build it with [`Channel::from_json`].
///
/// Its `Debug` output redacts credentials, header values and URL queries,
/// so a channel can be logged.
#[derive(Clone, PartialEq)]
pub enum Channel {
    Email {
        host: String,
        port: u16,
        tls: TlsMode,
        username: Option<String>,
        password: Option<String>,
        from: String,
        to: Vec<String>,
    },
    /// POST of [`crate::Notification::to_json`] with an `Idempotency-Key` header.
    Webhook {
        url: String,
        headers: Vec<(String, String)>,
    },
    /// POST of `body_template` rendered with the notification's fields (see
    /// the `template` module for the placeholders and escaping). `phone`
    /// fills `{phone}`.
    Sms {
        url: String,
        headers: Vec<(String, String)>,
        body_template: String,
        phone: Option<String>,
    },
}

const EMAIL_KEYS: &[&str] = &["host", "port", "tls", "username", "password", "from", "to"];
const WEBHOOK_KEYS: &[&str] = &["url", "headers"];
const SMS_KEYS: &[&str] = &["url", "headers", "body_template", "phone"];

/// Headers that the client computes or that we set ourselves.
const RESERVED_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "idempotency-key",
];

fn bad(msg: impl Into<String>) -> NotifyError {
    NotifyError::permanent(msg)
}

impl Channel {
    /// Parses and validates a channel of `kind` (`email`, `webhook`, `sms`).
    ///
    /// * email: `host` (required), `port` (default 25 / 587 / 465 by `tls`),
    ///   `tls` (`none` | `starttls` | `tls`, default `starttls`), `username` and
    ///   `password` (both or neither), `from` (required), `to` (address or
    ///   non-empty array of addresses). Addresses may be `Name <a@b.example>`.
    /// * webhook: `url` (http or https), `headers` (object of strings).
    /// * sms: `url`, `headers`, `body_template` (required), `phone`.
    ///
    /// Errors are permanent and never quote a password or a header value.
    pub fn from_json(kind: &str, config: &Value) -> Result<Channel, NotifyError> {
        let obj = config
            .as_object()
            .ok_or_else(|| bad(format!("{kind} channel config must be a JSON object")))?;
        let kind_l = kind.trim().to_ascii_lowercase();
        let known = match kind_l.as_str() {
            "email" => EMAIL_KEYS,
            "webhook" => WEBHOOK_KEYS,
            "sms" => SMS_KEYS,
            _ => {
                return Err(bad(format!(
                    "unknown channel kind {kind:?}: expected email, webhook or sms"
                )))
            }
        };
        if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(bad(format!(
                "{kind_l} channel: unknown key {k:?} (known keys: {})",
                known.join(", ")
            )));
        }
        let channel = match kind_l.as_str() {
            "email" => email_from(obj)?,
            "webhook" => Channel::Webhook {
                url: url_from(obj, "webhook")?,
                headers: headers_from(obj, "webhook")?,
            },
            _ => sms_from(obj)?,
        };
        channel.validate()?;
        Ok(channel)
    }

    /// Checks a channel however it was built; [`crate::deliver`] relies on it
    /// so that a hand-built channel with a bad field fails permanently.
    pub fn validate(&self) -> Result<(), NotifyError> {
        match self {
            Channel::Email {
                host,
                port,
                username,
                password,
                from,
                to,
                ..
            } => {
                if host.trim().is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
                    return Err(bad("email channel: host must be a host name or address"));
                }
                if *port == 0 {
                    return Err(bad("email channel: port must be between 1 and 65535"));
                }
                if username.is_some() != password.is_some() {
                    return Err(bad("email channel: username and password go together"));
                }
                check_mailbox("from", from)?;
                if to.is_empty() {
                    return Err(bad("email channel: \"to\" needs at least one address"));
                }
                to.iter().try_for_each(|t| check_mailbox("to", t))
            }
            Channel::Webhook { url, headers } => {
                check_url("webhook", url)?;
                check_headers("webhook", headers)
            }
            Channel::Sms {
                url,
                headers,
                body_template,
                phone,
            } => {
                check_url("sms", url)?;
                check_headers("sms", headers)?;
                if let Some(p) = phone {
                    if p.trim().is_empty() || p.chars().any(char::is_control) {
                        return Err(bad("sms channel: phone must be a non-empty single line"));
                    }
                }
                template::validate(body_template, &content_type(headers), phone.is_some())
                    .map_err(|e| bad(format!("sms channel: body_template: {e}")))
            }
        }
    }
}

/// The Content-Type the configured headers ask for, JSON by default.
pub(crate) fn content_type(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "application/json".to_string())
}

fn email_from(obj: &Map<String, Value>) -> Result<Channel, NotifyError> {
    let tls = match opt_str(obj, "email", "tls")?.map(|s| s.to_ascii_lowercase()) {
        None => TlsMode::StartTls,
        Some(s) => match s.as_str() {
            "none" => TlsMode::None,
            "starttls" => TlsMode::StartTls,
            "tls" => TlsMode::Tls,
            _ => {
                return Err(bad(
                    "email channel: tls must be \"none\", \"starttls\" or \"tls\"",
                ))
            }
        },
    };
    let port = match obj.get("port") {
        None | Some(Value::Null) => tls.default_port(),
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("email channel: port must be an integer between 1 and 65535"))?,
    };
    let to = match obj.get("to") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("email channel: \"to\" must contain only strings"))?,
        _ => {
            return Err(bad(
                "email channel: \"to\" (an address or an array of addresses) is required",
            ))
        }
    };
    Ok(Channel::Email {
        host: req_str(obj, "email", "host")?,
        port,
        tls,
        username: opt_str(obj, "email", "username")?,
        password: opt_str(obj, "email", "password")?,
        from: req_str(obj, "email", "from")?,
        to,
    })
}

fn sms_from(obj: &Map<String, Value>) -> Result<Channel, NotifyError> {
    Ok(Channel::Sms {
        url: url_from(obj, "sms")?,
        headers: headers_from(obj, "sms")?,
        body_template: req_str(obj, "sms", "body_template")?,
        phone: opt_str(obj, "sms", "phone")?,
    })
}

fn req_str(obj: &Map<String, Value>, kind: &str, key: &str) -> Result<String, NotifyError> {
    opt_str(obj, kind, key)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad(format!("{kind} channel: \"{key}\" is required")))
}

/// A string or absent/null; any other JSON type is an error. The message
/// names the key, never the value (it may be a password).
fn opt_str(obj: &Map<String, Value>, kind: &str, key: &str) -> Result<Option<String>, NotifyError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{kind} channel: \"{key}\" must be a string"))),
    }
}

fn url_from(obj: &Map<String, Value>, kind: &str) -> Result<String, NotifyError> {
    req_str(obj, kind, "url").map(|u| u.trim().to_string())
}

fn headers_from(
    obj: &Map<String, Value>,
    kind: &str,
) -> Result<Vec<(String, String)>, NotifyError> {
    match obj.get("headers") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(bad(format!(
                    "{kind} channel: header {k:?} must be a string"
                ))),
            })
            .collect(),
        Some(_) => Err(bad(format!(
            "{kind} channel: \"headers\" must be an object of strings"
        ))),
    }
}

fn check_url(kind: &str, raw: &str) -> Result<(), NotifyError> {
    // The parse error may quote the URL, which may hold a key: say only why.
    let u = url::Url::parse(raw)
        .map_err(|e| bad(format!("{kind} channel: url is not a valid URL ({e})")))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(bad(format!(
            "{kind} channel: url scheme must be http or https, not {:?}",
            u.scheme()
        )));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad(format!("{kind} channel: url has no host")));
    }
    Ok(())
}

fn check_headers(kind: &str, headers: &[(String, String)]) -> Result<(), NotifyError> {
    for (name, value) in headers {
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(bad(format!("{kind} channel: invalid header name {name:?}")));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(bad(format!(
                "{kind} channel: header {name:?} is set by the sender"
            )));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(bad(format!(
                "{kind} channel: header {name:?} has control characters"
            )));
        }
    }
    Ok(())
}

fn check_mailbox(field: &str, addr: &str) -> Result<(), NotifyError> {
    addr.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|_| {
            bad(format!(
                "email channel: {field} address {addr:?} is not a valid email address"
            ))
        })
}
