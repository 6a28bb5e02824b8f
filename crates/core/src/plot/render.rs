//! Writing the SVG: grid and axes, alert spans and markers, band, expected line, series,
//! legend.

use std::fmt::Write;

use super::*;

fn points_attr(l: &PlotLayout, pts: impl Iterator<Item = (i64, f64)>) -> String {
    let mut s = String::new();
    for (ts, v) in pts {
        let _ = write!(s, "{:.1},{:.1} ", l.x_of(ts), l.y_of(v));
    }
    s.pop();
    s
}

fn header(out: &mut String, w: f64, h: f64, title: &str) {
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{FONT}\">\n<title>{}</title>\n<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n",
        escape_xml(title)
    );
}

fn titles(out: &mut String, spec: &PlotSpec, offset: i32, w: f64, range: Option<(i64, i64)>) {
    let chars = |fs: f64| ((w - MARGIN_LEFT - 16.0) / (fs * 0.62)).max(8.0) as usize;
    let title = if spec.title.trim().is_empty() { format!("{} · {}", spec.metric_type, spec.entity_id) } else { spec.title.clone() };
    let _ = writeln!(out, "<text x=\"{MARGIN_LEFT}\" y=\"22\" font-size=\"15\" font-weight=\"bold\" fill=\"{TEXT_COLOR}\">{}</text>", escape_xml(&truncate(&title, chars(15.0))));
    let mut sub = format!("{} · {}", spec.metric_type, spec.entity_id);
    if let Some((a, b)) = range {
        let _ = write!(sub, " · {} – {} ({})", format_datetime(a, offset), format_datetime(b, offset), format_offset(offset));
    }
    let _ = writeln!(out, "<text x=\"{MARGIN_LEFT}\" y=\"40\" font-size=\"11\" fill=\"#666666\">{}</text>", escape_xml(&truncate(&sub, chars(11.0))));
}

/// The plot as a standalone SVG 1.1 document. With no finite value it is a valid SVG that
/// says "no data" (Turkish first: "Veri yok").
pub fn render_svg(spec: &PlotSpec) -> String {
    let (pts, segments) = prepare(&spec.points);
    let offset = spec.utc_offset_minutes.clamp(-18 * 60, 18 * 60);
    let spec_title = if spec.title.trim().is_empty() { format!("{} {}", spec.metric_type, spec.entity_id) } else { spec.title.clone() };
    let mut out = String::new();
    let Some(l) = layout_of(spec, &pts) else {
        let (w, h) = (clamp_size(spec.width, DEFAULT_WIDTH, 320, 20_000), clamp_size(spec.height, DEFAULT_HEIGHT, 200, 10_000));
        header(&mut out, w, h, &spec_title);
        titles(&mut out, spec, offset, w, None);
        let _ = writeln!(out, "<text x=\"{}\" y=\"{}\" font-size=\"16\" fill=\"#888888\" text-anchor=\"middle\">Veri yok — no data</text>", w / 2.0, h / 2.0);
        out.push_str("</svg>\n");
        return out;
    };
    header(&mut out, l.width, l.height, &spec_title);
    titles(&mut out, spec, offset, l.width, Some((pts[0].ts, pts[pts.len() - 1].ts)));

    // Grid and value labels.
    out.push_str("<g stroke-width=\"1\">\n");
    let mag = l.y.min.abs().max(l.y.max.abs());
    for &v in &l.y.ticks {
        let y = l.y_of(v);
        let _ = writeln!(out, "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{GRID_COLOR}\"/>", l.left, l.right);
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{TEXT_COLOR}\" stroke=\"none\" text-anchor=\"end\">{}</text>",
            l.left - 7.0,
            y + 4.0,
            escape_xml(&format_value(v, l.y.step, mag))
        );
    }
    let max_ticks = ((l.right - l.left) / 80.0).floor() as usize;
    for t in time_ticks(l.t_min, l.t_max, offset, max_ticks) {
        let x = l.x_of(t.ts);
        let _ = writeln!(out, "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{GRID_COLOR}\"/>", l.top, l.bottom);
        let _ = writeln!(out, "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{AXIS_COLOR}\"/>", l.bottom, l.bottom + 4.0);
        let _ = writeln!(out, "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{TEXT_COLOR}\" text-anchor=\"middle\">{}</text>", l.bottom + 17.0, escape_xml(&t.label));
        if let Some(sub) = &t.sub {
            let _ = writeln!(out, "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#666666\" text-anchor=\"middle\">{}</text>", l.bottom + 30.0, escape_xml(sub));
        }
    }
    out.push_str("</g>\n");

    // Alert spans (drawn under the data).
    let mut present: Vec<String> = Vec::new();
    let mut markers = String::new();
    let median = {
        let mut vs: Vec<f64> = pts.iter().map(|p| p.v).collect();
        vs.sort_by(f64::total_cmp);
        vs[vs.len() / 2]
    };
    for a in &spec.alerts {
        let (from, to) = (a.from_us.min(a.to_us), a.from_us.max(a.to_us));
        if to < l.t_min || from > l.t_max {
            continue;
        }
        let color = severity_color(&a.severity);
        let key = canonical_severity(&a.severity).map_or_else(|| a.severity.trim().to_string(), str::to_string);
        if !present.contains(&key) {
            present.push(key);
        }
        let (mut x0, mut x1) = (l.x_of(from), l.x_of(to));
        if x1 - x0 < 3.0 {
            let c = (x0 + x1) / 2.0;
            (x0, x1) = ((c - 1.5).max(l.left), (c + 1.5).min(l.right));
        }
        let tip = format!("{} ({}) {} – {}", a.label, a.severity, format_datetime(from, offset), format_datetime(to, offset));
        let _ = writeln!(
            out,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\" fill-opacity=\"{SPAN_OPACITY}\"><title>{}</title></rect>",
            l.top,
            x1 - x0,
            l.bottom - l.top,
            escape_xml(&tip)
        );
        let peak = pts
            .iter()
            .filter(|p| p.ts >= from && p.ts <= to)
            .max_by(|p, q| {
                let d = |p: &Pt| (p.v - p.e.unwrap_or(median)).abs();
                d(p).total_cmp(&d(q))
            });
        if let Some(p) = peak {
            let _ = writeln!(
                markers,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"{color}\" stroke=\"#ffffff\" stroke-width=\"1.5\"><title>{}</title></circle>",
                l.x_of(p.ts),
                l.y_of(p.v),
                escape_xml(&tip)
            );
        }
    }

    // Band, expected line, series.
    let downsample = pts.len() > DOWNSAMPLE_ABOVE;
    let col = |ts: i64| l.x_of(ts).floor() as i64;
    let (mut has_band, mut has_expected) = (false, false);
    for seg in &segments {
        let seg_pts = &pts[seg.clone()];
        for run in runs(seg_pts, |p| p.band) {
            if run.len() < 2 {
                continue;
            }
            has_band = true;
            let lows: Vec<(i64, f64)> = run.iter().map(|&(t, (lo, _))| (t, lo)).collect();
            let highs: Vec<(i64, f64)> = run.iter().map(|&(t, (_, hi))| (t, hi)).collect();
            let (lows, highs) = if downsample { (envelope(&lows, &col, f64::min), envelope(&highs, &col, f64::max)) } else { (lows, highs) };
            let poly = points_attr(&l, highs.into_iter().chain(lows.into_iter().rev()));
            let _ = writeln!(out, "<polygon points=\"{poly}\" fill=\"{BAND_COLOR}\" fill-opacity=\"{BAND_OPACITY}\" stroke=\"none\"/>");
        }
    }
    for seg in &segments {
        for run in runs(&pts[seg.clone()], |p| p.e) {
            if run.len() < 2 {
                continue;
            }
            has_expected = true;
            let run = if downsample { per_column(&run, col) } else { run };
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{EXPECTED_COLOR}\" stroke-width=\"1.2\" stroke-dasharray=\"5 4\"/>",
                points_attr(&l, run.into_iter())
            );
        }
    }
    for seg in &segments {
        let run: Vec<(i64, f64)> = pts[seg.clone()].iter().map(|p| (p.ts, p.v)).collect();
        if run.len() == 1 {
            let _ = writeln!(out, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{SERIES_COLOR}\"/>", l.x_of(run[0].0), l.y_of(run[0].1));
            continue;
        }
        let run = if downsample { per_column(&run, col) } else { run };
        let _ = writeln!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{SERIES_COLOR}\" stroke-width=\"1.5\" stroke-linejoin=\"round\"/>",
            points_attr(&l, run.into_iter())
        );
    }
    out.push_str(&markers);

    // Axes.
    let _ = writeln!(
        out,
        "<polyline points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"none\" stroke=\"{AXIS_COLOR}\" stroke-width=\"1\"/>",
        l.left, l.top, l.left, l.bottom, l.right, l.bottom
    );

    legend(&mut out, &l, has_expected, has_band, &present);
    out.push_str("</svg>\n");
    out
}

