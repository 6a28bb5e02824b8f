//! The self-running pipeline: ml_run_stage (what the scheduled jobs call), ml_schedule and
//! ml_unschedule (the pg_cron jobs).

use super::{collect, detect, features, train};
use crate::errors::{invalid, run, Result};
use crate::storage::{models, one, runs, series, subxact};
use crate::workers::autonomous;
use pgrx::datum::{JsonB, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use serde_json::{json, Value};

pub const STAGES: [&str; 5] = ["collection", "features", "detection", "training", "cleanup"];

/// Sets pg_anomaly.run_trigger for the rest of the transaction.
fn set_trigger(trigger: &str) -> Result<()> {
    one::<String>("SELECT pg_catalog.set_config('pg_anomaly.run_trigger', $1, true)", &[trigger.into()])?;
    Ok(())
}

/// Records a failed stage run in its own transaction (the failure rolls back ours).
fn record_failure(stage: &str, metric_type: Option<&str>, started: TimestampWithTimeZone, error: &str, trigger: &str) {
    autonomous::insert(
        "ml_job_runs",
        json!({ "stage": stage, "metric_type": metric_type, "trigger": trigger, "started": started.to_iso_string(), "error": error }),
    );
}

fn enabled_metric_types() -> Result<Vec<String>> {
    Spi::connect(|client| -> Result<Vec<String>> {
        let mut v = Vec::new();
        for r in client.select(
            "SELECT metric_type FROM ml_settings WHERE enabled
              UNION SELECT DISTINCT metric_type FROM ml_series_state
             EXCEPT SELECT metric_type FROM ml_settings WHERE NOT enabled ORDER BY 1",
            None,
            &[],
        )? {
            if let Some(m) = r.get::<String>(1)? {
                v.push(m);
            }
        }
        Ok(v)
    })
}

/// First models a scheduled run may train (detection or nightly training of a metric type
/// that has no model yet): one INSERT of 2,000 new types must not turn every run into 2,000
/// trainings.
const FIRST_TRAININGS_PER_RUN: usize = 10;

/// Whether a scheduled run handles `mt` now. A type with an active model always; one
/// without gets a first model only when it has features and is configured in ml_settings
/// (a writer's INSERT alone does not start training), its first training has not failed today already (one
/// failure record per type per day, not per run), and the run's budget is not spent.
fn may_train_first(mt: &str, budget: &mut usize) -> Result<bool> {
    if crate::storage::models::active_any(mt)?.is_some() {
        return Ok(true);
    }
    let ok = crate::storage::one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM ml_settings s WHERE s.metric_type OPERATOR(pg_catalog.=) $1 AND s.enabled)
            AND EXISTS (SELECT 1 FROM ml_series_state st WHERE st.metric_type OPERATOR(pg_catalog.=) $1 AND st.features_until IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM ml_training_logs l WHERE l.metric_type OPERATOR(pg_catalog.=) $1 AND NOT l.success
                               AND l.training_start OPERATOR(pg_catalog.>=) pg_catalog.date_trunc('day', pg_catalog.now()))",
        &[mt.into()],
    )?
    .unwrap_or(false);
    if !ok || *budget == 0 {
        return Ok(false);
    }
    *budget -= 1;
    Ok(true)
}

