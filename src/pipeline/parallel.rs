//! Parallel runs (the leader): a full feature rebuild, a saving detection pass or the demo
//! data split across dynamic background workers by entity (a stable hash of entity_id
//! modulo n, `pg_anomaly_core::codec::partition_of`). Each series is computed by exactly one
//! worker with the same code as a serial run, so the result is identical to the serial
//! one; each worker commits its own partition (a parallel run is therefore not atomic: a
//! failed worker leaves its partition to the next run, and the leader reports the
//! failure). The leader splits the run into [`Job`]s, starts one worker per job
//! (`workers::parallel`, which calls [`run_job`] and [`report`]) and collects their reports.

use super::stage::StageRun;
use super::session::Caller;
use super::{demo, detect, features};
use crate::errors::{Error, Result};
use crate::storage::{self, alerts, locks, parallel_results};
use pg_anomaly_core::demo::DemoParams;
use pg_anomaly_core::{CoreError, DetectRow};
use pgrx::bgworkers::BackgroundWorkerBuilder;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

/// What a worker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Clears the feature store (of one metric type or all) before a parallel rebuild.
    Clear,
    /// Builds the features of one partition of the series.
    Features,
    /// Creates the day partitions the demo data needs.
    Partitions,
    /// Writes the demo data of one partition of the entities.
    Demo,
    /// Scores one partition of the series, saving alerts.
    Detect,
}

/// One worker's job, handed over in bgw_extra (at most 127 bytes): serialised as a JSON
/// array (field order below) to fit; see [`Job::encode`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "JobWire", into = "JobWire")]
pub struct Job {
    pub kind: JobKind,
    /// This worker's partition k of n.
    pub k: u32,
    pub n: u32,
    /// Ties the workers' reports to their run (ml_parallel_results.token).
    pub token: String,
    /// The metric type (None: every type).
    pub metric_type: Option<String>,
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    /// The demo run's (entities, days, seed, end_us).
    pub demo: Option<(u32, u32, u64, i64)>,
    /// The role the leader acted as when it differs from its login role (the worker logs
    /// in as the login role, passed in bgw_main_arg, and acts as this one).
    pub acting: Option<u32>,
}

type JobWire = (JobKind, u32, u32, String, Option<String>, Option<i64>, Option<i64>, Option<(u32, u32, u64, i64)>, Option<u32>);

impl From<JobWire> for Job {
    fn from((kind, k, n, token, metric_type, since_us, until_us, demo, acting): JobWire) -> Self {
        Job { kind, k, n, token, metric_type, since_us, until_us, demo, acting }
    }
}

impl From<Job> for JobWire {
    fn from(j: Job) -> Self {
        (j.kind, j.k, j.n, j.token, j.metric_type, j.since_us, j.until_us, j.demo, j.acting)
    }
}

/// bgw_extra holds 128 bytes with its terminating NUL.
const MAX_JOB_BYTES: usize = 127;

