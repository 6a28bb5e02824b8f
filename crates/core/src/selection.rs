//! Feature selection (stage 4) and degree-2 interactions (stage 5) on a feature matrix whose
//! rows are observations and columns features; NaN (and any non-finite value) means NULL.
//!
//! Methods, each explained in its decision's `reason`:
//! - `variance`: drop a feature with more than 50% NULLs, or whose non-NULL values are more
//!   than 99% one value (this also catches constants; a 70/30 flag like is_weekend stays),
//!   or whose spread is rounding noise (std < 1e-9 * |mean|). Score: the std.
//! - `correlation`: for each pair with |Pearson r| > 0.95 over the rows where both are
//!   non-NULL, drop the one with more NULLs, on a tie the later one. Score: the largest |r|.
//! - `mutual_info`: values are cut into 10 quantile bins, NULL being its own bin. With labels
//!   (true = inside a known anomaly window) a feature is kept when the G-test of its bins
//!   against the label is significant at p < 0.001 (G = 2·N·MI, chi-squared quantile by
//!   Wilson–Hilferty); score: MI in nats. Without labels, or with labels of one class only,
//!   features are taken in input order and a feature is dropped when its normalised MI
//!   (MI / sqrt(H1·H2), Strehl & Ghosh 2002) with an already kept one exceeds 0.9, i.e. its
//!   information is already there; score: that largest NMI.
//! - `all`: variance, then correlation on the survivors, then mutual_info on theirs.
//!
//! No step ever drops every feature: if it would, it keeps its best candidate.
//!
//! Over 400 lines on purpose: three selection methods and the interactions share the NULL-aware matrix helpers.

use std::str::FromStr;

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};

/// More NULLs than this share drops a feature.
pub const MAX_NULL_SHARE: f64 = 0.5;
/// More than this share of one identical value drops a feature.
pub const MAX_MODE_SHARE: f64 = 0.99;
/// |Pearson r| above this makes a pair redundant.
pub const MAX_ABS_CORRELATION: f64 = 0.95;
/// Quantile bins for mutual information.
pub const MI_BINS: usize = 10;
/// Normalised MI above this with a kept feature makes a feature redundant (unlabelled mode).
pub const MAX_REDUNDANCY_NMI: f64 = 0.9;

/// A selection method, as named in SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectionMethod {
    Variance,
    Correlation,
    MutualInfo,
    All,
}

impl SelectionMethod {
    /// The accepted names, in SQL spelling.
    pub const NAMES: [&'static str; 4] = ["variance", "correlation", "mutual_info", "all"];
}

impl FromStr for SelectionMethod {
    type Err = CoreError;
    fn from_str(s: &str) -> CoreResult<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "variance" => Ok(SelectionMethod::Variance),
            "correlation" => Ok(SelectionMethod::Correlation),
            "mutual_info" | "mutual_information" => Ok(SelectionMethod::MutualInfo),
            "all" => Ok(SelectionMethod::All),
            _ => Err(CoreError::invalid_param("method", s, "unknown selection method")
                .with_hint(format!("valid methods: {}, rfe (recursive feature elimination over the detector inputs)", SelectionMethod::NAMES.join(", ")))),
        }
    }
}

/// What happened to one input feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureDecision {
    pub feature: String,
    pub kept: bool,
    /// The deciding step's score (see the module doc); `None` when it could not be computed.
    pub score: Option<f64>,
    pub reason: String,
}