/// Runs one stage the way the schedule does: per metric type in a subtransaction, so a
/// failing metric type is recorded (ml_job_runs / ml_training_logs) and the others go on.
pub fn run_stage(stage: &str, trigger: &str) -> Result<Value> {
    set_trigger(trigger)?;
    match stage {
        "collection" => {
            let rows = collect::collect_all()?;
            Ok(json!({ "stage": stage, "sources": rows.len(),
                       "rows": rows.iter().map(|r| r.2).sum::<i64>(), "failed": rows.iter().filter(|r| !r.4).count() }))
        }
        "features" => {
            let started = runs::now()?;
            match subxact::run(|| features::build(None, false)) {
                Ok(Ok(n)) => Ok(json!({ "stage": stage, "rows": n })),
                Ok(Err(e)) => {
                    let m = e.into_report("ml_run_stage").message().to_string();
                    record_failure(stage, None, started, &m, trigger);
                    Ok(json!({ "stage": stage, "error": m }))
                }
                Err(f) => {
                    record_failure(stage, None, started, &f.message, trigger);
                    Ok(json!({ "stage": stage, "error": f.message }))
                }
            }
        }
        "detection" => {
            let mut out = Vec::new();
            let mut first_budget = FIRST_TRAININGS_PER_RUN;
            for mt in enabled_metric_types()? {
                if !may_train_first(&mt, &mut first_budget)? {
                    continue;
                }
                let started = runs::now()?;
                let m = mt.clone();
                let r = subxact::run(move || -> Result<Value> {
                    let rows = detect::detect(Some(&m), None, None, true)?;
                    let retrained = retrain_if_quality_dropped(&m)?;
                    Ok(json!({ "metric_type": m, "scored": rows.len(),
                               "anomalous": rows.iter().filter(|r| r.5).count(), "retrained": retrained }))
                });
                out.push(outcome(stage, &mt, started, trigger, r));
            }
            Ok(json!({ "stage": stage, "metric_types": out }))
        }
        "training" => {
            let mut out = Vec::new();
            let mut first_budget = FIRST_TRAININGS_PER_RUN;
            for mt in enabled_metric_types()? {
                if series::entities(&mt)?.is_empty() || !may_train_first(&mt, &mut first_budget)? {
                    continue;
                }
                let started = runs::now()?;
                let m = mt.clone();
                let r = subxact::run(move || -> Result<Value> {
                    let id = train::train_logged(&m, "isolation_forest", &json!({}), None, None, "nightly schedule")?;
                    Ok(json!({ "metric_type": m, "model_id": id }))
                });
                // A failure is logged in ml_training_logs by train_logged and in ml_job_runs here.
                out.push(outcome(stage, &mt, started, trigger, r));
            }
            Ok(json!({ "stage": stage, "metric_types": out }))
        }
        "cleanup" => Ok(json!({ "stage": stage, "removed": super::cleanup::cleanup()?
            .into_iter().map(|(t, n)| json!({ "table": t, "removed": n })).collect::<Vec<_>>() })),
        other => Err(invalid("stage", other, "stage is one of collection, features, detection, training, cleanup")),
    }
}

fn outcome(
    stage: &str,
    metric_type: &str,
    started: TimestampWithTimeZone,
    trigger: &str,
    r: std::result::Result<Result<Value>, subxact::Failure>,
) -> Value {
    match r {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            let m = e.into_report("ml_run_stage").message().to_string();
            record_failure(stage, Some(metric_type), started, &m, trigger);
            json!({ "metric_type": metric_type, "error": m })
        }
        Err(f) => {
            record_failure(stage, Some(metric_type), started, &f.message, trigger);
            json!({ "metric_type": metric_type, "error": f.message })
        }
    }
}

/// Scenario 3: when the active forest's accuracy fell below pg_anomaly.min_accuracy,
/// rebuild features, rerun selection and retrain; the log row says why.
fn retrain_if_quality_dropped(metric_type: &str) -> Result<bool> {
    let min = crate::gucs::min_accuracy();
    let Some((_, accuracy, _)) = models::active(metric_type, "isolation_forest")? else { return Ok(false) };
    let Some(acc) = accuracy else { return Ok(false) };
    if min <= 0.0 || acc >= min {
        return Ok(false);
    }
    features::build(Some(metric_type), false)?;
    super::selection::select_and_save(metric_type, "all")?;
    let reason = format!("quality: accuracy {acc:.3} below pg_anomaly.min_accuracy {min:.3}");
    train::train(metric_type, "isolation_forest", &json!({}), None, None, &reason)?;
    Ok(true)
}

/// Runs one stage of the pipeline as the schedule does (collection, features, detection,
/// training, cleanup) and returns a summary. `trigger` is recorded in ml_job_runs.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_run_stage(stage: &str, trigger: default!(&str, "'manual'")) -> std::result::Result<JsonB, ErrorReport> {
    run("ml_run_stage", || {
        let t = match trigger {
            "cron" | "worker" | "manual" => trigger,
            other => return Err(invalid("trigger", other, "trigger is cron, worker or manual")),
        };
        Ok(JsonB(run_stage(stage, t)?))
    })
}

