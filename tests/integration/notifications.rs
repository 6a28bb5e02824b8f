use pg_anomaly_it::{connect, connect_as, fresh_extension};
use pg_anomaly_notify::testing::{refused_addr, wait_until, HttpServer, SmtpServer};
use postgres::fallible_iterator::FallibleIterator;
use std::io::{Read, Write};
use std::time::Duration;

/// Demo data with a trained model and one saving detection run (alerts written).
fn alerts_setup(c: &mut postgres::Client) {
    c.batch_execute(
        "SELECT ml_generate_demo_data(6, 21, 5, date_trunc('hour', now()));
         SELECT ml_build_features();
         SELECT ml_train('stok_seviye', train_until => date_trunc('hour', now()) - interval '7 days');",
    )
    .unwrap();
}

/// Scenario 2 end to end: an anomaly is detected, the alert row NOTIFYs a listening
/// connection, email and SMS (and a webhook) are delivered by real loopback servers, the web
/// application marks it read and false positive with plain SQL, and the next training
/// learns it (its window is recorded as normal in the model's training).
#[test]
fn scenario_2_alert_notify_deliver_feedback() {
    let (smtp_addr, smtp) = SmtpServer::start();
    let (hook_addr, hook) = HttpServer::start(&[200]);
    let (sms_addr, sms) = HttpServer::start(&[200]);
    let mut c = connect();
    fresh_extension(&mut c);
    let email = serde_json::json!({"host": "127.0.0.1", "port": smtp_addr.port(), "tls": "none",
        "from": "pg_anomaly@depo.example", "to": ["mudur@depo.example"]});
    let webhook = serde_json::json!({"url": format!("http://{hook_addr}/alerts"), "headers": {"X-Team": "depo"}});
    let smsc = serde_json::json!({"url": format!("http://{sms_addr}/send"), "phone": "+905550000000",
        "body_template": "{\"to\": \"{phone}\", \"text\": \"{severity} {entity_id}: {message}\"}"});
    for (name, kind, cfg) in [("mail", "email", &email), ("hook", "webhook", &webhook), ("sms", "sms", &smsc)] {
        c.execute("SELECT ml_add_channel($1, $2, $3)", &[&name, &kind, cfg]).unwrap();
        c.execute("SELECT ml_add_notification_rule($1, 'dusuk')", &[&name]).unwrap();
    }
    let mut listener = connect();
    listener.batch_execute("LISTEN pg_anomaly_alerts").unwrap();
    alerts_setup(&mut c);
    c.batch_execute("SELECT count(*) FROM ml_detect('stok_seviye', save => true)").unwrap();
    let alert_id: i64 = c.query_one("SELECT min(id) FROM ml_alerts", &[]).unwrap().get(0);
    // NOTIFY reached the listening connection, with the JSON payload
    let got = listener.notifications().timeout_iter(Duration::from_secs(5)).next().unwrap().expect("a NOTIFY");
    assert_eq!(got.channel(), "pg_anomaly_alerts");
    // every login may LISTEN: the payload is the alert id, severity and event, nothing else
    let payload: serde_json::Value = serde_json::from_str(got.payload()).unwrap();
    assert!(payload["id"].as_i64().is_some() && payload["severity"].is_string(), "{payload}");
    assert_eq!(payload["event"], "insert", "{payload}");
    let mut keys: Vec<&String> = payload.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["event", "id", "severity"], "nothing readable only through grants: {payload}");
    // the outbox was filled in the alert's transaction, and is delivered (by the worker or now)
    let queued: i64 = c.query_one("SELECT count(*) FROM ml_notifications WHERE alert_id = $1", &[&alert_id]).unwrap().get(0);
    assert_eq!(queued, 3);
    c.batch_execute("SELECT ml_deliver_notifications(1000)").unwrap();
    let mails = smtp.wait_for(1, Duration::from_secs(10));
    let mail = mails.iter().find(|m| m.header("Subject").unwrap_or_default().contains(&format!("alert {alert_id}")))
        .expect("the email of the first alert");
    let body = mail.body_text();
    let entity: String = c.query_one("SELECT entity_id FROM ml_alerts WHERE id = $1", &[&alert_id]).unwrap().get(0);
    assert!(body.contains(&entity), "{body}");
    let reqs = hook.wait_for(1, Duration::from_secs(10));
    let r = reqs.iter().find(|r| r.json().map(|j| j["alert_id"] == alert_id).unwrap_or(false)).expect("webhook JSON");
    assert!(r.header("Idempotency-Key").unwrap_or_default().starts_with(&format!("pg_anomaly-{alert_id}-")));
    assert_eq!(r.header("X-Team"), Some("depo"));
    let sms_reqs = sms.wait_for(1, Duration::from_secs(10));
    let s = sms_reqs.iter().find(|r| r.body_str().contains(&entity)).expect("SMS body");
    assert_eq!(s.json().unwrap()["to"], "+905550000000");
    let sent: i64 = c.query_one("SELECT count(*) FROM ml_notifications WHERE alert_id = $1 AND status = 'sent'", &[&alert_id]).unwrap().get(0);
    assert_eq!(sent, 3);
    // the web application: read and false positive, with plain SQL through its role
    c.batch_execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'it_webapp') THEN CREATE ROLE it_webapp LOGIN; END IF; END $$;
                     GRANT anomaly_writer TO it_webapp;").unwrap();
    let mut web = connect_as("it_webapp");
    let n = web.execute("UPDATE ml_alerts SET is_read = true, is_false_positive = true WHERE id = $1", &[&alert_id]).unwrap();
    assert_eq!(n, 1);
    let report: serde_json::Value = c
        .query_one("SELECT ml_train('stok_seviye')", &[])
        .and_then(|_| c.query_one("SELECT metrics FROM ml_training_logs WHERE success ORDER BY id DESC LIMIT 1", &[]))
        .unwrap()
        .get(0);
    let params: serde_json::Value = c.query_one("SELECT parameters FROM ml_models WHERE metric_type = 'stok_seviye' ORDER BY id DESC LIMIT 1", &[]).unwrap().get(0);
    assert!(report["quality"].is_object() && params["report"]["rows_normal"].as_u64().unwrap_or(0) >= 1, "{params}");
}

