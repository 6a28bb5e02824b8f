//! ml_features: reading series for the feature kernels and writing feature rows in bulk.
//!
//! Column lists are built once from the core's constant FEATURE_NAMES, never from user
//! input; values always travel as parameters.

use super::{exec, to_unix_us};
use crate::errors::Result;
use pg_anomaly_core::features::{FeatureRow, Observation, FEATURE_NAMES, NUM_FEATURES};
use pg_anomaly_core::time::{civil_from_days, DAY_US, HOUR_US};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use std::sync::OnceLock;

/// SQL type of each ml_features column (the schema in sql/schema.sql): the detector's
/// input median_value stays float8, the other features are stored as real.
fn sql_type(name: &str) -> &'static str {
    match name {
        "trend_direction" | "hour_of_day" | "day_of_week" | "day_of_month" => "smallint",
        "is_weekend" => "boolean",
        "median_value" => "float8",
        _ => "real",
    }
}

/// Takes the dirty marks of a metric type (or all): series whose features must be
/// recomputed from `dirty_from`. The rows are deleted here; the caller's transaction
/// commits that together with the new features.
///
/// On a Citus cluster (ml_metrics distributed) there are no marks: Citus refuses the
/// statement triggers with transition tables that write them (the trigger would run on
/// the shard, where Citus cannot plan a query over the transition table). There a series
/// is dirty where ml_metrics and ml_features differ: a metric row without a feature row
/// (new or late), a feature row without a metric row (deleted) or different values (a
/// correction), from the earliest such timestamp. The two tables are colocated by
/// entity_id, so the comparison runs on every shard at once, as index-only scans of the
/// two series keys (which carry metric_value), and only the dirty series travel.
pub fn take_dirty(metric_type: Option<&str>) -> Result<Vec<(String, String, TimestampWithTimeZone)>> {
    let sql = if super::citus::metrics_distributed()? {
        "SELECT metric_type, entity_id, pg_catalog.min(\"timestamp\") FROM (
            SELECT COALESCE(m.metric_type, f.metric_type) AS metric_type, COALESCE(m.entity_id, f.entity_id) AS entity_id,
                   COALESCE(m.\"timestamp\", f.\"timestamp\") AS \"timestamp\"
              FROM (SELECT metric_type, entity_id, \"timestamp\", metric_value FROM ml_metrics WHERE $1::text IS NULL OR metric_type = $1) m
              FULL JOIN (SELECT metric_type, entity_id, \"timestamp\", metric_value FROM ml_features WHERE $1::text IS NULL OR metric_type = $1) f
                ON m.metric_type = f.metric_type AND m.entity_id = f.entity_id AND m.\"timestamp\" = f.\"timestamp\"
             WHERE m.metric_value IS DISTINCT FROM f.metric_value) d
          GROUP BY 1, 2"
    } else {
        "DELETE FROM ml_series_dirty WHERE $1::text IS NULL OR metric_type = $1 RETURNING metric_type, entity_id, dirty_from"
    };
    Ok(Spi::connect_mut(|client| -> Result<Vec<_>> {
        let t = client.update(sql, None, &[metric_type.into()])?;
        let mut out = Vec::new();
        for r in t {
            if let (Some(m), Some(e), Some(f)) = (r.get::<String>(1)?, r.get::<String>(2)?, r.get::<TimestampWithTimeZone>(3)?) {
                out.push((m, e, f));
            }
        }
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        Ok(out)
    })?)
}

/// Every series of a metric type (or all), for a full rebuild.
pub fn all_series(metric_type: Option<&str>) -> Result<Vec<(String, String)>> {
    Ok(Spi::connect(|client| -> Result<Vec<_>> {
        let t = client.select(
            "SELECT DISTINCT metric_type, entity_id FROM ml_metrics WHERE $1::text IS NULL OR metric_type = $1 ORDER BY 1, 2",
            None,
            &[metric_type.into()],
        )?;
        super::pairs(t)
    })?)
}

/// Removes every feature row (and series state and checkpoint) of a metric type, or all of them.
pub fn clear(metric_type: Option<&str>) -> Result<()> {
    match metric_type {
        None => {
            exec("TRUNCATE ml_features", &[])?;
            exec("DELETE FROM ml_series_state", &[])?;
            exec("DELETE FROM ml_series_dirty", &[])?;
            super::checkpoints::clear(None)?;
        }
        Some(m) => {
            exec("DELETE FROM ml_features WHERE metric_type = $1", &[m.into()])?;
            exec("DELETE FROM ml_series_state WHERE metric_type = $1", &[m.into()])?;
            exec("DELETE FROM ml_series_dirty WHERE metric_type = $1", &[m.into()])?;
            super::checkpoints::clear(Some(m))?;
        }
    }
    Ok(())
}

/// One series' observations with its local calendar, and where the new rows start.
pub struct SeriesData {
    pub entity_id: String,
    pub obs: Vec<Observation>,
    pub first_out: usize,
}

/// Local calendar fields from a local wall-clock time in microseconds since 1970-01-01.
fn calendar(local_us: i64) -> (i16, i16, i16) {
    let days = local_us.div_euclid(DAY_US);
    let hour = (local_us.rem_euclid(DAY_US) / HOUR_US) as i16;
    // 1970-01-01 was a Thursday (ISO 4).
    let dow = ((days + 3).rem_euclid(7) + 1) as i16;
    let (_, _, dom) = civil_from_days(days);
    (hour, dow, dom as i16)
}

/// Reads the look-back and new observations of several series of one metric type in one
/// query, one series per entity in time order. `from[i]` is the first timestamp to compute
/// for `entities[i]`; observations from `from[i] - lookback` on are read (the kernels give
/// the same rows from any start at or before that). Each series comes as one row of arrays
/// (`series::arrays_sql`): per-row SPI costs several times the scan.
pub fn read_series(
    metric_type: &str,
    entities: &[String],
    from: &[TimestampWithTimeZone],
    lookback_us: i64,
) -> Result<Vec<SeriesData>> {
    let lookback = Interval::from_micros(lookback_us);
    let earliest = super::series::earliest(from);
    // The local time zone, looked up once rather than per row.
    let tz = super::settings::feature_time_zone()?;
    let sql = super::series::arrays_sql("ml_metrics", &["metric_value", "\"timestamp\" AT TIME ZONE $7::text"])?;
    Spi::connect(|client| -> Result<Vec<SeriesData>> {
        let t = client.select(
            &sql,
            None,
            &[
                metric_type.into(),
                entities.to_vec().into(),
                from.to_vec().into(),
                lookback.into(),
                earliest.into(),
                Option::<TimestampWithTimeZone>::None.into(),
                tz.into(),
            ],
        )?;
        let mut out: Vec<SeriesData> = Vec::with_capacity(entities.len());
        super::each_row(t, |r| {
            let (Some(e), Some(from_ts), Some(ts), Some(v), Some(local)) = (
                super::col::<String>(r, 1)?,
                super::col::<TimestampWithTimeZone>(r, 2)?,
                super::col::<pgrx::Array<TimestampWithTimeZone>>(r, 3)?,
                super::col::<pgrx::Array<f64>>(r, 4)?,
                super::col::<pgrx::Array<pgrx::datum::Timestamp>>(r, 5)?,
            ) else {
                return Ok(());
            };
            let mut obs: Vec<Observation> = Vec::with_capacity(ts.len());
            for ((t, v), l) in ts.iter().zip(v.iter()).zip(local.iter()) {
                let Some(t) = t else { continue };
                let t = to_unix_us(t);
                let local_us = l.map(|l| i64::from(l) + 946_684_800_000_000).unwrap_or(t);
                let (hour, dow, dom) = calendar(local_us);
                obs.push(Observation { ts: t, value: v.unwrap_or(f64::NAN), hour_of_day: hour, day_of_week: dow, day_of_month: dom });
            }
            if obs.windows(2).any(|w| w[0].ts > w[1].ts) {
                obs.sort_by_key(|o| o.ts);
            }
            let from_us = to_unix_us(from_ts);
            let first_out = obs.partition_point(|o| o.ts < from_us);
            out.push(SeriesData { entity_id: e, obs, first_out });
            Ok(())
        })?;
        out.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
        Ok(out)
    })
}

/// Deletes the feature rows of the given series from the given timestamps on (late or
/// corrected data recomputes them).
pub fn delete_from(metric_type: &str, entities: &[String], from: &[TimestampWithTimeZone]) -> Result<i64> {
    // On Citus the entity list also filters ml_features directly: the DELETE then goes only
    // to the shards of these series.
    let sql = if super::citus::is_distributed("ml_features")? {
        "DELETE FROM ml_features f USING ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::timestamptz[])) AS d(entity_id, from_ts)
          WHERE f.metric_type = $1 AND f.entity_id = d.entity_id AND f.entity_id = ANY($2::text[]) AND f.\"timestamp\" >= d.from_ts
            AND f.\"timestamp\" >= $4::timestamptz"
    } else {
        "DELETE FROM ml_features f USING ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::timestamptz[])) AS d(entity_id, from_ts)
          WHERE f.metric_type = $1 AND f.entity_id = d.entity_id AND f.\"timestamp\" >= d.from_ts
            AND f.\"timestamp\" >= $4::timestamptz"
    };
    exec(sql, &[metric_type.into(), entities.to_vec().into(), from.to_vec().into(), super::series::earliest(from).into()])
}

/// A batch of computed rows in COPY format, ready for one bulk write.
pub struct FeatureBatch {
    rows: super::copy::BinaryRows,
    /// The features are stored as real (false: float8, a 0.1.0 schema not yet updated).
    real: bool,
}

/// Whether ml_features stores the features as real. A 0.1.0 schema stores them as float8
/// until ALTER EXTENSION pg_anomaly UPDATE: a package upgrade installs this library first,
/// and the feature stage keeps writing meanwhile.
fn stored_as_real() -> bool {
    super::one::<bool>(
        "SELECT a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.float4'::pg_catalog.regtype FROM pg_catalog.pg_attribute a
          WHERE a.attrelid OPERATOR(pg_catalog.=) 'ml_features'::pg_catalog.regclass AND a.attname OPERATOR(pg_catalog.=) 'lag_1'",
        &[],
    )
    .ok()
    .flatten()
    .unwrap_or(true)
}

/// Columns of a feature batch, in the order FeatureBatch::push writes them.
fn batch_columns() -> &'static [&'static str] {
    static COLS: OnceLock<Vec<&'static str>> = OnceLock::new();
    COLS.get_or_init(|| {
        let mut c = vec!["metric_type", "entity_id", "timestamp", "metric_value"];
        c.extend_from_slice(&FEATURE_NAMES);
        c
    })
}

impl FeatureBatch {
    pub fn new(capacity_rows: usize) -> Self {
        FeatureBatch { rows: super::copy::BinaryRows::new(4 + NUM_FEATURES, capacity_rows), real: stored_as_real() }
    }
    pub fn push(&mut self, metric_type: &str, entity_id: &str, value: f64, row: &FeatureRow) {
        let r = &mut self.rows;
        r.begin_row();
        r.text(metric_type);
        r.text(entity_id);
        r.timestamptz(row.ts);
        r.f64(value);
        for (name, v) in FEATURE_NAMES.iter().zip(row.values.iter()) {
            match sql_type(name) {
                "smallint" => r.opt_i16(*v),
                "boolean" => r.opt_bool(*v),
                "real" if self.real => r.opt_f32(*v),
                _ => r.opt_f64(*v),
            }
        }
    }
}

/// Writes a batch with one COPY; returns the rows written.
pub fn insert(batch: FeatureBatch) -> Result<i64> {
    Ok(super::copy::copy_into("ml_features", batch_columns(), batch.rows)? as i64)
}

/// What a feature build does with a series' checkpoint (ml_series_checkpoint), decided
/// before its state is written: `advance_state` records it in ml_series_state's
/// checkpoint_version in the same statement as the new features_version.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(i16)]
pub enum CheckpointAction {
    /// No valid checkpoint after this build (recomputed from the look-back, or none due).
    Drop = 0,
    /// The checkpoint stays valid: the build only appended rows after it.
    Keep = 1,
    /// A new checkpoint is written with the new features_version.
    Write = 2,
}

/// Moves the per-series watermarks: features_until to the newest feature row, and
/// scored_until back when older rows were recomputed (they must be scored again).
/// With `checkpoints` (one action per series; a database with ml_series_checkpoint), also
/// sets each series' checkpoint_version: one statement for the state and the checkpoints'
/// validity of a whole chunk. Returns the new features_version of each series written.
pub fn advance_state(
    metric_type: &str,
    entities: Vec<String>,
    from: Vec<TimestampWithTimeZone>,
    until: Vec<TimestampWithTimeZone>,
    checkpoints: Option<Vec<CheckpointAction>>,
) -> Result<Vec<(String, i64)>> {
    if super::citus::is_distributed("ml_series_state")? {
        return advance_state_citus(metric_type, entities, from, until);
    }
    // With checkpoints, each series' checkpoint_version is set in the same statement (a
    // catalog without that column builds without checkpoints and never names it).
    let (k, set_checkpoint, checkpoint_column, checkpoint_value): (Vec<i16>, &str, &str, &str) = match checkpoints {
        Some(actions) => (
            actions.iter().map(|a| *a as i16).collect(),
            ",\n                       checkpoint_version = CASE d.k WHEN 2 THEN d.v WHEN 1 THEN s.checkpoint_version END",
            ", checkpoint_version",
            ", CASE WHEN d.k = 2 THEN d.v END",
        ),
        None => (vec![CheckpointAction::Drop as i16; entities.len()], "", "", ""),
    };
    // d is materialized (a CTE read twice, with a volatile function): one version per series
    let sql = format!(
        "WITH d AS (SELECT d.*, pg_catalog.nextval('ml_features_version_seq') AS v
                      FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::timestamptz[]), pg_catalog.unnest($4::timestamptz[]),
                                      pg_catalog.unnest($5::smallint[])) AS d(e, f, u, k)),
         upd AS (
            UPDATE ml_series_state s
               SET features_until = greatest(s.features_until, d.u),
                   scored_until = CASE WHEN s.scored_until IS NOT NULL AND d.f <= s.scored_until
                                       THEN d.f - interval '1 microsecond' ELSE s.scored_until END,
                   features_version = d.v{set_checkpoint}
              FROM d WHERE s.metric_type = $1 AND s.entity_id = d.e
            RETURNING s.entity_id, s.features_version),
         ins AS (
            INSERT INTO ml_series_state (metric_type, entity_id, features_until, features_version{checkpoint_column})
            SELECT $1, d.e, d.u, d.v{checkpoint_value} FROM d WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.entity_id = d.e)
            ON CONFLICT DO NOTHING
            RETURNING entity_id, features_version)
         SELECT entity_id, features_version FROM upd UNION ALL SELECT entity_id, features_version FROM ins"
    );
    Spi::connect_mut(|client| -> Result<Vec<(String, i64)>> {
        let t = client.update(&sql, None, &[metric_type.into(), entities.into(), from.into(), until.into(), k.into()])?;
        super::pairs(t)
    })
}

