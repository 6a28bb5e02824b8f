//! A standalone SVG 1.1 plot of one series for analysts (what `ml_plot` returns): the
//! values as a dark polyline, the expected band as a light green area, the expected value
//! as a dashed line, each alert as a translucent vertical span in its severity's colour
//! with a marker on the series at its peak, a legend, and readable axes (1-2-5 value ticks,
//! time ticks chosen by span in the given UTC offset). Hand-written SVG, no dependencies.
//!
//! Data handling: points are sorted by time; non-finite values (and |v| > 1e300) are
//! skipped; a time step longer than [`GAP_FACTOR`] times the median step breaks the lines,
//! so missing data is not drawn as a straight line; more than [`DOWNSAMPLE_ABOVE`] points
//! are reduced per pixel column (first, min, max, last), which keeps the shape of the line
//! and the SVG small. All text is XML-escaped (entity ids come from users).

mod axis;
pub mod band;
mod render;
#[cfg(test)]
mod tests;

use std::ops::Range;

pub use axis::{civil, format_datetime, format_offset, format_value, time_ticks, value_ticks, Civil, TimeTick, ValueTicks};
use axis::MINUTE_US;
pub use render::render_svg;

/// One observation: time (µs since the Unix epoch, UTC), value, and optionally what was
/// expected and the expected band (low, high).
#[derive(Clone, Debug, PartialEq)]
pub struct PlotPoint {
    pub ts: i64,
    pub value: f64,
    pub expected: Option<f64>,
    pub band: Option<(f64, f64)>,
}

/// An alert episode over [from_us, to_us]; severity is one of dusuk, orta, yuksek, kritik
/// (English low/medium/high/critical and the Turkish spellings with diacritics are accepted;
/// anything else is drawn grey under its own name).
#[derive(Clone, Debug, PartialEq)]
pub struct PlotAlert {
    pub from_us: i64,
    pub to_us: i64,
    pub severity: String,
    pub label: String,
}

/// What to draw. `width`/`height` are pixels (0 means the default 1000 x 420; clamped to
/// 320..=20000 x 200..=10000); `utc_offset_minutes` is the zone of the axis labels.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotSpec {
    pub title: String,
    pub metric_type: String,
    pub entity_id: String,
    pub points: Vec<PlotPoint>,
    pub alerts: Vec<PlotAlert>,
    pub width: u32,
    pub height: u32,
    pub utc_offset_minutes: i32,
}

impl Default for PlotSpec {
    fn default() -> Self {
        PlotSpec {
            title: String::new(),
            metric_type: String::new(),
            entity_id: String::new(),
            points: Vec::new(),
            alerts: Vec::new(),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            utc_offset_minutes: 0,
        }
    }
}

pub const DEFAULT_WIDTH: u32 = 1000;
pub const DEFAULT_HEIGHT: u32 = 420;
/// Severity -> colour: blue, amber, orange-red, dark red. Spans use it at [`SPAN_OPACITY`],
/// markers and legend dots solid.
pub const SEVERITY_COLORS: [(&str, &str); 4] = [("dusuk", "#2e86de"), ("orta", "#f6b93b"), ("yuksek", "#e55039"), ("kritik", "#b71540")];
/// Turkish legend names of the severities, in the order of [`SEVERITY_COLORS`].
pub const SEVERITY_NAMES: [&str; 4] = ["Düşük", "Orta", "Yüksek", "Kritik"];
pub const UNKNOWN_SEVERITY_COLOR: &str = "#7f8c8d";
pub const SERIES_COLOR: &str = "#222222";
pub const EXPECTED_COLOR: &str = "#1e8449";
pub const BAND_COLOR: &str = "#27ae60";
pub const BAND_OPACITY: f64 = 0.2;
pub const SPAN_OPACITY: f64 = 0.2;
pub const GRID_COLOR: &str = "#e6e6e6";
pub const AXIS_COLOR: &str = "#888888";
pub const TEXT_COLOR: &str = "#333333";
/// A step longer than this many median steps breaks the lines.
pub const GAP_FACTOR: f64 = 3.0;
/// Series longer than this are reduced per pixel column for drawing.
pub const DOWNSAMPLE_ABOVE: usize = 4000;

