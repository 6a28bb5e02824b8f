//! The SVG picture of one series for analysts: the values, what the active model expected
//! with a band around it, and the alerts coloured by severity.

use super::model;
use crate::errors::Result;
use crate::storage::{alerts, models, series, settings, to_unix_us};
use pg_anomaly_core::detect::MetricKind;
use pg_anomaly_core::features::col;
use pg_anomaly_core::plot::band::{domain_floor, normal_band, BandRow};
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
    let model = models::active_any(metric_type)?.map(|(id, _)| model::load(id)).transpose()?;
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
        // The band is the range the detector treated as normal, in the metric's own domain
        // (pg_anomaly_core::plot::band): never below the floor, and an alerted value outside it.
        let floor = domain_floor(kind);
        let mut rows = Vec::new();
        for i in first..s.len() {
            let r = scored.get(i - first);
            let expected = r.and_then(|r| r.expected).or(s.features[i][col::MEDIAN]).map(|e| floor.map_or(e, |f| e.max(f)));
            points.push(PlotPoint { ts: s.ts[i], value: s.value[i], expected, band: None });
            rows.push(BandRow { value: s.value[i], expected, is_anomaly: r.is_some_and(|r| r.is_anomaly), direction: r.map_or(0, |r| r.direction) });
        }
        for (p, b) in points.iter_mut().zip(normal_band(&rows, floor)) {
            p.band = b;
        }
    }
    Ok(points)
}
