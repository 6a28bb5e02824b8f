//! Renders a realistic plot (a stock sawtooth with an expected band, a data gap and two
//! alerts of different severities), rasterises it with `rsvg-convert` (Debian package
//! librsvg2-bin) and checks the picture: the severities' colours appear inside their alerts'
//! time spans and nowhere else but the legend, the dark series stroke crosses the plot
//! (except in the gap), the band colour is there, and the background is mostly white.
//! The SVG and PNG stay in the target's tmp directory for a look.

use std::path::PathBuf;
use std::process::Command;

use pg_anomaly_core::plot::{layout, render_svg, PlotAlert, PlotLayout, PlotPoint, PlotSpec, BAND_COLOR, BAND_OPACITY, SEVERITY_COLORS, SPAN_OPACITY};

const HOUR: i64 = 3_600_000_000;
const T0: i64 = 1_717_200_000_000_000; // 2024-06-01T00:00:00Z

struct Image {
    w: usize,
    h: usize,
    rgb: Vec<[u8; 3]>,
}

impl Image {
    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        self.rgb[y * self.w + x]
    }
}

fn hex(c: &str) -> [u8; 3] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// The colour of `c` at `opacity` over white.
fn tint(c: [u8; 3], opacity: f64) -> [u8; 3] {
    c.map(|ch| (f64::from(ch) * opacity + 255.0 * (1.0 - opacity)).round() as u8)
}

fn near(p: [u8; 3], c: [u8; 3], tol: i32) -> bool {
    p.iter().zip(c).all(|(a, b)| (i32::from(*a) - i32::from(b)).abs() <= tol)
}

fn severity_color(s: &str) -> [u8; 3] {
    hex(SEVERITY_COLORS.iter().find(|(k, _)| *k == s).unwrap().1)
}

fn spec() -> PlotSpec {
    // Ten days of hourly stock: consumed ~10/h with a daily rhythm, refilled to 500 every
    // two days; no data for 14 hours on day 6; a theft-like drop on day 3 and a stock-out
    // on day 8.
    let mut points = Vec::new();
    for h in 0..240i64 {
        if (134..148).contains(&h) {
            continue;
        }
        let since_refill = (h % 48) as f64;
        let rhythm = 3.0 * ((h % 24) as f64 / 24.0 * std::f64::consts::TAU).sin();
        let expected = 500.0 - 9.5 * since_refill;
        let noise = (((h * 7919) % 13) as f64 - 6.0) * 1.5;
        let mut value = expected + rhythm * since_refill.min(6.0) + noise;
        if (76..84).contains(&h) {
            value -= 140.0;
        }
        if (186..196).contains(&h) {
            value = 0.0;
        }
        points.push(PlotPoint { ts: T0 + h * HOUR, value, expected: Some(expected), band: Some((expected - 45.0, expected + 45.0)) });
    }
    PlotSpec {
        title: "Stok seviyesi — Raf A-12 & <depo 3>".into(),
        metric_type: "stok_seviye".into(),
        entity_id: "RAF-A12".into(),
        points,
        alerts: vec![
            PlotAlert { from_us: T0 + 76 * HOUR, to_us: T0 + 83 * HOUR, severity: "yuksek".into(), label: "Beklenmeyen düşüş".into() },
            PlotAlert { from_us: T0 + 186 * HOUR, to_us: T0 + 195 * HOUR, severity: "kritik".into(), label: "Stok bitti".into() },
        ],
        width: 1000,
        height: 420,
        utc_offset_minutes: 180,
    }
}

fn rasterise(svg: &str, name: &str) -> Image {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let svg_path = dir.join(format!("{name}.svg"));
    let png_path = dir.join(format!("{name}.png"));
    std::fs::write(&svg_path, svg).unwrap();
    let out = match Command::new("rsvg-convert").arg("-o").arg(&png_path).arg(&svg_path).output() {
        Ok(out) => out,
        Err(e) => panic!("rsvg-convert is needed to check the rendered plot and could not be run ({e}); install the Debian package librsvg2-bin"),
    };
    assert!(out.status.success(), "rsvg-convert rejected {}: {}", svg_path.display(), String::from_utf8_lossy(&out.stderr));
    let mut decoder = png::Decoder::new(std::fs::File::open(&png_path).unwrap());
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "unexpected PNG colour type {:?}", info.color_type);
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|px| {
            // Composite over white where there is alpha.
            let a = if channels == 4 { f64::from(px[3]) / 255.0 } else { 1.0 };
            [0, 1, 2].map(|i| (f64::from(px[i]) * a + 255.0 * (1.0 - a)).round() as u8)
        })
        .collect();
    eprintln!("rendered {}", png_path.display());
    Image { w: info.width as usize, h: info.height as usize, rgb }
}

/// Pixels of the plot area and their x.
fn plot_pixels<'a>(img: &'a Image, l: &'a PlotLayout) -> impl Iterator<Item = (usize, usize, [u8; 3])> + 'a {
    let (x0, x1, y0, y1) = (l.left.ceil() as usize, l.right.floor() as usize, l.top.ceil() as usize, l.bottom.floor() as usize);
    (y0..y1).flat_map(move |y| (x0..x1).map(move |x| (x, y, img.at(x, y))))
}

