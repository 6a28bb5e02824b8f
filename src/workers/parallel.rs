//! Parallel runs: a full feature rebuild or a saving detection pass split across dynamic
//! background workers by entity (a stable hash of entity_id modulo n). Each series is
//! computed by exactly one worker with the same code as a serial run, so the result is
//! identical to the serial one; each worker commits its own partition (a parallel run is
//! therefore not atomic: a failed worker leaves its partition to the next run, and the
//! leader reports the failure).

use crate::api::{detect, features};
use crate::errors::{Error, Result};
use crate::storage::{exec, locks, runs};
use pg_anomaly_core::CoreError;
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder};
use pgrx::datum::{JsonB, TimestampWithTimeZone};
use pgrx::prelude::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

/// The partition of an entity: FNV-1a of its id, modulo n (stable across processes).
pub fn partition_of(entity_id: &str, n: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in entity_id.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h % n.max(1)
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Starts one worker per job and waits for all of them. A job is the worker's bgw_extra:
/// "<kind>|<k>|<n>|<token>|<metric_type or *>|<since µs or ->|<until µs or ->".
fn run_workers(jobs: &[String]) -> Result<()> {
    let db = unsafe { pg_sys::MyDatabaseId };
    let user = unsafe { pg_sys::GetUserId() };
    let arg = ((u32::from(db) as u64) << 32) | u32::from(user) as u64;
    let pid = unsafe { pg_sys::MyProcPid };
    let mut handles = Vec::new();
    for job in jobs {
        if job.len() >= 127 {
            return Err(Error::Core(CoreError::invalid_param("metric_type", "(too long)", "a parallel run needs a metric type under 80 characters")));
        }
        let h = BackgroundWorkerBuilder::new("pg_anomaly parallel")
            .set_type("pg_anomaly parallel")
            .set_library("pg_anomaly")
            .set_function("pg_anomaly_parallel_main")
            .set_argument(Some(pg_sys::Datum::from(arg as i64)))
            .set_extra(job)
            .enable_spi_access()
            .set_notify_pid(pid)
            .load_dynamic()
            .map_err(|_| {
                Error::Core(
                    CoreError::new(pg_anomaly_core::ErrorKind::NotReady, "no background worker slot free for a parallel run")
                        .with_hint("Raise max_worker_processes or use fewer parallel workers."),
                )
            })?;
        handles.push(h);
    }
    for h in handles {
        let _ = h.wait_for_startup();
        let _ = h.wait_for_shutdown();
    }
    Ok(())
}

fn token() -> String {
    format!("{}-{}-{}", unsafe { pg_sys::MyProcPid }, SEQ.fetch_add(1, Ordering::Relaxed), std::process::id())
}

/// Collects the workers' results; fails when a worker failed or did not report.
fn results(token: &str, n: i32) -> Result<(i64, i64, Vec<Value>)> {
    let rows = Spi::connect(|client| -> Result<Vec<(bool, i64, i64, Option<String>, Option<JsonB>)>> {
        let t = client.select(
            "SELECT success, rows_in, rows_out, error, anomalies FROM ml_parallel_results WHERE token = $1 ORDER BY worker",
            None,
            &[token.into()],
        )?;
        let mut v = Vec::new();
        for r in t {
            v.push((r.get(1)?.unwrap_or(false), r.get(2)?.unwrap_or(0), r.get(3)?.unwrap_or(0), r.get(4)?, r.get(5)?));
        }
        Ok(v)
    })?;
    exec("DELETE FROM ml_parallel_results WHERE token = $1", &[token.into()])?;
    if rows.len() != n as usize || rows.iter().any(|r| !r.0) {
        let errors: Vec<String> = rows.iter().filter_map(|r| r.3.clone()).collect();
        return Err(Error::Core(CoreError::internal(format!(
            "{} of {} parallel workers did not finish: {}",
            n as usize - rows.iter().filter(|r| r.0).count(),
            n,
            if errors.is_empty() { "no report".to_string() } else { errors.join("; ") }
        ))));
    }
    let anomalies = rows.iter().filter_map(|r| r.4.as_ref()).flat_map(|j| j.0.as_array().cloned().unwrap_or_default()).collect();
    Ok((rows.iter().map(|r| r.1).sum(), rows.iter().map(|r| r.2).sum(), anomalies))
}

/// A full feature rebuild with `n` workers. Returns the feature rows written.
pub fn features(metric_type: Option<&str>, n: i32) -> Result<i64> {
    let n = n.clamp(2, 32);
    if !locks::try_stage(locks::Stage::Features)? {
        pgrx::notice!("pg_anomaly: another feature build is running; skipping this one");
        return Ok(0);
    }
    let started = runs::now()?;
    let t = token();
    let mt = metric_type.unwrap_or("*");
    // First the clearing, committed by a worker of its own (the partition workers must not
    // wait on locks this transaction would hold), then the partitions.
    run_workers(&[format!("clear|0|1|{t}|{mt}|-|-")])?;
    results(&t, 1)?;
    let jobs: Vec<String> = (0..n).map(|k| format!("features|{k}|{n}|{t}|{mt}|-|-")).collect();
    run_workers(&jobs)?;
    let (rows_in, rows_out, _) = results(&t, n)?;
    runs::success("features", metric_type, Some("parallel"), started, rows_in, rows_out)?;
    Ok(rows_out)
}

/// A saving detection run with `n` workers; returns the anomalous rows (a parallel run
/// hands back only those).
pub fn detection(
    metric_type: Option<&str>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    n: i32,
) -> Result<Vec<detect::DetectRow>> {
    let n = n.clamp(2, 32);
    if !locks::try_stage(locks::Stage::Detection)? {
        pgrx::notice!("pg_anomaly: another saving detection run is in progress; skipping this one");
        return Ok(Vec::new());
    }
    let started = runs::now()?;
    // The leader prepares what workers only read: features and active models.
    let types = detect::metric_types(metric_type)?;
    for mt in &types {
        features::build(Some(mt), false)?;
        detect::active_or_train(mt, true, metric_type.is_some())?;
    }
    let t = token();
    let mt = metric_type.unwrap_or("*");
    let us = |x: Option<TimestampWithTimeZone>| x.map(|v| crate::storage::to_unix_us(v).to_string()).unwrap_or_else(|| "-".into());
    let jobs: Vec<String> = (0..n).map(|k| format!("detect|{k}|{n}|{t}|{mt}|{}|{}", us(since), us(until))).collect();
    run_workers(&jobs)?;
    let (rows_in, rows_out, anomalies) = results(&t, n)?;
    for m in &types {
        let (_, gap) = crate::storage::alerts::settings(m)?;
        crate::storage::alerts::close_stale(m, gap)?;
    }
    runs::success("detection", metric_type, Some("parallel"), started, rows_in, rows_out)?;
    Ok(anomalies.iter().filter_map(detect::row_from_json).collect())
}

/// Demo data with `n` workers (entity index modulo n): returns rows and labels per metric
/// type. Partitions are created first and committed by a worker of their own, so the
/// writers find them.
pub fn demo(params: &pg_anomaly_core::demo::DemoParams, n: i32) -> Result<([i64; 4], [i64; 4])> {
    let n = n.clamp(2, 32);
    let t = token();
    let p = crate::api::demo::encode(params);
    run_workers(&[format!("partitions|0|1|{t}|{p}|-|-")])?;
    results(&t, 1)?;
    let jobs: Vec<String> = (0..n).map(|k| format!("demo|{k}|{n}|{t}|{p}|-|-")).collect();
    run_workers(&jobs)?;
    let (_, _, per_worker) = results(&t, n)?;
    let (mut rows, mut labels) = ([0i64; 4], [0i64; 4]);
    for w in per_worker {
        for m in 0..4 {
            rows[m] += w["rows"][m].as_i64().unwrap_or(0);
            labels[m] += w["labels"][m].as_i64().unwrap_or(0);
        }
    }
    Ok((rows, labels))
}

/// What one worker does, in its transaction; returns (rows in, rows out, anomalies).
fn work(kind: &str, k: u32, n: u32, metric_type: Option<&str>, since: Option<i64>, until: Option<i64>) -> Result<(i64, i64, Value)> {
    match kind {
        "clear" => {
            crate::storage::features::clear(metric_type)?;
            Ok((0, 0, Value::Null))
        }
        "features" => {
            let (i, o) = features::build_partition(metric_type, k, n)?;
            Ok((i, o, Value::Null))
        }
        "partitions" | "demo" => {
            let p = metric_type.and_then(crate::api::demo::decode).ok_or_else(|| Error::Core(CoreError::internal("bad demo job")))?;
            if kind == "partitions" {
                crate::storage::metrics::ensure_partitions(crate::storage::from_unix_us(p.start_us()), crate::storage::from_unix_us(p.end_us))?;
                return Ok((0, 0, Value::Null));
            }
            let (rows, labels) = crate::api::demo::write_entities(&p, Some((k, n)))?;
            // One-element array: results() flattens the workers' arrays.
            Ok((0, rows.iter().sum(), json!([{ "rows": rows, "labels": labels }])))
        }
        "detect" => {
            let rows = detect::detect_partition(
                metric_type,
                since.map(crate::storage::from_unix_us),
                until.map(crate::storage::from_unix_us),
                true,
                Some((k, n)),
            )?;
            let anomalies: Vec<Value> = rows.iter().filter(|r| r.5).map(detect::row_to_json).collect();
            Ok((rows.len() as i64, anomalies.len() as i64, json!(anomalies)))
        }
        _ => Err(Error::Core(CoreError::internal(format!("unknown parallel job {kind}")))),
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_anomaly_parallel_main(arg: pg_sys::Datum) {
    let a = arg.value() as u64;
    let db = pg_sys::Oid::from((a >> 32) as u32);
    let user = pg_sys::Oid::from((a & 0xffff_ffff) as u32);
    let extra = BackgroundWorker::get_extra().to_string();
    let parts: Vec<&str> = extra.splitn(7, '|').collect();
    if parts.len() != 7 {
        return;
    }
    let (kind, token) = (parts[0].to_string(), parts[3].to_string());
    let k: u32 = parts[1].parse().unwrap_or(0);
    let n: u32 = parts[2].parse().unwrap_or(1);
    let mt = (parts[4] != "*").then(|| parts[4].to_string());
    let since = parts[5].parse::<i64>().ok();
    let until = parts[6].parse::<i64>().ok();
    // Unblock signals (die() on SIGTERM; SIGUSR1 stays PostgreSQL's, which parallel query
    // and sinval messages need: with signals blocked a parallel plan would wait forever).
    super::attach_signals();
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), Some(user));
    let schema = || {
        Spi::get_one::<String>(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_anomaly'",
        )
        .ok()
        .flatten()
        .unwrap_or_else(|| "public".into())
    };
    let set_path = |s: &str| {
        let _ = Spi::run_with_args("SELECT pg_catalog.set_config('search_path', pg_catalog.quote_ident($1) || ', pg_temp', true)", &[s.into()]);
    };
    let outcome: std::result::Result<(i64, i64, Value), String> = BackgroundWorker::transaction(|| {
        let s = schema();
        set_path(&s);
        let _ = Spi::run("SELECT pg_catalog.set_config('pg_anomaly.run_trigger', 'worker', true)");
        // These workers are the parallelism; plans of their own would compete for the cores.
        let _ = Spi::run("SELECT pg_catalog.set_config('max_parallel_workers_per_gather', '0', true)");
        PgTryBuilder::new(|| {
            work(&kind, k, n, mt.as_deref(), since, until).map_err(|e| e.into_report("parallel").message().to_string())
        })
        .catch_others(|e| Err(crate::storage::subxact::report_of(&e).message().to_string()))
        .execute()
    });
    // The report goes in a transaction of its own, so a failed partition still reports.
    BackgroundWorker::transaction(|| {
        let s = schema();
        set_path(&s);
        let (ok, i, o, err, anomalies) = match &outcome {
            Ok((i, o, a)) => (true, *i, *o, None, Some(JsonB(a.clone()))),
            Err(e) => (false, 0, 0, Some(e.clone()), None),
        };
        let _ = Spi::run_with_args(
            "INSERT INTO ml_parallel_results (token, worker, success, rows_in, rows_out, error, anomalies) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[token.as_str().into(), (k as i32).into(), ok.into(), i.into(), o.into(), err.into(), anomalies.into()],
        );
    });
}
