//! Scoring rows with a fitted [`Detector`], explanations, and the feedback that makes an alert
//! marked false positive stop alerting.

use std::borrow::Cow;
use std::collections::HashMap;


use super::derive::{derive, features, reach_us, Row};
use super::fit::{check_series, forest_matrix, forest_pairs, Detector, EntityModel};
use super::mathx::{calendar, Cal};
use super::{EpisodeParams, MetricKind, Scored, SeriesRows, Window};
use crate::error::CoreResult;

/// Where the noise model that scored a row came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSource {
    /// The entity's own, fitted at training.
    Trained,
    /// A warm-up model fitted on the entity's look-back at scoring time (it joined after
    /// training).
    WarmUp,
    /// Borrowed from the metric type's trained entities, with the entity's own level from its
    /// first look-back rows (fewer than a warm-up model needs).
    Borrowed,
}

impl ModelSource {
    /// Stable name (`trained`, `warm_up`, `borrowed`).
    pub fn name(self) -> &'static str {
        match self {
            ModelSource::Trained => "trained",
            ModelSource::WarmUp => "warm_up",
            ModelSource::Borrowed => "borrowed",
        }
    }
}

/// Row-level survival a feature of a false-positive pattern is scaled down to: a value that
/// about one normal row in a thousand reaches, far from alerting on its own.
const FEEDBACK_ROW_P: f64 = 1e-3;
/// Rounds of feedback scaling before giving up on a window (each tightens the target).
const FEEDBACK_ROUNDS: usize = 8;