/// `advance_state` on a Citus cluster, where an UPDATE of a distributed table may call no
/// volatile function (nextval) and a CASE no stable one (timestamptz - interval): the new
/// versions and the lowered watermarks are computed first and travel as parameters.
fn advance_state_citus(
    metric_type: &str,
    entities: Vec<String>,
    from: Vec<TimestampWithTimeZone>,
    until: Vec<TimestampWithTimeZone>,
) -> Result<Vec<(String, i64)>> {
    let versions: Vec<i64> = super::one::<Vec<i64>>(
        "SELECT pg_catalog.array_agg(pg_catalog.nextval('ml_features_version_seq')) FROM pg_catalog.generate_series(1, $1)",
        &[(entities.len() as i32).into()],
    )?
    .unwrap_or_default();
    // a microsecond before each first recomputed row (an infinity stays itself)
    let before: Vec<TimestampWithTimeZone> =
        from.iter().map(|f| if f.is_finite() { super::from_unix_us(to_unix_us(*f) - 1) } else { *f }).collect();
    Spi::connect_mut(|client| -> Result<Vec<(String, i64)>> {
        let t = client.update(
            "WITH d AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::timestamptz[]), pg_catalog.unnest($4::timestamptz[]),
                                                pg_catalog.unnest($5::bigint[]), pg_catalog.unnest($6::timestamptz[])) AS d(e, f, u, v, fb)),
             upd AS (
                UPDATE ml_series_state s
                   SET features_until = greatest(s.features_until, d.u),
                       scored_until = CASE WHEN s.scored_until IS NOT NULL AND d.f <= s.scored_until THEN d.fb ELSE s.scored_until END,
                       features_version = d.v
                  FROM d WHERE s.metric_type = $1 AND s.entity_id = d.e AND s.entity_id = ANY($2::text[])
                RETURNING s.entity_id, s.features_version),
             ins AS (
                INSERT INTO ml_series_state (metric_type, entity_id, features_until, features_version)
                SELECT $1, d.e, d.u, d.v FROM d WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.entity_id = d.e)
                ON CONFLICT DO NOTHING
                RETURNING entity_id, features_version)
             SELECT entity_id, features_version FROM upd UNION ALL SELECT entity_id, features_version FROM ins",
            None,
            &[metric_type.into(), entities.into(), from.into(), until.into(), versions.into(), before.into()],
        )?;
        super::pairs(t)
    })
}

