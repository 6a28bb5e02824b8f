//! ml_sources: registered application queries, and reading them with their owner's rights.

use super::subxact;
use crate::errors::{invalid, not_found, Result};
use pg_anomaly_core::{CoreError, ErrorKind};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::PgOid;

#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub metric_type: String,
    pub query: String,
    pub kind: String,
    pub owner: pg_sys::Oid,
    pub watermark: Option<TimestampWithTimeZone>,
}

/// Rows a source returned, already checked: entity ids non-empty, values finite.
#[derive(Default)]
pub struct Collected {
    pub entity_ids: Vec<String>,
    pub values: Vec<f64>,
    pub timestamps: Vec<TimestampWithTimeZone>,
    pub read: i64,
    pub rejected: i64,
}

fn arg_types(kind: &str) -> Vec<PgOid> {
    if kind == "event" {
        vec![PgOid::from(pg_sys::TIMESTAMPTZOID)]
    } else {
        vec![]
    }
}

/// Checks that the query parses, that its owner may run it, and that it returns the
/// columns its kind needs: it runs the query once for at most one row, as its owner, in a
/// subtransaction that is always rolled back.
pub fn validate(query: &str, kind: &str, owner: pg_sys::Oid) -> Result<()> {
    let needed: &[&str] = if kind == "event" {
        &["entity_id", "metric_value", "timestamp"]
    } else {
        &["entity_id", "metric_value"]
    };
    let attempt = subxact::run_then_rollback(|| {
        subxact::as_role(owner, || {
            Spi::connect(|client| -> std::result::Result<Vec<String>, pgrx::spi::Error> {
                let stmt = client.prepare(query, &arg_types(kind))?;
                let args = if kind == "event" { vec![TimestampWithTimeZone::negative_infinity().into()] } else { vec![] };
                let table = client.select(&stmt, Some(1), &args)?;
                let mut names = Vec::new();
                for i in 1..=table.columns()? {
                    names.push(table.column_name(i)?);
                }
                Ok(names)
            })
        })
    });
    let columns = match attempt {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(e.into()),
        Err(f) => {
            return Err(CoreError::new(ErrorKind::InvalidParameter, format!("source query failed when run as its owner: {}", f.message))
                .with_detail(f.detail.unwrap_or_default())
                .with_hint("The query runs with the privileges of the role registering the source; grant that role what the query reads.")
                .into())
        }
    };
    for col in needed {
        if !columns.iter().any(|c| c == col) {
            return Err(invalid(
                "query",
                format!("columns ({})", columns.join(", ")),
                &format!("a {kind} source must return the columns {}", needed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Registers a source. Its owner is the session's login role, stamped by the table's
/// trigger (ml_sources_stamp_owner); the query is validated with that role's rights.
pub fn add(name: &str, metric_type: &str, query: &str, kind: &str) -> Result<()> {
    let owner = super::owners::registering_role("a source")?;
    validate(query, kind, owner)?;
    super::exec(
        "INSERT INTO ml_sources (name, metric_type, query, kind) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET metric_type = excluded.metric_type, query = excluded.query,
             kind = excluded.kind,
             watermark = CASE WHEN ml_sources.query OPERATOR(pg_catalog.=) excluded.query
                               AND ml_sources.kind OPERATOR(pg_catalog.=) excluded.kind
                              THEN ml_sources.watermark END",
        &[name.into(), metric_type.into(), query.into(), kind.into()],
    )?;
    Ok(())
}

pub fn remove(name: &str) -> Result<bool> {
    let n = super::one::<String>("DELETE FROM ml_sources WHERE name = $1 RETURNING name", &[name.into()])?;
    Ok(n.is_some())
}

/// The named source, or every enabled one, locked for this transaction so two concurrent
/// collections of the same source cannot both read past the same watermark.
pub fn load(name: Option<&str>) -> Result<Vec<Source>> {
    let sources = Spi::connect_mut(|client| -> Result<Vec<Source>> {
        let rows = client.update(
            "SELECT name, metric_type, query, kind, owner::pg_catalog.oid, watermark FROM ml_sources
              WHERE ($1::text IS NULL AND enabled) OR name = $1
              ORDER BY name FOR UPDATE",
            None,
            &[name.into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            out.push(Source {
                name: row.get::<String>(1)?.unwrap_or_default(),
                metric_type: row.get::<String>(2)?.unwrap_or_default(),
                query: row.get::<String>(3)?.unwrap_or_default(),
                kind: row.get::<String>(4)?.unwrap_or_default(),
                owner: row.get::<pg_sys::Oid>(5)?.unwrap_or(pg_sys::Oid::INVALID),
                watermark: row.get::<TimestampWithTimeZone>(6)?,
            });
        }
        Ok(out)
    })?;
    if let (Some(n), true) = (name, sources.is_empty()) {
        return Err(not_found(format!("source \"{n}\" does not exist"), "ml_sources_status lists the registered sources."));
    }
    Ok(sources)
}

/// Runs the source query as its owner and returns the valid rows newer than the watermark.
pub fn read(src: &Source, now: TimestampWithTimeZone) -> std::result::Result<Collected, pgrx::spi::Error> {
    let event = src.kind == "event";
    let wm = src.watermark.unwrap_or_else(TimestampWithTimeZone::negative_infinity);
    subxact::as_role(src.owner, || {
        Spi::connect(|client| {
            let args = if event { vec![wm.into()] } else { vec![] };
            let stmt = client.prepare(src.query.as_str(), &arg_types(&src.kind))?;
            let rows = client.select(&stmt, None, &args)?;
            let mut c = Collected::default();
            for row in rows {
                c.read += 1;
                let e: Option<String> = row.get_by_name("entity_id")?;
                let v: Option<f64> = row.get_by_name("metric_value")?;
                let t: Option<TimestampWithTimeZone> =
                    if event { row.get_by_name("timestamp")? } else { Some(now) };
                match (e, v, t) {
                    (Some(e), Some(v), Some(t))
                        if !e.is_empty() && e.chars().count() <= 200 && v.is_finite() && super::time::in_metric_range(t) && (!event || t > wm) =>
                    {
                        c.entity_ids.push(e);
                        c.values.push(v);
                        c.timestamps.push(t);
                    }
                    _ => c.rejected += 1,
                }
            }
            Ok(c)
        })
    })
}

pub fn advance_watermark(name: &str, watermark: TimestampWithTimeZone) -> Result<()> {
    super::exec(
        "UPDATE ml_sources SET watermark = greatest(coalesce(watermark, $2), $2) WHERE name = $1",
        &[name.into(), watermark.into()],
    )?;
    Ok(())
}
