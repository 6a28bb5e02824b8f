//! Fault tier: reinstalling the library (scripts/install_files.sh, the step of
//! scripts/install.sh that puts files in place) while the fault cluster runs its real-time
//! and notifier workers and a writer ingests. Writing the .so in place used to crash the
//! real-time worker (SIGSEGV) and make the postmaster reinitialise every backend; the atomic
//! rename leaves running processes on the old inode. Run by tier 5 (-- --ignored faults).

use postgres::{Client, NoTls};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn fault_url() -> String {
    std::env::var("PGA_FAULT_URL").expect("PGA_FAULT_URL: this test needs the fault cluster that tier 5 of scripts/test.sh starts")
}

fn workers(c: &mut Client) -> Vec<(String, i32)> {
    c.query(
        "SELECT backend_type, pid FROM pg_stat_activity WHERE backend_type IN ('pg_anomaly realtime', 'pg_anomaly notifier') ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[test]
#[ignore = "reinstalls the library of the fault cluster: run by tier 5 of scripts/test.sh (-- --ignored faults)"]
fn faults_reinstall_under_load() {
    let url = fault_url();
    let mut c = Client::connect(&url, NoTls).unwrap();
    c.batch_execute(
        "SET client_min_messages = warning;
         CREATE EXTENSION IF NOT EXISTS pg_cron;
         CREATE EXTENSION IF NOT EXISTS pg_anomaly CASCADE;",
    )
    .unwrap();
    // the workers are up before the reinstall (the real-time worker waits for the extension)
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = loop {
        let w = workers(&mut c);
        if w.iter().any(|(t, _)| t == "pg_anomaly realtime") || Instant::now() > deadline {
            break w;
        }
        thread::sleep(Duration::from_millis(200));
    };
    assert!(before.iter().any(|(t, _)| t == "pg_anomaly realtime"), "the real-time worker runs: {before:?}");
    let started: std::time::SystemTime = c.query_one("SELECT pg_postmaster_start_time()", &[]).unwrap().get(0);

    // load: one writer ingesting row by row, new connections opening (each loads the library)
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let loader = {
        let (url, stop, ok, failed) = (url.clone(), stop.clone(), ok.clone(), failed.clone());
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r = Client::connect(&url, NoTls).and_then(|mut w| {
                    for _ in 0..20 {
                        i += 1;
                        w.execute(
                            "SELECT ml_ingest('tuketim_miktar', 'reinstall_' || ($1::int % 7), 1.0, '2026-01-01 00:00+00'::timestamptz + make_interval(mins => $1::int))",
                            &[&(i as i32)],
                        )?;
                    }
                    Ok(())
                });
                match r {
                    Ok(()) => ok.fetch_add(20, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    thread::sleep(Duration::from_secs(1));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/install_files.sh");
    for _ in 0..3 {
        let out = Command::new("bash").arg(script).output().expect("run scripts/install_files.sh");
        assert!(out.status.success(), "install_files.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        thread::sleep(Duration::from_millis(700));
    }
    thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    loader.join().unwrap();

    // no crash: the postmaster did not reinitialise, the workers are the same processes,
    // every connection of the writer worked, and new sessions run the (new) library
    let mut after = Client::connect(&url, NoTls).expect("the server accepts connections after the reinstall");
    let started_after: std::time::SystemTime = after.query_one("SELECT pg_postmaster_start_time()", &[]).unwrap().get(0);
    assert_eq!(started, started_after);
    assert_eq!(workers(&mut after), before, "no worker died or restarted");
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no writer session failed");
    assert!(ok.load(Ordering::Relaxed) > 0);
    let n: i64 = after.query_one("SELECT count(*) FROM ml_metrics WHERE entity_id LIKE 'reinstall_%'", &[]).unwrap().get(0);
    assert_eq!(n as usize, ok.load(Ordering::Relaxed), "every acknowledged row is stored");
    let s: String = after.query_one("SELECT ml_ingest('tuketim_miktar', 'reinstall_new', 2.0, now())", &[]).unwrap().get(0);
    assert_eq!(s, "inserted");
    after.batch_execute("DELETE FROM ml_metrics WHERE entity_id LIKE 'reinstall_%'").unwrap();
}