/// Of the given series, those whose row at the paired instant is still stored: the oldest
/// row a kept kernel state holds. Retention drops whole days from the oldest on, so a state
/// whose oldest row is still there lost none of its rows; one whose oldest row is gone would
/// resume with rows a recompute no longer reads. A join (not a correlated subquery), as a
/// distributed ml_metrics also takes it.
pub fn rows_present(metric_type: &str, entities: &[String], at_us: &[i64]) -> Result<std::collections::HashSet<String>> {
    let at: Vec<TimestampWithTimeZone> = at_us.iter().map(|&t| super::from_unix_us(t)).collect();
    Spi::connect(|client| -> Result<_> {
        let t = client.select(
            "SELECT DISTINCT m.entity_id
               FROM ml_metrics m
               JOIN ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::timestamptz[])) AS d(entity_id, at)
                 ON m.entity_id = d.entity_id AND m.\"timestamp\" = d.at
              WHERE m.metric_type = $1 AND m.entity_id = ANY($2::text[])",
            None,
            &[metric_type.into(), entities.to_vec().into(), at.into()],
        )?;
        let mut out = std::collections::HashSet::new();
        for r in t {
            if let Some(e) = r.get::<String>(1)? {
                out.insert(e);
            }
        }
        Ok(out)
    })
}

/// features_until and features_version of the given series (None where it has no state).
pub fn versions(metric_type: &str, entities: &[String]) -> Result<std::collections::HashMap<String, (i64, i64)>> {
    Spi::connect(|client| -> Result<_> {
        let t = client.select(
            "SELECT s.entity_id, s.features_until, s.features_version
               FROM ml_series_state s WHERE s.metric_type = $1 AND s.entity_id = ANY($2) AND s.features_until IS NOT NULL",
            None,
            &[metric_type.into(), entities.to_vec().into()],
        )?;
        let mut out = std::collections::HashMap::new();
        for r in t {
            if let (Some(e), Some(u), Some(v)) = (r.get::<String>(1)?, r.get::<TimestampWithTimeZone>(2)?, r.get::<i64>(3)?) {
                out.insert(e, (to_unix_us(u), v));
            }
        }
        Ok(out)
    })
}
