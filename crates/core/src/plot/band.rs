//! The expected band `ml_plot` draws: the range the detector itself treated as normal, in
//! the metric's own domain.
//!
//! A symmetric band of the spread of all values around what was expected is wrong twice
//! over for skewed metrics: a refill duration of 377 min against 87 expected, with a few
//! long refills in the window, got a band from -200 to 380 min, below zero (impossible) and
//! around the very value that was alerted. Here each side is measured separately, only on
//! rows the detector scored normal, the band never goes below the metric's floor, and at a
//! row the detector flagged for being high (low) the band ends below (above) its value:
//! the detector said that value is outside what is normal, and the picture agrees.

use crate::detect::MetricKind;

/// One scored row as the band needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandRow {
    pub value: f64,
    pub expected: Option<f64>,
    pub is_anomaly: bool,
    /// Sign of the dominant deviation the detector reported: 1 above normal, -1 below, 0 none.
    pub direction: i8,
}

/// The lowest value a metric of this kind can take: stock levels, counts and durations are
/// never negative; a generic metric has no floor.
pub fn domain_floor(kind: MetricKind) -> Option<f64> {
    match kind {
        MetricKind::Generic => None,
        _ => Some(0.0),
    }
}

/// Share of the normal rows' deviations (on each side) the band covers.
pub const BAND_QUANTILE: f64 = 0.9;

fn quantile(mut v: Vec<f64>, q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[((v.len() as f64 - 1.0) * q).round() as usize])
}

/// The band (low, high) of each row (`None` where nothing was expected).
pub fn normal_band(rows: &[BandRow], floor: Option<f64>) -> Vec<Option<(f64, f64)>> {
    let dev = |r: &BandRow| r.expected.filter(|e| e.is_finite()).map(|e| r.value - e).filter(|d| d.is_finite());
    let normal: Vec<f64> = rows.iter().filter(|r| !r.is_anomaly).filter_map(dev).collect();
    // Without normal rows (all flagged), the spread of every row is the only measure left.
    let basis = if normal.is_empty() { rows.iter().filter_map(dev).collect() } else { normal };
    let up = quantile(basis.iter().map(|d| d.max(0.0)).collect(), BAND_QUANTILE).unwrap_or(0.0);
    let down = quantile(basis.iter().map(|d| (-d).max(0.0)).collect(), BAND_QUANTILE).unwrap_or(0.0);
    let lo_floor = floor.unwrap_or(f64::NEG_INFINITY);
    rows.iter()
        .map(|r| {
            let e = r.expected.filter(|e| e.is_finite())?.max(lo_floor);
            let scale = 1e-6 * e.abs().max(r.value.abs()).max(1.0);
            let mut lo = (e - down.max(scale)).max(lo_floor);
            let mut hi = (e + up.max(scale)).max(lo);
            if r.is_anomaly {
                let high = r.direction > 0 || (r.direction == 0 && r.value > e);
                let low = r.direction < 0 || (r.direction == 0 && r.value < e);
                if high && r.value > e && r.value <= hi {
                    hi = (r.value - scale).max(lo);
                }
                if low && r.value < e && r.value >= lo {
                    lo = (r.value + scale).min(hi).max(lo_floor);
                }
            }
            Some((lo, hi))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: f64, expected: f64, is_anomaly: bool, direction: i8) -> BandRow {
        BandRow { value, expected: Some(expected), is_anomaly, direction }
    }

    /// The demo's case: refill durations around 87 min, some long ones, one alerted at 377.
    #[test]
    fn durations_never_below_zero_and_the_high_alert_lies_above_the_band() {
        let mut rows: Vec<BandRow> = (0..200).map(|i| row(60.0 + (i % 9) as f64 * 8.0, 87.0, false, 0)).collect();
        rows.extend((0..15).map(|i| row(250.0 + i as f64 * 10.0, 87.0, false, 0)));
        rows.push(row(377.0, 87.0, true, 1));
        let band = normal_band(&rows, domain_floor(MetricKind::Duration));
        assert!(band.iter().flatten().all(|(lo, hi)| *lo >= 0.0 && hi >= lo), "{band:?}");
        let (_, hi) = band.last().unwrap().unwrap();
        assert!(377.0 > hi, "alerted value inside the band: {hi}");
        // The symmetric 90% band of old reached below zero here.
        let (lo0, _) = band[0].unwrap();
        assert!(lo0 >= 0.0 && lo0 < 87.0);
    }

    #[test]
    fn a_flagged_value_is_outside_even_when_normal_spread_is_wide() {
        let mut rows: Vec<BandRow> = (0..100).map(|i| row(50.0 + (i % 2) as f64 * 60.0 - 30.0, 50.0, false, 0)).collect();
        rows.push(row(70.0, 50.0, true, 1));
        rows.push(row(20.0, 50.0, true, -1));
        let band = normal_band(&rows, Some(0.0));
        let (_, hi) = band[100].unwrap();
        assert!(70.0 > hi);
        let (lo, _) = band[101].unwrap();
        assert!(20.0 < lo);
        // An unflagged row keeps the full band.
        assert_eq!(band[0], Some((20.0, 80.0)));
    }

    #[test]
    fn generic_metrics_may_go_negative_and_rows_without_expectation_have_no_band() {
        let rows = vec![row(-5.0, 0.0, false, 0), row(5.0, 0.0, false, 0), BandRow { value: 1.0, expected: None, is_anomaly: false, direction: 0 }];
        let band = normal_band(&rows, domain_floor(MetricKind::Generic));
        assert_eq!(band[0], Some((-5.0, 5.0)));
        assert_eq!(band[2], None);
    }

    /// Rendered: the picture's value axis does not reach below zero, and the alerted point is
    /// drawn above the band's upper edge (SVG y grows downwards).
    #[test]
    fn rendered_plot_agrees_with_the_alert() {
        use crate::plot::{layout, render_svg, PlotAlert, PlotPoint, PlotSpec};
        const HOUR: i64 = 3_600_000_000;
        let values: Vec<f64> = (0..120).map(|i| if i == 100 { 377.0 } else { 40.0 + ((i * 37) % 90) as f64 }).collect();
        let rows: Vec<BandRow> = values.iter().enumerate().map(|(i, v)| row(*v, 87.0, i == 100, if i == 100 { 1 } else { 0 })).collect();
        let band = normal_band(&rows, domain_floor(MetricKind::Duration));
        let points: Vec<PlotPoint> = values
            .iter()
            .zip(&band)
            .enumerate()
            .map(|(i, (v, b))| PlotPoint { ts: i as i64 * HOUR, value: *v, expected: Some(87.0), band: *b })
            .collect();
        let spec = PlotSpec {
            metric_type: "dolum_sure".into(),
            entity_id: "urun_1".into(),
            points,
            alerts: vec![PlotAlert { from_us: 100 * HOUR, to_us: 100 * HOUR, severity: "kritik".into(), label: "#1 kritik".into() }],
            ..PlotSpec::default()
        };
        let svg = render_svg(&spec);
        assert!(svg.contains("<polygon") && svg.contains("Beklenen aralık"), "no band drawn");
        let l = layout(&spec).unwrap();
        assert!(l.y.min >= 0.0, "value axis below zero: {}", l.y.min);
        let (_, hi) = band[100].unwrap();
        assert!(l.y_of(377.0) < l.y_of(hi) - 1.0, "alerted point not above the band");
    }
}
