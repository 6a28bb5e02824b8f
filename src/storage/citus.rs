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
