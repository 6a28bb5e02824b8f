//! SMS gateway bodies: a template with `{placeholder}`s filled from the
//! notification.
//!
//! Gateways differ (JSON APIs, form posts, plain text), so the body is the
//! operator's template, and the values are escaped for the body's Content-Type
//! so that a message with a quote or an `&` cannot break (or inject into) it:
//!
//! * JSON (`...json...`, the default): JSON string escaping, without the
//!   quotes, so write `"text": "{message}"`. A missing number renders `null`,
//!   which is valid unquoted (`"value": {metric_value}`).
//! * `application/x-www-form-urlencoded`: percent-encoding (`to={phone}&text={message}`).
//! * anything else: the value as is; a missing value renders empty.
//!
//! Placeholders: see [`PLACEHOLDERS`]. Any other `{word}` is an error at
//! validation, so a typo like `{entity}` is caught when the channel is saved;
//! braces that do not enclose a lowercase word (JSON objects) are literal.

use crate::{email_subject, Notification};

/// Every placeholder a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "alert_id",
    "idempotency_key",
    "alert_type",
    "severity",
    "entity_id",
    "metric_type",
    "timestamp",
    "message",
    "suggested_action",
    "metric_value",
    "expected_value",
    "phone",
    "subject",
];

#[derive(Clone, Copy, PartialEq)]
enum Escape {
    Json,
    Form,
    Raw,
}

fn escape_for(content_type: &str) -> Escape {
    let ct = content_type.to_ascii_lowercase();
    if ct.contains("json") {
        Escape::Json
    } else if ct.contains("x-www-form-urlencoded") {
        Escape::Form
    } else {
        Escape::Raw
    }
}

/// Splits `template` into literal text and placeholder names, in order.
/// A placeholder is `{` + one or more of `[a-z0-9_]` + `}`.
fn parts(template: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        if len > 0 && after[len..].starts_with('}') {
            out.push((false, &rest[..open]));
            out.push((true, &after[..len]));
            rest = &after[len + 1..];
        } else {
            out.push((false, &rest[..=open]));
            rest = after;
        }
    }
    out.push((false, rest));
    out
}

/// Checks the placeholders, that `{phone}` has a phone, and that a JSON
/// template renders to valid JSON.
pub(crate) fn validate(template: &str, content_type: &str, has_phone: bool) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err("must not be empty".into());
    }
    for (is_ph, name) in parts(template) {
        if !is_ph {
            continue;
        }
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}} (known: {})",
                PLACEHOLDERS.join(", ")
            ));
        }
        if name == "phone" && !has_phone {
            return Err("uses {phone} but the channel has no \"phone\"".into());
        }
    }
    if escape_for(content_type) == Escape::Json {
        for sample in [sample(true), sample(false)] {
            let body = render(template, &sample, Some("+10000000000"), content_type);
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&body) {
                return Err(format!(
                    "does not render to valid JSON ({e}); quote string placeholders, \
                     or set a Content-Type header for a non-JSON body"
                ));
            }
        }
    }
    Ok(())
}

/// A notification with awkward values, to try a template on.
fn sample(full: bool) -> Notification {
    Notification {
        alert_id: 1,
        idempotency_key: "pg_anomaly-1-1-high".into(),
        alert_type: "stock_drop".into(),
        severity: "high".into(),
        entity_id: "room \"12\"\\b".into(),
        metric_type: "stock".into(),
        timestamp: "2024-01-01T00:00:00Z".into(),
        message: "line 1\nline \"2\" & {3}".into(),
        suggested_action: full.then(|| "check".into()),
        metric_value: full.then_some(1.5),
        expected_value: full.then_some(-2.0),
    }
}

fn number(v: Option<f64>) -> Option<String> {
    v.filter(|x| x.is_finite()).map(|x| x.to_string())
}

fn value(name: &str, n: &Notification, phone: Option<&str>) -> Option<String> {
    Some(match name {
        "alert_id" => n.alert_id.to_string(),
        "idempotency_key" => n.idempotency_key.clone(),
        "alert_type" => n.alert_type.clone(),
        "severity" => n.severity.clone(),
        "entity_id" => n.entity_id.clone(),
        "metric_type" => n.metric_type.clone(),
        "timestamp" => n.timestamp.clone(),
        "message" => n.message.clone(),
        "subject" => email_subject(n),
        "suggested_action" => return n.suggested_action.clone(),
        "metric_value" => return number(n.metric_value),
        "expected_value" => return number(n.expected_value),
        "phone" => return phone.map(str::to_string),
        _ => return None,
    })
}

/// The body to POST for `n`. Unknown placeholders (which validation rejects)
/// render as missing values rather than failing a delivery.
pub(crate) fn render(
    template: &str,
    n: &Notification,
    phone: Option<&str>,
    content_type: &str,
) -> String {
    let esc = escape_for(content_type);
    let mut out = String::with_capacity(template.len() + n.message.len());
    for (is_ph, text) in parts(template) {
        if !is_ph {
            out.push_str(text);
            continue;
        }
        let is_number = matches!(text, "metric_value" | "expected_value");
        match (value(text, n, phone), esc) {
            (Some(v), Escape::Json) => {
                let quoted = serde_json::Value::String(v).to_string();
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
            (Some(v), Escape::Form) => {
                out.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
            }
            (Some(v), Escape::Raw) => out.push_str(&v),
            (None, Escape::Json) if is_number => out.push_str("null"),
            (None, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_placeholders_and_keeps_json_braces() {
        let p = parts(r#"{"to":"{phone}","n":{alert_id}} {Not} {x"#);
        let names: Vec<&str> = p.iter().filter(|(ph, _)| *ph).map(|(_, s)| *s).collect();
        assert_eq!(names, vec!["phone", "alert_id"]);
        let rebuilt: String = p
            .iter()
            .map(|(ph, s)| {
                if *ph {
                    format!("{{{s}}}")
                } else {
                    s.to_string()
                }
            })
            .collect();
        assert_eq!(rebuilt, r#"{"to":"{phone}","n":{alert_id}} {Not} {x"#);
    }

    #[test]
    fn escapes_for_json_form_and_raw() {
        let n = sample(false);
        let j = render(
            r#"{"t":"{message}","v":{metric_value}}"#,
            &n,
            None,
            "application/json",
        );
        let v: serde_json::Value = serde_json::from_str(&j).expect("valid json");
        assert_eq!(v["t"], "line 1\nline \"2\" & {3}");
        assert!(v["v"].is_null());
        let f = render(
            "text={message}&to={phone}",
            &n,
            Some("+1 555"),
            "application/x-www-form-urlencoded",
        );
        assert_eq!(f, "text=line+1%0Aline+%222%22+%26+%7B3%7D&to=%2B1+555");
        assert_eq!(
            render("{severity}:{suggested_action}.", &n, None, "text/plain"),
            "high:."
        );
    }

    #[test]
    fn validation_names_the_problem() {
        let json = "application/json";
        assert!(validate(r#"{"t":"{entity}"}"#, json, false)
            .unwrap_err()
            .contains("{entity}"));
        assert!(validate(r#"{"to":"{phone}"}"#, json, false)
            .unwrap_err()
            .contains("phone"));
        assert!(validate(r#"{"t":{message}}"#, json, false)
            .unwrap_err()
            .contains("valid JSON"));
        assert!(validate("text={message}", json, false).is_err());
        assert!(validate("text={message}", "text/plain", false).is_ok());
        assert!(validate(r#"{"t":"{message}","v":{metric_value}}"#, json, false).is_ok());
    }
}
