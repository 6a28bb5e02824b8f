use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{alert, T};
use crate::testing::{refused_addr, SilentServer, SmtpOptions, SmtpServer};
use crate::{deliver, email_subject, Channel, TlsMode};

const PASSWORD: &str = "s3cret-Pa55word";
const USER: &str = "alerts-bot";

fn channel(addr: SocketAddr, creds: bool, tls: TlsMode) -> Channel {
    Channel::Email {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls,
        username: creds.then(|| USER.to_string()),
        password: creds.then(|| PASSWORD.to_string()),
        from: "pg_anomaly <anomaly@hotel.example>".into(),
        to: vec![
            "ops@hotel.example".into(),
            "Night Desk <night@hotel.example>".into(),
        ],
    }
}

fn assert_no_credentials(msg: &str) {
    use base64::Engine as _;
    let b64 = &base64::engine::general_purpose::STANDARD;
    for s in [
        PASSWORD.to_string(),
        b64.encode(PASSWORD),
        b64.encode(format!("\0{USER}\0{PASSWORD}")),
    ] {
        assert!(!msg.contains(&s), "error message leaks a credential: {msg}");
    }
}

#[test]
fn email_arrives_naming_the_alert() {
    let (addr, server) = SmtpServer::start();
    deliver(&channel(addr, false, TlsMode::None), &alert(), T).expect("delivered");
    let mails = server.wait_for(1, T);
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.mail_from, "anomaly@hotel.example");
    assert_eq!(m.rcpt_to, vec!["ops@hotel.example", "night@hotel.example"]);
    assert_eq!(m.auth, None);
    let subject = m.header("Subject").expect("subject");
    assert_eq!(subject, email_subject(&alert()));
    for part in ["HIGH", "stock_drop", "warehouse-3/minibar-12", "42"] {
        assert!(subject.contains(part), "subject {subject:?} lacks {part}");
    }
    let body = m.body_text();
    for part in [
        "Stock of minibar-12 fell from 40 to 3 in an hour",
        "warehouse-3/minibar-12",
        "high",
        "42",
        "Check the last refill",
        "38.5",
        "pg_anomaly-42-7-high",
    ] {
        assert!(body.contains(part), "body lacks {part:?}:\n{body}");
    }
    let id = m.header("Message-ID").expect("message id");
    assert!(id.contains("pg_anomaly-42-7-high"), "{id}");
}

#[test]
fn email_logs_in_when_credentials_are_configured() {
    let (addr, server) = SmtpServer::start_with(SmtpOptions {
        auth: true,
        ..Default::default()
    });
    deliver(&channel(addr, true, TlsMode::None), &alert(), T).expect("delivered");
    let mails = server.wait_for(1, T);
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].auth,
        Some((USER.to_string(), PASSWORD.to_string()))
    );
}

#[test]
fn non_ascii_alerts_survive_encoding() {
    let (addr, server) = SmtpServer::start();
    let mut n = alert();
    n.entity_id = "Chambre 12 – étage 3".into();
    n.message = "Le stock du minibar a chuté : 3 bouteilles au lieu de 40 ☹".into();
    deliver(&channel(addr, false, TlsMode::None), &n, T).expect("delivered");
    let m = server.wait_for(1, T).pop().expect("one mail");
    assert_eq!(
        m.header("Subject").as_deref(),
        Some(email_subject(&n).as_str())
    );
    assert!(m.body_text().contains(&n.message), "{}", m.body_text());
}

#[test]
fn refused_connection_is_retryable() {
    let e = deliver(&channel(refused_addr(), false, TlsMode::None), &alert(), T).unwrap_err();
    assert!(!e.permanent, "{e}");
    assert!(e.message.contains("email via 127.0.0.1"), "{e}");
}

#[test]
fn smtp_5xx_is_permanent_and_4xx_retryable() {
    let opts = |r: &str| SmtpOptions {
        rcpt_reply: Some(r.into()),
        ..Default::default()
    };
    let (addr, _s) = SmtpServer::start_with(opts("550 5.1.1 no such user"));
    let e = deliver(&channel(addr, false, TlsMode::None), &alert(), T).unwrap_err();
    assert!(e.permanent, "{e}");
    assert!(e.message.contains("550"), "{e}");
    let (addr, _s) = SmtpServer::start_with(opts("451 4.3.0 try again later"));
    let e = deliver(&channel(addr, false, TlsMode::None), &alert(), T).unwrap_err();
    assert!(!e.permanent, "{e}");
}

#[test]
fn refused_login_is_permanent_and_does_not_leak_the_password() {
    // A server that quotes what it was sent in its refusal.
    let reply = format!("535 5.7.8 bad credentials for {USER}/{PASSWORD}");
    let opts = SmtpOptions {
        auth: true,
        auth_reply: Some(reply),
        ..Default::default()
    };
    let (addr, _s) = SmtpServer::start_with(opts);
    let e = deliver(&channel(addr, true, TlsMode::None), &alert(), T).unwrap_err();
    assert!(e.permanent, "{e}");
    assert!(e.message.contains("535"), "{e}");
    assert_no_credentials(&e.message);
    assert_no_credentials(&e.to_string());
    assert_no_credentials(&format!("{:?}", channel(addr, true, TlsMode::None)));
}

#[test]
fn credentials_without_server_auth_or_starttls_are_permanent() {
    let (addr, server) = SmtpServer::start();
    let e = deliver(&channel(addr, true, TlsMode::None), &alert(), T).unwrap_err();
    assert!(e.permanent, "no AUTH offered: {e}");
    assert_no_credentials(&e.message);
    let e = deliver(&channel(addr, false, TlsMode::StartTls), &alert(), T).unwrap_err();
    assert!(e.permanent, "no STARTTLS offered: {e}");
    assert!(
        server.messages().is_empty(),
        "nothing may be sent in clear text"
    );
}

#[test]
fn silent_server_times_out_within_the_timeout() {
    let (addr, _s) = SilentServer::start();
    let timeout = Duration::from_millis(700);
    let start = Instant::now();
    let e = deliver(&channel(addr, false, TlsMode::None), &alert(), timeout).unwrap_err();
    let took = start.elapsed();
    assert!(!e.permanent, "{e}");
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(2),
        "took {took:?}: {e}"
    );
    assert!(e.message.contains("timed out"), "{e}");
}
