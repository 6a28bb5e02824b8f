//! The sequence-aware detector family (`detector_family`: `sequence` alone, or `both` with the
//! calibrated detector): per entity, which short sequences of recent values usually follow
//! which, so a value that is ordinary on its own but unusual at that moment counts.
//!
//! Design (our own):
//! - *Discretise*: each value less the drift of its trailing 1-day median from the training
//!   median (so a trend or a level that has lasted a day stays in the learned range) is cut
//!   into up to [`BINS`] quantile bins of the training span, plus one bin below and one above
//!   the training range (widened by 5 % of it), so a value never seen is a symbol of its own.
//! - *Contexts*: the symbol of row `i` given the two before it, with back-off (trigram ->
//!   bigram -> unigram, each mixed with the lower order by a pseudo-count of 1): `surprise =
//!   -ln P(b_i | b_{i-2}, b_{i-1})`. Counts come from the training span and, while scoring,
//!   from the rows of the look-back window before the row that lie outside the entity's
//!   training span (those are in the training counts already) (the detector keeps learning:
//!   a new pattern that repeats within a day stops being surprising), so scoring needs no
//!   state between runs.
//! - *Calibration*: fitted on one half of the training span and measured on the other, then
//!   the other way round; the entity's largest held-out surprise is its reference `s_ref`.
//!   A row alarms when its surprise exceeds `s_ref + seq_margin` nats: its tail probability
//!   is `ln p = ln(1 - threshold) - (s - s_ref - seq_margin)`, so it meets the model's
//!   threshold exactly there and keeps ranking beyond. Only an increase over the recent
//!   maximum counts: the reference is the larger of `s_ref` and the largest surprise of the
//!   look-back window's rows (a noisy stretch, a trend leaving the training range, a new
//!   level flickering at a bin edge alarm once, not again and again).
//! - *Rest*: after an alarm the family is silent for `seq_rest_hours`: one event, one
//!   alert. The rest is reconstructed from the look-back rows, like the counts.
//! - *New entities*: an entity the family has no model for (it joined after training) is
//!   scored by the calibrated family alone, with its warm-up or borrowed noise model
//!   (`warm.rs`), under every `detector_family`: counts of a few hours are too few to learn
//!   which bins follow which, and its calibrated scores are on the same scale.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Scored, SeriesRows};

/// Quantile bins of the training range.
pub const BINS: usize = 8;
/// Pseudo-count mixing each order with the one below.
const KAPPA: f64 = 1.0;
/// Entities need this many training rows for a sequence model.
const MIN_ROWS: usize = 12;
/// Name of the family's input in explanations.
pub const SEQ_LABEL: &str = "sequence_context";

/// Which detector family scores (`DetectorParams::detector_family`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Chosen by the metric's kind when fitting [default]: `both` for a metric type of no
    /// known kind (`generic`), `calibrated` for the four known kinds (measured on the TUNE
    /// halves: on the public benchmark's generic series the sequence family gained, on the
    /// robustness corpus' known kinds it cost precision). A fitted model stores the family
    /// it chose, never `auto`.
    #[default]
    Auto,
    /// The calibrated noise-model detector alone.
    Calibrated,
    /// The sequence family alone.
    Sequence,
    /// Both: the larger of the two scores.
    Both,
}

impl Family {
    /// The family a detector of `kind` uses.
    pub fn resolve(self, kind: super::MetricKind) -> Family {
        match (self, kind) {
            (Family::Auto, super::MetricKind::Generic) => Family::Both,
            (Family::Auto, _) => Family::Calibrated,
            (f, _) => f,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Family::Auto => "auto",
            Family::Calibrated => "calibrated",
            Family::Sequence => "sequence",
            Family::Both => "both",
        }
    }
    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "auto" => Some(Family::Auto),
            "calibrated" => Some(Family::Calibrated),
            "sequence" => Some(Family::Sequence),
            "both" => Some(Family::Both),
            _ => None,
        }
    }
}

