//! Reading stored features back as a matrix (for selection, training and scoring).

use crate::errors::Result;
use pg_anomaly_core::features::{FEATURE_NAMES, NUM_FEATURES};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use std::sync::OnceLock;

/// All numeric feature columns as one float8[] expression, in FEATURE_NAMES order.
fn features_array_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let cols: Vec<String> = FEATURE_NAMES
            .iter()
            .map(|n| if *n == "is_weekend" { format!("{n}::int::float8") } else { format!("{n}::float8") })
            .collect();
        format!("ARRAY[{}]", cols.join(", "))
    })
}

/// One stored feature row (the columns selection needs).
pub struct StoredRow {
    pub features: [Option<f64>; NUM_FEATURES],
    /// true when the row lies in a known anomaly window (ml_labels) of its series.
    pub labelled: bool,
}

/// Reads the stored features of a metric type in (entity, time) order; `every_nth` > 1
/// keeps a deterministic sample (rows whose id is a multiple of it).
pub fn read(
    metric_type: &str,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    every_nth: i64,
) -> Result<Vec<StoredRow>> {
    let sql = format!(
        "SELECT f.entity_id, f.\"timestamp\", f.metric_value, {arr},
                EXISTS (SELECT 1 FROM ml_labels l WHERE l.metric_type = f.metric_type AND l.entity_id = f.entity_id
                           AND f.\"timestamp\" BETWEEN l.starts_at AND l.ends_at)
           FROM ml_features f
          WHERE f.metric_type = $1 AND ($2::timestamptz IS NULL OR f.\"timestamp\" >= $2)
            AND ($3::timestamptz IS NULL OR f.\"timestamp\" < $3) AND f.id % $4 = 0
          ORDER BY f.entity_id, f.\"timestamp\"",
        arr = features_array_sql()
    );
    Spi::connect(|client| -> Result<Vec<StoredRow>> {
        let t = client.select(sql.as_str(), None, &[metric_type.into(), since.into(), until.into(), every_nth.max(1).into()])?;
        let mut out = Vec::with_capacity(t.len());
        for r in t {
            let arr: Vec<Option<f64>> = r.get(4)?.unwrap_or_default();
            let mut features = [None; NUM_FEATURES];
            for (slot, v) in features.iter_mut().zip(arr) {
                *slot = v;
            }
            out.push(StoredRow {
                features,
                labelled: r.get(5)?.unwrap_or(false),
            });
        }
        Ok(out)
    })
}

/// Rows stored for a metric type (an estimate is enough for sampling decisions).
pub fn count(metric_type: &str) -> Result<i64> {
    Ok(super::one::<i64>("SELECT count(*) FROM ml_features WHERE metric_type = $1", &[metric_type.into()])?.unwrap_or(0))
}
