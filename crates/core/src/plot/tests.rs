use super::axis::{civil_from_days, days_from_civil, DAY_US, HOUR_US, MINUTE_US};
use super::*;

const T0: i64 = 1_704_067_200_000_000; // 2024-01-01T00:00:00Z

fn pt(ts: i64, value: f64) -> PlotPoint {
    PlotPoint { ts, value, expected: None, band: None }
}

fn spec(points: Vec<PlotPoint>) -> PlotSpec {
    PlotSpec { title: "t".into(), metric_type: "stok_seviye".into(), entity_id: "R1".into(), points, ..PlotSpec::default() }
}

/// A minimal well-formedness check: every tag opened is closed in order, and no raw '&'
/// or '<' appears inside text or attributes.
fn assert_well_formed(svg: &str) {
    assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    let body = svg.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").expect("xml declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(['<', '&']) {
        let text = &rest[..i];
        assert!(!text.contains('>'), "raw '>' in text: {text}");
        rest = &rest[i..];
        if rest.starts_with('&') {
            let end = rest.find(';').expect("entity end");
            assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&&rest[..=end]), "bad entity {}", &rest[..=end]);
            rest = &rest[end + 1..];
            continue;
        }
        let end = rest.find('>').expect("tag end");
        let tag = &rest[1..end];
        assert!(!tag.contains('<') && !tag.contains('\''), "bad tag {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched close {name}");
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap().to_string());
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert!(rest.trim().is_empty());
}

