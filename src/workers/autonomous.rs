//! Autonomous writes: PostgreSQL has no autonomous transactions, yet a failed training
//! must leave its log row although the ERROR rolls back the caller's transaction. The
//! caller writes the record to a file under $PGDATA/pg_anomaly, starts a short-lived
//! dynamic background worker that inserts it in a transaction of its own, and waits for
//! it. The worker inserts through fixed statements with parameters; the file only carries
//! values. Dynamic workers need no shared_preload_libraries.

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder};
use pgrx::prelude::*;
use pgrx::datum::JsonB;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

fn dir() -> std::path::PathBuf {
    let data = unsafe { std::ffi::CStr::from_ptr(pg_sys::DataDir) }.to_string_lossy().into_owned();
    std::path::Path::new(&data).join("pg_anomaly")
}

/// Inserts `row` into `table` (ml_training_logs or ml_job_runs) in its own transaction and
/// waits for it. Best effort: a failure to start the worker is reported as a WARNING and
/// never hides the caller's own error.
pub fn insert(table: &str, row: Value) {
    if let Err(e) = try_insert(table, row) {
        pgrx::warning!("pg_anomaly: could not record the failure autonomously: {e}");
    }
}

fn try_insert(table: &str, row: Value) -> Result<(), String> {
    let d = dir();
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    let pid = unsafe { pg_sys::MyProcPid };
    let name = format!("auto-{pid}-{}.json", SEQ.fetch_add(1, Ordering::Relaxed));
    let payload = serde_json::json!({ "table": table, "row": row });
    std::fs::write(d.join(&name), payload.to_string()).map_err(|e| e.to_string())?;
    let db = unsafe { pg_sys::MyDatabaseId };
    let user = unsafe { pg_sys::GetUserId() };
    let worker = BackgroundWorkerBuilder::new("pg_anomaly autonomous record")
        .set_type("pg_anomaly autonomous record")
        .set_library("pg_anomaly")
        .set_function("pg_anomaly_autonomous_main")
        .set_argument(Some(pg_sys::Datum::from(u32::from(db))))
        .set_extra(&format!("{}:{}", u32::from(user), name))
        .enable_spi_access()
        .set_notify_pid(pid)
        .load_dynamic()
        .map_err(|_| "no background worker slot free (max_worker_processes)".to_string())?;
    worker.wait_for_startup().map_err(|s| format!("worker did not start: {s:?}"))?;
    worker.wait_for_shutdown().map_err(|s| format!("worker did not finish: {s:?}"))?;
    if d.join(&name).exists() {
        let _ = std::fs::remove_file(d.join(&name));
        return Err("the worker could not insert the record (see the server log)".into());
    }
    Ok(())
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_anomaly_autonomous_main(arg: pg_sys::Datum) {
    let db = pg_sys::Oid::from(arg.value() as u32);
    let extra = BackgroundWorker::get_extra().to_string();
    let (user, name) = extra.split_once(':').unwrap_or(("0", ""));
    let user = pg_sys::Oid::from(user.parse::<u32>().unwrap_or(0));
    super::attach_signals();
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), Some(user));
    let path = dir().join(name);
    let Ok(text) = std::fs::read_to_string(&path) else { return };
    let Ok(payload) = serde_json::from_str::<Value>(&text) else { return };
    let table = payload.get("table").and_then(Value::as_str).unwrap_or("").to_string();
    let row = payload.get("row").cloned().unwrap_or(Value::Null);
    let sql = match table.as_str() {
        "ml_training_logs" => {
            "INSERT INTO %s.ml_training_logs (metric_type, model_type, training_start, training_end, success, error_message, reason, metrics)
             SELECT r->>'metric_type', r->>'model_type', (r->>'training_start')::timestamptz, pg_catalog.clock_timestamp(), false,
                    r->>'error_message', r->>'reason', r->'metrics' FROM (SELECT $1::jsonb AS r) s"
        }
        "ml_job_runs" => {
            "INSERT INTO %s.ml_job_runs (stage, metric_type, source, trigger, started, finished, rows_in, rows_out, success, error)
             SELECT r->>'stage', r->>'metric_type', r->>'source', coalesce(r->>'trigger', 'manual'), (r->>'started')::timestamptz,
                    pg_catalog.clock_timestamp(), 0, 0, false, r->>'error' FROM (SELECT $1::jsonb AS r) s"
        }
        _ => return,
    };
    let ok = BackgroundWorker::transaction(|| {
        let schema = Spi::get_one::<String>(
            "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_anomaly'",
        );
        match schema {
            Ok(Some(s)) => Spi::run_with_args(&sql.replace("%s", &s), &[JsonB(row).into()]).is_ok(),
            _ => false,
        }
    });
    if ok {
        let _ = std::fs::remove_file(&path);
    }
}
