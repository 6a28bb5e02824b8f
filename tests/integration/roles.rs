use pg_anomaly_it::{connect, connect_as, fresh_extension, sqlstate};

fn login_role(c: &mut postgres::Client, name: &str, member_of: &str) {
    c.batch_execute(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN CREATE ROLE {name} LOGIN; END IF; END $$;
         GRANT {member_of} TO {name};"
    ))
    .unwrap();
}

/// The web application's role inserts metrics, reads alerts and may change only is_read
/// and is_false_positive; everything else fails with 42501 and changes nothing.
#[test]
fn writer_role_can_do_its_job_and_nothing_else() {
    let mut admin = connect();
    fresh_extension(&mut admin);
    login_role(&mut admin, "it_webapp", "anomaly_writer");
    admin
        .batch_execute(
            "INSERT INTO ml_alerts (alert_type, severity, entity_id, message, metric_type, \"timestamp\", last_seen)
             VALUES ('stok_anomali', 'orta', 'urun_1', 'test', 'stok_seviye', now(), now())",
        )
        .unwrap();
    let mut w = connect_as("it_webapp");
    w.execute(
        "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\") VALUES ('stok_seviye', 'urun_1', 10, now())",
        &[],
    )
    .unwrap();
    let s: String = w.query_one("SELECT ml_ingest('stok_seviye', 'urun_1', 11, now() - interval '1 hour')", &[]).unwrap().get(0);
    assert_eq!(s, "inserted");
    let n = w.execute("UPDATE ml_alerts SET is_read = true, is_false_positive = true", &[]).unwrap();
    assert_eq!(n, 1);
    for forbidden in [
        "UPDATE ml_alerts SET severity = 'kritik'",
        "DELETE FROM ml_alerts",
        "DELETE FROM ml_metrics",
        "SELECT * FROM ml_models",
        "INSERT INTO ml_labels (metric_type, entity_id, starts_at, ends_at) VALUES ('a', 'b', now(), now())",
        "SELECT ml_collect()",
        "SELECT * FROM ml_generate_demo_data(1, 1)",
        "SELECT ml_build_features()",
    ] {
        let e = w.execute(forbidden, &[]).expect_err(forbidden);
        assert_eq!(sqlstate(&e), "42501", "{forbidden}: {e}");
    }
    let (sev, metrics): (String, i64) = {
        let r = admin.query_one("SELECT (SELECT severity FROM ml_alerts), (SELECT count(*) FROM ml_metrics)", &[]).unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(sev, "orta");
    assert_eq!(metrics, 2);
}

/// PUBLIC gets nothing: a role with no grant cannot read alerts or call functions.
#[test]
fn public_gets_nothing() {
    let mut admin = connect();
    fresh_extension(&mut admin);
    admin
        .batch_execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'it_nobody') THEN CREATE ROLE it_nobody LOGIN; END IF; END $$;")
        .unwrap();
    let mut n = connect_as("it_nobody");
    for q in ["SELECT * FROM ml_alerts", "SELECT * FROM ml_metrics", "SELECT ml_ingest('a', 'b', 1)"] {
        let e = n.execute(q, &[]).expect_err(q);
        assert_eq!(sqlstate(&e), "42501", "{q}: {e}");
    }
}

/// The analysts' role reads tables and runs ml_detect without saving; it cannot save,
/// train, or read the model bytes.
#[test]
fn reader_role_reads_and_scores_but_does_not_write() {
    let mut admin = connect();
    fresh_extension(&mut admin);
    login_role(&mut admin, "it_analyst", "anomaly_reader");
    admin
        .batch_execute(
            "SELECT ml_generate_demo_data(3, 10, 2, date_trunc('hour', now()));
             SELECT ml_build_features();
             SELECT ml_train('tuketim_miktar', train_until => date_trunc('hour', now()) - interval '2 days');",
        )
        .unwrap();
    let mut r = connect_as("it_analyst");
    let scored: i64 = r
        .query_one("SELECT count(*) FROM ml_detect('tuketim_miktar', since => date_trunc('hour', now()) - interval '2 days')", &[])
        .unwrap()
        .get(0);
    assert!(scored > 0);
    let n: i64 = r.query_one("SELECT count(*) FROM ml_features", &[]).unwrap().get(0);
    assert!(n > 0);
    for forbidden in [
        "SELECT count(*) FROM ml_detect('tuketim_miktar', save => true)",
        "SELECT model_data FROM ml_models",
        "SELECT ml_train('tuketim_miktar')",
        "SELECT * FROM ml_channels",
        "UPDATE ml_alerts SET is_read = true",
        "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\") VALUES ('a', 'b', 1, now())",
    ] {
        let e = r.execute(forbidden, &[]).expect_err(forbidden);
        assert_eq!(sqlstate(&e), "42501", "{forbidden}: {e}");
    }
    let alerts: i64 = admin.query_one("SELECT count(*) FROM ml_alerts", &[]).unwrap().get(0);
    assert_eq!(alerts, 0, "nothing saved by the reader");
}