/// One entity's sequence model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeqEntity {
    pub id: String,
    /// Inner bin edges (ascending), then the training range's outer limits.
    pub edges: Vec<f64>,
    pub lo: f64,
    pub hi: f64,
    /// (code, count) sorted by code, for unigrams, bigrams and trigrams.
    pub c1: Vec<(u32, u32)>,
    pub c2: Vec<(u32, u32)>,
    pub c3: Vec<(u32, u32)>,
    pub n: u32,
    /// Largest held-out surprise (nats).
    pub s_ref: f64,
    /// Median of the training values: symbols are read from `value - (trailing 1-day median
    /// - med)`, so a trend or a level that has lasted a day does not leave the learned range.
    pub med: f64,
    /// First and last timestamp of the training rows the counts hold (microseconds; from
    /// `i64::MAX` to `i64::MIN`, an empty span, for version 6 models, which did not record
    /// it). While scoring, rows inside the span are already in the frozen counts and are not
    /// counted again as look-back.
    pub trained_from: i64,
    pub trained_to: i64,
}

impl SeqEntity {
    /// Row time `t` lies in the training span (its row is in the frozen counts).
    fn trained(&self, t: i64) -> bool {
        t >= self.trained_from && t <= self.trained_to
    }
}

/// The family's part of a detector: one model per entity, sorted by id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SeqModel {
    pub entities: Vec<SeqEntity>,
}

fn nsym(e: &SeqEntity) -> u32 {
    e.edges.len() as u32 + 3
}

fn symbol(e: &SeqEntity, v: f64) -> u32 {
    let margin = 0.05 * (e.hi - e.lo) + 1e-9 * e.hi.abs().max(e.lo.abs()) + 1e-12;
    if v < e.lo - margin {
        0
    } else if v > e.hi + margin {
        e.edges.len() as u32 + 2
    } else {
        1 + e.edges.partition_point(|&x| x < v) as u32
    }
}

#[derive(Default)]
struct Counts {
    c1: HashMap<u32, f64>,
    c2: HashMap<u32, f64>,
    c3: HashMap<u32, f64>,
    n: f64,
}

impl Counts {
    fn add(&mut self, k: u32, b: &[u32], i: usize, w: f64) {
        *self.c1.entry(b[i]).or_default() += w;
        self.n += w;
        if i >= 1 {
            *self.c2.entry(b[i - 1] * k + b[i]).or_default() += w;
        }
        if i >= 2 {
            *self.c3.entry((b[i - 2] * k + b[i - 1]) * k + b[i]).or_default() += w;
        }
    }
}

/// Frozen counts (training) plus live counts (the look-back window).
struct View<'a> {
    k: u32,
    frozen: &'a SeqEntity,
    live: Counts,
}

fn get(v: &[(u32, u32)], code: u32) -> f64 {
    v.binary_search_by_key(&code, |x| x.0).map_or(0.0, |i| f64::from(v[i].1))
}

impl View<'_> {
    fn c(&self, order: u8, code: u32) -> f64 {
        let (f, l) = match order {
            1 => (&self.frozen.c1, &self.live.c1),
            2 => (&self.frozen.c2, &self.live.c2),
            _ => (&self.frozen.c3, &self.live.c3),
        };
        get(f, code) + l.get(&code).copied().unwrap_or(0.0)
    }
    /// `-ln P(b_i | history)` with back-off.
    fn surprise(&self, b: &[u32], i: usize) -> f64 {
        let (p1, p2, p3) = self.probabilities(b, i);
        -p3.or(p2).unwrap_or(p1).ln()
    }
    /// `P(b_i)`, `P(b_i | b_{i-1})` and `P(b_i | b_{i-2}, b_{i-1})` (each backed off to the
    /// order below; None where the row has no such history).
    fn probabilities(&self, b: &[u32], i: usize) -> (f64, Option<f64>, Option<f64>) {
        let k = self.k;
        let n = f64::from(self.frozen.n) + self.live.n;
        let p1 = (self.c(1, b[i]) + 0.5) / (n + 0.5 * f64::from(k));
        if i == 0 {
            return (p1, None, None);
        }
        let prev = self.c(1, b[i - 1]);
        let p2 = (self.c(2, b[i - 1] * k + b[i]) + KAPPA * p1) / (prev + KAPPA);
        if i == 1 {
            return (p1, Some(p2), None);
        }
        let ctx = self.c(2, b[i - 2] * k + b[i - 1]);
        let p3 = (self.c(3, (b[i - 2] * k + b[i - 1]) * k + b[i]) + KAPPA * p2) / (ctx + KAPPA);
        (p1, Some(p2), Some(p3))
    }
}

fn freeze(m: &HashMap<u32, f64>) -> Vec<(u32, u32)> {
    let mut v: Vec<(u32, u32)> = m.iter().map(|(&k, &c)| (k, c.round() as u32)).collect();
    v.sort_unstable();
    v
}

