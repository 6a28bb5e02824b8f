use serde_json::{json, Value};

use crate::{Channel, TlsMode};

fn err(kind: &str, config: Value) -> String {
    match Channel::from_json(kind, &config) {
        Ok(c) => panic!("accepted a bad {kind} config: {c:?}"),
        Err(e) => {
            assert!(e.permanent, "config errors are permanent: {e}");
            e.message
        }
    }
}

#[test]
fn email_config_parses_with_defaults() {
    let c = Channel::from_json(
        "Email",
        &json!({"host": "smtp.hotel.example", "from": "a@hotel.example", "to": "ops@hotel.example"}),
    )
    .expect("valid");
    assert_eq!(
        c,
        Channel::Email {
            host: "smtp.hotel.example".into(),
            port: 587,
            tls: TlsMode::StartTls,
            username: None,
            password: None,
            from: "a@hotel.example".into(),
            to: vec!["ops@hotel.example".into()],
        }
    );
    let c = Channel::from_json(
        "email",
        &json!({"host": "h", "tls": "TLS", "username": "u", "password": "p",
                "from": "Alerts <a@h.example>", "to": ["x@h.example", "Y <y@h.example>"]}),
    )
    .expect("valid");
    assert!(matches!(
        c,
        Channel::Email {
            port: 465,
            tls: TlsMode::Tls,
            ..
        }
    ));
    let c = Channel::from_json(
        "email",
        &json!({"host": "h", "tls": "none", "port": 2525,
        "from": "a@h.example", "to": ["b@h.example"]}),
    )
    .expect("valid");
    assert!(matches!(
        c,
        Channel::Email {
            port: 2525,
            tls: TlsMode::None,
            ..
        }
    ));
}

#[test]
fn bad_email_configs_are_rejected_clearly() {
    let ok = json!({"host": "h", "from": "a@h.example", "to": ["b@h.example"]});
    let with = |k: &str, v: Value| {
        let mut c = ok.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = ok.clone();
        c.as_object_mut().map(|o| o.remove(k));
        c
    };
    assert!(err("email", without("host")).contains("\"host\" is required"));
    assert!(err("email", with("host", json!(""))).contains("\"host\" is required"));
    assert!(err("email", without("from")).contains("\"from\""));
    assert!(err("email", without("to")).contains("\"to\""));
    assert!(err("email", with("to", json!([]))).contains("at least one"));
    assert!(err("email", with("to", json!(["ok@h.example", 3]))).contains("only strings"));
    assert!(err("email", with("to", json!(["not an address"]))).contains("not a valid email"));
    assert!(err("email", with("from", json!("nobody@"))).contains("not a valid email"));
    assert!(err("email", with("port", json!(0))).contains("port"));
    assert!(err("email", with("port", json!(70000))).contains("port"));
    assert!(err("email", with("port", json!("25"))).contains("port"));
    assert!(err("email", with("tls", json!("ssl"))).contains("tls must be"));
    assert!(err("email", with("username", json!("u"))).contains("go together"));
    assert!(err("email", with("passwd", json!("x"))).contains("unknown key \"passwd\""));
    let m = err("email", with("password", json!(12345678)));
    assert!(
        m.contains("\"password\" must be a string") && !m.contains("12345678"),
        "{m}"
    );
    assert!(err("email", json!("host=h")).contains("must be a JSON object"));
}

#[test]
fn unknown_kind_is_rejected() {
    assert!(err("pager", json!({})).contains("unknown channel kind \"pager\""));
}

#[test]
fn webhook_config_validates_url_and_headers() {
    let c = Channel::from_json(
        "webhook",
        &json!({"url": " https://hooks.example/x ", "headers": {"Authorization": "Bearer t"}}),
    )
    .expect("valid");
    assert_eq!(
        c,
        Channel::Webhook {
            url: "https://hooks.example/x".into(),
            headers: vec![("Authorization".into(), "Bearer t".into())]
        }
    );
    assert!(err("webhook", json!({})).contains("\"url\" is required"));
    assert!(err("webhook", json!({"url": "ftp://h/x"})).contains("http or https"));
    assert!(err("webhook", json!({"url": "file:///etc/passwd"})).contains("http or https"));
    assert!(err("webhook", json!({"url": "not a url"})).contains("not a valid URL"));
    assert!(err("webhook", json!({"url": "http://h", "headers": ["a"]})).contains("object"));
    assert!(err("webhook", json!({"url": "http://h", "headers": {"A": 1}})).contains("string"));
    assert!(err(
        "webhook",
        json!({"url": "http://h", "headers": {"Bad Name": "v"}})
    )
    .contains("header name"));
    let m = err(
        "webhook",
        json!({"url": "http://h", "headers": {"X-Key": "a\r\nInjected: 1"}}),
    );
    assert!(
        m.contains("control characters") && !m.contains("Injected"),
        "{m}"
    );
    assert!(err(
        "webhook",
        json!({"url": "http://h", "headers": {"Idempotency-Key": "k"}})
    )
    .contains("set by the sender"));
}

#[test]
fn sms_config_validates_the_template() {
    let base = json!({"url": "https://sms.example/send", "phone": "+33600000000",
                      "body_template": "{\"to\":\"{phone}\",\"text\":\"{message}\"}"});
    assert!(Channel::from_json("sms", &base).is_ok());
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    assert!(err("sms", with("body_template", json!(""))).contains("body_template"));
    assert!(
        err("sms", with("body_template", json!("{\"t\":\"{entity}\"}")))
            .contains("unknown placeholder {entity}")
    );
    assert!(err("sms", with("body_template", json!("{\"t\": {message}}"))).contains("valid JSON"));
    assert!(err("sms", with("body_template", json!("text={message}"))).contains("Content-Type"));
    assert!(err("sms", with("phone", json!(""))).contains("phone"));
    let mut no_phone = base.clone();
    no_phone.as_object_mut().map(|o| o.remove("phone"));
    assert!(err("sms", no_phone).contains("{phone}"));
    let plain = with("headers", json!({"Content-Type": "text/plain"}));
    let plain = {
        let mut p = plain;
        p["body_template"] = json!("ALERT {severity} {entity_id}: {message}");
        p
    };
    assert!(Channel::from_json("sms", &plain).is_ok());
    assert!(err("sms", with("url", json!("mailto:x@y"))).contains("http or https"));
}
