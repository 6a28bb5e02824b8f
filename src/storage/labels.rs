//! ml_labels: known anomaly windows.

use crate::errors::Result;
use pgrx::datum::TimestampWithTimeZone;

pub struct Label {
    pub metric_type: String,
    pub entity_id: String,
    pub starts_at: TimestampWithTimeZone,
    pub ends_at: TimestampWithTimeZone,
    pub kind: String,
}

/// Replaces the demo labels of the given entities with these (the generator's ground truth).
pub fn replace_demo(labels: &[Label]) -> Result<()> {
    let mut entities: Vec<String> = labels.iter().map(|l| l.entity_id.clone()).collect();
    entities.sort();
    entities.dedup();
    super::exec(
        "DELETE FROM ml_labels WHERE source = 'demo' AND entity_id = ANY($1)",
        &[entities.into()],
    )?;
    super::exec(
        "INSERT INTO ml_labels (metric_type, entity_id, starts_at, ends_at, kind, source)
         SELECT m, e, s, t, k, 'demo' FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::timestamptz[]), pg_catalog.unnest($4::timestamptz[]), pg_catalog.unnest($5::text[])) AS u(m, e, s, t, k)",
        &[
            labels.iter().map(|l| l.metric_type.clone()).collect::<Vec<_>>().into(),
            labels.iter().map(|l| l.entity_id.clone()).collect::<Vec<_>>().into(),
            labels.iter().map(|l| l.starts_at).collect::<Vec<_>>().into(),
            labels.iter().map(|l| l.ends_at).collect::<Vec<_>>().into(),
            labels.iter().map(|l| l.kind.clone()).collect::<Vec<_>>().into(),
        ],
    )?;
    Ok(())
}
