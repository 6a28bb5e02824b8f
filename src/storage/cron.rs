//! pg_cron's job table: where pg_cron lives, and creating or removing our jobs.

use super::{one, schema};
use crate::errors::Result;

/// Where pg_cron lives: Some(true) in this database, Some(false) in another one (preloaded
/// but not installed here), None: absent.
pub fn location() -> Result<Option<bool>> {
    if one::<bool>("SELECT pg_catalog.to_regnamespace('cron') IS NOT NULL", &[])?.unwrap_or(false) {
        return Ok(Some(true));
    }
    Ok(super::settings::preloaded("pg_cron").then_some(false))
}

/// The database pg_cron runs its jobs in (cron.database_name; empty when unset).
pub fn database_name() -> Result<String> {
    Ok(one::<String>("SELECT pg_catalog.current_setting('cron.database_name', true)", &[])?.unwrap_or_default())
}

/// Creates or reschedules job `name` in this database; returns its jobid.
pub fn schedule(name: &str, schedule: &str, command: &str) -> Result<Option<i64>> {
    one::<i64>("SELECT cron.schedule($1, $2, $3)", &[name.into(), schedule.into(), command.into()])
}

/// Creates or reschedules job `name` to run in database `db`; returns its jobid.
pub fn schedule_in_database(name: &str, schedule: &str, command: &str, db: &str) -> Result<Option<i64>> {
    one::<i64>("SELECT cron.schedule_in_database($1, $2, $3, $4)", &[name.into(), schedule.into(), command.into(), db.into()])
}

/// Removes the jobs of these names; returns how many it removed.
pub fn unschedule(names: Vec<String>) -> Result<i64> {
    Ok(one::<i64>("SELECT pg_catalog.count(cron.unschedule(jobid))::bigint FROM cron.job WHERE jobname = ANY($1)", &[names.into()])?.unwrap_or(0))
}

/// The command a scheduled job runs for `stage` (one of the fixed stage names).
pub fn stage_command(stage: &str) -> Result<String> {
    Ok(format!("SELECT {}.ml_run_stage('{stage}', 'cron')", schema::quoted_extension_schema()?))
}