const MARGIN_LEFT: f64 = 72.0;
const MARGIN_RIGHT: f64 = 40.0;
const MARGIN_TOP: f64 = 52.0;
const MARGIN_BOTTOM: f64 = 64.0;
const FONT: &str = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif";

/// Where things are in the picture (pixels), for callers and tests: the plot area, the top of
/// the legend row (the legend lies below it), the time domain and the value axis.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotLayout {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
    pub legend_top: f64,
    pub t_min: i64,
    pub t_max: i64,
    pub y: ValueTicks,
}

impl PlotLayout {
    /// The x pixel of a time, clamped to the plot area.
    pub fn x_of(&self, ts: i64) -> f64 {
        let span = (i128::from(self.t_max) - i128::from(self.t_min)) as f64;
        let f = ((i128::from(ts) - i128::from(self.t_min)) as f64 / span).clamp(0.0, 1.0);
        self.left + f * (self.right - self.left)
    }

    /// The y pixel of a value, clamped to the plot area.
    pub fn y_of(&self, v: f64) -> f64 {
        let f = ((v - self.y.min) / (self.y.max - self.y.min)).clamp(0.0, 1.0);
        self.bottom - f * (self.bottom - self.top)
    }
}

/// The canonical severity name (dusuk, orta, yuksek, kritik) of a severity text, if known.
pub fn canonical_severity(severity: &str) -> Option<&'static str> {
    match severity.trim().to_lowercase().as_str() {
        "dusuk" | "düşük" | "low" => Some("dusuk"),
        "orta" | "medium" => Some("orta"),
        "yuksek" | "yüksek" | "high" => Some("yuksek"),
        "kritik" | "critical" => Some("kritik"),
        _ => None,
    }
}

/// The colour of a severity (grey when unknown).
pub fn severity_color(severity: &str) -> &'static str {
    canonical_severity(severity)
        .and_then(|c| SEVERITY_COLORS.iter().find(|(s, _)| *s == c))
        .map_or(UNKNOWN_SEVERITY_COLOR, |(_, col)| col)
}

/// XML text/attribute escaping of & < > " ', dropping characters XML 1.0 forbids
/// (control characters other than tab, newline, carriage return; U+FFFE, U+FFFF).
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, ending in "…" when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// A drawable point: finite value, expected and band only when finite.
#[derive(Clone, Copy, Debug)]
struct Pt {
    ts: i64,
    v: f64,
    e: Option<f64>,
    band: Option<(f64, f64)>,
}

fn usable(v: f64) -> bool {
    v.is_finite() && v.abs() <= 1e300
}

/// The gap threshold of sorted timestamps: GAP_FACTOR times the median positive step (None
/// with no positive step).
pub fn gap_threshold(sorted_ts: &[i64]) -> Option<i64> {
    let mut steps: Vec<i64> = sorted_ts.windows(2).map(|w| w[1].saturating_sub(w[0])).filter(|&d| d > 0).collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_unstable();
    let median = steps[steps.len() / 2] as f64;
    Some((median * GAP_FACTOR).min(i64::MAX as f64) as i64)
}

/// Index ranges of sorted timestamps between gaps longer than `threshold`.
pub fn split_at_gaps(sorted_ts: &[i64], threshold: Option<i64>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..sorted_ts.len() {
        if threshold.is_some_and(|t| sorted_ts[i].saturating_sub(sorted_ts[i - 1]) > t) {
            out.push(start..i);
            start = i;
        }
    }
    if start < sorted_ts.len() {
        out.push(start..sorted_ts.len());
    }
    out
}