#[test]
fn rendered_plot_shows_series_band_alerts_and_axes() {
    let spec = spec();
    let svg = render_svg(&spec);
    let l = layout(&spec).unwrap();
    let img = rasterise(&svg, "plot_render");
    assert_eq!((img.w, img.h), (1000, 420), "the PNG has the SVG's size");

    // The background is mostly white.
    let white = img.rgb.iter().filter(|p| p.iter().all(|&c| c >= 250)).count();
    assert!(white as f64 > 0.6 * img.rgb.len() as f64, "only {white} of {} pixels are white", img.rgb.len());

    // Each alert: its solid colour (the marker) and its translucent span colour occur in its
    // time span, and outside it only in the legend row.
    for a in &spec.alerts {
        let solid = severity_color(&a.severity);
        let span = tint(solid, SPAN_OPACITY);
        let (sx0, sx1) = (l.x_of(a.from_us) - 7.0, l.x_of(a.to_us) + 7.0);
        let (mut solid_in, mut span_in) = (0, 0);
        for y in 0..img.h {
            for x in 0..img.w {
                let p = img.at(x, y);
                let (is_solid, is_span) = (near(p, solid, 14), near(p, span, 3));
                if !is_solid && !is_span {
                    continue;
                }
                let inside = (x as f64) >= sx0 && (x as f64) <= sx1 && (y as f64) >= l.top - 6.0 && (y as f64) <= l.bottom + 6.0;
                if inside {
                    solid_in += usize::from(is_solid);
                    span_in += usize::from(is_span);
                } else {
                    assert!(
                        (y as f64) >= l.legend_top - 2.0,
                        "{} colour {p:?} at ({x}, {y}) outside its span x {sx0:.0}..{sx1:.0} and outside the legend",
                        a.severity
                    );
                }
            }
        }
        assert!(solid_in >= 20, "{}: only {solid_in} marker pixels in its span", a.severity);
        let span_area = (sx1 - sx0 - 14.0) * (l.bottom - l.top);
        assert!(span_in as f64 > 0.3 * span_area, "{}: only {span_in} span-coloured pixels (area {span_area:.0})", a.severity);
    }

    // The band colour (green at BAND_OPACITY over white) is there in quantity.
    let band = tint(hex(BAND_COLOR), BAND_OPACITY);
    let band_px = plot_pixels(&img, &l).filter(|(_, _, p)| near(*p, band, 3)).count();
    assert!(band_px > 10_000, "only {band_px} band-coloured pixels");

    // The dark series stroke crosses the plot, except inside the 14-hour gap.
    let dark = |p: [u8; 3]| p.iter().all(|&c| c < 110) && p.iter().max().unwrap() - p.iter().min().unwrap() < 30;
    let mut dark_cols = vec![false; img.w];
    for (x, _, p) in plot_pixels(&img, &l) {
        if dark(p) {
            dark_cols[x] = true;
        }
    }
    let (gap0, gap1) = (l.x_of(T0 + 133 * HOUR) + 3.0, l.x_of(T0 + 148 * HOUR) - 3.0);
    let (x0, x1) = (l.left.ceil() as usize + 2, l.right.floor() as usize - 2);
    let outside_gap: Vec<usize> = (x0..x1).filter(|&x| (x as f64) < gap0 - 3.0 || (x as f64) > gap1 + 3.0).collect();
    let covered = outside_gap.iter().filter(|&&x| dark_cols[x]).count();
    assert!(covered as f64 >= 0.97 * outside_gap.len() as f64, "series stroke in {covered} of {} columns", outside_gap.len());
    let in_gap: Vec<usize> = (x0..x1).filter(|&x| (x as f64) > gap0 && (x as f64) < gap1).collect();
    assert!(in_gap.len() >= 30);
    assert!(in_gap.iter().all(|&x| !dark_cols[x]), "the series is drawn across the data gap");

    // Axis labels below and left of the plot area (dark text pixels there).
    let text_below = (l.bottom as usize + 8..l.bottom as usize + 34).flat_map(|y| (0..img.w).map(move |x| (x, y))).filter(|&(x, y)| dark(img.at(x, y))).count();
    let text_left = (l.top as usize..l.bottom as usize).flat_map(|y| (0..l.left as usize - 4).map(move |x| (x, y))).filter(|&(x, y)| dark(img.at(x, y))).count();
    assert!(text_below > 200 && text_left > 150, "axis labels: {text_below} below, {text_left} left");
}

#[test]
fn no_data_plot_rasterises() {
    let spec = PlotSpec { title: "Boş".into(), metric_type: "stok_seviye".into(), entity_id: "X".into(), ..PlotSpec::default() };
    let svg = render_svg(&spec);
    let img = rasterise(&svg, "plot_render_empty");
    assert_eq!((img.w, img.h), (1000, 420));
    let grey_text = img.rgb[(img.h / 2 - 20) * img.w..(img.h / 2 + 10) * img.w].iter().filter(|p| p[0] < 200).count();
    assert!(grey_text > 100, "the 'no data' text is drawn");
}
