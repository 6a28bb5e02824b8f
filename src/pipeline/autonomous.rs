//! Records that must outlive the caller's transaction: the log row of a failed training and
//! the record of a failed stage run, although the ERROR rolls back the caller's
//! transaction. The caller writes the record to a file under $PGDATA/pg_anomaly, starts a
//! short-lived dynamic background worker (`workers::autonomous`) that inserts it in a
//! transaction of its own, and waits for it. The worker inserts through fixed statements
//! with parameters (`storage::autonomous`); the file only carries values. Dynamic workers
//! need no shared_preload_libraries.

use crate::storage::autonomous::Table;
use pgrx::bgworkers::{BackgroundWorkerBuilder, BackgroundWorkerStatus};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::datum::ToIsoString;
use pgrx::pg_sys;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// What the file hands the worker.
#[derive(Serialize, Deserialize)]
pub struct Record {
    pub table: Table,
    pub row: Value,
}

fn dir() -> std::path::PathBuf {
    let data = unsafe { std::ffi::CStr::from_ptr(pg_sys::DataDir) }.to_string_lossy().into_owned();
    std::path::Path::new(&data).join("pg_anomaly")
}

/// Records a failed stage run in ml_job_runs.
pub fn record_failed_run(stage: &str, metric_type: Option<&str>, trigger: &str, started: TimestampWithTimeZone, error: &str) {
    insert(
        Table::JobRuns,
        json!({ "stage": stage, "metric_type": metric_type, "trigger": trigger, "started": started.to_iso_string(), "error": error }),
    );
}

/// Records a failed training in ml_training_logs.
pub fn record_failed_training(metric_type: &str, model_type: &str, started: TimestampWithTimeZone, error: &str, reason: &str, params: &Value) {
    insert(
        Table::TrainingLogs,
        json!({
            "metric_type": metric_type, "model_type": model_type,
            "training_start": started.to_iso_string(), "error_message": error, "reason": reason,
            "metrics": { "params": params },
        }),
    );
}

/// Inserts `row` into `table` in its own transaction and waits for it. Best effort: a
/// failure to start the worker is reported as a WARNING and never hides the caller's own
/// error.
fn insert(table: Table, row: Value) {
    if let Err(e) = try_insert(table, row) {
        pgrx::warning!("pg_anomaly: could not record the failure autonomously: {e}");
    }
}

fn try_insert(table: Table, row: Value) -> Result<(), String> {
    let d = dir();
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    let pid = unsafe { pg_sys::MyProcPid };
    let name = format!("auto-{pid}-{}.json", SEQ.fetch_add(1, Ordering::Relaxed));
    let payload = serde_json::to_string(&Record { table, row }).map_err(|e| e.to_string())?;
    std::fs::write(d.join(&name), payload).map_err(|e| e.to_string())?;
    let db = unsafe { pg_sys::MyDatabaseId };
    let caller = super::session::Caller::current();
    let worker = BackgroundWorkerBuilder::new("pg_anomaly autonomous record")
        .set_type("pg_anomaly autonomous record")
        .set_library("pg_anomaly")
        .set_function("pg_anomaly_autonomous_main")
        .set_argument(Some(pg_sys::Datum::from(u32::from(db))))
        .set_extra(&format!("{}:{}:{}", u32::from(caller.login), u32::from(caller.acting), name))
        .enable_spi_access()
        .set_notify_pid(pid)
        .load_dynamic()
        .map_err(|_| "no background worker slot free (max_worker_processes)".to_string())?;
    // A worker this short can finish before the postmaster reports it started: "Stopped"
    // here is no failure (the record file left behind, or not, says whether it inserted).
    match worker.wait_for_startup() {
        Ok(_) | Err(BackgroundWorkerStatus::Stopped) => {}
        Err(s) => return Err(format!("worker did not start: {s:?}")),
    }
    worker.wait_for_shutdown().map_err(|s| format!("worker did not finish: {s:?}"))?;
    if d.join(&name).exists() {
        let _ = std::fs::remove_file(d.join(&name));
        return Err("the worker could not insert the record (see the server log)".into());
    }
    Ok(())
}

/// The worker's side: reads the record file `name`, inserts it (in the worker's
/// transaction) and removes the file once inserted. Returns whether it inserted.
pub fn insert_from_file(name: &str) -> bool {
    let path = dir().join(name);
    let Ok(text) = std::fs::read_to_string(&path) else { return false };
    let Ok(record) = serde_json::from_str::<Record>(&text) else { return false };
    let ok = pgrx::bgworkers::BackgroundWorker::transaction(|| crate::storage::autonomous::insert(record.table, record.row).unwrap_or(false));
    if ok {
        let _ = std::fs::remove_file(&path);
    }
    ok
}