#[test]
fn escaping_covers_all_five_entities_and_drops_control_characters() {
    assert_eq!(escape_xml(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    assert_eq!(escape_xml("x\u{1}y\u{FFFF}\tz"), "xy\tz");
    assert_eq!(escape_xml("Düşük · raf"), "Düşük · raf");
    let mut s = spec(vec![pt(T0, 1.0), pt(T0 + HOUR_US, 2.0)]);
    s.entity_id = "<script>alert('x')</script> & \"co\"".into();
    s.title = "a<b".into();
    s.alerts = vec![PlotAlert { from_us: T0, to_us: T0 + HOUR_US, severity: "<evil>".into(), label: "&lbl".into() }];
    let svg = render_svg(&s);
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;co&quot;"));
    assert!(svg.contains("&lt;evil&gt;"), "unknown severity is named in the legend");
    assert_well_formed(&svg);
}

#[test]
fn value_ticks_are_1_2_5_steps_with_4_to_6_ticks() {
    let mut rng = 12345u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..20_000 {
        let scale = 10f64.powf(next() * 16.0 - 8.0);
        let lo = (next() - 0.5) * 10.0 * scale;
        let hi = lo + next() * scale;
        let t = value_ticks(lo, hi);
        assert!((4..=6).contains(&t.ticks.len()), "{lo} {hi} -> {t:?}");
        assert!(t.min <= lo.min(hi) && t.max >= hi.max(lo), "{lo} {hi} -> {t:?}");
        let m = t.step / 10f64.powf(t.step.log10().floor());
        assert!([1.0, 2.0, 5.0].iter().any(|c| (m - c).abs() < 1e-9), "step {}", t.step);
    }
    let t = value_ticks(3.0, 97.0);
    assert_eq!(t.ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
}

#[test]
fn constant_and_zero_ranges_are_padded() {
    let t = value_ticks(50.0, 50.0);
    assert!(t.min < 50.0 && t.max > 50.0 && t.ticks.len() >= 4, "{t:?}");
    let t = value_ticks(0.0, 0.0);
    assert!(t.min < 0.0 && t.max > 0.0, "{t:?}");
    let t = value_ticks(1e9, 1e9 + 1e-8);
    assert!(t.max - t.min > 1e7, "nearly constant is treated as constant: {t:?}");
    let svg = render_svg(&spec((0..50).map(|i| pt(T0 + i * HOUR_US, 7.0)).collect()));
    assert_well_formed(&svg);
    assert_eq!(svg.matches("<polyline").count(), 2, "the series and the axes");
}

#[test]
fn value_labels() {
    assert_eq!(format_value(20.0, 20.0, 100.0), "20");
    assert_eq!(format_value(0.4, 0.2, 1.0), "0.4");
    assert_eq!(format_value(-1e-17, 0.05, 1.0), "0.00");
    assert_eq!(format_value(1.5e6, 5e5, 3e6), "1.5M");
    assert_eq!(format_value(4e9, 2e9, 1e10), "4G");
    assert_eq!(format_value(2e16, 1e16, 5e16), "2e16");
    assert_eq!(format_value(2.5e16, 5e15, 5e16), "2.5e16");
    assert_eq!(format_value(2e-5, 1e-5, 5e-5), "2e-5");
    assert_eq!(format_value(1.5e-5, 5e-6, 5e-5), "1.5e-5");
}

#[test]
fn civil_dates_round_trip() {
    for d in [-1_000_000i64, -719_468, -1, 0, 1, 19_723, 2_932_896] {
        let (y, m, dd) = civil_from_days(d);
        assert_eq!(days_from_civil(y, m, dd), d);
    }
    assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    assert_eq!(format_datetime(T0, 180), "2024-01-01 03:00");
    assert_eq!(format_datetime(T0, -330), "2023-12-31 18:30");
    assert_eq!(format_offset(180), "UTC+03:00");
    assert_eq!(format_offset(-330), "UTC-05:30");
}

#[test]
fn time_ticks_are_chosen_by_span() {
    // 12 hours: hour steps, "HH:MM", the date under the first tick only.
    let t = time_ticks(T0, T0 + 12 * HOUR_US, 0, 11);
    assert_eq!(t.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["00:00", "02:00", "04:00", "06:00", "08:00", "10:00", "12:00"]);
    assert_eq!(t[0].sub.as_deref(), Some("01.01.2024"));
    assert!(t[1..].iter().all(|t| t.sub.is_none()));
    // The offset moves the labels, not the instants' spacing.
    let t = time_ticks(T0, T0 + 12 * HOUR_US, 180, 11);
    assert_eq!(t[0].label, "04:00");
    assert_eq!(t[0].ts, T0 + HOUR_US);
    // 36 hours: still hours, the new day's date under its midnight.
    let t = time_ticks(T0 + 6 * HOUR_US, T0 + 42 * HOUR_US, 0, 11);
    assert!(t.iter().all(|t| t.label.len() == 5 && t.label.as_bytes()[2] == b':'), "{t:?}");
    let midnight = t.iter().find(|t| t.label == "00:00").expect("a midnight tick");
    assert_eq!(midnight.sub.as_deref(), Some("02.01.2024"));
    // 10 days: day ticks "DD.MM" at local midnight.
    let t = time_ticks(T0, T0 + 10 * DAY_US, 180, 11);
    assert_eq!(t[0].label, "02.01");
    assert_eq!(t[0].ts, T0 + DAY_US - 3 * HOUR_US);
    assert!(t.len() <= 11 && t.len() >= 4, "{t:?}");
    // 2 days exactly: days, not hours.
    assert!(time_ticks(T0, T0 + 2 * DAY_US, 0, 11).iter().all(|t| t.label.contains('.')));
    // 60 days: weeks, on Mondays (2024-01-01 was a Monday).
    let t = time_ticks(T0, T0 + 60 * DAY_US, 0, 11);
    assert_eq!(t[0].label, "01.01");
    assert_eq!(t[1].label, "08.01");
    // 3 years: months or more, "MM.YYYY".
    let t = time_ticks(T0, T0 + 3 * 365 * DAY_US, 0, 11);
    assert!(t.iter().all(|t| t.label.len() == 7), "{t:?}");
    assert!(t.len() <= 11);
    // Short spans: minutes and seconds.
    assert_eq!(time_ticks(T0, T0 + 10 * MINUTE_US, 0, 11)[1].label, "00:01");
    assert_eq!(time_ticks(T0, T0 + 30 * 1_000_000, 0, 11)[1].label, "00:00:05");
    // Huge spans: years, bounded.
    let t = time_ticks(i64::MIN / 2, i64::MAX / 2, 0, 11);
    assert!(!t.is_empty() && t.len() <= 11 && t.iter().all(|t| t.label.chars().all(|c| c.is_ascii_digit() || c == '-')), "{t:?}");
    let t = time_ticks(i64::MIN, i64::MAX, 840, 11);
    assert!(t.len() <= 11, "{t:?}");
}

#[test]
fn gaps_break_the_line() {
    let ts: Vec<i64> = [0, 10, 20, 30, 100, 110, 120, 500].iter().map(|x| x * MINUTE_US).collect();
    let th = gap_threshold(&ts);
    assert_eq!(th, Some(30 * MINUTE_US));
    assert_eq!(split_at_gaps(&ts, th), vec![0..4, 4..7, 7..8]);
    assert_eq!(split_at_gaps(&ts, None), vec![0..8]);
    assert_eq!(gap_threshold(&[5, 5, 5]), None);
    let points: Vec<PlotPoint> = ts.iter().enumerate().map(|(i, &t)| pt(t, i as f64)).collect();
    let svg = render_svg(&spec(points));
    assert_well_formed(&svg);
    // Two broken pieces of series plus the axes; the lone last point is a dot.
    assert_eq!(svg.matches("<polyline").count(), 3, "{svg}");
    assert!(svg.contains(&format!("r=\"2.5\" fill=\"{SERIES_COLOR}\"")));
    // A single skipped (NaN) value is bridged, three in a row are not.
    let mut points: Vec<PlotPoint> = (0..30).map(|i| pt(T0 + i * HOUR_US, (i % 7) as f64)).collect();
    points[5].value = f64::NAN;
    assert_eq!(render_svg(&spec(points.clone())).matches("<polyline").count(), 2);
    points[15].value = f64::INFINITY;
    points[16].value = f64::NAN;
    points[17].value = f64::NEG_INFINITY;
    let svg = render_svg(&spec(points));
    assert_eq!(svg.matches("<polyline").count(), 3);
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
}

#[test]
fn empty_and_all_nan_say_no_data() {
    for points in [vec![], vec![pt(T0, f64::NAN), pt(T0 + HOUR_US, f64::INFINITY)]] {
        let mut s = spec(points);
        s.alerts = vec![PlotAlert { from_us: T0, to_us: T0 + 1, severity: "kritik".into(), label: "x".into() }];
        let svg = render_svg(&s);
        assert_well_formed(&svg);
        assert!(svg.contains("no data"));
        assert!(!svg.contains("<polyline"));
        assert!(layout(&s).is_none());
    }
}

#[test]
fn one_point_is_a_dot_in_a_padded_domain() {
    let mut s = spec(vec![PlotPoint { ts: T0, value: 42.0, expected: Some(40.0), band: Some((45.0, 35.0)) }]);
    s.alerts = vec![PlotAlert { from_us: T0, to_us: T0, severity: "yuksek".into(), label: "x".into() }];
    let svg = render_svg(&s);
    assert_well_formed(&svg);
    let l = layout(&s).unwrap();
    assert_eq!((l.t_min, l.t_max), (T0 - 30 * MINUTE_US, T0 + 30 * MINUTE_US));
    assert!(l.y.min < 35.0 && l.y.max > 45.0);
    assert!((l.x_of(T0) - (l.left + l.right) / 2.0).abs() < 1e-9);
    assert!(svg.contains("r=\"2.5\""), "the point");
    assert!(svg.contains("fill=\"#e55039\" stroke=\"#ffffff\""), "the alert marker");
    assert!(svg.contains(">Yüksek</text>"), "the legend");
    assert!(svg.contains("00:00"), "{svg}");
}

#[test]
fn alerts_outside_the_domain_are_not_drawn_or_listed() {
    let mut s = spec((0..24).map(|i| pt(T0 + i * HOUR_US, i as f64)).collect());
    s.alerts = vec![
        PlotAlert { from_us: T0 - 10 * DAY_US, to_us: T0 - 9 * DAY_US, severity: "kritik".into(), label: "old".into() },
        PlotAlert { from_us: T0 + 5 * HOUR_US, to_us: T0 + 3 * HOUR_US, severity: "LOW".into(), label: "swapped".into() },
    ];
    let svg = render_svg(&s);
    assert!(!svg.contains("#b71540") && !svg.contains("Kritik"));
    assert!(svg.contains(">Düşük</text>"));
    assert_eq!(svg.matches("<circle").count(), 2, "one marker, one legend dot");
}

#[test]
fn long_series_are_downsampled() {
    let n = 200_000;
    let points: Vec<PlotPoint> = (0..n)
        .map(|i| PlotPoint { ts: T0 + i * MINUTE_US, value: ((i as f64) * 0.01).sin() * 100.0, expected: Some(0.0), band: Some((-50.0, 50.0)) })
        .collect();
    let svg = render_svg(&spec(points));
    assert_well_formed(&svg);
    assert!(svg.len() < 200_000, "{} bytes", svg.len());
    // The extremes survive the reduction.
    let l = layout(&spec(vec![pt(T0, -100.0), pt(T0 + 1, 100.0)])).unwrap();
    assert!(svg.contains(&format!(",{:.1} ", l.y_of(100.0))) && svg.contains(&format!(",{:.1} ", l.y_of(-100.0))));
}

#[test]
fn sizes_are_defaulted_and_clamped() {
    let mut s = spec(vec![pt(T0, 1.0), pt(T0 + DAY_US, 2.0)]);
    s.width = 0;
    s.height = 0;
    assert!(render_svg(&s).contains("width=\"1000\" height=\"420\""));
    s.width = 10;
    s.height = u32::MAX;
    assert!(render_svg(&s).contains("width=\"320\" height=\"10000\""));
}

#[test]
fn extreme_timestamps_and_values_do_not_panic() {
    let s = spec(vec![pt(i64::MIN, -1e300), pt(0, 0.0), pt(i64::MAX, 1e300), pt(5, 1e308)]);
    let svg = render_svg(&s);
    assert_well_formed(&svg);
    let s = spec(vec![pt(i64::MAX, 1.0)]);
    assert_well_formed(&render_svg(&s));
}