/// With the receiver down the notification is retried with backoff and delivered once it
/// is back; a permanently failing channel ends 'failed' with its error, the alert intact.
#[test]
fn retries_until_back_and_fails_permanently() {
    let mut c = connect();
    fresh_extension(&mut c);
    let down = refused_addr();
    let (bad_addr, _bad) = HttpServer::start(&[400, 400, 400]);
    c.execute("SELECT ml_add_channel('later', 'webhook', $1)", &[&serde_json::json!({"url": format!("http://{down}/hook")})]).unwrap();
    c.execute("SELECT ml_add_channel('broken', 'webhook', $1)", &[&serde_json::json!({"url": format!("http://{bad_addr}/hook")})]).unwrap();
    c.batch_execute("SELECT ml_add_notification_rule('later', 'dusuk'); SELECT ml_add_notification_rule('broken', 'dusuk');").unwrap();
    c.batch_execute(
        "INSERT INTO ml_alerts (alert_type, severity, entity_id, message, metric_type, \"timestamp\", last_seen)
         VALUES ('stok_anomali', 'yuksek', 'urun_0042', 'stok düştü', 'stok_seviye', now(), now())",
    )
    .unwrap();
    // detection queues notifications itself; an alert inserted by hand is queued here
    c.batch_execute("INSERT INTO ml_notifications (alert_id, channel_id, severity, idempotency_key)
                     SELECT a.id, ch.id, a.severity, 'k-' || a.id || '-' || ch.id FROM ml_alerts a, ml_channels ch").unwrap();
    c.batch_execute("SELECT ml_deliver_notifications()").unwrap();
    let (status, attempts, err): (String, i32, Option<String>) = {
        let r = c.query_one("SELECT n.status, n.attempts, n.last_error FROM ml_notifications n JOIN ml_channels ch ON ch.id = n.channel_id WHERE ch.name = 'later'", &[]).unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!((status.as_str(), attempts), ("pending", 1), "{err:?}");
    let backoff_ok: bool = c.query_one("SELECT next_attempt_at > now() FROM ml_notifications n JOIN ml_channels ch ON ch.id = n.channel_id WHERE ch.name = 'later'", &[]).unwrap().get(0);
    assert!(backoff_ok, "the retry waits (backoff)");
    // the receiver comes back on the same port
    let listener = std::net::TcpListener::bind(down).expect("rebind the port");
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 { break; }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some(h) = text.find("\r\n\r\n") {
                let len = text[..h].lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))).unwrap_or(0);
                if got.len() >= h + 4 + len { break; }
            }
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        String::from_utf8_lossy(&got).to_string()
    });
    c.batch_execute("UPDATE ml_notifications SET next_attempt_at = now()").unwrap();
    let delivered = wait_until(Duration::from_secs(15), || {
        c.batch_execute("SELECT ml_deliver_notifications()").ok()?;
        let s: String = c.query_one("SELECT n.status FROM ml_notifications n JOIN ml_channels ch ON ch.id = n.channel_id WHERE ch.name = 'later'", &[]).ok()?.get(0);
        (s == "sent").then_some(())
    });
    assert!(delivered.is_some(), "delivered once the receiver is back");
    let request = server.join().unwrap();
    assert!(request.contains("urun_0042"), "{request}");
    let (bstatus, berr): (String, Option<String>) = {
        let r = c.query_one("SELECT n.status, n.last_error FROM ml_notifications n JOIN ml_channels ch ON ch.id = n.channel_id WHERE ch.name = 'broken'", &[]).unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(bstatus, "failed");
    assert!(berr.unwrap_or_default().contains("400"));
    let alerts: i64 = c.query_one("SELECT count(*) FROM ml_alerts WHERE entity_id = 'urun_0042'", &[]).unwrap().get(0);
    assert_eq!(alerts, 1, "the alert stays intact");
}

