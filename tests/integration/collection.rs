use pg_anomaly_it::{as_login_admin, connect, fresh_extension};
use std::thread;

/// Two sessions collecting the same event source at the same moment store each row once:
/// the source row is locked, the second run sees the advanced watermark.
#[test]
fn concurrent_collections_do_not_duplicate() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute(
        "DROP SCHEMA IF EXISTS it_app CASCADE; CREATE SCHEMA it_app;
         CREATE TABLE it_app.moves (urun_id text, qty float8, at timestamptz);
         INSERT INTO it_app.moves SELECT 'urun_' || (i % 20), i, '2026-02-01'::timestamptz + i * interval '1 minute'
           FROM generate_series(1, 5000) i;",
    )
    .unwrap();
    as_login_admin(
        &mut c,
        "it_app",
        "SELECT ml_add_source('moves', 'tuketim_miktar',
           'SELECT urun_id AS entity_id, qty AS metric_value, at AS \"timestamp\" FROM it_app.moves WHERE at > $1', 'event');",
    );
    let handles: Vec<_> = (0..2)
        .map(|_| {
            thread::spawn(|| {
                let mut c = connect();
                let row = c.query_one("SELECT sum(rows_inserted)::bigint FROM ml_collect('moves')", &[]).unwrap();
                row.get::<_, i64>(0)
            })
        })
        .collect();
    let inserted: Vec<i64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(inserted.iter().sum::<i64>(), 5000, "each row inserted by exactly one run: {inserted:?}");
    let n: i64 = c.query_one("SELECT count(*) FROM ml_metrics WHERE source = 'moves'", &[]).unwrap().get(0);
    assert_eq!(n, 5000);
    c.batch_execute("DROP SCHEMA it_app CASCADE").unwrap();
}

/// A collection whose transaction dies (the session is terminated midway) leaves the
/// watermark and the metrics as they were; the next run collects everything once.
#[test]
fn killed_collection_loses_nothing() {
    let mut c = connect();
    fresh_extension(&mut c);
    c.batch_execute(
        "DROP SCHEMA IF EXISTS it_slow CASCADE; CREATE SCHEMA it_slow;
         CREATE TABLE it_slow.moves (urun_id text, qty float8, at timestamptz);
         INSERT INTO it_slow.moves SELECT 'urun_1', i, '2026-02-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, 100) i;
         CREATE FUNCTION it_slow.slow(t timestamptz) RETURNS timestamptz LANGUAGE sql AS 'SELECT t FROM (SELECT pg_sleep(3)) s';",
    )
    .unwrap();
    as_login_admin(
        &mut c,
        "it_slow",
        "SELECT ml_add_source('slow', 'tuketim_miktar',
           'SELECT urun_id AS entity_id, qty AS metric_value, it_slow.slow(at) AS \"timestamp\" FROM it_slow.moves WHERE at > $1 LIMIT 1', 'event');",
    );
    let mut victim = connect();
    let pid: i32 = victim.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let h = thread::spawn(move || victim.query("SELECT * FROM ml_collect('slow')", &[]).is_err());
    thread::sleep(std::time::Duration::from_millis(800));
    let killed: bool = c.query_one("SELECT pg_terminate_backend($1)", &[&pid]).unwrap().get(0);
    assert!(killed);
    assert!(h.join().unwrap(), "the collection must have failed");
    let (n, wm): (i64, Option<std::time::SystemTime>) = {
        let r = c
            .query_one("SELECT (SELECT count(*) FROM ml_metrics), (SELECT watermark FROM ml_sources WHERE name = 'slow')", &[])
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(n, 0);
    assert!(wm.is_none());
    c.batch_execute("CREATE OR REPLACE FUNCTION it_slow.slow(t timestamptz) RETURNS timestamptz LANGUAGE sql AS 'SELECT t'").unwrap();
    c.batch_execute("UPDATE ml_sources SET query = replace(query, ' LIMIT 1', '') WHERE name = 'slow'").unwrap();
    let r = c.query_one("SELECT rows_inserted FROM ml_collect('slow')", &[]).unwrap();
    assert_eq!(r.get::<_, i64>(0), 100);
    let r = c.query_one("SELECT rows_inserted FROM ml_collect('slow')", &[]).unwrap();
    assert_eq!(r.get::<_, i64>(0), 0);
    c.batch_execute("DROP SCHEMA it_slow CASCADE").unwrap();
}