enum Swatch {
    Line(&'static str, &'static str),
    Area(&'static str, f64, bool),
}

fn legend(out: &mut String, l: &PlotLayout, has_expected: bool, has_band: bool, present: &[String]) {
    let mut items: Vec<(Swatch, String)> = vec![(Swatch::Line(SERIES_COLOR, ""), "Değer".into())];
    if has_expected {
        items.push((Swatch::Line(EXPECTED_COLOR, " stroke-dasharray=\"5 4\""), "Beklenen".into()));
    }
    if has_band {
        items.push((Swatch::Area(BAND_COLOR, BAND_OPACITY, false), "Beklenen aralık".into()));
    }
    for ((sev, color), name) in SEVERITY_COLORS.iter().zip(SEVERITY_NAMES) {
        if present.iter().any(|p| p == sev) {
            items.push((Swatch::Area(color, SPAN_OPACITY, true), name.into()));
        }
    }
    for p in present.iter().filter(|p| canonical_severity(p).is_none()) {
        items.push((Swatch::Area(UNKNOWN_SEVERITY_COLOR, SPAN_OPACITY, true), truncate(p, 20)));
    }
    let y = l.legend_top + 13.0;
    let mut x = l.left;
    out.push_str("<g>\n");
    for (swatch, text) in items {
        let w = 24.0 + text.chars().count() as f64 * 11.0 * 0.62 + 16.0;
        if x + w > l.width - 8.0 {
            break;
        }
        match swatch {
            Swatch::Line(color, extra) => {
                let _ = writeln!(out, "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"1.5\"{extra}/>", x + 18.0);
            }
            Swatch::Area(color, opacity, dot) => {
                let _ = writeln!(out, "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"18\" height=\"10\" fill=\"{color}\" fill-opacity=\"{opacity}\"/>", y - 5.0);
                if dot {
                    let _ = writeln!(out, "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{color}\"/>", x + 9.0);
                }
            }
        }
        let _ = writeln!(out, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{TEXT_COLOR}\">{}</text>", x + 24.0, y + 4.0, escape_xml(&text));
        x += w;
    }
    out.push_str("</g>\n");
}