/// One decision per column of `x`, in column order.
///
/// Errors: no rows or no columns (insufficient data), `names` or `labels` of the wrong length.
pub fn select_features(x: ArrayView2<f64>, names: &[&str], labels: Option<&[bool]>, method: SelectionMethod) -> CoreResult<Vec<FeatureDecision>> {
    let (rows, ncols) = x.dim();
    if rows == 0 || ncols == 0 {
        return Err(CoreError::insufficient(format!("feature selection needs rows and columns, got {rows} x {ncols}")));
    }
    if names.len() != ncols {
        return Err(CoreError::invalid_param("names", names.len(), &format!("need one name per column ({ncols})")));
    }
    if let Some(l) = labels.filter(|l| l.len() != rows) {
        return Err(CoreError::invalid_param("labels", l.len(), &format!("need one label per row ({rows})")));
    }
    let cols = columns(x);
    let mut dec: Vec<FeatureDecision> = names
        .iter()
        .map(|n| FeatureDecision { feature: n.to_string(), kept: true, score: None, reason: "kept".into() })
        .collect();
    use SelectionMethod::*;
    if matches!(method, Variance | All) {
        variance_step(&cols, &mut dec);
    }
    if matches!(method, Correlation | All) {
        correlation_step(&cols, &mut dec);
    }
    if matches!(method, MutualInfo | All) {
        mutual_info_step(&cols, &mut dec, labels);
    }
    Ok(dec)
}

/// Pearson r of every column pair (i < j, row-major order) over pairwise-complete rows;
/// `None` under 3 such rows or when one side is constant there.
pub fn correlations(x: ArrayView2<f64>, names: &[&str]) -> Vec<(String, String, Option<f64>)> {
    let cols = columns(x);
    let name = |j: usize| names.get(j).map_or_else(|| format!("column_{j}"), |n| n.to_string());
    let mut out = Vec::new();
    for i in 0..cols.len() {
        for j in i + 1..cols.len() {
            out.push((name(i), name(j), pearson(&cols[i], &cols[j])));
        }
    }
    out
}

/// Chooses up to `max` degree-2 interactions among `selected` (indices into it, `i < j`).
///
/// Rule: rank features by score (highest first; missing or NaN scores last, ties by position),
/// take the fewest top-ranked features whose pairs reach `max`, and list their pairs so that
/// every pair among the top `m` comes before any pair involving feature `m + 1`; truncate.
pub fn interaction_pairs(selected: &[String], scores: &[Option<f64>], max: usize) -> Vec<(usize, usize)> {
    let score = |i: usize| scores.get(i).copied().flatten().filter(|s| !s.is_nan());
    let mut rank: Vec<usize> = (0..selected.len()).collect();
    rank.sort_by(|&a, &b| match (score(a), score(b)) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut pairs = Vec::new();
    'outer: for b in 1..rank.len() {
        for a in 0..b {
            if pairs.len() >= max {
                break 'outer;
            }
            let (i, j) = (rank[a], rank[b]);
            pairs.push((i.min(j), i.max(j)));
        }
    }
    pairs
}

/// `x` with one extra column per pair: the product of the two columns (NULL stays NULL; a pair
/// naming a missing column gives an all-NULL column).
pub fn apply_interactions(x: ArrayView2<f64>, pairs: &[(usize, usize)]) -> Array2<f64> {
    let (rows, ncols) = x.dim();
    let mut out = Array2::from_elem((rows, ncols + pairs.len()), f64::NAN);
    out.slice_mut(ndarray::s![.., ..ncols]).assign(&x);
    for (k, &(i, j)) in pairs.iter().enumerate() {
        if i < ncols && j < ncols {
            let prod = &x.column(i) * &x.column(j);
            out.column_mut(ncols + k).assign(&prod);
        }
    }
    out
}

/// Column names of the interaction columns, `a_x_b`.
pub fn interaction_names(names: &[&str], pairs: &[(usize, usize)]) -> Vec<String> {
    let name = |j: usize| names.get(j).copied().unwrap_or("?");
    pairs.iter().map(|&(i, j)| format!("{}_x_{}", name(i), name(j))).collect()
}

/// Columns as contiguous vectors, non-finite values as NaN.
fn columns(x: ArrayView2<f64>) -> Vec<Vec<f64>> {
    x.axis_iter(Axis(1)).map(|c| c.iter().map(|v| if v.is_finite() { *v } else { f64::NAN }).collect()).collect()
}

fn candidates(dec: &[FeatureDecision]) -> Vec<usize> {
    (0..dec.len()).filter(|&j| dec[j].kept).collect()
}

fn reject(d: &mut FeatureDecision, score: Option<f64>, reason: String) {
    *d = FeatureDecision { feature: std::mem::take(&mut d.feature), kept: false, score, reason };
}