fn quantile_edges(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..BINS)
        .map(|q| {
            let x = q as f64 / BINS as f64 * (v.len() - 1) as f64;
            let (a, f) = (x.floor() as usize, x - x.floor());
            v[a] + f * (v[(a + 1).min(v.len() - 1)] - v[a])
        })
        .collect();
    edges.dedup();
    edges
}

/// The values the symbols are read from: each value less the drift of its trailing 1-day
/// median (the stored feature) from `med`.
fn detrended(s: &SeriesRows, i: usize, med: f64) -> f64 {
    let m = s.features.get(i).and_then(|f| f[crate::features::col::MEDIAN]).filter(|m| m.is_finite());
    s.value[i] - m.map_or(0.0, |m| m - med)
}

fn entity_from(id: &str, edges: Vec<f64>, lo: f64, hi: f64, values: &[f64]) -> SeqEntity {
    let mut e = SeqEntity { id: id.to_string(), edges, lo, hi, c1: Vec::new(), c2: Vec::new(), c3: Vec::new(), n: 0, s_ref: 0.0, med: 0.0, trained_from: i64::MAX, trained_to: i64::MIN };
    let k = nsym(&e);
    let b: Vec<u32> = values.iter().map(|&v| symbol(&e, v)).collect();
    let mut c = Counts::default();
    for i in 0..b.len() {
        c.add(k, &b, i, 1.0);
    }
    e.c1 = freeze(&c.c1);
    e.c2 = freeze(&c.c2);
    e.c3 = freeze(&c.c3);
    e.n = c.n.round() as u32;
    e
}

/// One row as the family saw it while walking a series.
#[derive(Clone)]
struct Step {
    /// `P(bin)`, `P(bin | previous)`, `P(bin | two before)` (see [`View::probabilities`]).
    p: (f64, Option<f64>, Option<f64>),
    surprise: f64,
    reference: f64,
    resting: bool,
    ln_p: f64,
    /// Symbols of the row two before, the previous row and the row.
    bins: [u32; 3],
}

/// One term of a sequence explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeqInput {
    /// `sequence_bin`, `sequence_previous` or `sequence_two_before`.
    pub input: &'static str,
    /// Which value range (bin) the row had, and the ranges of its context.
    pub label: String,
    /// The bin (symbol) index: 0 below the training range, `bins + 1` above it; NaN where the
    /// row has no such history.
    pub value: f64,
    /// Nats: `-ln P(bin)` for the row's bin; what conditioning on the previous bin adds
    /// (`ln P(bin) - ln P(bin | previous)`); what the bin two before adds (`ln P(bin |
    /// previous) - ln P(bin | two before, previous)`). They add up to the surprise; a negative
    /// term is context that made the row more expected.
    pub attribution: f64,
}

/// Why the sequence family scored a row as it did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeqExplanation {
    /// `-ln P(bin | two bins before)` in nats (the sum of the inputs' attributions).
    pub surprise: f64,
    /// The surprise to beat: the larger of the entity's largest held-out surprise and the
    /// largest of the look-back window (only an increase over the recent maximum counts).
    pub reference: f64,
    /// `seq_margin`: the row alarms when `surprise > reference + margin`.
    pub margin: f64,
    /// Inside the rest period after an alarm (scored 0).
    pub resting: bool,
    /// The family's tail probability on the detector's scale (`ln p`, 0 for ordinary rows).
    pub ln_p: f64,
    pub inputs: Vec<SeqInput>,
}

