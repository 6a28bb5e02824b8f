//! Detection quality on a public labelled benchmark of real series (the Numenta Anomaly
//! Benchmark's data files and combined label windows, fetched by the user: see
//! `bench/nab.sh`), with the saved alerts as detections.
//!
//! Protocol: exactly what a user gets from the SQL surface for a new metric type. Each file is
//! one entity of a metric type nobody here knows (`MetricKind::Generic`); its features come
//! from the same kernels (`compute_series`, UTC calendar); the file's probationary period is
//! the training span (the user loads it, calls `ml_train(min_train_days => 1)`, a warm-up
//! model when that span is under a day), then `ml_detect(save => true)` scores every row (no
//! watermark yet: from the first row) and writes one alert per episode, merging an episode
//! that continues the series' last alert within the metric type's `episode_gap` (2 hours, the
//! default) as `src/pipeline/alerts.rs` does. Each new alert's first row is a detection.
//! What the detector learns from: the benchmark lets a detector learn online from every row
//! before the one it scores and counts nothing in the probationary period; here the fitted
//! model never sees a row past the probationary period except through what scoring itself
//! reads before each row (the look-back window, 24 hours, from which the sequence family
//! keeps learning), as in the database. Nothing is fitted to a file's labels.
//!
//! Scoring follows the benchmark's runner (its sweeper, re-written here from its published
//! definition and code, see [`nab_score`]): the probationary period is `min(floor(0.15 n),
//! 750)` rows (`0.15 * 5000`; `--probation-cap 0` drops the cap); per window of rows `[s, e]`
//! (length `L`) past it, the first detection inside at row `i` scores `A_TP sig(y) / sig(-1)`,
//! `y = -(e - i + 1) / L` in `[-1, 0)`, `sig(y) = 2 / (1 + e^(5y)) - 1` (earlier is worth
//! more, the window's first row exactly `A_TP`); later detections in the same window count
//! nothing; a detection outside every window is a false positive worth `|A_FP| sig(y)`, `y =
//! |i - e'| / (L' - 1)` after the preceding window (`sig = -1` from `y >= 3` on; `A_FP` when
//! none precedes it); a window without detection costs `A_FN`. Detections in the probationary
//! period are not counted, nor are windows lying wholly inside it. Standard profile `A_TP = 1,
//! A_FP = -0.11, A_FN = -1`. The raw scores of a set of files are summed and normalised:
//! `100 (raw - null) / (perfect - null)`, null = no detections (`A_FN` per window), perfect =
//! `A_TP` per window. One difference remains by design: the benchmark's runner turns row
//! scores into detections with one threshold tuned on the whole corpus; here the detections
//! are the alerts a user would see, with the model's own threshold.
//!
//! Split: TUNE and REPORT halves by a hash (FNV-1a) of the file's relative path; choices are
//! made on TUNE, REPORT (and all files) is quoted.
//!
//! Arguments: `DIR` (holding `data/**/*.csv` and `labels/combined_windows.json`),
//! `--params JSON` (detector parameters besides `min_train_days: 1`), `--split
//! tune|report|all` (which files' lines to print; totals of all three are always printed),
//! `--probation-cap N` (at most N probationary rows; 0 = no cap; default 750, as the
//! benchmark's runner), `--verbose` (per window of the files shown: found where, its most
//! unusual row and why; the false detections and why), `--retrain-daily` (refit every day on
//! every row so far, see [`nightly`]), `--speed N`
//! (instead: the cost of each detector family at N entities, see [`speed`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pg_anomaly_core::corpus::{head, roc_auc, series_rows};
use pg_anomaly_core::detect::{Detector, DetectorParams, MetricKind};
use pg_anomaly_core::model::Model;
use pg_anomaly_core::time::days_from_civil;

const A_TP: f64 = 1.0;
const A_FP: f64 = -0.11;
const A_FN: f64 = -1.0;
const PROBATION: f64 = 0.15;
/// The benchmark's runner caps the probationary period at 15 % of 5,000 rows.
const PROBATION_CAP: usize = 750;
/// `ml_settings.episode_gap` default.
const EPISODE_GAP_US: i64 = 2 * 3_600_000_000;

