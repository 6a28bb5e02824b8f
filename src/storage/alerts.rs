//! ml_alerts: one alert per anomaly episode per series, and the detection watermark.

use super::{exec, from_unix_us, to_unix_us};
use crate::errors::Result;
use pgrx::datum::{JsonB, TimestampWithTimeZone};
use pgrx::prelude::*;

/// The open alert of a series (an episode that may still grow).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct KnownAlert {
    pub id: i64,
    pub first_us: i64,
    pub last_us: i64,
    pub open: bool,
    /// Marked a false positive by the application: a later episode is not folded into it
    /// under the unsettled-gap rule.
    pub false_positive: bool,
}

/// The alerts of several series of a metric type that a scoring pass from `since` may
/// continue or overlap: the open ones, and any whose last observation is after `since`
/// minus `gap_us` (rescoring after features were recomputed covers spans already alerted).
pub fn known_alerts(
    metric_type: &str,
    entities: &[String],
    since: TimestampWithTimeZone,
    gap_us: i64,
) -> Result<std::collections::HashMap<String, Vec<KnownAlert>>> {
    Spi::connect(|client| -> Result<_> {
        let t = client.select(
            "SELECT entity_id, id, \"timestamp\", last_seen, is_open, is_false_positive FROM ml_alerts
              WHERE metric_type = $1 AND entity_id = ANY($2)
                AND (is_open OR last_seen >= $3::timestamptz - pg_catalog.make_interval(secs => $4::float8 / 1e6))
              ORDER BY \"timestamp\"",
            None,
            &[metric_type.into(), entities.to_vec().into(), since.into(), (gap_us as f64).into()],
        )?;
        let mut out: std::collections::HashMap<String, Vec<KnownAlert>> = std::collections::HashMap::new();
        for r in t {
            let (Some(e), Some(id), Some(first), Some(last)) = (
                r.get::<String>(1)?,
                r.get::<i64>(2)?,
                r.get::<TimestampWithTimeZone>(3)?,
                r.get::<TimestampWithTimeZone>(4)?,
            ) else {
                continue;
            };
            let open = r.get::<bool>(5)?.unwrap_or(false);
            let false_positive = r.get::<bool>(6)?.unwrap_or(false);
            out.entry(e).or_default().push(KnownAlert { id, first_us: to_unix_us(first), last_us: to_unix_us(last), open, false_positive });
        }
        Ok(out)
    })
}

/// One alert to write (a new episode) or to extend (an open one).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct AlertWrite {
    pub alert_type: String,
    pub severity: pg_anomaly_core::Severity,
    pub entity_id: String,
    pub metric_type: String,
    pub first_us: i64,
    pub last_us: i64,
    pub metric_value: f64,
    pub expected_value: Option<f64>,
    pub deviation_percent: Option<f64>,
    pub message: String,
    pub suggested_action: String,
    pub score: f64,
    pub peak_score: f64,
    pub count: i32,
    pub model_id: i64,
    pub explanation: serde_json::Value,
}

pub fn insert(a: &AlertWrite) -> Result<i64> {
    Ok(super::series::one_kept::<i64>(
        "INSERT INTO ml_alerts (alert_type, severity, entity_id, metric_value, expected_value, deviation_percent, message,
                                suggested_action, metric_type, \"timestamp\", last_seen, score, peak_score, observation_count,
                                model_id, explanation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
        &[
            a.alert_type.as_str().into(),
            a.severity.as_str().into(),
            a.entity_id.as_str().into(),
            a.metric_value.into(),
            a.expected_value.into(),
            a.deviation_percent.into(),
            a.message.as_str().into(),
            a.suggested_action.as_str().into(),
            a.metric_type.as_str().into(),
            from_unix_us(a.first_us).into(),
            from_unix_us(a.last_us).into(),
            a.score.into(),
            a.peak_score.into(),
            a.count.into(),
            a.model_id.into(),
            JsonB(a.explanation.clone()).into(),
        ],
    )?
    .unwrap_or_default())
}