impl Detector {
    /// The metric kind the model was fitted for.
    pub fn kind(&self) -> MetricKind {
        self.kind
    }
    /// Score at or above which a row is anomalous (and an episode opens).
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
    /// Score an open episode must keep to stay open (hysteresis).
    pub fn close_level(&self) -> f64 {
        self.close
    }
    /// Number of entities with their own noise model.
    pub fn n_entities(&self) -> usize {
        self.entities.len()
    }
    /// The recognised shape (noise model) of `entity_id`, e.g. `counts`, `event_valued`,
    /// `cumulative_counter`; None for an entity the model does not know.
    pub fn shape_of(&self, entity_id: &str) -> Option<&'static str> {
        self.entity(entity_id).map(|e| e.shape.name(self.kind))
    }
    /// Whether `entity_id` has its own noise model (unknown entities score 0 until retrained).
    pub fn knows(&self, entity_id: &str) -> bool {
        self.entity(entity_id).is_some()
    }
    /// Names of the derived features, in attribution order.
    pub fn feature_names(&self) -> Vec<&'static str> {
        features(self.kind).iter().map(|f| f.name).collect()
    }
    /// How far before the first row to score the caller must supply rows: 24 hours; for counts
    /// twice `adapt_hours` when that is longer (48 hours by default).
    pub fn lookback_us(&self) -> i64 {
        self.params.lookback_us(self.kind)
    }
    /// The episode parameters the model was fitted with (threshold, close level, gaps).
    pub fn episode_params(&self) -> EpisodeParams {
        EpisodeParams {
            threshold: self.threshold,
            close: self.close,
            max_gap_us: (self.params.max_gap_minutes * 60e6) as i64,
            suppress_us: (self.params.suppress_hours * 3600e6) as i64,
            reversal_us: (self.params.reversal_hours * 3600e6) as i64,
        }
    }
    /// The parameters the model was fitted with.
    pub fn params(&self) -> &super::DetectorParams {
        &self.params
    }

    /// Where the calibration puts its cut-offs, for reports: per derived feature the value
    /// one normal row in 1e3 / 1e5 reaches, the forest score one row in 1e3 reaches, and the
    /// row surprise at which a day has p = 0.01 and the alert threshold.
    pub fn calibration_summary(&self) -> serde_json::Value {
        let q = |t: &super::calib::Tail, p: f64| t.inverse(p.ln());
        let feats: Vec<serde_json::Value> = features(self.kind)
            .iter()
            .zip(&self.feature_tails)
            .map(|(f, t)| serde_json::json!({"feature": f.name, "row_p_1e-3": q(t, 1e-3), "row_p_1e-5": q(t, 1e-5)}))
            .collect();
        serde_json::json!({
            "features": feats,
            "forest_row_p_1e-3": self.forest_tail.as_ref().map(|t| q(t, 1e-3)),
            "day_surprise_p_0.01": q(&self.day_tail, 0.01),
            "day_surprise_at_threshold": q(&self.day_tail, (1.0 - self.threshold).max(1e-300)),
        })
    }

    pub(crate) fn entity(&self, id: &str) -> Option<&EntityModel> {
        self.entities.binary_search_by(|e| e.id.as_str().cmp(id)).ok().map(|i| &self.entities[i])
    }

    /// (row surprise, feature-path surprise, forest-path surprise) of derived features `z`
    /// with forest score `fscore`.
    pub(crate) fn row_surprise(&self, z: &[f64], fscore: f64) -> (f64, f64, f64) {
        let ux = self.feature_surprises(z).fold(0.0, f64::max);
        let uf = self.forest_tail.as_ref().map_or(0.0, |t| t.surprise(fscore));
        (ux.max(uf), ux, uf)
    }

    fn feature_surprises<'a>(&'a self, z: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        z.iter().zip(&self.feature_tails).zip(features(self.kind)).map(|((v, t), f)| t.surprise(if f.signed { v.abs() } else { v.max(0.0) }))
    }

    /// Score of a row surprise: `1 - P(daily maximum >= t)` down to `p = 1e-12`; beyond, a
    /// mapping that stays strictly below 1 and strictly increasing in `-ln p` (see
    /// [`score_from_ln_p`]), so scores still rank rows far into the tail.
    pub(crate) fn score_of(&self, t: f64) -> f64 {
        score_from_ln_p(self.day_tail.ln_survival(t))
    }

    pub(super) fn forest_scores(&self, rows: &[Row]) -> Vec<f64> {
        let nf = features(self.kind).len();
        match &self.forest {
            Some(f) => {
                let pairs = forest_pairs(self.kind, self.params.interactions);
                let x = forest_matrix(rows.len(), |i| &rows[i].z[..nf], nf, &pairs);
                f.score(x.view()).to_vec()
            }
            None => vec![0.0; rows.len()],
        }
    }

    /// Derived rows `from..` of `s` under entity model `em`.
    pub(super) fn derived(&self, em: &EntityModel, s: &SeriesRows, from: usize) -> Vec<Row> {
        let owned;
        let s = if em.shape.transforms() {
            owned = em.shape.apply(s);
            &owned
        } else {
            s
        };
        let cals: Vec<Cal> = (0..s.len()).map(|i| calendar(s.ts[i], &s.features[i])).collect();
        let mut rows = Vec::with_capacity(s.len() - from);
        derive(&em.noise, &self.pooled, &em.scales, s, &cals, from, self.params.shift(), &mut rows);
        super::inputs::mask_rows(&mut rows, &self.used_inputs());
        rows
    }

    /// Scores rows `first..` of `s`; `s[..first]` is look-back (only the last
    /// [`lookback_us`](Self::lookback_us) of it is read). Rows of an entity the model does not
    /// know score 0 with no expected value. Errors only on a malformed series.
    pub fn score_series(&self, s: &SeriesRows, first: usize) -> CoreResult<Vec<Scored>> {
        check_series(s)?;
        if first >= s.len() {
            return Ok(Vec::new());
        }
        let (view, from) = self.lookback_view(s, first, s.len());
        let view = view.as_ref();
        // an entity the model was not trained on: a warm-up model from its look-back rows, or
        // before it has enough of them (counts) one borrowed from the type's trained entities
        // (`warm.rs`); with too little look-back its rows score 0 with no expected value
        let Some((em, penalty, source)) = self.entity_for(view, from) else {
            let unknown = |i: usize| Scored { ts: s.ts[i], value: s.value[i], score: 0.0, is_anomaly: false, expected: None, direction: 0, top: Vec::new(), neg_log10_p: 0.0, sequence: None, warm_up: false, noise_model: None };
            return Ok((first..s.len()).map(unknown).collect());
        };
        let is_warm = source != ModelSource::Trained;
        let em = em.as_ref();
        let rows = self.derived(em, view, from);
        let fs = self.forest_scores(&rows);
        Ok(self.scored_rows(view, from, em, penalty, is_warm, &rows, &fs))
    }

    /// Each input's calibrated row surprise (`-ln` of its pooled held-out tail, in nats) for
    /// rows `first..` of `s`, as [`score_series`](Self::score_series) reads them: one vector
    /// per row, the derived inputs in column order (a left-out input 0) and last the forest's
    /// (0 without a forest). A row's largest element is the surprise its score is taken from
    /// (`1 - P(daily maximum >= it)`, before a warm-up model's penalty); row tails say one
    /// normal row in `e^u` reaches `u`, so comparing these with the rows of a scored period
    /// shows how each input's held-out calibration carries over to the final model (a
    /// diagnostic: `bash bench/quality.sh --tails`). Empty when no model scores the entity.
    pub fn input_surprises(&self, s: &SeriesRows, first: usize) -> CoreResult<Vec<Vec<f64>>> {
        check_series(s)?;
        if first >= s.len() {
            return Ok(Vec::new());
        }
        let (view, from) = self.lookback_view(s, first, s.len());
        let Some((em, _, _)) = self.entity_for(&view, from) else { return Ok(Vec::new()) };
        let rows = self.derived(em.as_ref(), &view, from);
        let fs = self.forest_scores(&rows);
        let nf = features(self.kind).len();
        Ok(rows
            .iter()
            .zip(&fs)
            .map(|(r, &f)| self.feature_surprises(&r.z[..nf]).chain([self.forest_tail.as_ref().map_or(0.0, |t| t.surprise(f))]).collect())
            .collect())
    }

    /// Rows `..end` of `s` from the first row the model reads as look-back for rows
    /// `first..end` (only the last [`lookback_us`](Self::lookback_us) before `s[first]`; copied
    /// only when that cuts rows), and where `first` is in them. `first < end <= s.len()`.
    pub(super) fn lookback_view<'a>(&self, s: &'a SeriesRows, first: usize, end: usize) -> (Cow<'a, SeriesRows>, usize) {
        let lb = s.ts[..first].partition_point(|&t| t <= s.ts[first].saturating_sub(self.lookback_us()));
        if lb == 0 && end == s.len() {
            return (Cow::Borrowed(s), first);
        }
        let cut = SeriesRows {
            entity_id: s.entity_id.clone(),
            ts: s.ts[lb..end].to_vec(),
            value: s.value[lb..end].to_vec(),
            features: s.features[lb..end].to_vec(),
            aux: s.aux.as_ref().map(|a| a[lb..end].to_vec()),
        };
        (Cow::Owned(cut), first - lb)
    }

    /// The scored rows `from..` of `view` from their derived `rows` and forest scores `fs`
    /// under entity model `em` (tail probabilities raised by `penalty`; `is_warm`: not the
    /// entity's trained model): the part of [`score_series`](Self::score_series) after the
    /// derivation.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scored_rows(&self, view: &SeriesRows, from: usize, em: &EntityModel, penalty: f64, is_warm: bool, rows: &[Row], fs: &[f64]) -> Vec<Scored> {
        let nf = features(self.kind).len();
        let noise_model = Some(em.shape.name(self.kind));
        let out = rows
            .iter()
            .zip(fs)
            .enumerate()
            .map(|(k, (r, &f))| {
                let i = from + k;
                let (t, ux, uf) = self.row_surprise(&r.z[..nf], f);
                let ln_p = (self.day_tail.ln_survival(t) + penalty).min(0.0);
                let score = score_from_ln_p(ln_p);
                let expected = r.expected.is_finite().then_some(r.expected);
                let value = view.value[i];
                let direction = expected.map_or(0, |e| if value > e { 1 } else if value < e { -1 } else { 0 });
                let top = if score >= self.close { self.explain(&r.z[..nf], ux, uf) } else { Vec::new() };
                Scored { ts: view.ts[i], value, score, is_anomaly: score >= self.threshold, expected, direction, top, neg_log10_p: -ln_p / std::f64::consts::LN_10, sequence: None, warm_up: is_warm, noise_model }
            })
            .collect();
        let mut out: Vec<Scored> = out;
        if let Some(sq) = &self.seq {
            let p = &self.params;
            sq.apply(p.detector_family, view, from, &mut out, self.threshold, self.close, p.seq_margin, (p.seq_rest_hours * 3600e6) as i64, self.lookback_us());
        }
        out
    }

    /// The noise model rows `from..` of `view` are scored with (rows before `from` are
    /// look-back): the entity's own, else a warm-up model fitted on its look-back, else (a
    /// count type, a few look-back rows) one borrowed from the type (`warm.rs`); with the `ln`
    /// of the factor its tail probabilities are raised by and where it came from. None when
    /// the model does not know the entity and its look-back is too short.
    pub(crate) fn entity_for<'a>(&'a self, view: &SeriesRows, from: usize) -> Option<(Cow<'a, EntityModel>, f64, ModelSource)> {
        if let Some(em) = self.entity(&view.entity_id) {
            return Some((Cow::Borrowed(em), 0.0, ModelSource::Trained));
        }
        let (em, source) = match self.warm_entity(view, from) {
            Some(w) => (w, ModelSource::WarmUp),
            None => (self.borrowed_entity(view, from)?, ModelSource::Borrowed),
        };
        Some((Cow::Owned(em), self.warm_penalty(view, from), source))
    }

    /// Top 3 (label, share): exact Shapley values of the row surprise (`explain.rs`). `ux`
    /// and `uf` (the two paths' surprises) are implied by them and no longer weighed here.
    fn explain(&self, z: &[f64], _ux: f64, _uf: f64) -> Vec<(String, f64)> {
        self.top_shares(z)
    }
}