/// Where pg_cron lives: Some(true) here, Some(false) in another database, None: absent.
fn cron_here() -> Result<Option<bool>> {
    if one::<bool>("SELECT pg_catalog.to_regnamespace('cron') IS NOT NULL", &[])?.unwrap_or(false) {
        return Ok(Some(true));
    }
    let preloaded = one::<bool>("SELECT pg_catalog.current_setting('shared_preload_libraries') ~ 'pg_cron'", &[])?.unwrap_or(false);
    Ok(preloaded.then_some(false))
}

fn job_name(stage: &str) -> String {
    format!("pg_anomaly_{stage}")
}

fn command(stage: &str) -> Result<String> {
    let schema = one::<String>(
        "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_anomaly'",
        &[],
    )?
    .unwrap_or_else(|| "public".into());
    Ok(format!("SELECT {schema}.ml_run_stage('{stage}', 'cron')"))
}

/// Creates (or updates) the five pg_cron jobs with the seed's cadence; each schedule can
/// be overridden. Idempotent: jobs are named pg_anomaly_<stage> and rescheduled in place.
/// When pg_cron lives in another database, the jobs are created there with
/// cron.schedule_in_database when possible; otherwise the NOTICE says what to run.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_schedule(
    collection: default!(&str, "'*/15 * * * *'"),
    features: default!(&str, "'*/30 * * * *'"),
    detection: default!(&str, "'0 * * * *'"),
    training: default!(&str, "'0 0 * * *'"),
    cleanup: default!(&str, "'0 4 * * *'"),
) -> std::result::Result<TableIterator<'static, (name!(job_name, String), name!(schedule, String), name!(command, String), name!(jobid, Option<i64>))>, ErrorReport> {
    run("ml_schedule", || {
        if !crate::preloaded_now() {
            pgrx::notice!(
                "pg_anomaly is not in shared_preload_libraries: the scheduled jobs will run, but the real-time and notifier workers will not; add it there and restart to get them"
            );
        }
        let db = one::<String>("SELECT pg_catalog.current_database()::text", &[])?.unwrap_or_default();
        let here = cron_here()?;
        let mut out = Vec::new();
        for (stage, sched) in STAGES.iter().zip([collection, features, detection, training, cleanup]) {
            let name = job_name(stage);
            let cmd = command(stage)?;
            let id = match here {
                Some(true) => {
                    let cron_db = one::<String>("SELECT pg_catalog.current_setting('cron.database_name', true)", &[])?.unwrap_or_default();
                    if cron_db.is_empty() || cron_db == db {
                        one::<i64>("SELECT cron.schedule($1, $2, $3)", &[name.as_str().into(), sched.into(), cmd.as_str().into()])?
                    } else {
                        one::<i64>("SELECT cron.schedule_in_database($1, $2, $3, $4)", &[name.as_str().into(), sched.into(), cmd.as_str().into(), db.as_str().into()])?
                    }
                }
                _ => {
                    pgrx::notice!(
                        "pg_anomaly: pg_cron is not installed in this database; in the database named by cron.database_name run: SELECT cron.schedule_in_database('{}', '{}', $cmd${}$cmd$, '{}');",
                        name, sched, cmd, db
                    );
                    None
                }
            };
            out.push((name, sched.to_string(), cmd, id));
        }
        Ok(TableIterator::new(out))
    })
}

/// Removes the pg_anomaly jobs from pg_cron; returns how many it removed.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_unschedule() -> std::result::Result<i64, ErrorReport> {
    run("ml_unschedule", || {
        if cron_here()? != Some(true) {
            return Ok(0);
        }
        Ok(one::<i64>(
            "SELECT pg_catalog.count(cron.unschedule(jobid))::bigint FROM cron.job WHERE jobname = ANY($1)",
            &[STAGES.iter().map(|s| job_name(s)).collect::<Vec<_>>().into()],
        )?
        .unwrap_or(0))
    })
}
