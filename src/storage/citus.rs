//! Citus: whether this database runs pg_anomaly on a Citus cluster (its per-series tables
//! distributed by entity_id, `ml_distribute()`), and the statements that differ there.
//!
//! Everything here is read from Citus's own catalog only when the citus extension is
//! installed: a single-node database never names a Citus object.

use crate::errors::Result;

/// Whether `table` (a relation of this extension, resolved through the search_path) is a
/// Citus distributed or reference table. False when Citus is not installed.
pub fn is_distributed(table: &str) -> Result<bool> {
    if !installed()? {
        return Ok(false);
    }
    Ok(super::one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p
                         WHERE p.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1))",
        &[table.into()],
    )?
    .unwrap_or(false))
}

/// Whether the citus extension is installed in this database.
pub fn installed() -> Result<bool> {
    Ok(super::one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus')",
        &[],
    )?
    .unwrap_or(false))
}

/// Whether ml_metrics is distributed: the series then carry no dirty marks (Citus refuses
/// the statement triggers that write them) and the feature stage compares ml_metrics with
/// ml_features instead (`features::take_dirty`).
pub fn metrics_distributed() -> Result<bool> {
    is_distributed("ml_metrics")
}

/// The shards of one shard group on the node that runs a shard build: the ml_metrics shard
/// named by `run_command_on_shards` and the colocated ml_features and ml_series_state
/// shards (same hash range), as quoted, schema-qualified relation names read from Citus's
/// catalog. None when `shard` is not a shard of ml_metrics placed on this node.
pub struct ShardGroup {
    pub metrics: String,
    pub features: String,
    /// The shard id of the ml_metrics shard (its hash range is the group's).
    pub metrics_id: i64,
}

pub fn shard_group(shard: &str) -> Result<Option<ShardGroup>> {
    if !installed()? {
        return Ok(None);
    }
    let row = pgrx::Spi::connect(|client| -> Result<Option<(String, String, i64)>> {
        let t = client.select(
            "SELECT pg_catalog.format('%I.%I', n.nspname, pg_catalog.concat('ml_metrics_', m.shardid)),
                    pg_catalog.format('%I.%I', n.nspname, pg_catalog.concat('ml_features_', f.shardid)), m.shardid
               FROM pg_catalog.pg_dist_shard m
               JOIN pg_catalog.pg_dist_shard f ON f.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('ml_features')
                                               AND f.shardminvalue OPERATOR(pg_catalog.=) m.shardminvalue
               JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.logicalrelid
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
              WHERE m.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('ml_metrics')
                AND m.shardid OPERATOR(pg_catalog.=) pg_catalog.substring($1, '_([0-9]+)$')::bigint
                AND pg_catalog.to_regclass($1) OPERATOR(pg_catalog.=) pg_catalog.to_regclass(pg_catalog.format('%I.%I', n.nspname, pg_catalog.concat('ml_metrics_', m.shardid)))
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement p
                             WHERE p.shardid OPERATOR(pg_catalog.=) m.shardid
                               AND p.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g))",
            None,
            &[shard.into()],
        )?;
        Ok(match t.into_iter().next() {
            Some(r) => match (r.get::<String>(1)?, r.get::<String>(2)?, r.get::<i64>(3)?) {
                (Some(a), Some(b), Some(id)) => Some((a, b, id)),
                _ => None,
            },
            None => None,
        })
    })?;
    Ok(row.map(|(metrics, features, metrics_id)| ShardGroup { metrics, features, metrics_id }))
}

