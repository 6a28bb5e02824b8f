//! Reading stored features back as a matrix (for selection, training and scoring).

use crate::errors::Result;
use pg_anomaly_core::features::{FEATURE_NAMES, NUM_FEATURES};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use std::collections::HashMap;
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
    /// true when the row lies in a known anomaly window of its series: ml_labels, and
    /// alerts read and not marked false positive (`series::known_windows`).
    pub labelled: bool,
}

/// Reads the stored features of a metric type in (entity, time) order. With `fraction` < 1
/// it reads a sample: that share of the table's blocks (TABLESAMPLE SYSTEM, REPEATABLE, so
/// the same table gives the same sample), which costs that share of a scan. Rows are put in
/// order here rather than by a sort of wide rows in the query.
pub fn read(
    metric_type: &str,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    fraction: f64,
) -> Result<Vec<StoredRow>> {
    let sample = if fraction < 1.0 { " TABLESAMPLE SYSTEM ($4) REPEATABLE (42)" } else { "" };
    let sql = format!(
        "SELECT f.entity_id, f.\"timestamp\", {arr}
           FROM ml_features f{sample}
          WHERE f.metric_type = $1 AND ($2::timestamptz IS NULL OR f.\"timestamp\" >= $2)
            AND ($3::timestamptz IS NULL OR f.\"timestamp\" < $3) AND $4::float8 > 0",
        arr = features_array_sql()
    );
    let percent = (fraction.clamp(1e-6, 1.0) * 100.0).min(100.0);
    let mut windows: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for w in super::series::known_windows(metric_type)?.labels {
        windows.entry(w.entity_id).or_default().push((w.from_us, w.to_us));
    }
    let mut keyed: Vec<(String, i64, StoredRow)> = Spi::connect(|client| -> Result<Vec<_>> {
        let t = client.select(sql.as_str(), None, &[metric_type.into(), since.into(), until.into(), percent.into()])?;
        let mut out = Vec::with_capacity(t.len());
        super::each_row(t, |r| {
            let (Some(e), Some(ts)) = (super::col::<String>(r, 1)?, super::col::<TimestampWithTimeZone>(r, 2)?) else { return Ok(()) };
            let ts = super::to_unix_us(ts);
            let mut features = [None; NUM_FEATURES];
            if let Some(arr) = super::col::<pgrx::Array<f64>>(r, 3)? {
                for (slot, v) in features.iter_mut().zip(arr.iter()) {
                    *slot = v;
                }
            }
            let labelled = windows.get(&e).is_some_and(|w| w.iter().any(|(a, b)| ts >= *a && ts <= *b));
            out.push((e, ts, StoredRow { features, labelled }));
            Ok(())
        })?;
        Ok(out)
    })?;
    keyed.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    Ok(keyed.into_iter().map(|(_, _, r)| r).collect())
}

/// Rows stored for a metric type (an estimate is enough for sampling decisions).
pub fn count(metric_type: &str) -> Result<i64> {
    Ok(super::one::<i64>("SELECT pg_catalog.count(*) FROM ml_features WHERE metric_type = $1", &[metric_type.into()])?.unwrap_or(0))
}