impl Job {
    fn new(kind: JobKind, k: u32, n: u32, token: &str) -> Job {
        Job { kind, k, n, token: token.to_string(), metric_type: None, since_us: None, until_us: None, demo: None, acting: None }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(s: &str) -> Option<Job> {
        serde_json::from_str(s).ok()
    }

    fn demo_params(&self) -> Option<DemoParams> {
        self.demo.map(|(entities, days, seed, end_us)| DemoParams { entities, days, seed, end_us })
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Background-worker slots a parallel run leaves to others: the real-time and notifier
/// workers, pg_cron's launcher.
const RESERVED_SLOTS: i32 = 3;

/// The number of workers a run asked for (at least 2), refused before anything starts or
/// changes when it exceeds the background worker slots left for it.
fn workers_for(n: i32) -> Result<u32> {
    let n = n.max(2);
    let slots = unsafe { pg_sys::max_worker_processes } - RESERVED_SLOTS;
    if n > slots.max(1) {
        return Err(Error::Core(
            CoreError::new(pg_anomaly_core::ErrorKind::InvalidParameter, format!("parallel => {n} asks for more background workers than are left for it"))
                .with_detail(format!(
                    "max_worker_processes is {}; {RESERVED_SLOTS} slots stay for the real-time and notifier workers and pg_cron.",
                    unsafe { pg_sys::max_worker_processes }
                ))
                .with_hint(format!("Use parallel => {} or fewer, or raise max_worker_processes (needs a restart).", slots.max(1))),
        ));
    }
    Ok(n as u32)
}

/// Starts one worker per job and waits for all of them. A run asks for no more workers
/// than max_worker_processes leaves after the reserved slots; when a slot is missing all
/// the same (other extensions, parallel query), the workers already started are
/// terminated and waited for and their reports discarded before the error is raised, so
/// the caller's error is the whole outcome (a worker that finished and committed before
/// the failure keeps what it wrote, which the next run redoes or repairs).
fn run_workers(jobs: &[Job]) -> Result<()> {
    workers_for(jobs.len() as i32)?;
    let db = unsafe { pg_sys::MyDatabaseId };
    let caller = Caller::current();
    let arg = ((u32::from(db) as u64) << 32) | u32::from(caller.login) as u64;
    let pid = unsafe { pg_sys::MyProcPid };
    let mut handles: Vec<pgrx::bgworkers::DynamicBackgroundWorker> = Vec::new();
    for job in jobs {
        let extra = Job { acting: caller.acting_if_other(), ..job.clone() }.encode();
        let too_long = extra.len() > MAX_JOB_BYTES;
        let started = if too_long {
            None
        } else {
            BackgroundWorkerBuilder::new("pg_anomaly parallel")
                .set_type("pg_anomaly parallel")
                .set_library("pg_anomaly")
                .set_function("pg_anomaly_parallel_main")
                .set_argument(Some(pg_sys::Datum::from(arg as i64)))
                .set_extra(&extra)
                .enable_spi_access()
                .set_notify_pid(pid)
                .load_dynamic()
                .ok()
        };
        let Some(h) = started else {
            for h in handles {
                let _ = h.terminate().wait_for_shutdown();
            }
            parallel_results::take(&job.token)?;
            return Err(Error::Core(if too_long {
                CoreError::invalid_param("metric_type", "(too long)", "a parallel run hands each worker its job in 127 bytes: a metric type of at most 40 characters fits (29 when the caller acts through SET ROLE or a SECURITY DEFINER function); use parallel => 1 for longer ones")
            } else {
                CoreError::new(pg_anomaly_core::ErrorKind::NotReady, "no background worker slot free for a parallel run")
                    .with_detail("The workers already started were stopped and their reports discarded.")
                    .with_hint("Raise max_worker_processes or use fewer parallel workers.")
            }));
        };
        handles.push(h);
    }
    for h in handles {
        let _ = h.wait_for_startup();
        let _ = h.wait_for_shutdown();
    }
    Ok(())
}

fn token() -> String {
    format!("{}-{}", unsafe { pg_sys::MyProcPid }, SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Jobs k = 0..n of one kind, built by `with` from the bare job.
fn split(kind: JobKind, n: u32, token: &str, with: impl Fn(Job) -> Job) -> Vec<Job> {
    (0..n).map(|k| with(Job::new(kind, k, n, token))).collect()
}

/// Collects the workers' reports; fails when a worker failed or did not report.
fn collect(token: &str, n: u32) -> Result<(i64, i64, Vec<Value>)> {
    let rows = parallel_results::take(token)?;
    if rows.len() != n as usize || rows.iter().any(|r| !r.success) {
        let errors: Vec<String> = rows.iter().filter_map(|r| r.error.clone()).collect();
        return Err(Error::Core(CoreError::internal(format!(
            "{} of {} parallel workers did not finish: {}",
            n as usize - rows.iter().filter(|r| r.success).count(),
            n,
            if errors.is_empty() { "no report".to_string() } else { errors.join("; ") }
        ))));
    }
    let payload = rows.iter().filter_map(|r| r.payload.as_ref()).flat_map(|j| j.as_array().cloned().unwrap_or_default()).collect();
    Ok((rows.iter().map(|r| r.rows_in).sum(), rows.iter().map(|r| r.rows_out).sum(), payload))
}

/// Runs the jobs and collects their reports.
fn run_and_collect(jobs: &[Job]) -> Result<(i64, i64, Vec<Value>)> {
    let token = jobs.first().map(|j| j.token.clone()).unwrap_or_default();
    run_workers(jobs)?;
    collect(&token, jobs.len() as u32)
}

/// A full feature rebuild with `n` workers. Returns the feature rows written.
pub fn features(metric_type: Option<&str>, n: i32, trigger: &str) -> Result<i64> {
    let n = workers_for(n)?;
    // On a Citus cluster the build already runs on every shard at once, on the workers.
    if crate::gucs::citus_shard_builds() && crate::storage::citus::metrics_distributed()? {
        return features::build(metric_type, true, trigger);
    }
    if !StageRun::lock(locks::Stage::Features, features::BUSY)? {
        return Ok(0);
    }
    let run = StageRun::start("features", metric_type, trigger)?;
    let t = token();
    let mt = metric_type.map(str::to_owned);
    // First the clearing, committed by a worker of its own (the partition workers must not
    // wait on locks this transaction would hold), then the partitions.
    run_and_collect(&split(JobKind::Clear, 1, &t, |j| Job { metric_type: mt.clone(), ..j }))?;
    let (rows_in, rows_out, _) = run_and_collect(&split(JobKind::Features, n, &t, |j| Job { metric_type: mt.clone(), ..j }))?;
    run.success(Some("parallel"), rows_in, rows_out)?;
    Ok(rows_out)
}

/// A saving detection run with `n` workers; returns the anomalous rows (a parallel run
/// hands back only those).
pub fn detection(
    metric_type: Option<&str>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    n: i32,
    trigger: &str,
) -> Result<Vec<DetectRow>> {
    let n = workers_for(n)?;
    // The leader holds the detection lock of every type its workers score: a type another
    // saving pass holds skips the whole run (the workers take every type).
    let types = detect::metric_types(metric_type)?;
    for mt in &types {
        if !detect::lock_type(mt)? {
            return Ok(Vec::new());
        }
    }
    let run = StageRun::start("detection", metric_type, trigger)?;
    // The leader prepares what workers only read: features and active models.
    for mt in &types {
        features::build(Some(mt), false, trigger)?;
        detect::active_or_train(mt, true, metric_type.is_some(), trigger)?;
    }
    let t = token();
    let job = |j: Job| Job {
        metric_type: metric_type.map(str::to_owned),
        since_us: since.map(storage::to_unix_us),
        until_us: until.map(storage::to_unix_us),
        ..j
    };
    let (rows_in, rows_out, anomalies) = run_and_collect(&split(JobKind::Detect, n, &t, job))?;
    for m in &types {
        let (_, gap) = alerts::settings(m)?;
        // as long as the workers' pass keeps an alert open (the model's reversal window)
        let window = match crate::storage::models::active_any(m)? {
            Some((id, _)) => super::model::load(id)?.open_window_us(gap),
            None => gap,
        };
        alerts::close_stale(m, window)?;
    }
    run.success(Some("parallel"), rows_in, rows_out)?;
    Ok(anomalies.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect())
}

/// Demo data with `n` workers (entity index modulo n): returns rows and labels per metric
/// type. Partitions are created first and committed by a worker of their own, so the
/// writers find them.
pub fn demo(params: &DemoParams, n: i32) -> Result<([i64; 4], [i64; 4])> {
    let n = workers_for(n)?;
    let t = token();
    let p = Some((params.entities, params.days, params.seed, params.end_us));
    run_and_collect(&split(JobKind::Partitions, 1, &t, |j| Job { demo: p, ..j }))?;
    let (_, _, per_worker) = run_and_collect(&split(JobKind::Demo, n, &t, |j| Job { demo: p, ..j }))?;
    let (mut rows, mut labels) = ([0i64; 4], [0i64; 4]);
    for w in per_worker {
        for m in 0..4 {
            rows[m] += w["rows"][m].as_i64().unwrap_or(0);
            labels[m] += w["labels"][m].as_i64().unwrap_or(0);
        }
    }
    Ok((rows, labels))
}

/// What one worker does, in its transaction; returns (rows in, rows out, payload: a JSON
/// array the leader concatenates over the workers).
pub fn run_job(job: &Job) -> Result<(i64, i64, Value)> {
    let (k, n, mt) = (job.k, job.n, job.metric_type.as_deref());
    let bad_demo = || Error::Core(CoreError::internal("bad demo job"));
    match job.kind {
        JobKind::Clear => {
            storage::features::clear(mt)?;
            Ok((0, 0, Value::Null))
        }
        JobKind::Features => {
            let (i, o) = features::build_partition(mt, k, n)?;
            Ok((i, o, Value::Null))
        }
        JobKind::Partitions => {
            let p = job.demo_params().ok_or_else(bad_demo)?;
            storage::metrics::ensure_partitions(storage::from_unix_us(p.start_us()), storage::from_unix_us(p.end_us))?;
            Ok((0, 0, Value::Null))
        }
        JobKind::Demo => {
            let p = job.demo_params().ok_or_else(bad_demo)?;
            let (rows, labels) = demo::write_entities(&p, Some((k, n)))?;
            // One-element array: collect() flattens the workers' arrays.
            Ok((0, rows.iter().sum(), json!([{ "rows": rows, "labels": labels }])))
        }
        JobKind::Detect => {
            let rows = detect::detect_partition(
                mt,
                job.since_us.map(storage::from_unix_us),
                job.until_us.map(storage::from_unix_us),
                true,
                Some((k, n)),
                "worker",
            )?;
            let anomalies: Vec<Value> = rows.iter().filter(|r| r.is_anomaly).filter_map(|r| serde_json::to_value(r).ok()).collect();
            Ok((rows.len() as i64, anomalies.len() as i64, Value::Array(anomalies)))
        }
    }
}

/// Prepares a worker's transaction: the extension's schema on the search path; no
/// parallel plans of its own (these workers are the parallelism, plans of their own would
/// compete for the cores).
pub fn enter_job() -> Result<()> {
    super::session::enter_extension()?;
    storage::settings::no_parallel_plans()?;
    Ok(())
}

/// Records a worker's outcome for its leader (in a transaction of its own, so a failed
/// partition still reports).
pub fn report(job: &Job, outcome: &std::result::Result<(i64, i64, Value), String>) -> Result<()> {
    super::session::enter_extension()?;
    let r = match outcome {
        Ok((i, o, a)) => parallel_results::Report { success: true, rows_in: *i, rows_out: *o, error: None, payload: Some(a.clone()) },
        Err(e) => parallel_results::Report { success: false, rows_in: 0, rows_out: 0, error: Some(e.clone()), payload: None },
    };
    parallel_results::put(&job.token, job.k as i32, &r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_and_fit_bgw_extra() {
        let j = Job {
            metric_type: Some("tuketim_miktar".into()),
            since_us: Some(1_790_000_000_000_000),
            until_us: Some(1_790_086_400_000_000),
            ..Job::new(JobKind::Detect, 31, 32, "4194304-4294967295")
        };
        let s = j.encode();
        assert!(s.len() <= MAX_JOB_BYTES, "{} bytes: {s}", s.len());
        assert_eq!(Job::decode(&s), Some(j.clone()));
        // the limits the error message states: 40 characters, 29 with an acting role
        let long = |n: usize, acting: Option<u32>| Job { metric_type: Some("x".repeat(n)), acting, ..j.clone() }.encode().len();
        assert!(long(40, None) <= MAX_JOB_BYTES, "{}", long(40, None));
        assert!(long(29, Some(u32::MAX)) <= MAX_JOB_BYTES, "{}", long(29, Some(u32::MAX)));
        let a = Job { acting: Some(16_384), ..j.clone() };
        assert_eq!(Job::decode(&a.encode()), Some(a));
        let d = Job { demo: Some((1000, 30, 42, 1_790_000_000_000_000)), ..Job::new(JobKind::Demo, 0, 2, "1-2-1") };
        assert_eq!(Job::decode(&d.encode()), Some(d));
        assert_eq!(Job::decode("detect|0|2|t|*|-|-"), None);
    }
}
