//! Retention: dropping expired day partitions and deleting expired rows (ml_cleanup).

use super::{exec, one};
use crate::errors::Result;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::Spi;

/// Day partitions of `table` whose whole range ends at or before `cutoff`.
fn expired_partitions(table: &str, cutoff: TimestampWithTimeZone) -> Result<Vec<(String, i64)>> {
    Spi::connect(|client| -> Result<Vec<(String, i64)>> {
        let t = client.select(
            "SELECT c.relname::text, c.reltuples::bigint
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = pg_catalog.to_regclass($1)
                AND pg_catalog.pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM%'
                AND (pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz <= $2
              ORDER BY 1",
            None,
            &[table.into(), cutoff.into()],
        )?;
        let mut out = Vec::new();
        for r in t {
            if let Some(n) = r.get::<String>(1)? {
                out.push((n, r.get::<i64>(2)?.unwrap_or(0)));
            }
        }
        Ok(out)
    })
}

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
    let mut removed = 0;
    for (part, _) in expired_partitions(table, cutoff)? {
        // Partition names come from the catalog (ml_metrics_pYYYYMMDD), quoted anyway.
        let q = one::<String>("SELECT pg_catalog.quote_ident($1)", &[part.as_str().into()])?.unwrap_or_default();
        removed += one::<i64>(&format!("SELECT pg_catalog.count(*) FROM {q}"), &[])?.unwrap_or(0);
        exec(&format!("DROP TABLE {q}"), &[])?;
    }
    let default = format!("{table}_default");
    removed += exec(&format!("DELETE FROM {default} WHERE \"timestamp\" < $1"), &[cutoff.into()])?;
    Ok(removed)
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

/// Whether pg_cron's job_run_details exists here and this role may delete from it.
pub fn cron_history_deletable() -> Result<bool> {
    Ok(one::<bool>("SELECT pg_catalog.to_regclass('cron.job_run_details') IS NOT NULL AND pg_catalog.has_table_privilege('cron.job_run_details', 'DELETE')", &[])?
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
    exec("DELETE FROM ml_series_state s WHERE NOT EXISTS (SELECT 1 FROM ml_metrics m WHERE m.metric_type = s.metric_type AND m.entity_id = s.entity_id)", &[])
}