/// Extends an open alert with more anomalous observations of the same episode. The peak
/// fields (value, expected, message, explanation) follow the highest score seen. Returns
/// whether the severity escalated.
pub fn extend(id: i64, a: &AlertWrite) -> Result<bool> {
    // kept plans within a saving pass (`series::one_kept`): the same three statements per
    // extended alert
    let before = super::series::one_kept::<String>("SELECT severity FROM ml_alerts WHERE id = $1", &[id.into()])?;
    let levels = pg_anomaly_core::Severity::sql_array();
    super::series::exec_kept(
        &format!("UPDATE ml_alerts SET last_seen = greatest(last_seen, $2), \"timestamp\" = least(\"timestamp\", $13), score = $3,
                observation_count = observation_count + $4, updated_at = pg_catalog.now(),
                severity = CASE WHEN pg_catalog.array_position({levels}, $5)
                                   > pg_catalog.array_position({levels}, severity) THEN $5 ELSE severity END,
                peak_score = greatest(coalesce(peak_score, 0), $6),
                metric_value = CASE WHEN $6 > coalesce(peak_score, 0) THEN $7 ELSE metric_value END,
                expected_value = CASE WHEN $6 > coalesce(peak_score, 0) THEN $8 ELSE expected_value END,
                deviation_percent = CASE WHEN $6 > coalesce(peak_score, 0) THEN $9 ELSE deviation_percent END,
                message = CASE WHEN $6 > coalesce(peak_score, 0) THEN $10 ELSE message END,
                suggested_action = CASE WHEN $6 > coalesce(peak_score, 0) THEN $11 ELSE suggested_action END,
                explanation = CASE WHEN $6 > coalesce(peak_score, 0) THEN $12 ELSE explanation END
          WHERE id = $1"),
        &[
            id.into(),
            from_unix_us(a.last_us).into(),
            a.score.into(),
            a.count.into(),
            a.severity.as_str().into(),
            a.peak_score.into(),
            a.metric_value.into(),
            a.expected_value.into(),
            a.deviation_percent.into(),
            a.message.as_str().into(),
            a.suggested_action.as_str().into(),
            JsonB(a.explanation.clone()).into(),
            from_unix_us(a.first_us).into(),
        ],
    )?;
    let after = super::series::one_kept::<String>("SELECT severity FROM ml_alerts WHERE id = $1", &[id.into()])?;
    Ok(before != after)
}

/// Closes the open alerts of a metric type whose last anomalous observation is older
/// than the series' scored watermark minus `window_us` (the longest an alert may still be
/// continued: the episode gap or the model's reversal window; a saving pass closes the alerts
/// of the series it scored as soon as they can no longer be continued).
pub fn close_stale(metric_type: &str, window_us: i64) -> Result<i64> {
    let gap_us = window_us;
    if super::citus::is_distributed("ml_series_state")? {
        return close_stale_citus(metric_type, gap_us);
    }
    exec(
        "UPDATE ml_alerts a SET is_open = false, updated_at = pg_catalog.now()
           FROM ml_series_state s
          WHERE a.metric_type = $1 AND a.is_open AND s.metric_type = a.metric_type AND s.entity_id = a.entity_id
            AND s.scored_until IS NOT NULL AND a.last_seen < s.scored_until - pg_catalog.make_interval(secs => $2::float8 / 1e6)",
        &[metric_type.into(), gap_us.into()],
    )
}

/// `close_stale` on a Citus cluster: ml_alerts stays on the coordinator and ml_series_state
/// is distributed, and Citus refuses an UPDATE joining them with a stable function over
/// their columns. The watermarks of the series with open alerts are read first and the
/// UPDATE joins them as parameters.
fn close_stale_citus(metric_type: &str, gap_us: i64) -> Result<i64> {
    let open: Vec<String> = super::one::<Vec<String>>(
        "SELECT pg_catalog.array_agg(DISTINCT entity_id) FROM ml_alerts WHERE metric_type = $1 AND is_open",
        &[metric_type.into()],
    )?
    .unwrap_or_default();
    if open.is_empty() {
        return Ok(0);
    }
    let (entities, scored) = Spi::connect(|client| -> Result<(Vec<String>, Vec<TimestampWithTimeZone>)> {
        let t = client.select(
            "SELECT entity_id, scored_until FROM ml_series_state
              WHERE metric_type = $1 AND entity_id = ANY($2) AND scored_until IS NOT NULL",
            None,
            &[metric_type.into(), open.into()],
        )?;
        Ok(super::pairs::<String, TimestampWithTimeZone>(t)?.into_iter().unzip())
    })?;
    exec(
        "UPDATE ml_alerts a SET is_open = false, updated_at = pg_catalog.now()
           FROM ROWS FROM (pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::timestamptz[])) AS s(entity_id, scored_until)
          WHERE a.metric_type = $1 AND a.is_open AND s.entity_id = a.entity_id
            AND a.last_seen < s.scored_until - pg_catalog.make_interval(secs => $2::float8 / 1e6)",
        &[metric_type.into(), gap_us.into(), entities.into(), scored.into()],
    )
}

