//! The self-running pipeline: one pg_cron job per stage (pg_anomaly_<stage>) calling
//! ml_run_stage(stage, 'cron').

use super::stage::STAGES;
use crate::errors::Result;
use crate::storage::{cron, settings};

/// One scheduled job as ml_schedule reports it.
pub struct Job {
    pub name: String,
    pub schedule: String,
    pub command: String,
    pub jobid: Option<i64>,
}

fn job_name(stage: &str) -> String {
    format!("pg_anomaly_{stage}")
}


/// Creates (or updates) the five jobs with these schedules, in stage order. When pg_cron
/// lives in another database, the jobs are created there with cron.schedule_in_database
/// when possible; otherwise a NOTICE says what to run.
pub fn schedule(schedules: [&str; 5]) -> Result<Vec<Job>> {
    if !settings::preloaded_now() {
        pgrx::notice!(
            "pg_anomaly is not in shared_preload_libraries: the scheduled jobs will run, but the real-time and notifier workers will not; add it there and restart to get them"
        );
    }
    let db = settings::current_database()?;
    let here = cron::location()?;
    let mut out = Vec::new();
    for (stage, sched) in STAGES.iter().zip(schedules) {
        let name = job_name(stage);
        let cmd = cron::stage_command(stage)?;
        let jobid = match here {
            Some(true) => {
                let cron_db = cron::database_name()?;
                if cron_db.is_empty() || cron_db == db {
                    cron::schedule(&name, sched, &cmd)?
                } else {
                    cron::schedule_in_database(&name, sched, &cmd, &db)?
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
        out.push(Job { name, schedule: sched.to_string(), command: cmd, jobid });
    }
    Ok(out)
}

/// Removes the jobs from pg_cron; returns how many it removed.
pub fn unschedule() -> Result<i64> {
    if cron::location()? != Some(true) {
        return Ok(0);
    }
    cron::unschedule(STAGES.iter().map(|s| job_name(s)).collect())
}
