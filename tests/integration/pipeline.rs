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

/// A saving detection pass of one metric type still in its transaction (as the real-time
/// worker scores the types with an active forest) makes the schedule's detection skip that
/// type only: the others are scored, and the held type is scored once, by its holder.
#[test]
fn scheduled_detection_skips_only_the_type_another_pass_holds() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute(
        "SELECT ml_generate_demo_data(3, 10, 4, date_trunc('hour', now()) - interval '1 hour');
         SELECT ml_build_features();
         SELECT ml_train('tuketim_miktar'); SELECT ml_train('stok_seviye');",
    )
    .unwrap();
    let mut holder = connect();
    let mut tx = holder.transaction().unwrap();
    let held: i64 = tx.query_one("SELECT count(*) FROM ml_detect('tuketim_miktar', save => true)", &[]).unwrap().get(0);
    assert!(held > 0, "the holder scored its type");
    let run: serde_json::Value = c.query_one("SELECT ml_run_stage('detection', 'cron')::jsonb", &[]).unwrap().get(0);
    let scored = |mt: &str| -> i64 {
        run["metric_types"].as_array().unwrap().iter().find(|t| t["metric_type"] == mt).and_then(|t| t["scored"].as_i64()).unwrap_or(-1)
    };
    assert_eq!(scored("tuketim_miktar"), 0, "the held type is skipped: {run}");
    assert!(scored("stok_seviye") > 0, "another type is scored while one is held: {run}");
    tx.commit().unwrap();
    let unscored: i64 = c.query_one("SELECT count(*) FROM ml_detect('tuketim_miktar', save => true)", &[]).unwrap().get(0);
    assert_eq!(unscored, 0, "the holder scored the held type, nothing is left of it");
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

/// Parallel runs (dynamic workers split by entity) give exactly the serial result: the same
/// feature rows and the same alerts.
#[test]
fn parallel_runs_equal_serial_runs() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute("SELECT ml_generate_demo_data(8, 14, 3, date_trunc('hour', now()))").unwrap();
    let digest = "SELECT md5(string_agg(f::text, ',' ORDER BY metric_type, entity_id, \"timestamp\"))
                    FROM (SELECT metric_type, entity_id, \"timestamp\", metric_value, mean_value, std_value, median_value, trend_slope,
                                 volatility, days_since_change, run_length, hours_since_jump, lag_1, lag_7, rolling_mean_7,
                                 rolling_std_7, zscore_7, seasonal_zscore FROM ml_features) f";
    let serial_rows: i64 = c.query_one("SELECT ml_build_features(full_rebuild => true)", &[]).unwrap().get(0);
    let serial: String = c.query_one(digest, &[]).unwrap().get(0);
    let parallel_rows: i64 = c.query_one("SELECT ml_build_features(full_rebuild => true, parallel => 2)", &[]).unwrap().get(0);
    let parallel: String = c.query_one(digest, &[]).unwrap().get(0);
    assert_eq!(serial_rows, 8 * 4 * 14 * 96);
    assert_eq!(parallel_rows, serial_rows);
    assert_eq!(parallel, serial, "parallel features equal serial features");
    let workers: i64 = c.query_one("SELECT count(*) FROM ml_parallel_results", &[]).unwrap().get(0);
    assert_eq!(workers, 0, "the workers' hand-over rows are cleaned up");

    c.batch_execute("SELECT ml_train(m, train_until => date_trunc('hour', now()) - interval '5 days')
                       FROM unnest(ARRAY['stok_seviye', 'tuketim_miktar']) m").unwrap();
    let alerts = "SELECT md5(string_agg(concat_ws('|', metric_type, entity_id, \"timestamp\", last_seen, severity, observation_count), ','
                           ORDER BY metric_type, entity_id, \"timestamp\")) FROM ml_alerts";
    c.batch_execute("SELECT count(*) FROM ml_detect('stok_seviye', save => true); SELECT count(*) FROM ml_detect('tuketim_miktar', save => true);").unwrap();
    let serial_alerts: Option<String> = c.query_one(alerts, &[]).unwrap().get(0);
    let n_serial: i64 = c.query_one("SELECT count(*) FROM ml_alerts", &[]).unwrap().get(0);
    c.batch_execute("DELETE FROM ml_alerts; UPDATE ml_series_state SET scored_until = NULL;").unwrap();
    let anomalous: i64 = c
        .query_one("SELECT count(*) FROM (SELECT * FROM ml_detect('stok_seviye', save => true, parallel => 2)
                                          UNION ALL SELECT * FROM ml_detect('tuketim_miktar', save => true, parallel => 2)) d", &[])
        .unwrap()
        .get(0);
    let parallel_alerts: Option<String> = c.query_one(alerts, &[]).unwrap().get(0);
    assert!(n_serial > 0 && anomalous > 0);
    assert_eq!(parallel_alerts, serial_alerts, "parallel detection writes the same alerts");
}

