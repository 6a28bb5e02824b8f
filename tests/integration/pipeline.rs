use pg_anomaly_it::{connect, fresh_extension};
use std::time::{Duration, Instant};

/// A pg_cron job really runs a stage: scheduled every minute, its run shows up in
/// ml_job_runs with trigger 'cron' (waits up to 75 s: pg_cron has minute granularity).
#[test]
fn pg_cron_runs_a_stage() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute(
        "SELECT ml_generate_demo_data(2, 2, 1, date_trunc('hour', now()));
         SELECT cron.schedule('pg_anomaly_it_features', '* * * * *', 'SELECT ml_run_stage(''features'', ''cron'')');",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(75);
    let mut ran = false;
    while Instant::now() < deadline {
        let n: i64 = c
            .query_one("SELECT count(*) FROM ml_job_runs WHERE stage = 'features' AND trigger = 'cron' AND success", &[])
            .unwrap()
            .get(0);
        if n > 0 {
            ran = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    c.batch_execute("SELECT cron.unschedule('pg_anomaly_it_features')").unwrap();
    assert!(ran, "the cron job did not run the features stage within 75 s");
    let features: i64 = c.query_one("SELECT count(*) FROM ml_features", &[]).unwrap().get(0);
    assert_eq!(features, 2 * 4 * 2 * 96);
}

/// A second concurrent run of a stage skips (returns 0 with a NOTICE) while another holds
/// the stage lock, and the work is done once.
#[test]
fn concurrent_feature_runs_skip() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute("SELECT ml_generate_demo_data(2, 2, 1, date_trunc('hour', now()))").unwrap();
    let mut holder = connect();
    let mut tx = holder.transaction().unwrap();
    // The first run: still in its transaction, holding the feature stage's lock.
    let first: i64 = tx.query_one("SELECT ml_build_features()", &[]).unwrap().get(0);
    assert_eq!(first, 2 * 4 * 2 * 96);
    let second: i64 = c.query_one("SELECT ml_build_features()", &[]).unwrap().get(0);
    assert_eq!(second, 0, "the concurrent run must skip");
    tx.commit().unwrap();
    let rows: i64 = c.query_one("SELECT count(*) FROM ml_features", &[]).unwrap().get(0);
    assert_eq!(rows, 2 * 4 * 2 * 96);
    let third: i64 = c.query_one("SELECT ml_build_features()", &[]).unwrap().get(0);
    assert_eq!(third, 0, "nothing left to do");
}

/// The real-time worker: with pg_anomaly.realtime on, a spike inserted by the web
/// application becomes an alert within seconds, without any scheduled job.
#[test]
fn realtime_worker_alerts_within_seconds() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute(
        "SELECT ml_generate_demo_data(4, 14, 2, date_trunc('hour', now()) - interval '1 hour');
         SELECT ml_build_features();
         SELECT ml_train('tuketim_miktar');
         SELECT count(*) FROM ml_detect('tuketim_miktar', save => true);
         DELETE FROM ml_alerts;",
    )
    .unwrap();
    // ALTER SYSTEM refuses to run in a (multi-statement, implicit) transaction block.
    for q in ["ALTER SYSTEM SET pg_anomaly.realtime = on", "ALTER SYSTEM SET pg_anomaly.realtime_interval = 1", "SELECT pg_reload_conf()"] {
        c.batch_execute(q).unwrap();
    }
    let worker: i64 = c
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_anomaly realtime'", &[])
        .unwrap()
        .get(0);
    assert_eq!(worker, 1, "the worker shows itself in pg_stat_activity");
    let started = Instant::now();
    c.batch_execute(
        "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
         SELECT 'tuketim_miktar', 'urun_0002', 400 + k, date_trunc('hour', now()) - interval '1 hour' + k * interval '15 minutes'
           FROM generate_series(1, 3) k",
    )
    .unwrap();
    let mut alerted = None;
    while started.elapsed() < Duration::from_secs(30) {
        let n: i64 = c
            .query_one("SELECT count(*) FROM ml_alerts WHERE entity_id = 'urun_0002' AND metric_type = 'tuketim_miktar'", &[])
            .unwrap()
            .get(0);
        if n > 0 {
            alerted = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    for q in ["ALTER SYSTEM RESET pg_anomaly.realtime", "ALTER SYSTEM RESET pg_anomaly.realtime_interval", "SELECT pg_reload_conf()"] {
        c.batch_execute(q).unwrap();
    }
    let after = alerted.expect("no alert from the real-time worker within 30 s");
    eprintln!("real-time alert after {after:?}");
    let worker_runs: i64 = c
        .query_one("SELECT count(*) FROM ml_job_runs WHERE trigger = 'worker' AND stage IN ('features', 'detection')", &[])
        .unwrap()
        .get(0);
    assert!(worker_runs >= 2, "the worker's runs are recorded with trigger 'worker'");
}