/// Automatic actions: a user's function opens a restock task for each new alert; a
/// failing action is recorded with its error and the alert is kept.
#[test]
fn actions_run_and_failures_are_recorded() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute(
        "DROP SCHEMA IF EXISTS it_act CASCADE; CREATE SCHEMA it_act;
         CREATE TABLE it_act.restock_tasks (alert_id bigint, entity_id text);
         CREATE FUNCTION it_act.open_task(alert bigint) RETURNS void LANGUAGE sql AS
           $$ INSERT INTO it_act.restock_tasks SELECT id, entity_id FROM public.ml_alerts WHERE id = alert $$;
         CREATE FUNCTION it_act.broken(alert bigint) RETURNS void LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'ticket system down'; END $$;",
    )
    .unwrap();
    pg_anomaly_it::as_login_admin(
        &mut c,
        "it_act",
        "SELECT ml_add_action('it_act.open_task(bigint)', 'dusuk');
         SELECT ml_add_action('it_act.broken(bigint)', 'dusuk');",
    );
    alerts_setup(&mut c);
    c.batch_execute("SELECT count(*) FROM ml_detect('stok_seviye', save => true)").unwrap();
    let alerts: i64 = c.query_one("SELECT count(*) FROM ml_alerts", &[]).unwrap().get(0);
    assert!(alerts > 0);
    let tasks: i64 = c.query_one("SELECT count(*) FROM it_act.restock_tasks", &[]).unwrap().get(0);
    assert_eq!(tasks, alerts, "one task per new alert");
    let (ok, failed, err): (i64, i64, Option<String>) = {
        let r = c.query_one("SELECT count(*) FILTER (WHERE success), count(*) FILTER (WHERE NOT success), max(error) FROM ml_action_runs", &[]).unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!((ok, failed), (alerts, alerts));
    assert!(err.unwrap_or_default().contains("ticket system down"));
    c.batch_execute("DROP SCHEMA it_act CASCADE").unwrap();
}

/// ml_plot draws the series with the alert in its severity's colour; rsvg-convert (the
/// PNG renderer of the README's main command) accepts the document.
#[test]
fn plot_of_an_alerted_series_renders() {
    let mut c = connect();
    fresh_extension(&mut c);
    alerts_setup(&mut c);
    c.batch_execute("SELECT count(*) FROM ml_detect('stok_seviye', save => true)").unwrap();
    let r = c
        .query_one("SELECT id, entity_id, severity, \"timestamp\" - interval '2 days', last_seen + interval '1 day' FROM ml_alerts ORDER BY peak_score DESC, id LIMIT 1", &[])
        .unwrap();
    let (id, entity, severity): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
    let (since, until): (std::time::SystemTime, std::time::SystemTime) = (r.get(3), r.get(4));
    let svg: String = c
        .query_one("SELECT ml_plot('stok_seviye', $1, $2, $3)", &[&entity, &since, &until])
        .unwrap()
        .get(0);
    let color = pg_anomaly_core_colors(&severity);
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "an SVG document");
    assert!(svg.contains(&format!("#{id} ")), "the alert is marked");
    assert!(svg.to_ascii_lowercase().contains(color), "in its severity colour {color}");
    assert!(svg.contains(&entity), "titled with the entity");
    let dir = std::env::temp_dir().join(format!("pga-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.svg"), &svg).unwrap();
    let out = std::process::Command::new("rsvg-convert")
        .arg("-o")
        .arg(dir.join("p.png"))
        .arg(dir.join("p.svg"))
        .status()
        .expect("rsvg-convert (librsvg2-bin) is installed by scripts/setup.sh");
    assert!(out.success());
    let png = std::fs::read(dir.join("p.png")).unwrap();
    assert!(png.len() > 5000 && png.starts_with(b"\x89PNG"));
}

fn pg_anomaly_core_colors(severity: &str) -> &'static str {
    match severity {
        "dusuk" => "#2e86de",
        "orta" => "#f6b93b",
        "yuksek" => "#e55039",
        _ => "#b71540",
    }
}