fn sig(y: f64) -> f64 {
    2.0 / (1.0 + (5.0 * y).exp()) - 1.0
}

/// "2014-04-10 07:15:00(.000000)" as microseconds since the epoch (UTC).
fn parse_ts(s: &str) -> Option<i64> {
    let s = s.trim().trim_matches('"');
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, dd) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (hh, mm) = (t.next()?.parse::<i64>().ok()?, t.next()?.parse::<i64>().ok()?);
    let sec: f64 = t.next().unwrap_or("0").parse().ok()?;
    let days = days_from_civil(y, m as u32, dd as u32);
    Some(days * 86_400_000_000 + hh * 3_600_000_000 + mm * 60_000_000 + (sec * 1e6).round() as i64)
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn csv_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            csv_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "csv") {
            out.push(p);
        }
    }
}

/// Timestamps (strictly increasing: a repeated timestamp keeps its last value) and values.
fn read_csv(p: &Path) -> (Vec<i64>, Vec<f64>) {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let (mut ts, mut v): (Vec<i64>, Vec<f64>) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let Some((a, b)) = line.split_once(',') else { continue };
        let (Some(t), Ok(x)) = (parse_ts(a), b.trim().parse::<f64>()) else { continue };
        if !x.is_finite() {
            continue;
        }
        match ts.last() {
            Some(&l) if t < l => continue,
            Some(&l) if t == l => *v.last_mut().unwrap() = x,
            _ => {
                ts.push(t);
                v.push(x);
            }
        }
    }
    (ts, v)
}

/// One file's result.
#[derive(Default, Clone)]
struct FileScore {
    raw: f64,
    null: f64,
    perfect: f64,
    windows: usize,
    found: usize,
    detections: usize,
    fp: usize,
    scores: Vec<f64>,
    pos: Vec<bool>,
}

/// The benchmark's score of `detections` (row indices, sorted) against `windows` (row index
/// ranges, sorted, inclusive), rows before `prob` not counted, as the benchmark's runner
/// scores one file: a window counts when at least one of its rows is past the probationary
/// period; its first detection at row `i` scores `A_TP sig(-(e - i + 1) / L) / sig(-1)` (a
/// detection on the window's first row is worth exactly `A_TP`); a detection outside every
/// window scores `|A_FP| sig(|i - e'| / (L' - 1))` after the preceding window (`e'`, `L'`;
/// `sig(y) = -1` from `y >= 3` on) or `A_FP` when no window precedes it (probationary windows
/// included); a counted window without detection scores `A_FN`.
fn nab_score(windows: &[(usize, usize)], detections: &[usize], prob: usize) -> FileScore {
    let counted: Vec<bool> = windows.iter().map(|&(_, e)| e >= prob).collect();
    let n_counted = counted.iter().filter(|&&c| c).count();
    let mut f = FileScore { windows: n_counted, ..FileScore::default() };
    let mut hit = vec![false; windows.len()];
    let max_tp = sig(-1.0);
    for &i in detections.iter().filter(|&&i| i >= prob) {
        f.detections += 1;
        if let Some(w) = windows.iter().position(|&(s, e)| i >= s && i <= e) {
            if !hit[w] {
                hit[w] = true;
                let (s, e) = windows[w];
                let len = (e - s + 1) as f64;
                f.raw += A_TP * sig(-((e - i + 1) as f64) / len) / max_tp;
            }
            continue;
        }
        f.fp += 1;
        f.raw += match windows.iter().rev().find(|&&(_, e)| e < i) {
            Some(&(s, e)) => {
                let y = if e > s { (i - e) as f64 / (e - s) as f64 } else { f64::INFINITY };
                A_FP.abs() * if y >= 3.0 { -1.0 } else { sig(y) }
            }
            None => A_FP,
        };
    }
    f.found = hit.iter().filter(|&&h| h).count();
    f.raw += A_FN * (n_counted - f.found) as f64;
    f.null = A_FN * n_counted as f64;
    f.perfect = A_TP * n_counted as f64;
    f
}

/// The sum of files' results.
#[derive(Default)]
struct Total {
    sum: FileScore,
    files: usize,
}

