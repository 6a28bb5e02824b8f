//! Demo data: the core generator's labelled series written to ml_metrics and ml_labels.

use super::stage::StageRun;
use crate::errors::{invalid, Result};
use crate::storage::{from_unix_us, labels, metrics};
use pg_anomaly_core::demo::{self, DemoParams, METRIC_TYPES, STEPS_PER_DAY, STEP_US};
use pgrx::datum::TimestampWithTimeZone;

/// Entities generated and written per COPY: bounds memory (about 40 MB of COPY data).
const ENTITIES_PER_COPY: u32 = 25;

/// Writes `days` days of 15-minute observations of the four metric types for `entities`
/// entities ending at `end_at`, with injected anomalies labelled in ml_labels, serially or
/// with `parallel` workers; returns (metric type, rows, labels).
pub fn generate(entities: i32, days: i32, seed: i32, end_at: Option<TimestampWithTimeZone>, parallel: i32, trigger: &str) -> Result<Vec<(String, i64, i64)>> {
    let run = StageRun::start("demo", None, trigger)?;
    let end = match end_at {
        Some(t) if t.is_finite() => t,
        _ => return Err(invalid("end_at", "NULL or infinite", "the series end at a finite instant (default now())")),
    };
    let now_us = crate::storage::to_unix_us(end);
    let params = DemoParams {
        entities: u32::try_from(entities).unwrap_or(0),
        days: u32::try_from(days).unwrap_or(0),
        seed: seed as u32 as u64,
        end_us: now_us - now_us.rem_euclid(STEP_US),
    };
    params.check()?;
    let (rows, label_counts) = if parallel > 1 {
        super::parallel::demo(&params, parallel)?
    } else {
        metrics::ensure_partitions(from_unix_us(params.start_us()), from_unix_us(params.end_us))?;
        write_entities(&params, None)?
    };
    let total: i64 = rows.iter().sum();
    run.success(Some("demo"), 0, total)?;
    Ok(METRIC_TYPES
        .iter()
        .enumerate()
        .map(|(m, t)| (t.to_string(), rows[m], label_counts[m]))
        .collect())
}

/// Generates and writes the entities of one partition (index modulo n equal to k), or all;
/// returns the rows written and labels per metric type.
pub fn write_entities(params: &DemoParams, part: Option<(u32, u32)>) -> Result<([i64; 4], [i64; 4])> {
    let start = from_unix_us(params.start_us());
    let mut rows = [0i64; 4];
    let mut label_counts = [0i64; 4];
    let mut all_labels = Vec::new();
    let steps = params.n_steps();
    let mut idx = 0;
    while idx < params.entities {
        pgrx::check_for_interrupts!();
        let span = idx..(idx + ENTITIES_PER_COPY).min(params.entities);
        idx = span.end;
        let chunk: Vec<u32> = span.filter(|i| part.map(|(k, n)| i % n == k).unwrap_or(true)).collect();
        if chunk.is_empty() {
            continue;
        }
        let ids: Vec<String> = chunk.iter().map(|i| demo::entity_id(*i, params.entities)).collect();
        // COPY cannot skip existing rows; when the span already has rows of these
        // entities (a rerun), fall back to INSERT ... ON CONFLICT DO NOTHING.
        let fresh = !metrics::any_rows(&ids, start, from_unix_us(params.end_aligned_us()))?;
        let mut batch = metrics::MetricRows::new(chunk.len() * 4 * steps);
        let mut generated = Vec::with_capacity(chunk.len());
        for (i, entity) in chunk.iter().zip(&ids) {
            let series = demo::generate_entity(&params, *i);
            for l in &series.labels {
                if let Some(m) = METRIC_TYPES.iter().position(|t| *t == l.metric_type) {
                    label_counts[m] += 1;
                }
                all_labels.push(labels::Label {
                    metric_type: l.metric_type.to_string(),
                    entity_id: entity.clone(),
                    starts_at: from_unix_us(l.starts_at_us),
                    ends_at: from_unix_us(l.ends_at_us),
                    kind: l.kind.to_string(),
                });
            }
            generated.push((entity, series.values));
        }
        if fresh {
            // Day by day: consecutive rows go to the same day partition, so COPY fills
            // one partition's insert buffer at a time instead of hopping between them.
            for day in 0..steps.div_ceil(STEPS_PER_DAY) {
                let span = day * STEPS_PER_DAY..((day + 1) * STEPS_PER_DAY).min(steps);
                for (entity, values) in &generated {
                    for (m, v) in values.iter().enumerate() {
                        for k in span.clone() {
                            batch.push(METRIC_TYPES[m], entity, v[k], params.timestamp_us(k), "demo");
                        }
                    }
                }
            }
            for (m, _) in METRIC_TYPES.iter().enumerate() {
                rows[m] += (generated.len() * steps) as i64;
            }
        } else {
            for (entity, values) in generated {
                for (m, v) in values.into_iter().enumerate() {
                    rows[m] += metrics::insert_regular_series(METRIC_TYPES[m], entity, start, STEP_US, v, "demo")?;
                }
            }
        }
        if fresh {
            metrics::copy_rows(batch)?;
        }
    }
    labels::replace_demo(&all_labels)?;
    Ok((rows, label_counts))
}