fn fmt(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The value range of symbol `b` as text.
fn range_text(e: &SeqEntity, b: u32) -> String {
    let k = nsym(e);
    let margin = 0.05 * (e.hi - e.lo);
    if b == 0 {
        format!("bin 0 of {k} (below the training range, under {})", fmt(e.lo - margin))
    } else if b == k - 1 {
        format!("bin {b} of {k} (above the training range, over {})", fmt(e.hi + margin))
    } else {
        let j = (b - 1) as usize;
        let lo = if j == 0 { e.lo } else { e.edges[j - 1] };
        let hi = if j < e.edges.len() { e.edges[j] } else { e.hi };
        format!("bin {b} of {k} ({} to {})", fmt(lo), fmt(hi))
    }
}

/// The value range of symbol `b`: (low, high), None where open (below or above the training
/// range).
fn bin_bounds(e: &SeqEntity, b: u32) -> (Option<f64>, Option<f64>) {
    let k = nsym(e);
    let margin = 0.05 * (e.hi - e.lo);
    if b == 0 {
        (None, Some(e.lo - margin))
    } else if b >= k - 1 {
        (Some(e.hi + margin), None)
    } else {
        let j = (b - 1) as usize;
        (Some(if j == 0 { e.lo } else { e.edges[j - 1] }), Some(if j < e.edges.len() { e.edges[j] } else { e.hi }))
    }
}

impl SeqModel {
    /// Fits the family on each series' rows where `keep` is true (rows outside known-anomaly
    /// windows); entities with fewer than [`MIN_ROWS`] such rows get none (they score with
    /// the calibrated detector alone).
    pub(crate) fn fit(series: &[SeriesRows], keep: impl Fn(&SeriesRows, usize) -> bool) -> SeqModel {
        let mut entities = Vec::new();
        for s in series {
            let raw: Vec<f64> = (0..s.len()).filter(|&i| keep(s, i)).map(|i| s.value[i]).collect();
            if raw.len() < MIN_ROWS {
                continue;
            }
            let mut sorted = raw.clone();
            sorted.sort_by(f64::total_cmp);
            let med = sorted[sorted.len() / 2];
            let v: Vec<f64> = (0..s.len()).filter(|&i| keep(s, i)).map(|i| detrended(s, i, med)).collect();
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let edges = quantile_edges(&v);
            // held-out reference: each half scored by counts of the other
            let half = v.len() / 2;
            let mut s_ref = 0.0f64;
            for (learn, test) in [(&v[..half], &v[half..]), (&v[half..], &v[..half])] {
                let m = entity_from(&s.entity_id, edges.clone(), lo, hi, learn);
                let view = View { k: nsym(&m), frozen: &m, live: Counts::default() };
                let b: Vec<u32> = test.iter().map(|&x| symbol(&m, x)).collect();
                for i in 2..b.len() {
                    s_ref = s_ref.max(view.surprise(&b, i));
                }
            }
            let mut e = entity_from(&s.entity_id, edges, lo, hi, &v);
            e.s_ref = s_ref;
            e.med = med;
            let kept: Vec<i64> = (0..s.len()).filter(|&i| keep(s, i)).map(|i| s.ts[i]).collect();
            (e.trained_from, e.trained_to) = (kept[0], kept[kept.len() - 1]);
            entities.push(e);
        }
        entities.sort_by(|a, b| a.id.cmp(&b.id));
        SeqModel { entities }
    }

    pub(crate) fn valid(&self) -> bool {
        self.entities.windows(2).all(|p| p[0].id < p[1].id)
            && self.entities.iter().all(|e| {
                e.edges.len() < BINS
                    && e.edges.windows(2).all(|p| p[0] < p[1])
                    && e.edges.iter().chain([&e.lo, &e.hi, &e.s_ref, &e.med]).all(|x| x.is_finite())
                    && e.lo <= e.hi
                    && e.s_ref >= 0.0
                    && (e.trained_from <= e.trained_to || (e.trained_from, e.trained_to) == (i64::MAX, i64::MIN))
                    && [&e.c1, &e.c2, &e.c3].iter().all(|c| c.windows(2).all(|p| p[0].0 < p[1].0) && c.iter().all(|x| x.0 < nsym(e).pow(3)))
            })
    }

    fn entity(&self, id: &str) -> Option<&SeqEntity> {
        self.entities.binary_search_by(|e| e.id.as_str().cmp(id)).ok().map(|i| &self.entities[i])
    }

    /// Row `i` of `s` as [`apply`](Self::apply) scores it (rows before it are look-back), with
    /// what made it unusual: its bin and the two before, the chain of probabilities, the
    /// reference it had to exceed and whether the family was resting. None when the entity
    /// has no sequence model or `i` is out of range.
    pub(crate) fn explain(&self, s: &SeriesRows, i: usize, threshold: f64, margin: f64, rest_us: i64, window_us: i64) -> Option<SeqExplanation> {
        if i >= s.len() {
            return None;
        }
        let e = self.entity(&s.entity_id)?;
        let mut found = None;
        let sub = SeriesRows {
            entity_id: s.entity_id.clone(),
            ts: s.ts[..=i].to_vec(),
            value: s.value[..=i].to_vec(),
            features: s.features[..=i].to_vec(),
            aux: s.aux.as_ref().map(|a| a[..=i].to_vec()),
        };
        self.walk(&sub, threshold, margin, rest_us, window_us, |j, step| {
            if j == i {
                found = Some(step.clone());
            }
        })?;
        let step = found?;
        let bin = |k: usize| (k <= i).then(|| step.bins[2 - (i - k).min(2)]);
        let value = detrended(&sub, i, e.med);
        let (p1, p2, p3) = step.p;
        let chain = [
            ("sequence_bin", Some(i), -p1.ln()),
            ("sequence_previous", i.checked_sub(1), p2.map_or(0.0, |p2| p1.ln() - p2.ln())),
            ("sequence_two_before", i.checked_sub(2), match (p2, p3) {
                (Some(p2), Some(p3)) => p2.ln() - p3.ln(),
                _ => 0.0,
            }),
        ];
        let inputs = chain
            .into_iter()
            .map(|(name, row, attribution)| {
                let sym = row.and_then(bin);
                let label = match (name, sym) {
                    ("sequence_bin", Some(b)) => format!("sequence: the row's value {} is in {} (rarity of that range)", fmt(value), range_text(e, b)),
                    ("sequence_previous", Some(b)) => format!("sequence: after a value in {} (what the previous value adds)", range_text(e, b)),
                    ("sequence_two_before", Some(b)) => format!("sequence: two rows before, a value in {} (what the value before that adds)", range_text(e, b)),
                    _ => "sequence: no row this far back".to_string(),
                };
                SeqInput { input: name, label, value: sym.map_or(f64::NAN, f64::from), attribution }
            })
            .collect();
        Some(SeqExplanation {
            surprise: step.surprise,
            reference: step.reference,
            margin,
            resting: step.resting,
            ln_p: step.ln_p,
            inputs,
        })
    }

    /// Walks every row of `s` in order (the live window learning as it goes), calling `visit`
    /// with each row's index and its [`Step`].
    fn walk(&self, s: &SeriesRows, threshold: f64, margin: f64, rest_us: i64, window_us: i64, mut visit: impl FnMut(usize, &Step)) -> Option<()> {
        let e = self.entity(&s.entity_id)?;
        let k = nsym(e);
        let b: Vec<u32> = (0..s.len()).map(|i| symbol(e, detrended(s, i, e.med))).collect();
        let mut view = View { k, frozen: e, live: Counts::default() };
        let base = (1.0 - threshold).max(1e-300).ln();
        let mut resting_until = i64::MIN;
        let mut left = 0usize;
        // surprises of the live window's rows, decreasing (a monotone queue of (row, surprise))
        let mut recent: std::collections::VecDeque<(usize, f64)> = std::collections::VecDeque::new();
        for i in 0..s.len() {
            // the live window: rows in (ts_i - window, ts_i)
            while left < i && s.ts[left] <= s.ts[i].saturating_sub(window_us) {
                if !e.trained(s.ts[left]) {
                    view.live.add(k, &b, left, -1.0);
                }
                left += 1;
            }
            while recent.front().is_some_and(|&(j, _)| j < left) {
                recent.pop_front();
            }
            let p = view.probabilities(&b, i);
            let sur = -p.2.or(p.1).unwrap_or(p.0).ln();
            // only an increase over the recent maximum counts
            let reference = recent.front().map_or(e.s_ref, |&(_, m)| m.max(e.s_ref));
            let excess = sur - reference - margin;
            while recent.back().is_some_and(|&(_, m)| m <= sur) {
                recent.pop_back();
            }
            recent.push_back((i, sur));
            let resting = s.ts[i] <= resting_until;
            let ln_p = if resting { 0.0 } else { (base - excess).min(0.0) };
            if ln_p <= base && !resting {
                resting_until = s.ts[i].saturating_add(rest_us);
            }
            let bins = [if i >= 2 { b[i - 2] } else { 0 }, if i >= 1 { b[i - 1] } else { 0 }, b[i]];
            visit(i, &Step { p, surprise: sur, reference, resting, ln_p, bins });
            // a training row is already in the frozen counts: counting it again as look-back
            // would double its weight while the look-back window overlaps the training span
            // (the first scored day, or every training row when scoring from the first row)
            if !e.trained(s.ts[i]) {
                view.live.add(k, &b, i, 1.0);
            }
        }
        Some(())
    }

    /// Combines the family's tail probabilities into scored rows: `Sequence` replaces the
    /// calibrated score, `Both` keeps the larger; a row at or above the close level names the
    /// family in its explanation, with its bins ([`SeqContext`]). An entity without a
    /// sequence model (a new entity) falls back to the calibrated family: its rows are left
    /// as the calibrated detector scored them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply(&self, family: Family, s: &SeriesRows, from: usize, rows: &mut [Scored], threshold: f64, close: f64, margin: f64, rest_us: i64, window_us: i64) {
        let mut steps: Vec<(f64, [u32; 3])> = Vec::with_capacity(s.len().saturating_sub(from));
        let known = self
            .walk(s, threshold, margin, rest_us, window_us, |i, step| {
                if i >= from {
                    steps.push((step.ln_p, step.bins));
                }
            })
            .is_some();
        if !known {
            // no sequence model for the entity (it joined after training, or had too few
            // training rows): its rows keep the calibrated detector's scores, a warm-up or
            // borrowed model's for a new entity (`warm.rs`), whatever the family; scoring it
            // 0 under `sequence` left a new entity unwatched until the next training
            return;
        }
        let e = self.entity(&s.entity_id);
        for (k, r) in rows.iter_mut().enumerate() {
            let (score, nl) = match steps.get(k) {
                Some(&(l, _)) if l < 0.0 => (super::score::score_from_ln_p(l), -l / std::f64::consts::LN_10),
                _ => (0.0, 0.0),
            };
            let seq_wins = score > r.score || family == Family::Sequence;
            if family == Family::Sequence || score > r.score {
                r.score = score;
                r.neg_log10_p = nl;
                r.is_anomaly = score >= threshold;
            }
            if r.score >= close {
                if seq_wins {
                    r.top = vec![(SEQ_LABEL.to_string(), 1.0)];
                } else if !r.top.iter().any(|t| t.0 == SEQ_LABEL) {
                    r.top.push((SEQ_LABEL.to_string(), 0.0));
                }
                if let (Some(e), Some((_, bins))) = (e, steps.get(k)) {
                    r.sequence = Some(context(e, s, from + k, *bins));
                }
            } else {
                r.top.clear();
            }
        }
    }
}

