//! ml_feature_sets: the persisted feature selection per metric type.

use super::exec;
use crate::errors::Result;
use pg_anomaly_core::selection::FeatureDecision;
use pgrx::prelude::*;

pub fn save(metric_type: &str, method: &str, decisions: &[FeatureDecision]) -> Result<()> {
    // rows of method 'rfe' are detector inputs (storage::rfe), not ml_features columns
    exec("DELETE FROM ml_feature_sets WHERE metric_type = $1 AND method <> 'rfe'", &[metric_type.into()])?;
    exec(
        "INSERT INTO ml_feature_sets (metric_type, feature, kept, score, reason, method)
         SELECT $1, f, k, s, r, $2 FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::bool[]), pg_catalog.unnest($5::float8[]), pg_catalog.unnest($6::text[])) AS u(f, k, s, r)",
        &[
            metric_type.into(),
            method.into(),
            decisions.iter().map(|d| d.feature.clone()).collect::<Vec<_>>().into(),
            decisions.iter().map(|d| d.kept).collect::<Vec<_>>().into(),
            decisions.iter().map(|d| d.score).collect::<Vec<_>>().into(),
            decisions.iter().map(|d| d.reason.clone()).collect::<Vec<_>>().into(),
        ],
    )?;
    Ok(())
}

/// The kept features of a metric type, or None when no selection was persisted.
pub fn kept(metric_type: &str) -> Result<Option<Vec<String>>> {
    Spi::connect(|client| -> Result<Option<Vec<String>>> {
        let t = client.select(
            "SELECT feature, kept FROM ml_feature_sets WHERE metric_type = $1 AND method <> 'rfe' ORDER BY feature",
            None,
            &[metric_type.into()],
        )?;
        if t.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for r in t {
            if r.get::<bool>(2)?.unwrap_or(false) {
                if let Some(f) = r.get::<String>(1)? {
                    out.push(f);
                }
            }
        }
        Ok(Some(out))
    })
}