/// Re-keeps `best` when a step dropped every one of its candidates.
fn keep_best_if_none(dec: &mut [FeatureDecision], cand: &[usize], best: Option<usize>) {
    if cand.iter().all(|&j| !dec[j].kept) {
        if let Some(b) = best {
            dec[b].kept = true;
            dec[b].reason = format!("kept anyway: every feature would be dropped and this is the best ({})", dec[b].reason);
        }
    }
}

fn variance_step(cols: &[Vec<f64>], dec: &mut [FeatureDecision]) {
    let cand = candidates(dec);
    let mut best: Option<(usize, usize, f64)> = None;
    for &j in &cand {
        let mut v: Vec<f64> = cols[j].iter().copied().filter(|v| !v.is_nan()).collect();
        let null_share = 1.0 - v.len() as f64 / cols[j].len() as f64;
        let (mean, std) = mean_std(&v);
        let rank = (v.len(), std.unwrap_or(0.0));
        if best.is_none_or(|b| (rank.0, rank.1) > (b.1, b.2)) {
            best = Some((j, rank.0, rank.1));
        }
        if v.is_empty() || null_share > MAX_NULL_SHARE {
            reject(&mut dec[j], std, format!("too many NULLs: {:.1}% > {:.0}%", 100.0 * null_share, 100.0 * MAX_NULL_SHARE));
            continue;
        }
        v.sort_by(f64::total_cmp);
        let mode = v.chunk_by(|a, b| a == b).map(<[f64]>::len).max().unwrap_or(0);
        let mode_share = mode as f64 / v.len() as f64;
        if mode_share > MAX_MODE_SHARE {
            reject(&mut dec[j], std, format!("near-constant: {:.1}% identical values", 100.0 * mode_share));
        } else if std.is_some_and(|s| s < 1e-9 * mean.abs()) {
            reject(&mut dec[j], std, "near-constant: spread is rounding noise".into());
        } else {
            dec[j].score = std;
            dec[j].reason = format!("kept: std {:.4}, {:.1}% NULL", std.unwrap_or(0.0), 100.0 * null_share);
        }
    }
    keep_best_if_none(dec, &cand, best.map(|b| b.0));
}

fn correlation_step(cols: &[Vec<f64>], dec: &mut [FeatureDecision]) {
    let cand = candidates(dec);
    let nulls: Vec<usize> = cols.iter().map(|c| c.iter().filter(|v| v.is_nan()).count()).collect();
    let m = cand.len();
    let mut r = vec![None; m * m];
    for a in 0..m {
        for b in a + 1..m {
            let v = pearson(&cols[cand[a]], &cols[cand[b]]).map(f64::abs);
            r[a * m + b] = v;
            r[b * m + a] = v;
        }
    }
    let mut alive = vec![true; m];
    for a in 0..m {
        for b in a + 1..m {
            let Some(v) = r[a * m + b].filter(|v| alive[a] && alive[b] && *v > MAX_ABS_CORRELATION) else { continue };
            let (i, j) = (cand[a], cand[b]);
            let (victim, other) = if nulls[i] > nulls[j] { (a, j) } else { (b, i) };
            alive[victim] = false;
            let why = format!("correlated with {} (|r| = {v:.4})", dec[other].feature);
            reject(&mut dec[cand[victim]], Some(v), why);
        }
    }
    for a in (0..m).filter(|&a| alive[a]) {
        let top = (0..m).filter_map(|b| r[a * m + b].map(|v| (v, b))).max_by(|x, y| x.0.total_cmp(&y.0));
        let reason = match top {
            Some((v, b)) => format!("kept: largest |r| {v:.4} (with {})", dec[cand[b]].feature),
            None => "kept: no computable correlation".into(),
        };
        let d = &mut dec[cand[a]];
        d.score = top.map(|t| t.0);
        d.reason = reason;
    }
}