/// The bins of row `i` (`bins`: two before, previous, the row) as an alert explanation
/// shows them.
fn context(e: &SeqEntity, s: &SeriesRows, i: usize, bins: [u32; 3]) -> SeqContext {
    let bin = |b: u32| {
        let (low, high) = bin_bounds(e, b);
        SeqBin { bin: b, range: range_text(e, b), low, high }
    };
    SeqContext {
        value: detrended(s, i, e.med),
        bin: bin(bins[2]),
        previous: (i >= 1).then(|| bin(bins[1])),
        two_before: (i >= 2).then(|| bin(bins[0])),
    }
}

/// One bin of a row's context: its index (0 below the training range, `bins + 1` above it),
/// its range as text (as `ml_explain` labels it) and its bounds (None: open).
#[derive(Clone, Debug, PartialEq)]
pub struct SeqBin {
    pub bin: u32,
    pub range: String,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// The sequence family's view of a row it is named for in an explanation: the row's value
/// as the family read it (less the drift of its trailing 1-day median), its bin and the bins
/// of the two rows before it (None where the series has no such row).
#[derive(Clone, Debug, PartialEq)]
pub struct SeqContext {
    pub value: f64,
    pub bin: SeqBin,
    pub previous: Option<SeqBin>,
    pub two_before: Option<SeqBin>,
}

impl SeqContext {
    /// The keys added to the `sequence_context` element of an explanation:
    /// `sequence_bin` (`{"bin", "range", "low", "high", "value"}`), `sequence_previous` and
    /// `sequence_two_before` (`{"bin", "range", "low", "high"}`, null without such a row).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let num = |v: Option<f64>| v.filter(|x| x.is_finite()).map(|x| (x * 1e6).round() / 1e6);
        let b = |x: &SeqBin| serde_json::json!({"bin": x.bin, "range": x.range, "low": num(x.low), "high": num(x.high)});
        let mut m = serde_json::Map::new();
        let mut row = b(&self.bin);
        row["value"] = serde_json::json!(num(Some(self.value)));
        m.insert("sequence_bin".into(), row);
        m.insert("sequence_previous".into(), self.previous.as_ref().map_or(serde_json::Value::Null, b));
        m.insert("sequence_two_before".into(), self.two_before.as_ref().map_or(serde_json::Value::Null, b));
        m
    }
}