/// The series of one shard group whose features must be (re)built, with the first
/// timestamp to compute: the comparison of `features::take_dirty`, on this node's shards
/// only (read directly, so nothing crosses to another node); with `all`, every series of
/// the shard from the start (a full rebuild). The shard names come from `shard_group`.
pub fn shard_work(g: &ShardGroup, metric_type: Option<&str>, all: bool) -> Result<Vec<(String, String, pgrx::datum::TimestampWithTimeZone)>> {
    let sql = if all {
        format!(
            "SELECT DISTINCT metric_type, entity_id, '-infinity'::timestamptz FROM {m} WHERE $1::text IS NULL OR metric_type = $1 ORDER BY 1, 2",
            m = g.metrics
        )
    } else {
        format!(
            "SELECT metric_type, entity_id, pg_catalog.min(\"timestamp\") FROM (
                SELECT COALESCE(m.metric_type, f.metric_type) AS metric_type, COALESCE(m.entity_id, f.entity_id) AS entity_id,
                       COALESCE(m.\"timestamp\", f.\"timestamp\") AS \"timestamp\"
                  FROM (SELECT metric_type, entity_id, \"timestamp\", metric_value FROM {m} WHERE $1::text IS NULL OR metric_type = $1) m
                  FULL JOIN (SELECT metric_type, entity_id, \"timestamp\", metric_value FROM {f} WHERE $1::text IS NULL OR metric_type = $1) f
                    ON m.metric_type = f.metric_type AND m.entity_id = f.entity_id AND m.\"timestamp\" = f.\"timestamp\"
                 WHERE m.metric_value IS DISTINCT FROM f.metric_value) d
              GROUP BY 1, 2 ORDER BY 1, 2",
            m = g.metrics,
            f = g.features
        )
    };
    pgrx::Spi::connect(|client| -> Result<Vec<_>> {
        let mut out = Vec::new();
        for r in client.select(&sql, None, &[metric_type.into()])? {
            if let (Some(m), Some(e), Some(t)) = (r.get::<String>(1)?, r.get::<String>(2)?, r.get::<pgrx::datum::TimestampWithTimeZone>(3)?) {
                out.push((m, e, t));
            }
        }
        Ok(out)
    })
}

/// Runs the feature build on every shard of ml_metrics, on the node that holds it, all at
/// once (`on_shards`): `ml_build_features_shard` there builds the series of that shard with
/// the coordinator's feature settings (`settings_text`). Returns (rows read, rows written)
/// summed; an error when a shard failed.
pub fn build_on_shards(metric_type: Option<&str>, full_rebuild: bool, settings_text: &str) -> Result<(i64, i64)> {
    let mt = match metric_type {
        Some(m) => format!("pg_catalog.convert_from(pg_catalog.decode('{}', 'hex'), 'UTF8')", hex(m.as_bytes())),
        None => "NULL".to_string(),
    };
    let settings = hex(settings_text.as_bytes());
    let call = |schema: &str| {
        format!(
            "pg_catalog.array_to_string({schema}.ml_build_features_shard('%s', {mt}, {full_rebuild}, pg_catalog.convert_from(pg_catalog.decode('{settings}', 'hex'), 'UTF8')), ',')"
        )
    };
    let (mut read, mut written) = (0i64, 0i64);
    for (_, result) in on_shards("feature build", call)? {
        let mut it = result.split(',').map(|x| x.trim().parse::<i64>().unwrap_or(0));
        read += it.next().unwrap_or(0);
        written += it.next().unwrap_or(0);
    }
    Ok((read, written))
}

/// Runs a shard function of this extension on every shard of ml_metrics, on the node that
/// holds it, all at once (`run_command_on_shards`: a connection per shard as the current
/// role, each its own transaction). `call` gives the expression to select from the
/// extension's quoted schema, with `'%s'` where the shard's name goes; its other arguments
/// must travel hex-encoded, so nothing in them can reach that placeholder. Returns (shard id, result text) per shard;
/// an error naming the shard when one failed.
pub fn on_shards(what: &str, call: impl FnOnce(&str) -> String) -> Result<Vec<(i64, String)>> {
    let schema = super::one::<String>(
        "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
          WHERE e.extname OPERATOR(pg_catalog.=) 'pg_anomaly'",
        &[],
    )?
    .unwrap_or_else(|| "public".to_string());
    let command = format!("SELECT {}", call(&schema));
    let rows = pgrx::Spi::connect(|client| -> Result<Vec<(i64, bool, String)>> {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT shardid, success, result FROM pg_catalog.run_command_on_shards(pg_catalog.to_regclass('ml_metrics'), $1)",
            None,
            &[command.into()],
        )? {
            out.push((r.get::<i64>(1)?.unwrap_or(0), r.get::<bool>(2)?.unwrap_or(false), r.get::<String>(3)?.unwrap_or_default()));
        }
        Ok(out)
    })?;
    let mut out = Vec::with_capacity(rows.len());
    for (shard, ok, result) in rows {
        if !ok {
            return Err(crate::errors::Error::Core(pg_anomaly_core::CoreError::internal(format!("{what} on shard {shard} failed: {result}"))));
        }
        out.push((shard, result));
    }
    Ok(out)
}

/// Lower-case hex of some bytes (arguments of a shard call).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a bytea result as text (`\x` and hex digits, PostgreSQL's hex output);
/// None when it is not that.
pub fn bytea_of_text(text: &str) -> Option<Vec<u8>> {
    let h = text.strip_prefix("\\x")?.as_bytes();
    if h.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    h.chunks(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

/// The request of a shard function, hex-encoded into its call: `decode('...', 'hex')`.
pub fn bytea_literal(bytes: &[u8]) -> String {
    format!("pg_catalog.decode('{}', 'hex')", hex(bytes))
}

/// Of `entities`, those whose rows hash to this shard group (Citus's own placement rule,
/// from the metadata every node holds), in their order.
pub fn shard_entities(g: &ShardGroup, entities: &[String]) -> Result<Vec<String>> {
    pgrx::Spi::connect(|client| -> Result<Vec<String>> {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT e FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS u(e, i)
              WHERE pg_catalog.get_shard_id_for_distribution_column(pg_catalog.to_regclass('ml_metrics'), e) OPERATOR(pg_catalog.=) $2
              ORDER BY i",
            None,
            &[entities.to_vec().into(), g.metrics_id.into()],
        )? {
            if let Some(e) = r.get::<String>(1)? {
                out.push(e);
            }
        }
        Ok(out)
    })
}

/// The feature rows per series of a metric type with ts in [from, until): a grouped count
/// that Citus runs on every shard (grouped by the distribution column), so only the counts
/// travel. What training on a distributed ml_features plans its sample with.
pub fn row_counts(
    metric_type: &str,
    from: pgrx::datum::TimestampWithTimeZone,
    until: Option<pgrx::datum::TimestampWithTimeZone>,
) -> Result<std::collections::HashMap<String, usize>> {
    pgrx::Spi::connect(|client| -> Result<_> {
        let mut out = std::collections::HashMap::new();
        for r in client.select(
            "SELECT entity_id, pg_catalog.count(*) FROM ml_features
              WHERE metric_type = $1 AND \"timestamp\" >= $2 AND ($3::timestamptz IS NULL OR \"timestamp\" < $3)
              GROUP BY entity_id",
            None,
            &[metric_type.into(), from.into(), until.into()],
        )? {
            if let (Some(e), Some(n)) = (r.get::<String>(1)?, r.get::<i64>(2)?) {
                out.insert(e, n as usize);
            }
        }
        Ok(out)
    })
}

/// Deletes the features and series state of these series (a shard build's full rebuild;
/// the entity list keeps each statement on this node's shard).
pub fn clear_series(metric_type: &str, entities: &[String]) -> Result<()> {
    super::exec(
        "DELETE FROM ml_features WHERE metric_type = $1 AND entity_id = ANY($2)",
        &[metric_type.into(), entities.to_vec().into()],
    )?;
    super::exec(
        "DELETE FROM ml_series_state WHERE metric_type = $1 AND entity_id = ANY($2)",
        &[metric_type.into(), entities.to_vec().into()],
    )?;
    Ok(())
}