fn mutual_info_step(cols: &[Vec<f64>], dec: &mut [FeatureDecision], labels: Option<&[bool]>) {
    let cand = candidates(dec);
    let bins: Vec<Vec<u8>> = cols.iter().map(|c| discretise(c)).collect();
    let labels = labels.map(|l| l.iter().map(|&b| u8::from(b)).collect::<Vec<u8>>());
    let two_classes = labels.as_ref().is_some_and(|l| l.contains(&0) && l.contains(&1));
    if let (Some(y), true) = (labels.as_ref(), two_classes) {
        let n = y.len() as f64;
        let mut best: Option<(usize, f64)> = None;
        for &j in &cand {
            let (mi, hx, _) = mutual_info(&bins[j], y);
            let used = occupied(&bins[j]);
            if best.is_none_or(|b| mi > b.1) {
                best = Some((j, mi));
            }
            let g = 2.0 * n * mi;
            let crit = chi2_quantile_999((used.max(1) - 1) as f64);
            if used > 1 && hx > 0.0 && g > crit {
                dec[j].score = Some(mi);
                dec[j].reason = format!("kept: MI with labels {mi:.4} nats (G {g:.1} > {crit:.1})");
            } else {
                reject(&mut dec[j], Some(mi), format!("not associated with the labels: MI {mi:.4} nats (G {g:.1} <= {crit:.1})"));
            }
        }
        keep_best_if_none(dec, &cand, best.map(|b| b.0));
        return;
    }
    let note = if labels.is_some() { "labels have a single class, so redundancy is used; " } else { "" };
    let mut kept: Vec<usize> = Vec::new();
    for &j in &cand {
        let mut top: Option<(f64, usize)> = None;
        for &k in &kept {
            let (mi, hx, hy) = mutual_info(&bins[j], &bins[k]);
            let nmi = if hx > 0.0 && hy > 0.0 { mi / (hx * hy).sqrt() } else { 0.0 };
            if top.is_none_or(|t| nmi > t.0) {
                top = Some((nmi, k));
            }
        }
        if occupied(&bins[j]) < 2 {
            reject(&mut dec[j], Some(0.0), format!("{note}a single bin: no information"));
        } else if let Some((nmi, k)) = top.filter(|t| t.0 > MAX_REDUNDANCY_NMI) {
            let why = format!("{note}redundant with {} (normalised MI {nmi:.3})", dec[k].feature);
            reject(&mut dec[j], Some(nmi), why);
        } else {
            kept.push(j);
            dec[j].score = Some(top.map_or(0.0, |t| t.0));
            dec[j].reason = format!("{note}kept: largest normalised MI with a kept feature {:.3}", top.map_or(0.0, |t| t.0));
        }
    }
    keep_best_if_none(dec, &cand, cand.first().copied());
}

