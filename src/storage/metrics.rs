//! ml_metrics: validated single-row upserts, bulk series inserts, partitions.

use crate::errors::Result;
use pgrx::datum::{JsonB, TimestampWithTimeZone};
use pgrx::prelude::*;

/// What ml_ingest did with one observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    Inserted,
    Corrected,
    Unchanged,
}

impl IngestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestOutcome::Inserted => "inserted",
            IngestOutcome::Corrected => "corrected",
            IngestOutcome::Unchanged => "unchanged",
        }
    }
}

/// Inserts one observation, or replaces the value of an existing one and remembers the
/// correction (corrected_at, previous_value; the UPDATE trigger marks the series dirty).
pub fn upsert(
    metric_type: &str,
    entity_id: &str,
    value: f64,
    ts: TimestampWithTimeZone,
    extra: Option<JsonB>,
) -> Result<IngestOutcome> {
    // Days without a partition land in ml_metrics_default; ml_ensure_partitions moves them.
    // A fresh row has no corrected_at; an updated one has. No row back: nothing changed.
    // corrected_at takes the new row's collected_at (its default, now()): Citus allows only
    // immutable functions in DO UPDATE SET on a distributed table.
    let inserted: Option<bool> = super::one(
        "INSERT INTO ml_metrics AS m (metric_type, entity_id, metric_value, \"timestamp\", extra_data)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (metric_type, entity_id, \"timestamp\") DO UPDATE
            SET metric_value = excluded.metric_value,
                extra_data = coalesce(excluded.extra_data, m.extra_data),
                previous_value = m.metric_value,
                corrected_at = excluded.collected_at
          WHERE m.metric_value IS DISTINCT FROM excluded.metric_value
             OR (excluded.extra_data IS NOT NULL AND m.extra_data IS DISTINCT FROM excluded.extra_data)
         RETURNING corrected_at IS NULL",
        &[metric_type.into(), entity_id.into(), value.into(), ts.into(), extra.into()],
    )?;
    Ok(match inserted {
        Some(true) => IngestOutcome::Inserted,
        Some(false) => IngestOutcome::Corrected,
        None => IngestOutcome::Unchanged,
    })
}

/// Inserts rows given as parallel arrays in one statement; rows that already exist are
/// skipped. Returns how many were inserted.
pub fn insert_rows(
    metric_type: &str,
    source: Option<&str>,
    entity_ids: Vec<String>,
    values: Vec<f64>,
    timestamps: Vec<TimestampWithTimeZone>,
) -> Result<i64> {
    if values.is_empty() {
        return Ok(0);
    }
    let n = Spi::connect_mut(|client| {
        client
            .update(
                "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\", source)
                 SELECT $1, e, v, t, $2 FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::float8[]), pg_catalog.unnest($5::timestamptz[])) AS u(e, v, t)
                 ON CONFLICT (metric_type, entity_id, \"timestamp\") DO NOTHING",
                None,
                &[metric_type.into(), source.into(), entity_ids.into(), values.into(), timestamps.into()],
            )
            .map(|t| t.len() as i64)
    })?;
    Ok(n)
}

/// Inserts one regular series (start, start + step, ...) in one statement: the timestamps
/// are computed by the database, only the values travel. Returns the rows inserted
/// (existing ones are kept).
pub fn insert_regular_series(
    metric_type: &str,
    entity_id: &str,
    start: TimestampWithTimeZone,
    step_us: i64,
    values: Vec<f64>,
    source: &str,
) -> Result<i64> {
    super::exec(
        "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\", source)
         SELECT $1, $2, v, $3 + (i - 1) * pg_catalog.make_interval(secs => $4::float8 / 1e6), $6
           FROM pg_catalog.unnest($5::float8[]) WITH ORDINALITY AS u(v, i)
         ON CONFLICT (metric_type, entity_id, \"timestamp\") DO NOTHING",
        &[metric_type.into(), entity_id.into(), start.into(), step_us.into(), values.into(), source.into()],
    )
}

/// Makes sure daily partitions of ml_metrics and ml_features cover [from, to].
pub fn ensure_partitions(from: TimestampWithTimeZone, to: TimestampWithTimeZone) -> Result<i32> {
    Ok(super::one::<i32>("SELECT ml_ensure_partitions($1, $2)", &[from.into(), to.into()])?.unwrap_or(0))
}

/// Whether any of these entities already has metrics in [from, to].
pub fn any_rows(entities: &[String], from: TimestampWithTimeZone, to: TimestampWithTimeZone) -> Result<bool> {
    Ok(super::one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM ml_metrics WHERE entity_id = ANY($1) AND \"timestamp\" BETWEEN $2 AND $3)",
        &[entities.to_vec().into(), from.into(), to.into()],
    )?
    .unwrap_or(false))
}

/// Metric rows in COPY format, for bulk loads.
pub struct MetricRows {
    rows: super::copy::BinaryRows,
}

const METRIC_COLUMNS: [&str; 5] = ["metric_type", "entity_id", "metric_value", "timestamp", "source"];

impl MetricRows {
    pub fn new(capacity: usize) -> Self {
        MetricRows { rows: super::copy::BinaryRows::new(METRIC_COLUMNS.len(), capacity) }
    }
    pub fn push(&mut self, metric_type: &str, entity_id: &str, value: f64, ts_us: i64, source: &str) {
        let r = &mut self.rows;
        r.begin_row();
        r.text(metric_type);
        r.text(entity_id);
        r.f64(value);
        r.timestamptz(ts_us);
        r.text(source);
    }
}

/// Writes the rows with one COPY (constraints, partitions and the statement triggers that
/// mark series dirty all apply, as for a client's COPY).
pub fn copy_rows(rows: MetricRows) -> Result<u64> {
    super::copy::copy_into("ml_metrics", &METRIC_COLUMNS, rows.rows)
}