/// Sorted drawable points and their unbroken segments. The gap threshold comes from all
/// timestamps (the sampling cadence), so a lone skipped value does not break the line.
fn prepare(points: &[PlotPoint]) -> (Vec<Pt>, Vec<Range<usize>>) {
    let mut all: Vec<&PlotPoint> = points.iter().collect();
    all.sort_by_key(|p| p.ts);
    let all_ts: Vec<i64> = all.iter().map(|p| p.ts).collect();
    let threshold = gap_threshold(&all_ts);
    let pts: Vec<Pt> = all
        .iter()
        .filter(|p| usable(p.value))
        .map(|p| Pt {
            ts: p.ts,
            v: p.value,
            e: p.expected.filter(|e| usable(*e)),
            band: p.band.filter(|(l, h)| usable(*l) && usable(*h)).map(|(l, h)| (l.min(h), l.max(h))),
        })
        .collect();
    let ts: Vec<i64> = pts.iter().map(|p| p.ts).collect();
    let segments = split_at_gaps(&ts, threshold);
    (pts, segments)
}

fn clamp_size(v: u32, default: u32, lo: u32, hi: u32) -> f64 {
    f64::from(if v == 0 { default } else { v.clamp(lo, hi) })
}

fn layout_of(spec: &PlotSpec, pts: &[Pt]) -> Option<PlotLayout> {
    let (width, height) = (clamp_size(spec.width, DEFAULT_WIDTH, 320, 20_000), clamp_size(spec.height, DEFAULT_HEIGHT, 200, 10_000));
    let first = pts.first()?;
    let (mut t_min, mut t_max) = (first.ts, pts.last()?.ts);
    if i128::from(t_max) - i128::from(t_min) < i128::from(MINUTE_US) {
        let mid = (i128::from(t_min) + i128::from(t_max)) / 2;
        let half = if t_min == t_max { 30 * MINUTE_US } else { MINUTE_US / 2 };
        t_min = i64::try_from(mid - i128::from(half)).unwrap_or(i64::MIN);
        t_max = i64::try_from(mid + i128::from(half)).unwrap_or(i64::MAX);
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in pts {
        for v in [Some(p.v), p.e, p.band.map(|b| b.0), p.band.map(|b| b.1)].into_iter().flatten() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    Some(PlotLayout {
        width,
        height,
        left: MARGIN_LEFT,
        top: MARGIN_TOP,
        right: width - MARGIN_RIGHT,
        bottom: height - MARGIN_BOTTOM,
        legend_top: height - 26.0,
        t_min,
        t_max,
        y: value_ticks(lo, hi),
    })
}

/// The layout `render_svg` uses for this spec; None when there is nothing to plot.
pub fn layout(spec: &PlotSpec) -> Option<PlotLayout> {
    layout_of(spec, &prepare(&spec.points).0)
}

/// Reduces (ts, value) runs per pixel column to first, min, max, last (in time order).
fn per_column(run: &[(i64, f64)], col: impl Fn(i64) -> i64) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < run.len() {
        let c = col(run[i].0);
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < run.len() && col(run[j].0) == c {
            if run[j].1 < run[lo].1 {
                lo = j;
            }
            if run[j].1 > run[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let mut idx = [i, lo, hi, j - 1];
        idx.sort_unstable();
        let mut last = usize::MAX;
        for k in idx {
            if k != last {
                out.push(run[k]);
                last = k;
            }
        }
        i = j;
    }
    out
}

/// Maximal runs of consecutive points for which `get` gives a value.
fn runs<T: Copy>(pts: &[Pt], get: impl Fn(&Pt) -> Option<T>) -> Vec<Vec<(i64, T)>> {
    let mut out: Vec<Vec<(i64, T)>> = vec![Vec::new()];
    for p in pts {
        match get(p) {
            Some(v) => out.last_mut().expect("never empty").push((p.ts, v)),
            None if !out.last().expect("never empty").is_empty() => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Per pixel column, the extreme (min or max by `pick`) of a run, at the column's first and
/// last timestamps.
fn envelope(run: &[(i64, f64)], col: &impl Fn(i64) -> i64, pick: fn(f64, f64) -> f64) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = Vec::new();
    let mut i = 0;
    while i < run.len() {
        let c = col(run[i].0);
        let mut j = i;
        let mut v = run[i].1;
        while j < run.len() && col(run[j].0) == c {
            v = pick(v, run[j].1);
            j += 1;
        }
        out.push((run[i].0, v));
        if j - 1 > i {
            out.push((run[j - 1].0, v));
        }
        i = j;
    }
    out
}