/// Mean and sample std of a NULL-free slice (two passes).
fn mean_std(v: &[f64]) -> (f64, Option<f64>) {
    if v.is_empty() {
        return (0.0, None);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let std = (v.len() >= 2).then(|| (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt());
    (mean, std)
}

/// Pearson r over the rows where both are non-NULL.
fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let both = || a.iter().zip(b).filter(|(x, y)| !x.is_nan() && !y.is_nan());
    let (mut n, mut sa, mut sb) = (0usize, 0.0, 0.0);
    for (x, y) in both() {
        n += 1;
        sa += x;
        sb += y;
    }
    if n < 3 {
        return None;
    }
    let (ma, mb) = (sa / n as f64, sb / n as f64);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in both() {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    (saa > 0.0 && sbb > 0.0).then(|| (sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0))
}

/// Quantile bins 0..MI_BINS (ties share a bin, so a flag has 2 bins), NULL = MI_BINS.
fn discretise(c: &[f64]) -> Vec<u8> {
    let mut v: Vec<f64> = c.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..MI_BINS).filter_map(|q| v.get(q * v.len() / MI_BINS).copied()).collect();
    edges.dedup();
    c.iter().map(|x| if x.is_nan() { MI_BINS as u8 } else { edges.partition_point(|e| e < x) as u8 }).collect()
}

fn occupied(b: &[u8]) -> usize {
    let mut seen = [false; 256];
    b.iter().for_each(|&x| seen[x as usize] = true);
    seen.iter().filter(|s| **s).count()
}

/// Plug-in MI(X;Y), H(X), H(Y) in nats for small categorical codes.
fn mutual_info(x: &[u8], y: &[u8]) -> (f64, f64, f64) {
    const K: usize = MI_BINS + 1;
    let mut joint = [[0usize; K]; K];
    for (&a, &b) in x.iter().zip(y) {
        joint[(a as usize).min(K - 1)][(b as usize).min(K - 1)] += 1;
    }
    let n = x.len().min(y.len()) as f64;
    let px: Vec<f64> = joint.iter().map(|r| r.iter().sum::<usize>() as f64 / n).collect();
    let py: Vec<f64> = (0..K).map(|b| joint.iter().map(|r| r[b]).sum::<usize>() as f64 / n).collect();
    let h = |p: &[f64]| -p.iter().filter(|&&q| q > 0.0).map(|q| q * q.ln()).sum::<f64>();
    let mut mi = 0.0;
    for a in 0..K {
        for b in 0..K {
            let p = joint[a][b] as f64 / n;
            if p > 0.0 {
                mi += p * (p / (px[a] * py[b])).ln();
            }
        }
    }
    (mi.max(0.0), h(&px), h(&py))
}

/// Upper 0.001 quantile of chi-squared with `df` degrees of freedom (statrs; the G-test's
/// critical value at p < 0.001).
fn chi2_quantile_999(df: f64) -> f64 {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    if df <= 0.0 {
        return f64::INFINITY;
    }
    ChiSquared::new(df).map(|d| d.inverse_cdf(0.999)).unwrap_or(f64::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn chi2_critical_values_are_exact() {
        // Tabulated upper 0.001 quantiles; the Wilson-Hilferty approximation used before
        // statrs was 3.0% high at 1 degree of freedom (11.16) and 0.7% high at 9 (28.06).
        for (df, q) in [(1.0, 10.828), (2.0, 13.816), (3.0, 16.266), (5.0, 20.515), (9.0, 27.877)] {
            assert!((chi2_quantile_999(df) - q).abs() < 1e-3, "df {df}: {}", chi2_quantile_999(df));
            let c: f64 = 2.0 / (9.0 * df);
            let wilson_hilferty = df * (1.0 - c + 3.090_232_306 * c.sqrt()).powi(3);
            assert!((wilson_hilferty - q).abs() / q < 0.035, "df {df}: {wilson_hilferty}");
        }
        assert_eq!(chi2_quantile_999(0.0), f64::INFINITY);
    }

    /// Columns: signal, 2*signal+1 (duplicate), constant, noise, 70/30 flag, 60% NULL.
    fn matrix(n: usize) -> (Array2<f64>, Vec<&'static str>) {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = Array2::from_shape_fn((n, 6), |(i, j)| {
            let s = (i as f64 * 0.37).sin() * 10.0;
            match j {
                0 => s,
                1 => 2.0 * s + 1.0,
                2 => 3.0,
                3 => rng.gen_range(-1.0..1.0),
                4 => f64::from(u8::from(i % 10 >= 7)),
                _ => if i % 5 < 3 { f64::NAN } else { rng.gen_range(0.0..1.0) },
            }
        });
        (x, vec!["signal", "twice", "constant", "noise", "flag", "sparse"])
    }

    fn kept(d: &[FeatureDecision]) -> Vec<&str> {
        d.iter().filter(|d| d.kept).map(|d| d.feature.as_str()).collect()
    }

    #[test]
    fn method_names_parse_and_errors_list_them() {
        assert_eq!("ALL".parse::<SelectionMethod>(), Ok(SelectionMethod::All));
        assert_eq!("mutual_info".parse::<SelectionMethod>(), Ok(SelectionMethod::MutualInfo));
        let e = "pca".parse::<SelectionMethod>().unwrap_err();
        assert!(e.hint.unwrap_or_default().contains("variance, correlation, mutual_info, all"));
    }

    #[test]
    fn bad_shapes_are_errors() {
        let (x, names) = matrix(20);
        assert!(select_features(x.view(), &names[..5], None, SelectionMethod::All).is_err());
        assert!(select_features(x.view(), &names, Some(&[true; 3]), SelectionMethod::All).is_err());
        let empty = Array2::<f64>::zeros((0, 2));
        assert!(select_features(empty.view(), &["a", "b"], None, SelectionMethod::Variance).is_err());
    }

    #[test]
    fn variance_drops_constant_and_sparse_but_keeps_a_flag() {
        let (x, names) = matrix(500);
        let d = select_features(x.view(), &names, None, SelectionMethod::Variance).expect("ok");
        assert_eq!(kept(&d), ["signal", "twice", "noise", "flag"]);
        assert!(d[2].reason.contains("near-constant") && d[5].reason.contains("NULL"));
        assert_eq!(d.len(), names.len());
    }

    #[test]
    fn correlation_drops_the_duplicate_or_the_one_with_more_nulls() {
        let (mut x, names) = matrix(500);
        let d = select_features(x.view(), &names, None, SelectionMethod::Correlation).expect("ok");
        assert!(d[0].kept && !d[1].kept && d[1].reason.contains("signal"));
        x[[3, 0]] = f64::NAN;
        let d = select_features(x.view(), &names, None, SelectionMethod::Correlation).expect("ok");
        assert!(!d[0].kept && d[1].kept);
        assert_eq!(correlations(x.view(), &names).len(), 15);
    }

    #[test]
    fn mutual_info_with_labels_keeps_the_informative_feature() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 2000;
        let labels: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.1)).collect();
        let x = Array2::from_shape_fn((n, 3), |(i, j)| match j {
            0 => rng.gen_range(0.0..1.0) + if labels[i] { 3.0 } else { 0.0 },
            _ => rng.gen_range(0.0..1.0),
        });
        let d = select_features(x.view(), &["informative", "noise_a", "noise_b"], Some(&labels), SelectionMethod::MutualInfo).expect("ok");
        assert_eq!(kept(&d), ["informative"], "{d:?}");
    }

    #[test]
    fn mutual_info_without_labels_drops_a_redundant_transform() {
        let (x, _) = matrix(1000);
        let mut y = Array2::zeros((1000, 3));
        y.column_mut(0).assign(&x.column(0));
        y.column_mut(1).assign(&x.column(0).mapv(f64::exp));
        y.column_mut(2).assign(&x.column(3));
        let d = select_features(y.view(), &["a", "exp_a", "noise"], None, SelectionMethod::MutualInfo).expect("ok");
        assert_eq!(kept(&d), ["a", "noise"]);
        // Labels of one class carry nothing: the same redundancy rule applies.
        let d = select_features(y.view(), &["a", "exp_a", "noise"], Some(&[false; 1000]), SelectionMethod::MutualInfo).expect("ok");
        assert_eq!(kept(&d), ["a", "noise"]);
    }

    #[test]
    fn all_chains_the_steps_and_never_keeps_nothing() {
        let (x, names) = matrix(500);
        let d = select_features(x.view(), &names, None, SelectionMethod::All).expect("ok");
        assert_eq!(kept(&d), ["signal", "noise", "flag"]);
        let constant = Array2::from_elem((50, 3), 1.0);
        let d = select_features(constant.view(), &["a", "b", "c"], None, SelectionMethod::All).expect("ok");
        assert_eq!(kept(&d).len(), 1);
    }

    #[test]
    fn interactions_pair_the_top_features() {
        let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let scores = [Some(0.1), None, Some(0.9), Some(0.5)];
        assert_eq!(interaction_pairs(&names, &scores, 3), [(2, 3), (0, 2), (0, 3)]);
        assert_eq!(interaction_pairs(&names, &scores, 100).len(), 6);
        let x = ndarray::array![[1.0, 2.0, 3.0], [f64::NAN, 2.0, 4.0]];
        let y = apply_interactions(x.view(), &[(0, 1), (1, 2), (0, 9)]);
        assert_eq!(y.dim(), (2, 6));
        assert_eq!((y[[0, 3]], y[[0, 4]], y[[1, 4]]), (2.0, 6.0, 8.0));
        assert!(y[[1, 3]].is_nan() && y[[0, 5]].is_nan());
        assert_eq!(interaction_names(&["p", "q", "r"], &[(1, 2)]), ["q_x_r"]);
    }
}
