use std::time::{Duration, Instant};

use super::{alert, T};
use crate::testing::{refused_addr, HttpServer, SilentServer};
use crate::{deliver, Channel};

fn webhook(url: String) -> Channel {
    Channel::Webhook {
        url,
        headers: vec![("X-Team".into(), "night-shift".into())],
    }
}

#[test]
fn webhook_posts_the_json_with_an_idempotency_key() {
    let (_, server) = HttpServer::start(&[200]);
    deliver(&webhook(server.url("/hooks/anomaly")), &alert(), T).expect("delivered");
    let reqs = server.wait_for(1, T);
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/hooks/anomaly");
    assert_eq!(r.header("Idempotency-Key"), Some("pg_anomaly-42-7-high"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("x-team"), Some("night-shift"));
    assert_eq!(r.json(), Some(alert().to_json()));
}

#[test]
fn retry_after_5xx_reuses_the_idempotency_key() {
    let (_, server) = HttpServer::start(&[503, 204]);
    let ch = webhook(server.url("/"));
    let e = deliver(&ch, &alert(), T).unwrap_err();
    assert!(!e.permanent, "{e}");
    assert!(e.message.contains("HTTP 503"), "{e}");
    deliver(&ch, &alert(), T).expect("second attempt succeeds");
    let keys: Vec<String> = server
        .wait_for(2, T)
        .iter()
        .map(|r| r.header("Idempotency-Key").unwrap_or("").to_string())
        .collect();
    assert_eq!(keys, vec!["pg_anomaly-42-7-high"; 2]);
}

#[test]
fn statuses_are_classified() {
    let codes = [500, 400, 429, 408, 404, 401, 301, 502];
    let (_, server) = HttpServer::start(&codes);
    let ch = webhook(server.url("/"));
    for code in codes {
        let e = deliver(&ch, &alert(), T).unwrap_err();
        let permanent = !matches!(code, 500 | 502 | 429 | 408);
        assert_eq!(e.permanent, permanent, "HTTP {code}: {e}");
        assert!(e.message.contains(&format!("HTTP {code}")), "{e}");
    }
}

#[test]
fn refused_connection_is_retryable() {
    let e = deliver(
        &webhook(format!("http://{}/x", refused_addr())),
        &alert(),
        T,
    )
    .unwrap_err();
    assert!(!e.permanent, "{e}");
    assert!(
        e.message.starts_with("webhook POST http://127.0.0.1:"),
        "{e}"
    );
}

#[test]
fn silent_server_times_out_within_the_timeout() {
    let (addr, _s) = SilentServer::start();
    let timeout = Duration::from_millis(700);
    let start = Instant::now();
    let e = deliver(&webhook(format!("http://{addr}/")), &alert(), timeout).unwrap_err();
    let took = start.elapsed();
    assert!(!e.permanent, "{e}");
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(2),
        "took {took:?}: {e}"
    );
    assert!(e.message.contains("timed out"), "{e}");
}

#[test]
fn secrets_echoed_by_the_server_do_not_reach_the_error() {
    let (addr, server) = HttpServer::start_echoing(&[401]);
    let url = format!("http://hookuser:url-pa55@{addr}/send?api_key=KEY-123456&to=x");
    let ch = Channel::Webhook {
        url,
        headers: vec![
            ("Authorization".into(), "Bearer tok-abcdef123".into()),
            ("X-Api-Key".into(), "xkey-987654".into()),
        ],
    };
    let e = deliver(&ch, &alert(), T).unwrap_err();
    assert!(e.permanent, "{e}");
    let echoed = server.wait_for(1, T);
    assert_eq!(
        echoed[0].header("authorization"),
        Some("Bearer tok-abcdef123")
    );
    let shown = format!("{e} {ch:?}");
    for secret in ["url-pa55", "KEY-123456", "tok-abcdef123", "xkey-987654"] {
        assert!(!shown.contains(secret), "leaks {secret}: {shown}");
    }
    assert!(
        e.message.contains("[redacted]"),
        "the echo is quoted, redacted: {e}"
    );
}

#[test]
fn sms_gateway_receives_the_rendered_json_template() {
    let (_, server) = HttpServer::start(&[202]);
    let config = serde_json::json!({
        "url": server.url("/sms"),
        "headers": {"Authorization": "Basic abc123"},
        "phone": "+33612345678",
        "body_template": r#"{"to":"{phone}","text":"{severity} {entity_id}: {message} (#{alert_id})","value":{metric_value}}"#,
    });
    let ch = Channel::from_json("sms", &config).expect("valid sms config");
    let mut n = alert();
    n.message = "fell \"fast\"\nnow 3".into();
    deliver(&ch, &n, T).expect("delivered");
    let r = server.wait_for(1, T).pop().expect("one request");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Authorization"), Some("Basic abc123"));
    let v = r.json().expect("JSON body");
    assert_eq!(v["to"], "+33612345678");
    assert_eq!(
        v["text"],
        "high warehouse-3/minibar-12: fell \"fast\"\nnow 3 (#42)"
    );
    assert_eq!(v["value"], 3.0);
}

#[test]
fn sms_gateway_receives_a_form_template() {
    let (_, server) = HttpServer::start(&[200]);
    let config = serde_json::json!({
        "url": server.url("/send"),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "phone": "+1 555 0100",
        "body_template": "To={phone}&Body={subject}",
    });
    let ch = Channel::from_json("sms", &config).expect("valid sms config");
    deliver(&ch, &alert(), T).expect("delivered");
    let r = server.wait_for(1, T).pop().expect("one request");
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&r.body).into_owned().collect();
    assert_eq!(pairs[0], ("To".into(), "+1 555 0100".into()));
    assert_eq!(pairs[1], ("Body".into(), crate::email_subject(&alert())));
}