/// Scenario 1: a new product's first stock movement is collected from a registered source,
/// gets features at the next feature run, is checked at the next detection run, and is part
/// of the model retrained at night — the stages driven in cron's order.
#[test]
fn scenario_1_new_product_flows_through_the_stages() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute(
        "SELECT ml_generate_demo_data(4, 14, 8, date_trunc('hour', now()) - interval '1 hour');
         SELECT ml_run_stage('features', 'cron');
         SELECT ml_run_stage('training', 'cron');
         DROP SCHEMA IF EXISTS it_app1 CASCADE; CREATE SCHEMA it_app1;
         CREATE TABLE it_app1.stock_levels (urun_id text, level float8, at timestamptz);",
    )
    .unwrap();
    pg_anomaly_it::as_login_admin(
        &mut c,
        "it_app1",
        "SELECT ml_add_source('levels', 'stok_seviye',
           'SELECT urun_id AS entity_id, level AS metric_value, at AS \"timestamp\" FROM it_app1.stock_levels WHERE at > $1', 'event');",
    );
    let entities_before: i64 = c
        .query_one("SELECT (parameters->'report'->>'entities')::bigint FROM ml_models WHERE is_active AND metric_type = 'stok_seviye'", &[])
        .unwrap()
        .get(0);
    // 00:00 collection: the new product's first movements (a week of history arrives at once)
    c.batch_execute(
        "INSERT INTO it_app1.stock_levels
         SELECT 'urun_9999', 200 - (i % 96) * 2, date_trunc('hour', now()) - interval '8 days' + i * interval '15 minutes'
           FROM generate_series(0, 8 * 96 - 5) i;",
    )
    .unwrap();
    let collected: serde_json::Value = c.query_one("SELECT ml_run_stage('collection', 'cron')", &[]).unwrap().get(0);
    assert_eq!(collected["rows"].as_i64(), Some(8 * 96 - 4), "{collected}");
    // 00:30 features
    c.batch_execute("SELECT ml_run_stage('features', 'cron')").unwrap();
    let feats: i64 = c.query_one("SELECT count(*) FROM ml_features WHERE entity_id = 'urun_9999'", &[]).unwrap().get(0);
    assert_eq!(feats, 8 * 96 - 4);
    // 01:00 detection: the series is checked (scored up to its last observation)
    c.batch_execute("SELECT ml_run_stage('detection', 'cron')").unwrap();
    let checked: bool = c
        .query_one("SELECT scored_until = features_until FROM ml_series_state WHERE metric_type = 'stok_seviye' AND entity_id = 'urun_9999'", &[])
        .unwrap()
        .get(0);
    assert!(checked, "the new series was scored by the detection run");
    // the night: retraining includes the new product
    c.batch_execute("SELECT ml_run_stage('training', 'cron')").unwrap();
    let entities_after: i64 = c
        .query_one("SELECT (parameters->'report'->>'entities')::bigint FROM ml_models WHERE metric_type = 'stok_seviye' ORDER BY id DESC LIMIT 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(entities_after, entities_before + 1);
    let runs: i64 = c
        .query_one("SELECT count(DISTINCT stage) FROM ml_job_runs WHERE trigger = 'cron' AND success", &[])
        .unwrap()
        .get(0);
    assert!(runs >= 4, "collection, features, detection and training recorded as cron runs");
    c.batch_execute("DROP SCHEMA it_app1 CASCADE").unwrap();
}

/// States kept in memory after the build of each run, read from the build's debug line
/// ("... (N states, M kB kept) ...") of the last chunk.
fn kept_states(notices: &std::sync::Mutex<Vec<String>>) -> Option<usize> {
    let n = notices.lock().unwrap();
    let line = n.iter().rev().find(|m| m.starts_with("pg_anomaly features chunk:"))?;
    let before = &line[..line.find(" states, ")?];
    before[before.rfind('(')? + 1..].parse().ok()
}

