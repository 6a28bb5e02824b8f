//! Retention: dropping expired day partitions and deleting expired rows (ml_cleanup).

use super::{exec, one};
use crate::errors::Result;
use pgrx::datum::TimestampWithTimeZone;

/// The partitioned tables whose day partitions expire.
#[derive(Clone, Copy)]
pub enum Partitioned {
    Metrics,
    Features,
}

impl Partitioned {
    pub fn name(self) -> &'static str {
        match self {
            Partitioned::Metrics => "ml_metrics",
            Partitioned::Features => "ml_features",
        }
    }
}

/// Drops the partitions of `table` older than `days` days (counting their rows first) and
/// deletes the expired rows of its default partition; returns the rows removed.
pub fn drop_expired(table: Partitioned, days: i32) -> Result<i64> {
    let table = table.name();
    let cutoff = one::<TimestampWithTimeZone>("SELECT pg_catalog.now() - pg_catalog.make_interval(days => $1)", &[days.into()])?
        .unwrap_or_else(TimestampWithTimeZone::negative_infinity);
    // Dropping a partition needs ownership: ml_drop_expired_partitions runs as the
    // extension's owner, so the admin role can expire data too.
    let mut removed = one::<i64>("SELECT ml_drop_expired_partitions($1, $2)", &[table.into(), cutoff.into()])?.unwrap_or(0);
    let default = format!("{table}_default");
    removed += exec(&format!("DELETE FROM {default} WHERE \"timestamp\" < $1"), &[cutoff.into()])?;
    Ok(removed)
}

/// Rebuilds the indexes of the day partitions of `table` whose day ended between two days
/// and one day ago (one partition per daily run; a day's grace for late rows). Observations
/// arrive time-major (every series gets a row per collection), so each insert lands in the
/// middle of the (metric_type, entity_id, timestamp) key and leaf pages split half full; the
/// rebuilt index is packed (measured on a day of 4,000 series: 34.3 MB to 24.4 MB). The
/// partition's writes and its index's readers wait for the rebuild (about a second per
/// 400,000 rows). Returns (partitions rebuilt, index bytes before, after).
pub fn compact_closed_day(table: Partitioned) -> Result<(i64, i64, i64)> {
    // REINDEX needs ownership: ml_compact_closed_partitions runs as the extension's owner.
    let r = one::<Vec<Option<i64>>>("SELECT ml_compact_closed_partitions($1)", &[table.name().into()])?.unwrap_or_default();
    let at = |i: usize| r.get(i).copied().flatten().unwrap_or(0);
    Ok((at(0), at(1), at(2)))
}

/// The tables whose old rows are deleted (not partitioned).
#[derive(Clone, Copy)]
pub enum Expiring {
    /// Closed alerts last seen before the cutoff.
    Alerts,
    TrainingLogs,
    JobRuns,
    /// pg_cron's run history (only when it exists and may be deleted from).
    CronRunDetails,
}

impl Expiring {
    pub fn name(self) -> &'static str {
        match self {
            Expiring::Alerts => "ml_alerts",
            Expiring::TrainingLogs => "ml_training_logs",
            Expiring::JobRuns => "ml_job_runs",
            Expiring::CronRunDetails => "cron.job_run_details",
        }
    }
}

/// Whether pg_cron's job_run_details exists here and this role may delete from it (the
/// schema is checked first: naming a table in a schema without USAGE is an error).
pub fn cron_history_deletable() -> Result<bool> {
    Ok(one::<bool>("SELECT CASE WHEN pg_catalog.to_regnamespace('cron') IS NULL OR NOT pg_catalog.has_schema_privilege('cron', 'USAGE') THEN false
                 ELSE pg_catalog.to_regclass('cron.job_run_details') IS NOT NULL AND pg_catalog.has_table_privilege('cron.job_run_details', 'DELETE') END", &[])?
        .unwrap_or(false))
}

/// Deletes the rows of `table` older than `days` days; returns how many.
pub fn delete_expired(table: Expiring, days: i32) -> Result<i64> {
    let sql = match table {
        Expiring::Alerts => "DELETE FROM ml_alerts WHERE NOT is_open AND last_seen < pg_catalog.now() - pg_catalog.make_interval(days => $1)",
        Expiring::TrainingLogs => "DELETE FROM ml_training_logs WHERE training_start < pg_catalog.now() - pg_catalog.make_interval(days => $1)",
        Expiring::JobRuns => "DELETE FROM ml_job_runs WHERE started < pg_catalog.now() - pg_catalog.make_interval(days => $1)",
        Expiring::CronRunDetails => "DELETE FROM cron.job_run_details WHERE start_time < pg_catalog.now() - pg_catalog.make_interval(days => $1)",
    };
    exec(sql, &[days.into()])
}

/// Forgets the state of series whose every row expired.
pub fn forget_empty_series() -> Result<i64> {
    const EMPTY: &str = "NOT EXISTS (SELECT 1 FROM ml_metrics m WHERE m.metric_type = x.metric_type AND m.entity_id = x.entity_id)";
    if super::citus::is_distributed("ml_series_state")? {
        return exec(&format!("DELETE FROM ml_series_state x WHERE {EMPTY}"), &[]);
    }
    // A state row a stage holds (a build or a scoring run updating it) is skipped; the next
    // cleanup forgets it if its series is still empty.
    super::delete_unheld("ml_series_state", EMPTY, &[])
}
