//! ml_series_checkpoint: the feature kernels' state of a series after one of its rows, so a
//! fresh session resumes the series from there instead of re-reading its look-back.
//!
//! A checkpoint is valid only while its `features_version` equals the series'
//! `ml_series_state.checkpoint_version`: every write of a series' features sets that column in
//! the same statement as the new features_version (`features::advance_state`): kept only by a
//! build that resumed or kept the checkpoint valid (new rows all after `until`), the new version
//! when the build writes a new checkpoint, NULL otherwise. A recompute from the look-back, a
//! rebuild, a truncated ml_series_state or a rolled-back build therefore leave it stale, never
//! used again until overwritten. (Before, the checkpoint row itself was updated to carry the
//! new features_version: a second UPDATE of every series per build.)

use super::{exec, to_unix_us};
use crate::errors::Result;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::collections::HashMap;

/// Whether this database has the table: a package upgrade installs this library before
/// ALTER EXTENSION pg_anomaly UPDATE creates it, and the stages keep running meanwhile.
pub fn available() -> Result<bool> {
    Ok(super::one::<bool>(
        "SELECT pg_catalog.to_regclass('ml_series_checkpoint') IS NOT NULL
            AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = pg_catalog.to_regclass('ml_series_state')
                         AND attname = 'checkpoint_version' AND NOT attisdropped)",
        &[],
    )?
    .unwrap_or(false))
}

/// A stored checkpoint of one series.
pub struct Stored {
    /// The `ts` of the state's last row, in microseconds.
    pub until_us: i64,
    /// Its `features_version` is the series' current one and its time zone the current one.
    pub current: bool,
    /// The encoded state, when asked for and current.
    pub bytes: Option<Vec<u8>>,
}

/// The checkpoints of these series; the bytes only of current ones of the series in `want`.
pub fn load(metric_type: &str, entities: &[String], want: &[String], time_zone: &str) -> Result<HashMap<String, Stored>> {
    Spi::connect(|client| -> Result<HashMap<String, Stored>> {
        let t = client.select(
            "SELECT c.entity_id, c.until, coalesce(c.features_version = s.checkpoint_version AND c.time_zone = $4, false) AS current,
                    CASE WHEN c.features_version = s.checkpoint_version AND c.time_zone = $4 AND c.entity_id = ANY($3) THEN c.state END
               FROM ml_series_checkpoint c JOIN ml_series_state s ON s.metric_type = c.metric_type AND s.entity_id = c.entity_id
              WHERE c.metric_type = $1 AND c.entity_id = ANY($2)",
            None,
            &[metric_type.into(), entities.to_vec().into(), want.to_vec().into(), time_zone.into()],
        )?;
        let mut out = HashMap::new();
        super::each_row(t, |r| {
            if let (Some(e), Some(u), Some(current)) =
                (super::col::<String>(r, 1)?, super::col::<TimestampWithTimeZone>(r, 2)?, super::col::<bool>(r, 3)?)
            {
                let bytes = super::col::<Vec<u8>>(r, 4)?;
                out.insert(e, Stored { until_us: to_unix_us(u), current, bytes });
            }
            Ok(())
        })?;
        Ok(out)
    })
}

/// Writes new checkpoints (replacing the old ones) of a metric type's series: entity,
/// features_version, last row, oldest buffered row, encoded state. `features::advance_state`
/// set the series' checkpoint_version to that features_version in the same transaction.
pub fn save(metric_type: &str, time_zone: &str, rows: Vec<(String, i64, TimestampWithTimeZone, TimestampWithTimeZone, Vec<u8>)>) -> Result<i64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut e = Vec::with_capacity(rows.len());
    let mut v = Vec::with_capacity(rows.len());
    let mut u = Vec::with_capacity(rows.len());
    let mut o = Vec::with_capacity(rows.len());
    let mut b = Vec::with_capacity(rows.len());
    for (ei, vi, ui, oi, bi) in rows {
        e.push(ei);
        v.push(vi);
        u.push(ui);
        o.push(oi);
        b.push(bi);
    }
    // The arguments (a bytea[] of a chunk's states) are palloc'd copies: built in a context of
    // their own and freed with it, not in the caller's, which lives as long as the whole build.
    let mut cx = PgMemoryContexts::new("pg_anomaly checkpoints");
    // SAFETY: nothing allocated in the context outlives the closure; only the row count leaves.
    unsafe { cx.switch_to(|_| save_rows(metric_type, time_zone, e, v, u, o, b)) }
}

fn save_rows(
    metric_type: &str,
    time_zone: &str,
    e: Vec<String>,
    v: Vec<i64>,
    u: Vec<TimestampWithTimeZone>,
    o: Vec<TimestampWithTimeZone>,
    b: Vec<Vec<u8>>,
) -> Result<i64> {
    exec(
        "INSERT INTO ml_series_checkpoint AS c (metric_type, entity_id, features_version, until, oldest, time_zone, state)
         SELECT $1, d.e, d.v, d.u, d.o, $2, d.b
           FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::bigint[]), pg_catalog.unnest($5::timestamptz[]),
                           pg_catalog.unnest($6::timestamptz[]), pg_catalog.unnest($7::bytea[])) AS d(e, v, u, o, b)
         ON CONFLICT (metric_type, entity_id) DO UPDATE
            SET features_version = excluded.features_version, until = excluded.until, oldest = excluded.oldest,
                time_zone = excluded.time_zone, state = excluded.state",
        &[metric_type.into(), time_zone.into(), e.into(), v.into(), u.into(), o.into(), b.into()],
    )
}

/// Forgets every checkpoint of a metric type, or all of them.
pub fn clear(metric_type: Option<&str>) -> Result<i64> {
    if !available()? {
        return Ok(0);
    }
    exec("DELETE FROM ml_series_checkpoint WHERE $1::text IS NULL OR metric_type = $1", &[metric_type.into()])
}

/// Forgets the checkpoints that hold rows older than `days` days (retention dropped them,
/// so resuming would differ from a recompute) and those of series without a state.
pub fn forget_expired(days: i32) -> Result<i64> {
    if !available()? {
        return Ok(0);
    }
    if super::citus::is_distributed("ml_series_state")? {
        // a Citus cluster builds on its shards without checkpoints: any left from before
        // ml_distribute are of no use
        return exec("DELETE FROM ml_series_checkpoint", &[]);
    }
    // A checkpoint a feature build is rewriting right now is skipped (the next cleanup
    // forgets it if it is still expired).
    super::delete_unheld(
        "ml_series_checkpoint",
        "x.oldest < pg_catalog.now() - pg_catalog.make_interval(days => $1)
            OR NOT EXISTS (SELECT 1 FROM ml_series_state s WHERE s.metric_type = x.metric_type AND s.entity_id = x.entity_id)",
        &[days.into()],
    )
}