/// `ln p` below which [`score_from_ln_p`] leaves `1 - p` (p = 1e-12): `1 - p` then has about
/// four significant digits left in an f64 and would reach exactly 1.0 near p = 1e-16.
const LN_P_FAR: f64 = -27.631_021_115_928_547;

/// The score of tail probability `exp(ln_p)`: `1 - p` while `p >= 1e-12`; beyond,
/// `1 - 1e-12 / (1 + ln(L / L0))` with `L = -ln p`, `L0 = -ln 1e-12`: continuous at the
/// switch, strictly increasing in `L` and below 1 for every finite `L` (the step between
/// `L` and `10 L` stays above the f64 resolution near 1 up to `L` around 1e40), so a score
/// never saturates at 1.0 and more unusual rows keep ranking higher.
pub(crate) fn score_from_ln_p(ln_p: f64) -> f64 {
    if ln_p.is_nan() {
        return 0.0;
    }
    if ln_p >= LN_P_FAR {
        return 1.0 - ln_p.min(0.0).exp();
    }
    let l = -ln_p;
    1.0 - 1e-12 / (1.0 + (l / -LN_P_FAR).ln())
}

/// Scales the features of each entity with a `normal` window so that the window's rows score
/// below the close level: each feature whose largest value in the window, extended by the
/// feature's reach (a trailing sum still holds the marked pattern for its horizon after the
/// window ends, see [`reach_us`]), exceeds what about one normal row in a thousand reaches is
/// divided down to that, tightening each round until the window and what it leaves in the
/// trailing sums are quiet. A later occurrence of the same pattern then stays quiet, while a
/// larger deviation, or one in another feature, still alerts. Returns the windows applied.
///
/// Type-wide: when a pattern is marked on at least [`TYPE_FEEDBACK_ENTITIES`] entities (and
/// at least 1 % of the type's entities), a feature that feedback had to scale down on most of
/// them is scaled down on every other entity of the type too, by the lower median of the
/// marked entities' factors (1 where the pattern stayed below the target in that input, so
/// noise hiding it on one marked entity no longer keeps it alerting everywhere else): the same false pattern marked
/// on several entities is a property of the metric type (a delivery day, a counting
/// routine), not of one entity. One careless mark cannot silence a type, and a deviation
/// larger than the marked ones still alerts. Returns the windows applied and, per feature
/// quieted type-wide, (its name, the factor, the entities it was marked on).
pub(crate) fn apply_feedback(det: &mut Detector, series: &[SeriesRows], normal: &[Window]) -> (usize, Vec<(String, f64, usize)>) {
    let by_id: HashMap<&str, &SeriesRows> = series.iter().map(|s| (s.entity_id.as_str(), s)).collect();
    let nf = features(det.kind).len();
    let before: Vec<Vec<f64>> = det.entities.iter().map(|e| e.scales.clone()).collect();
    let mut marked: std::collections::BTreeSet<usize> = Default::default();
    let mut applied = 0;
    let reach: Vec<i64> = (0..nf).map(|j| reach_us(det.kind, j)).collect();
    let longest = reach.iter().copied().max().unwrap_or(0);
    for w in normal {
        let (Some(s), Ok(e)) = (by_id.get(w.entity_id.as_str()), det.entities.binary_search_by(|m| m.id.as_str().cmp(&w.entity_id))) else { continue };
        if !(0..s.len()).any(|i| w.covers(s.ts[i], 0)) {
            continue;
        }
        // the window's rows, and after it the rows whose trailing sums still hold it: each
        // feature is judged on the rows within its own reach of the window (a 4-hour total
        // carries a marked burst for 4 hours past it, the row's own deviation not at all)
        let idx: Vec<usize> = (0..s.len()).filter(|&i| w.covers(s.ts[i], longest)).collect();
        let carries = |i: usize, j: usize| w.covers(s.ts[i], reach[j]);
        applied += 1;
        marked.insert(e);
        let info = features(det.kind);
        for round in 0..FEEDBACK_ROUNDS {
            let rows = det.derived(&det.entities[e], s, 0);
            let picked: Vec<Row> = idx
                .iter()
                .map(|&i| {
                    let mut r = rows[i];
                    (0..nf).filter(|&j| !carries(i, j)).for_each(|j| r.z[j] = 0.0);
                    r
                })
                .collect();
            let fs = det.forest_scores(&picked);
            let worst = picked.iter().zip(&fs).map(|(r, &f)| det.score_of(det.row_surprise(&r.z[..nf], f).0)).fold(0.0, f64::max);
            if worst < det.close {
                break;
            }
            let tighten = 0.8f64.powi(round as i32);
            let mut changed = false;
            #[allow(clippy::needless_range_loop)] // the index also reads parallel arrays
            for j in 0..nf {
                let m = picked.iter().map(|r| if info[j].signed { r.z[j].abs() } else { r.z[j].max(0.0) }).fold(0.0, f64::max);
                let target = det.feature_tails[j].inverse(FEEDBACK_ROW_P.ln()) * tighten;
                if m > target && target > 0.0 {
                    det.entities[e].scales[j] *= m / target;
                    changed = true;
                }
            }
            if !changed {
                // the forest alone flags the combination: shrink every active feature
                for j in 0..nf {
                    if picked.iter().any(|r| r.z[j] != 0.0) {
                        det.entities[e].scales[j] *= 1.25;
                    }
                }
            }
        }
    }
    // the borrowed template holds the entities' divisors: fitted again on first use
    det.borrow = Default::default();
    let need = TYPE_FEEDBACK_ENTITIES.max(det.entities.len().div_ceil(100));
    let mut type_wide = Vec::new();
    if marked.len() >= need {
        let info = features(det.kind);
        for j in 0..nf {
            // every marked entity votes, 1 where the pattern stayed below the target there
            // (its noise hid it in that input): the lower median is above 1 only when most
            // marked entities needed the input quieted
            let mut factors: Vec<f64> = marked.iter().map(|&e| (det.entities[e].scales[j] / before[e][j]).max(1.0)).collect();
            let n = factors.len();
            // the lower median: with an even count the smaller middle factor (conservative)
            factors.sort_by(f64::total_cmp);
            let factor = factors[(n - 1) / 2];
            if factor <= 1.0 + 1e-9 {
                continue;
            }
            for (e, m) in det.entities.iter_mut().enumerate() {
                if !marked.contains(&e) {
                    m.scales[j] *= factor;
                }
            }
            type_wide.push((info[j].name.to_string(), factor, marked.len()));
        }
    }
    (applied, type_wide)
}

/// Fewest entities a false-positive pattern must be marked on before it is quieted for the
/// whole metric type (see [`apply_feedback`]).
pub(crate) const TYPE_FEEDBACK_ENTITIES: usize = 3;
