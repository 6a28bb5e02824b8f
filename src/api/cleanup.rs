//! Retention: ml_cleanup drops whole day partitions of ml_metrics and ml_features past
//! their retention (no mass DELETE), deletes old rows elsewhere, and creates the
//! partitions of the coming days.

use crate::errors::{run, Result};
use crate::gucs;
use crate::storage::{exec, locks, metrics, one, runs};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

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

/// Drops the expired partitions of a table (counting their rows first); returns rows removed.
fn drop_expired(table: &str, days: i32) -> Result<i64> {
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

pub fn cleanup() -> Result<Vec<(String, i64)>> {
    if !locks::try_stage(locks::Stage::Cleanup)? {
        pgrx::notice!("pg_anomaly: another cleanup is running; skipping this one");
        return Ok(Vec::new());
    }
    let started = runs::now()?;
    let r = gucs::retention();
    let mut out = vec![
        ("ml_metrics".to_string(), drop_expired("ml_metrics", r.metrics_days)?),
        ("ml_features".to_string(), drop_expired("ml_features", r.features_days)?),
    ];
    let del = |sql: &str, days: i32| exec(sql, &[days.into()]);
    out.push(("ml_alerts".into(), del("DELETE FROM ml_alerts WHERE NOT is_open AND last_seen < pg_catalog.now() - pg_catalog.make_interval(days => $1)", r.alerts_days)?));
    out.push(("ml_training_logs".into(), del("DELETE FROM ml_training_logs WHERE training_start < pg_catalog.now() - pg_catalog.make_interval(days => $1)", r.training_logs_days)?));
    out.push(("ml_job_runs".into(), del("DELETE FROM ml_job_runs WHERE started < pg_catalog.now() - pg_catalog.make_interval(days => $1)", r.job_runs_days)?));
    let cron = one::<bool>("SELECT pg_catalog.to_regclass('cron.job_run_details') IS NOT NULL AND pg_catalog.has_table_privilege('cron.job_run_details', 'DELETE')", &[])?
        .unwrap_or(false);
    if cron {
        out.push(("cron.job_run_details".into(), del("DELETE FROM cron.job_run_details WHERE start_time < pg_catalog.now() - pg_catalog.make_interval(days => $1)", r.job_runs_days)?));
    }
    // Series whose every row expired no longer have state to keep.
    exec("DELETE FROM ml_series_state s WHERE NOT EXISTS (SELECT 1 FROM ml_metrics m WHERE m.metric_type = s.metric_type AND m.entity_id = s.entity_id)", &[])?;
    let now = runs::now()?;
    metrics::ensure_partitions(
        one::<TimestampWithTimeZone>("SELECT pg_catalog.now() - interval '1 day'", &[])?.unwrap_or(now),
        one::<TimestampWithTimeZone>("SELECT pg_catalog.now() + interval '7 days'", &[])?.unwrap_or(now),
    )?;
    runs::success("cleanup", None, None, started, 0, out.iter().map(|(_, n)| n).sum())?;
    Ok(out)
}

/// Applies retention (pg_anomaly.*_retention_days): drops expired day partitions of
/// ml_metrics and ml_features, deletes expired closed alerts, training logs, job runs and
/// pg_cron's job_run_details, creates the partitions of the next 7 days. Returns the rows
/// removed per table.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_cleanup() -> std::result::Result<TableIterator<'static, (name!(table_name, String), name!(removed, i64))>, ErrorReport> {
    run("ml_cleanup", || Ok(TableIterator::new(cleanup()?)))
}