impl Total {
    fn add(&mut self, f: &FileScore) {
        let t = &mut self.sum;
        t.raw += f.raw;
        t.null += f.null;
        t.perfect += f.perfect;
        t.windows += f.windows;
        t.found += f.found;
        t.detections += f.detections;
        t.fp += f.fp;
        t.scores.extend_from_slice(&f.scores);
        t.pos.extend_from_slice(&f.pos);
        self.files += 1;
    }
    fn normalised(&self) -> f64 {
        let t = &self.sum;
        if t.perfect > t.null {
            100.0 * (t.raw - t.null) / (t.perfect - t.null)
        } else {
            0.0
        }
    }
    fn line(&self, name: &str) -> String {
        let t = &self.sum;
        let auc = roc_auc(&t.scores, &t.pos).map_or("-".to_string(), |a| format!("{a:.3}"));
        format!(
            "{name:<7} files {:>2}  windows {:>3}  found {:>3}  detections {:>4}  FP {:>4}  raw {:>8.2}  NAB standard {:>6.1}  row AUC {auc}",
            self.files,
            t.windows,
            t.found,
            t.detections,
            t.fp,
            t.raw,
            self.normalised()
        )
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |k: &str| args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).cloned();
    let Some(dir) = args.first().filter(|a| !a.starts_with("--")).cloned() else {
        eprintln!("usage: eval_nab DIR [--params JSON] [--split tune|report|all] [--probation-cap N] [--verbose] [--retrain-daily] [--speed N] (DIR holds NAB's data/ and labels/)");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let verbose = args.iter().any(|a| a == "--verbose");
    let retrain = args.iter().any(|a| a == "--retrain-daily");
    let show = opt("--split").unwrap_or_else(|| "all".into()).to_lowercase();
    let cap: usize = opt("--probation-cap").and_then(|v| v.parse().ok()).unwrap_or(PROBATION_CAP);
    let mut pj: serde_json::Value = match opt("--params") {
        Some(j) => serde_json::from_str(&j).expect("--params: JSON object"),
        None => serde_json::json!({}),
    };
    if pj.get("min_train_days").is_none() {
        pj["min_train_days"] = serde_json::json!(1);
    }
    let params = DetectorParams::from_json(&pj).expect("--params");
    let labels: BTreeMap<String, Vec<Vec<String>>> = match std::fs::read_to_string(dir.join("labels/combined_windows.json")) {
        Ok(t) => serde_json::from_str(&t).expect("labels/combined_windows.json: {file: [[from, to], ...]}"),
        Err(e) => {
            eprintln!("{}: {e}", dir.join("labels/combined_windows.json").display());
            std::process::exit(2);
        }
    };
    let mut files = Vec::new();
    csv_files(&dir.join("data"), &mut files);
    files.sort();
    if files.is_empty() {
        eprintln!("no data/**/*.csv under {}", dir.display());
        std::process::exit(2);
    }
    if let Some(n) = opt("--speed").and_then(|v| v.parse::<usize>().ok()) {
        return speed(&files, n, &pj);
    }
    println!("params {}", params.to_json());
    println!("{:<6} {:<58} {:>6} {:>5} {:>4} {:>5} {:>4} {:>8} {:>7} {:>6}", "split", "file", "rows", "train", "win", "found", "det", "FP", "raw", "AUC");
    let (mut tune, mut report, mut all) = (Total::default(), Total::default(), Total::default());
    let t0 = Instant::now();
    for p in &files {
        let rel = p.strip_prefix(dir.join("data")).unwrap_or(p).to_string_lossy().replace('\\', "/");
        let Some(wins) = labels.get(&rel) else {
            eprintln!("{rel}: no label entry, skipped");
            continue;
        };
        let split = if fnv1a(&rel) % 2 == 0 { "TUNE" } else { "REPORT" };
        let (ts, v) = read_csv(p);
        let n = ts.len();
        if n < 10 {
            continue;
        }
        let mut prob = (PROBATION * n as f64).floor() as usize;
        if cap > 0 {
            prob = prob.min(cap);
        }
        let windows: Vec<(usize, usize)> = wins
            .iter()
            .filter_map(|w| {
                let (a, b) = (parse_ts(w.first()?)?, parse_ts(w.get(1)?)?);
                let s = ts.partition_point(|&t| t < a);
                let e = ts.partition_point(|&t| t <= b);
                (e > s).then(|| (s, e - 1))
            })
            .collect();
        let s = series_rows(&rel, &ts, &v, None, 0);
        let train = head(&s, prob);
        let fitted = Detector::fit(MetricKind::Generic, &params, &[train], &[], &[]);
        let mut fitted_model = None;
        let (detections, scored) = match fitted {
            Ok((det, _)) => {
                let mut model = Model::Detector(det);
                let scored = if retrain {
                    nightly(&params, &s, prob, &mut model)
                } else {
                    model.score_series(&s, 0).unwrap_or_default()
                };
                let d = alert_starts(&model, &scored, &ts);
                fitted_model = Some(model);
                (d, scored)
            }
            Err(e) => {
                eprintln!("{rel}: fit failed: {}", e.message);
                (Vec::new(), Vec::new())
            }
        };
        let mut f = nab_score(&windows, &detections, prob);
        for (i, r) in scored.iter().enumerate().skip(prob) {
            f.scores.push(r.score);
            f.pos.push(windows.iter().any(|&(a, b)| i >= a && i <= b));
        }
        if show == "all" || show.eq_ignore_ascii_case(split) {
            let auc = roc_auc(&f.scores, &f.pos).map_or("   -".to_string(), |a| format!("{a:.3}"));
            println!("{split:<6} {rel:<58} {n:>6} {prob:>5} {:>4} {:>5} {:>4} {:>8} {:>7.2} {auc:>6}", f.windows, f.found, f.detections, f.fp, f.raw);
            if verbose {
                // per window: its rows, the first detection in it, the most unusual row and why
                let eps = match &fitted_model {
                    Some(m) => m.episodes(&scored, EPISODE_GAP_US),
                    None => Vec::new(),
                };
                for &(a, b) in &windows {
                    let first = detections.iter().find(|&&i| i >= a && i <= b);
                    let peak = (a..=b).filter(|&i| i < scored.len()).max_by(|&x, &y| scored[x].neg_log10_p.total_cmp(&scored[y].neg_log10_p));
                    let why = peak.map_or(String::new(), |i| format!("peak row {i} -log10 p {:.2} score {:.5} {:?}", scored[i].neg_log10_p, scored[i].score, scored[i].top.first().map(|t| t.0.as_str())));
                    let ep = peak.and_then(|i| eps.iter().find(|e| e.start <= i && i <= e.end)).map_or(String::new(), |e| format!(" in episode {}..{} (peak {}){}", e.start, e.end, e.peak, if e.suppressed { " suppressed" } else { "" }));
                    println!("         window {a}..{b} ({} rows): {} {why}{ep}", b - a + 1, first.map_or("MISSED".to_string(), |&i| format!("found at +{} by {:?}", i - a, scored[i].top.first().map(|t| t.0.as_str()))));
                }
                let fps: Vec<String> = detections.iter().filter(|&&i| i >= prob && !windows.iter().any(|&(a, b)| i >= a && i <= b)).map(|&i| format!("{i}:{:?}", scored[i].top.first().map(|t| t.0.as_str()))).collect();
                if !fps.is_empty() {
                    println!("         false: {}", fps.join(" "));
                }
            }
        }
        if split == "TUNE" { &mut tune } else { &mut report }.add(&f);
        all.add(&f);
    }
    println!();
    println!("{}", tune.line("TUNE"));
    println!("{}", report.line("REPORT"));
    println!("{}", all.line("ALL"));
    println!("({:.1} s; probationary rows: 15 %{})", t0.elapsed().as_secs_f64(), if cap > 0 { format!(", at most {cap}") } else { String::new() });
}

/// `--retrain-daily`: the first model scores up to a day past the probationary period; then,
/// every day, a model refitted on every row so far (the rows of the episodes alerted so far
/// left out, as the nightly training leaves unreviewed alerts out) scores the next day.
fn nightly(params: &DetectorParams, s: &pg_anomaly_core::detect::SeriesRows, prob: usize, model: &mut Model) -> Vec<pg_anomaly_core::detect::Scored> {
    const DAY_US: i64 = 86_400_000_000;
    let n = s.len();
    let next = |c: usize| c + s.ts[c..].partition_point(|&t| t < s.ts[c] + DAY_US).max(1);
    let mut cut = next(prob.min(n - 1));
    let mut out = model.score_series(&head(s, cut.min(n)), 0).unwrap_or_default();
    while cut < n {
        let exclude: Vec<pg_anomaly_core::detect::Window> = model
            .episodes(&out, EPISODE_GAP_US)
            .into_iter()
            .filter(|e| !e.suppressed)
            .map(|e| pg_anomaly_core::detect::Window { entity_id: s.entity_id.clone(), from_us: e.start_ts, to_us: e.end_ts })
            .collect();
        if let Ok((det, _)) = Detector::fit(MetricKind::Generic, params, &[head(s, cut)], &exclude, &[]) {
            *model = Model::Detector(det);
        }
        let end = next(cut).min(n);
        out.extend(model.score_series(&head(s, end), cut).unwrap_or_default());
        cut = end;
    }
    out
}

/// Row indices of the alerts `ml_detect(save => true)` would write for `scored` (all rows of
/// one series, no alert before): one per non-suppressed episode, except an episode that
/// continues the last alert (starts within the gap after it) extends that alert.
fn alert_starts(model: &Model, scored: &[pg_anomaly_core::detect::Scored], ts: &[i64]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let mut known: Vec<(i64, i64)> = Vec::new();
    for ep in model.episodes(scored, EPISODE_GAP_US).into_iter().filter(|e| !e.suppressed) {
        let continues = |k: &(i64, i64)| ep.start_ts <= k.1.saturating_add(EPISODE_GAP_US) && ep.end_ts.saturating_add(EPISODE_GAP_US) >= k.0;
        if let Some(k) = known.iter_mut().find(|k| continues(k)) {
            k.0 = k.0.min(ep.start_ts);
            k.1 = k.1.max(ep.end_ts);
            continue;
        }
        known.push((ep.start_ts, ep.end_ts));
        if let Ok(i) = ts.binary_search(&ep.start_ts) {
            out.push(i);
        }
    }
    out.sort_unstable();
    out
}

/// `--speed N`: N entities of a generic metric type, each the first 9 days (864 rows at 15
/// minutes) of a benchmark file's values (files cycled): the fit of all of them and the
/// scoring of their last hour (4 rows, with the look-back the model asks for), per family.
fn speed(files: &[PathBuf], n: usize, base: &serde_json::Value) {
    const ROWS: usize = 864;
    const STEP: i64 = 15 * 60_000_000;
    let start = 1_780_000_000_000_000i64 - 1_780_000_000_000_000i64 % 86_400_000_000;
    let vals: Vec<Vec<f64>> = files.iter().map(|p| read_csv(p).1).filter(|v| v.len() >= ROWS).map(|v| v[..ROWS].to_vec()).collect();
    let ts: Vec<i64> = (0..ROWS as i64).map(|i| start + i * STEP).collect();
    let t0 = Instant::now();
    let series: Vec<pg_anomaly_core::detect::SeriesRows> = (0..n).map(|e| series_rows(&format!("e{e:05}"), &ts, &vals[e % vals.len()], None, 0)).collect();
    println!("{n} entities x {ROWS} rows: features {:.2} s", t0.elapsed().as_secs_f64());
    for fam in ["calibrated", "both", "sequence"] {
        let mut pj = base.clone();
        pj["detector_family"] = serde_json::json!(fam);
        let params = DetectorParams::from_json(&pj).expect("params");
        let t = Instant::now();
        let (det, _) = Detector::fit(MetricKind::Generic, &params, &series, &[], &[]).expect("fit");
        let fit_s = t.elapsed().as_secs_f64();
        let bytes = det.to_bytes().map(|b| b.len()).unwrap_or(0);
        let t = Instant::now();
        let mut rows = 0usize;
        for s in &series {
            rows += det.score_series(s, ROWS - 4).map(|r| r.len()).unwrap_or(0);
        }
        println!("{fam:<10}: fit {fit_s:.2} s, model {:.1} MB, scoring the last hour ({rows} rows, {} h look-back) {:.3} s", bytes as f64 / 1e6, det.lookback_us() / 3_600_000_000, t.elapsed().as_secs_f64());
    }
}