pub fn close(id: i64) -> Result<()> {
    super::series::exec_kept("UPDATE ml_alerts SET is_open = false, updated_at = pg_catalog.now() WHERE id = $1", &[id.into()])?;
    Ok(())
}

/// Series of a metric type with rows not yet scored by a saving run: (entity, scored_until,
/// features_until).
pub fn unscored(metric_type: &str) -> Result<Vec<(String, Option<TimestampWithTimeZone>, Option<TimestampWithTimeZone>)>> {
    Spi::connect(|client| -> Result<_> {
        let t = client.select(
            "SELECT entity_id, scored_until, features_until FROM ml_series_state
              WHERE metric_type = $1 AND features_until IS NOT NULL
                AND (scored_until IS NULL OR scored_until < features_until)
              ORDER BY entity_id",
            None,
            &[metric_type.into()],
        )?;
        let mut out = Vec::new();
        for r in t {
            out.push((r.get::<String>(1)?.unwrap_or_default(), r.get::<TimestampWithTimeZone>(2)?, r.get::<TimestampWithTimeZone>(3)?));
        }
        Ok(out)
    })
}

/// Advances the scored watermark of series (same transaction as their alerts).
pub fn advance_scored(metric_type: &str, entities: Vec<String>, until: Vec<TimestampWithTimeZone>) -> Result<()> {
    exec(
        "UPDATE ml_series_state s SET scored_until = greatest(coalesce(s.scored_until, '-infinity'), d.u)
           FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::timestamptz[])) AS d(e, u)
          WHERE s.metric_type = $1 AND s.entity_id = d.e",
        &[metric_type.into(), entities.into(), until.into()],
    )?;
    Ok(())
}

/// Settings of a metric type used by detection: alert type and episode gap.
pub fn settings(metric_type: &str) -> Result<(String, i64)> {
    Spi::connect(|client| -> Result<_> {
        let t = client.select(
            "SELECT alert_type, extract(epoch FROM episode_gap)::float8 FROM ml_settings WHERE metric_type = $1",
            None,
            &[metric_type.into()],
        )?;
        Ok(match t.into_iter().next() {
            Some(r) => (
                r.get::<String>(1)?.unwrap_or_else(|| format!("{metric_type}_anomali")),
                (r.get::<f64>(2)?.unwrap_or(7200.0) * 1e6) as i64,
            ),
            None => (format!("{metric_type}_anomali"), 7_200_000_000),
        })
    })
}

/// An alert as a picture shows it.
pub struct AlertSpan {
    pub from_us: i64,
    pub to_us: i64,
    pub severity: String,
    /// "#id severity".
    pub label: String,
}

/// The alerts of one series overlapping [since, until], oldest first.
pub fn in_span(metric_type: &str, entity_id: &str, since: TimestampWithTimeZone, until: TimestampWithTimeZone) -> Result<Vec<AlertSpan>> {
    Spi::connect(|client| -> Result<Vec<AlertSpan>> {
        let t = client.select(
            "SELECT \"timestamp\", last_seen, severity, pg_catalog.concat('#', id, ' ', severity) FROM ml_alerts
              WHERE metric_type = $1 AND entity_id = $2 AND last_seen >= $3 AND \"timestamp\" <= $4 ORDER BY \"timestamp\"",
            None,
            &[metric_type.into(), entity_id.into(), since.into(), until.into()],
        )?;
        let mut v = Vec::new();
        for r in t {
            if let (Some(a), Some(b)) = (r.get::<TimestampWithTimeZone>(1)?, r.get::<TimestampWithTimeZone>(2)?) {
                v.push(AlertSpan {
                    from_us: to_unix_us(a),
                    to_us: to_unix_us(b),
                    severity: r.get(3)?.unwrap_or_default(),
                    label: r.get(4)?.unwrap_or_default(),
                });
            }
        }
        Ok(v)
    })
}
