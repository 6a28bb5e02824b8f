//! Recursive feature elimination's record: every round in ml_feature_set_rounds, the
//! per-input decisions in ml_feature_sets (method 'rfe'), and the chosen inputs for training.

use super::exec;
use crate::errors::Result;
use pg_anomaly_core::detect::RfeResult;
use pgrx::prelude::*;

/// Replaces the metric type's last elimination with `r`; `decisions` are (input, kept,
/// score, reason).
pub fn save(metric_type: &str, r: &RfeResult, decisions: &[(String, bool, Option<f64>, String)]) -> Result<()> {
    exec("DELETE FROM ml_feature_set_rounds WHERE metric_type = $1", &[metric_type.into()])?;
    for x in &r.rounds {
        exec(
            "INSERT INTO ml_feature_set_rounds (metric_type, round, method, features, dropped, importance, f1, \"precision\", recall,
                                               alerts, alerts_per_series_week, agreement, criterion, chosen, seconds)
             VALUES ($1, $2, 'rfe', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                metric_type.into(),
                (x.round as i32).into(),
                x.inputs.clone().into(),
                x.dropped.clone().into(),
                x.importance.clone().into(),
                x.f1.into(),
                x.precision.into(),
                x.recall.into(),
                (x.alerts.min(i32::MAX as usize) as i32).into(),
                x.alerts_per_series_week.into(),
                x.agreement.into(),
                r.criterion.into(),
                (x.round == r.chosen).into(),
                x.seconds.into(),
            ],
        )?;
    }
    exec("DELETE FROM ml_feature_sets WHERE metric_type = $1 AND method = 'rfe'", &[metric_type.into()])?;
    exec(
        "INSERT INTO ml_feature_sets (metric_type, feature, kept, score, reason, method)
         SELECT $1, f, k, s, r, 'rfe' FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::bool[]), pg_catalog.unnest($4::float8[]), pg_catalog.unnest($5::text[])) AS u(f, k, s, r)",
        &[
            metric_type.into(),
            decisions.iter().map(|d| d.0.clone()).collect::<Vec<_>>().into(),
            decisions.iter().map(|d| d.1).collect::<Vec<_>>().into(),
            decisions.iter().map(|d| d.2).collect::<Vec<_>>().into(),
            decisions.iter().map(|d| d.3.clone()).collect::<Vec<_>>().into(),
        ],
    )?;
    Ok(())
}

/// The inputs of the chosen round of the metric type's last elimination, if any.
/// None as well on a 0.1.0 schema, which has no ml_feature_set_rounds: a package upgrade
/// installs this library before the DBA runs ALTER EXTENSION pg_anomaly UPDATE, and
/// training goes on meanwhile.
pub fn chosen(metric_type: &str) -> Result<Option<Vec<String>>> {
    if !super::one::<bool>("SELECT pg_catalog.to_regclass('ml_feature_set_rounds') IS NOT NULL", &[])?.unwrap_or(false) {
        return Ok(None);
    }
    Spi::connect(|client| -> Result<Option<Vec<String>>> {
        let t = client.select(
            "SELECT features FROM ml_feature_set_rounds WHERE metric_type = $1 AND chosen ORDER BY round LIMIT 1",
            None,
            &[metric_type.into()],
        )?;
        match t.into_iter().next() {
            Some(r) => Ok(r.get::<Vec<Option<String>>>(1)?.map(|v| v.into_iter().flatten().collect())),
            None => Ok(None),
        }
    })
}