/// A pg_cron run is a process of its own that ends with its job: its feature build keeps no
/// kernel state in memory (the checkpoints carry the next run), where a session building by
/// hand keeps every series' state for its next build.
#[test]
fn a_cron_run_keeps_no_kernel_state_in_memory() {
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = notices.clone();
    let mut cfg: postgres::Config = pg_anomaly_it::url().parse().unwrap();
    cfg.notice_callback(move |n| sink.lock().unwrap().push(n.message().to_string()));
    let mut c = cfg.connect(postgres::NoTls).unwrap();
    fresh_extension(&mut c);
    c.batch_execute(
        "SELECT ml_generate_demo_data(3, 10, 5, date_trunc('hour', now()) - interval '3 hours');
         SELECT ml_build_features(full_rebuild => true);",
    )
    .unwrap();
    let append = "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
                  SELECT metric_type, entity_id, metric_value + 1, \"timestamp\" + interval '15 minutes' FROM ml_metrics
                   WHERE \"timestamp\" = (SELECT max(\"timestamp\") FROM ml_metrics)";
    let mut run = |trigger: &str| -> Option<usize> {
        c.batch_execute(append).unwrap();
        notices.lock().unwrap().clear();
        c.batch_execute("SET client_min_messages = debug1").unwrap();
        let rows: i64 = c
            .query_one("SELECT (ml_run_stage('features', $1)->>'rows')::bigint", &[&trigger])
            .unwrap()
            .get(0);
        c.batch_execute("SET client_min_messages = warning").unwrap();
        assert_eq!(rows, 3 * 4, "one new row per series ({trigger})");
        kept_states(&notices)
    };
    assert_eq!(run("cron"), Some(0), "a cron run keeps nothing in memory");
    assert_eq!(run("manual"), Some(3 * 4), "a session building by hand keeps every series' state");
    // the next cron run in this same process: nothing new kept, the manual run's states stay
    // until evicted (they are fresh, so this run resumed from them)
    assert_eq!(run("cron"), Some(0), "a cron run keeps nothing, and the states it resumed are used up");
}

