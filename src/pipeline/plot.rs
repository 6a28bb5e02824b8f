//! The SVG picture of one series for analysts: the values, what the active model expected
//! with a band around it, and the alerts coloured by severity.

use super::model::Model;
use crate::errors::Result;
use crate::storage::{alerts, models, series, settings, to_unix_us};
use pg_anomaly_core::detect::MetricKind;
use pg_anomaly_core::features::col;
use pg_anomaly_core::plot::{render_svg, PlotAlert, PlotPoint, PlotSpec};
use pg_anomaly_core::time::DAY_US;
use pg_anomaly_core::CoreError;
use pgrx::datum::TimestampWithTimeZone;

/// Renders the series of one entity between `since` and `until` (default: the last 7 days
/// of its data) as an SVG document.
pub fn plot(metric_type: &str, entity_id: &str, since: Option<TimestampWithTimeZone>, until: Option<TimestampWithTimeZone>) -> Result<String> {
    let last = series::features_until(metric_type, entity_id)?.ok_or_else(|| {
        CoreError::not_found(format!("no stored features for {metric_type} of \"{entity_id}\""))
            .with_hint("Check the names, and run ml_build_features() after loading metrics.")
    })?;
    let until_us = until.map(to_unix_us).unwrap_or(to_unix_us(last) + 1);
    let since_us = since.map(to_unix_us).unwrap_or(until_us - 7 * DAY_US);
    let points = points(metric_type, entity_id, since_us, until_us)?;
    let alerts = alerts::in_span(metric_type, entity_id, series::ts(since_us), series::ts(until_us))?
        .into_iter()
        .map(|a| PlotAlert { from_us: a.from_us, to_us: a.to_us, severity: a.severity, label: a.label })
        .collect();
    let offset = settings::feature_time_zone_offset_minutes()?;
    Ok(render_svg(&PlotSpec {
        title: format!("{metric_type} · {entity_id}"),
        metric_type: metric_type.to_string(),
        entity_id: entity_id.to_string(),
        points,
        alerts,
        width: 1000,
        height: 420,
        utc_offset_minutes: offset as i32,
    }))
}

/// The plotted values with what the active model (or, without one, the rolling median)
/// expected, and a band of the usual spread around it.
fn points(metric_type: &str, entity_id: &str, since_us: i64, until_us: i64) -> Result<Vec<PlotPoint>> {
    let model = models::active_any(metric_type)?.map(|(id, _)| Model::load(id)).transpose()?;
    let lookback = model.as_ref().map(|m| m.lookback_us()).unwrap_or(0);
    let kind = MetricKind::from_metric_type(metric_type);
    let data = series::read(metric_type, kind.aux_metric(), &[entity_id.to_string()], &[series::ts(since_us)], lookback, Some(series::ts(until_us)))?;
    let mut points = Vec::new();
    if let Some(s) = data.first() {
        let first = s.ts.partition_point(|t| *t < since_us);
        let scored = match &model {
            Some(m) => m.score_series(s, first)?,
            None => Vec::new(),
        };
        for i in first..s.len() {
            let expected = scored.get(i - first).and_then(|r| r.expected).or(s.features[i][col::MEDIAN]);
            points.push(PlotPoint { ts: s.ts[i], value: s.value[i], expected, band: None });
        }
        // The band: the spread of the values around what was expected, over the window.
        let mut dev: Vec<f64> = points.iter().filter_map(|p| p.expected.map(|e| (p.value - e).abs())).collect();
        dev.sort_by(|a, b| a.total_cmp(b));
        if !dev.is_empty() {
            let half = dev[(dev.len() * 9 / 10).min(dev.len() - 1)].max(1e-9);
            for p in &mut points {
                p.band = p.expected.map(|e| (e - half, e + half));
            }
        }
    }
    Ok(points)
}