/// Kept kernel state: a session resumes series from the state it kept, but never after
/// another session rewrote one of them (here a corrected old value): its next increments
/// still equal a full rebuild, row for row and bit for bit.
#[test]
fn kept_kernel_state_is_never_stale() {
    let mut a = connect();
    fresh_extension(&mut a);
    a.batch_execute(
        "SELECT ml_generate_demo_data(3, 10, 5, date_trunc('hour', now()) - interval '3 hours');
         SELECT ml_build_features();",
    )
    .unwrap();
    let append = "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
                  SELECT metric_type, entity_id, metric_value + 1, \"timestamp\" + interval '15 minutes' FROM ml_metrics
                   WHERE \"timestamp\" = (SELECT max(\"timestamp\") FROM ml_metrics)";
    // session a keeps the state of every series and resumes from it
    for _ in 0..2 {
        a.batch_execute(append).unwrap();
        let n: i64 = a.query_one("SELECT ml_build_features()", &[]).unwrap().get(0);
        assert_eq!(n, 3 * 4, "one new row per series");
    }
    // session b corrects a value two days back and recomputes that series: a's kept state
    // of it is now stale (its 7- and 30-period windows hold the old value)
    let mut b = connect();
    let corrected: String = b
        .query_one(
            "SELECT ml_ingest('tuketim_miktar', 'urun_0001', 1e6,
                    (SELECT max(\"timestamp\") - interval '2 days' FROM ml_metrics WHERE metric_type = 'tuketim_miktar'))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(corrected, "corrected");
    let recomputed: i64 = b.query_one("SELECT ml_build_features()", &[]).unwrap().get(0);
    assert!(recomputed > 100, "b recomputed the series from the correction: {recomputed}");
    drop(b);
    for _ in 0..2 {
        a.batch_execute(append).unwrap();
        let n: i64 = a.query_one("SELECT ml_build_features()", &[]).unwrap().get(0);
        assert_eq!(n, 3 * 4);
    }
    let snapshot = "SELECT metric_type, entity_id, \"timestamp\", (to_jsonb(f) - 'id' - 'computed_at')::text FROM ml_features f";
    a.batch_execute(&format!("CREATE TEMP TABLE incremental AS {snapshot}")).unwrap();
    a.query_one("SELECT ml_build_features(full_rebuild => true)", &[]).unwrap();
    let (only_inc, only_full): (i64, i64) = {
        let r = a
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM (SELECT * FROM incremental EXCEPT {snapshot}) x),
                            (SELECT count(*) FROM ({snapshot} EXCEPT SELECT * FROM incremental) y)"
                ),
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((only_inc, only_full), (0, 0), "incremental builds with kept state equal a full rebuild");
    // the correction reached the new rows' 7-period window
    let seen: f64 = a
        .query_one(
            "SELECT max(max_value)::float8 FROM ml_features WHERE metric_type = 'tuketim_miktar' AND entity_id = 'urun_0001'
                AND \"timestamp\" > (SELECT max(\"timestamp\") - interval '1 hour' FROM ml_metrics)",
            &[],
        )
        .unwrap()
        .get(0);
    let rolling: f64 = a
        .query_one(
            "SELECT rolling_mean_7::float8 FROM ml_features WHERE metric_type = 'tuketim_miktar' AND entity_id = 'urun_0001'
              ORDER BY \"timestamp\" DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(seen < 1e6 && rolling > 1e6 / (7.0 * 96.0), "max {seen}, rolling_mean_7 {rolling}");
}

/// Cleanup never waits on a row a stage holds: a checkpoint or series state locked by
/// another transaction (a feature build rewriting it) is skipped, not waited for (waiting on
/// each other's rows in different orders is a deadlock), and forgotten by the next cleanup.
#[test]
fn cleanup_skips_rows_a_build_holds() {
    let mut c = connect();
    fresh_extension(&mut c);
    // three days of history ending two days ago: with one day of retention every row, and so
    // every checkpoint and every series state, has expired
    c.batch_execute(
        "SELECT ml_generate_demo_data(2, 3, 1, date_trunc('hour', now()) - interval '2 days');
         SELECT ml_build_features();",
    )
    .unwrap();
    let checkpoints: i64 = c.query_one("SELECT count(*) FROM ml_series_checkpoint", &[]).unwrap().get(0);
    assert!(checkpoints > 1, "the build wrote checkpoints ({checkpoints})");
    let mut holder = connect();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute(
        "SELECT 1 FROM ml_series_checkpoint WHERE entity_id = 'urun_0001' AND metric_type = 'stok_seviye' FOR UPDATE;
         SELECT 1 FROM ml_series_state WHERE entity_id = 'urun_0001' AND metric_type = 'stok_seviye' FOR UPDATE;",
    )
    .unwrap();
    c.batch_execute(
        "SET lock_timeout = '5s'; SET pg_anomaly.metrics_retention_days = 1; SET pg_anomaly.features_retention_days = 1;",
    )
    .unwrap();
    c.query("SELECT * FROM ml_cleanup()", &[]).expect("cleanup waited on a held row (lock_timeout)");
    let left = |c: &mut postgres::Client, table: &str| -> Vec<String> {
        c.query(&format!("SELECT metric_type || '/' || entity_id FROM {table} ORDER BY 1"), &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(left(&mut c, "ml_series_checkpoint"), vec!["stok_seviye/urun_0001".to_string()], "only the held checkpoint is kept");
    assert_eq!(left(&mut c, "ml_series_state"), vec!["stok_seviye/urun_0001".to_string()], "only the held state is kept");
    tx.commit().unwrap();
    c.query("SELECT * FROM ml_cleanup()", &[]).unwrap();
    assert!(left(&mut c, "ml_series_checkpoint").is_empty(), "the next cleanup forgets the released checkpoint");
    assert!(left(&mut c, "ml_series_state").is_empty(), "the next cleanup forgets the released state");
}

/// Cleanup never queues behind a transaction that holds a partitioned table: dropping a day
/// partition takes its table exclusively, and every insert and read would queue behind the
/// waiting DROP. Both tables are taken at once or not at all (a stage reads one and writes the
/// other), so while a long read holds ml_features nothing is dropped, the rest of cleanup
/// runs, and the next cleanup drops what was left.
#[test]
fn cleanup_leaves_a_held_table_for_the_next_run() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute(
        "SELECT ml_generate_demo_data(2, 3, 1, date_trunc('hour', now()) - interval '2 days');
         SELECT ml_build_features();
         SET pg_anomaly.metrics_retention_days = 1; SET pg_anomaly.features_retention_days = 1;
         SET lock_timeout = '5s';",
    )
    .unwrap();
    let expired = |c: &mut postgres::Client, table: &str| -> i64 {
        c.query_one(&format!("SELECT count(*) FROM {table} WHERE \"timestamp\" < now() - interval '1 day'"), &[]).unwrap().get(0)
    };
    let (metrics_before, features_before) = (expired(&mut c, "ml_metrics"), expired(&mut c, "ml_features"));
    assert!(metrics_before > 0 && features_before > 0, "the history is past the retention");
    let mut holder = connect();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("SELECT count(*) FROM ml_features").unwrap();
    let removed = |c: &mut postgres::Client| -> Vec<(String, i64)> {
        c.query("SELECT table_name::text, removed::bigint FROM ml_cleanup() WHERE table_name IN ('ml_metrics', 'ml_features') ORDER BY 1", &[])
            .expect("cleanup waited for the held table (lock_timeout)")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    let first = removed(&mut c);
    assert_eq!(first, vec![("ml_features".to_string(), 0), ("ml_metrics".to_string(), 0)], "nothing is dropped while a table is held");
    assert_eq!((expired(&mut c, "ml_metrics"), expired(&mut c, "ml_features")), (metrics_before, features_before));
    let runs: i64 = c.query_one("SELECT count(*) FROM ml_job_runs WHERE stage = 'cleanup' AND success", &[]).unwrap().get(0);
    assert_eq!(runs, 1, "the cleanup run itself succeeded");
    // the holder read on undisturbed, and once it is done the next cleanup expires the rest
    let still: i64 = tx.query_one("SELECT count(*) FROM ml_features", &[]).unwrap().get(0);
    assert!(still >= features_before);
    tx.commit().unwrap();
    let second = removed(&mut c);
    assert_eq!(second, vec![("ml_features".to_string(), features_before), ("ml_metrics".to_string(), metrics_before)], "the next cleanup drops what was left");
    assert_eq!((expired(&mut c, "ml_metrics"), expired(&mut c, "ml_features")), (0, 0));
}

/// ml_ensure_partitions gives way to a transaction holding a default partition: the day of
/// that table is left for the next call (its rows stay where they are found), the other
/// table's day is created, and once the holder is done the next call moves the rows.
#[test]
fn ensure_partitions_leaves_a_held_default_partition_for_the_next_call() {
    let mut c = connect();
    fresh_extension(&mut c);
    // a day far ahead has no partition yet: its rows land in the default partitions
    c.batch_execute(
        "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
             VALUES ('stok_seviye', 'p_ahead', 7, date_trunc('day', now()) + interval '40 days 3 hours');
         SET lock_timeout = '5s';",
    )
    .unwrap();
    let day = "date_trunc('day', now()) + interval '40 days 3 hours'";
    let in_default = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT count(*) FROM ml_metrics_default WHERE entity_id = 'p_ahead'", &[]).unwrap().get(0)
    };
    assert_eq!(in_default(&mut c), 1);
    let mut holder = connect();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("SELECT count(*) FROM ml_metrics_default").unwrap();
    let created: i32 = c
        .query_one(&format!("SELECT ml_ensure_partitions({day}, {day})"), &[])
        .expect("ml_ensure_partitions waited for the held default partition (lock_timeout)")
        .get(0);
    assert_eq!(created, 1, "only ml_features' day is created while ml_metrics_default is held");
    assert_eq!(in_default(&mut c), 1, "the row stays in the default partition, where it is found");
    let found: i64 = c.query_one("SELECT count(*) FROM ml_metrics WHERE entity_id = 'p_ahead'", &[]).unwrap().get(0);
    assert_eq!(found, 1);
    tx.commit().unwrap();
    let created: i32 = c.query_one(&format!("SELECT ml_ensure_partitions({day}, {day})"), &[]).unwrap().get(0);
    assert_eq!(created, 1, "the next call creates the day left over");
    assert_eq!(in_default(&mut c), 0, "and moves the row into it");
    let part: String = c
        .query_one("SELECT tableoid::regclass::text FROM ml_metrics WHERE entity_id = 'p_ahead'", &[])
        .unwrap()
        .get(0);
    assert!(part.starts_with("ml_metrics_p"), "the row is in a day partition, not {part}");
}
