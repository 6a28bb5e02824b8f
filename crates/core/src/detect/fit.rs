//! [`Detector::fit`]: noise models per entity (2-fold for held-out residuals), per-entity
//! feature scales, pooled calibration, the isolation forest, the daily-maximum calibration
//! and the feedback from false positives.
//!
//! Over 400 lines on purpose: the fit's steps share one set of per-entity tables and are read in order; each step is a function of its own.

use std::collections::{HashMap, HashSet};

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::calib::Tail;
use super::derive::{derive_some, features, generic_base, Row, MAX_NF};
use super::mathx::{calendar, quantile, Cal, DAY_US};
use super::noise::{count_refine, duration_events, fit_count, is_duration_event, fit_duration, fit_generic, fit_level, pool_durations, Noise, Pooled};
use super::params::DetectorParams;
use super::shape::Shape;
use super::{MetricKind, SeriesRows, Window};
use crate::error::{CoreError, CoreResult};
use crate::forest::IsolationForest;
use crate::traits::Fit;

/// A training span of at least this many days (or [`WARM_UP_ROWS`] rows of one series) makes a
/// warm-up model when `min_train_days` is not reached yet.
pub(crate) const WARM_UP_DAYS: f64 = 1.0;
/// Rows, at any step (issue 12): the day is the time condition; the rows are a minimum of
/// evidence for a series without a calendar (a generic series sampled every minute has a
/// model after 100 minutes), and a short span's model is already held to its span in time:
/// its threshold asks `alert_p * (days / min_train_days)^2`. It binds only below 15-minute
/// steps (100 rows are 25 hours there) and no corpus member trains on less than a day.
pub(crate) const WARM_UP_ROWS: usize = 100;

/// Fewest usable training rows for an entity to get its own model. Rows, at any step: a
/// minimum of evidence for a noise model (the entity's span is accounted for in time by its
/// warm-up fit, `Prepared::fit_entity`); a new entity scored from its look-back also needs 6
/// hours of it for a count type (`warm::warm_ready`), where the borrowed model bridges them.
pub(crate) const MIN_ENTITY_ROWS: usize = 24;
/// A fold with fewer rows than this is not fitted on its own; held-out features of the other
/// fold then come from the all-days model (in-sample, slightly optimistic). Rows, at any step:
/// the folds are already cut in time (local days, or 3-hour blocks for a span under 4 days)
/// and this is the least evidence a fold's own model is fitted on (an entity of one day at
/// hourly steps has 12 rows a fold, just enough).
const MIN_FOLD_ROWS: usize = 12;
/// Derived features enter the forest clipped to +-this: beyond it every value is equally
/// isolated, and the forest needs finite input.
pub(crate) const FOREST_CLIP: f64 = 1e3;

/// The interactions of a detector's forest: the first `n` pairs of the kind's derived
/// features in their order (`selection::interaction_pairs` without scores).
pub(crate) fn forest_pairs(kind: MetricKind, n: usize) -> Vec<(usize, usize)> {
    let names: Vec<String> = features(kind).iter().map(|f| f.name.to_string()).collect();
    crate::selection::interaction_pairs(&names, &[], n)
}

/// The forest's input for rows `z(i)`: the clipped derived features, then the products of
/// `pairs` (computed here, on the fly, in fitting and scoring alike).
pub(crate) fn forest_matrix<'a>(n: usize, z: impl Fn(usize) -> &'a [f64], nf: usize, pairs: &[(usize, usize)]) -> Array2<f64> {
    Array2::from_shape_fn((n, nf + pairs.len()), |(i, j)| {
        let c = |k: usize| z(i)[k].clamp(-FOREST_CLIP, FOREST_CLIP);
        if j < nf {
            c(j)
        } else {
            let (a, b) = pairs[j - nf];
            c(a) * c(b)
        }
    })
}

/// Smallest tail scales (see `Tail::fit`): derived features are z-like, so beyond the
/// training data surprise grows by at most 4 nats per unit; forest scores live in (0, 1];
/// row surprises are in nats.
const MIN_BETA_Z: f64 = 0.25;
const MIN_BETA_FOREST: f64 = 0.005;
const MIN_BETA_NATS: f64 = 0.25;

/// One entity's part of the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct EntityModel {
    pub id: String,
    pub noise: Noise,
    /// How the entity's rows are presented to the noise model (recognised in training).
    pub shape: Shape,
    /// Divisor of each derived feature (>= 1): the held-out rescale times any allowance
    /// learned from false-positive feedback.
    pub scales: Vec<f64>,
}

/// A fitted detector for one metric type. Serialize with [`to_bytes`](Detector::to_bytes);
/// deserializing validates (see `bytes.rs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "super::bytes::DetectorWire")]
pub struct Detector {
    pub(crate) kind: MetricKind,
    pub(crate) params: DetectorParams,
    pub(crate) pooled: Pooled,
    /// Sorted by id.
    pub(crate) entities: Vec<EntityModel>,
    pub(crate) feature_tails: Vec<Tail>,
    pub(crate) forest: Option<IsolationForest>,
    pub(crate) forest_tail: Option<Tail>,
    /// Tail of the daily maximum row surprise.
    pub(crate) day_tail: Tail,
    pub(crate) threshold: f64,
    pub(crate) close: f64,
    /// The sequence family's per-entity models (`seq.rs`), when `params.detector_family` asks
    /// for it.
    pub(crate) seq: Option<super::seq::SeqModel>,
    /// The template new entities of a count type borrow (`warm.rs`), computed on first use.
    #[serde(skip)]
    pub(crate) borrow: super::warm::BorrowCache,
}

/// What fitting saw and decided (for `ml_training_logs.metrics`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FitReport {
    pub kind: &'static str,
    pub rows: usize,
    pub rows_excluded: usize,
    pub rows_normal: usize,
    pub entities: usize,
    pub entities_skipped: usize,
    pub train_days: f64,
    pub calibration_rows: usize,
    pub calibration_days: usize,
    pub threshold: f64,
    pub close: f64,
    /// Share of held-out calibration entity-days that would have raised an alert.
    pub held_out_alert_share: f64,
    pub normal_windows_applied: usize,
    /// Derived features a false-positive pattern marked on several entities quieted for the
    /// whole metric type: (feature, scale factor, entities marked).
    pub type_feedback: Vec<(String, f64, usize)>,
    pub features: Vec<&'static str>,
    /// The degree-2 interactions the forest saw (`a_x_b`), if any.
    pub interactions: Vec<String>,
    /// How many entities got each recognised shape (`shape.rs`): the noise model chosen.
    pub shapes: std::collections::BTreeMap<String, usize>,
    /// Training span / `min_train_days`, at most 1: below 1 the model is a warm-up model
    /// (weekly patterns not learned yet; the caller should say so) whose alert probability is
    /// scaled by `confidence^2` (wider bands: fewer alerts until a week has been seen).
    pub confidence: f64,
    pub warm_up: bool,
    /// The detector family used (`DetectorParams::detector_family` resolved for the kind).
    pub detector_family: &'static str,
}

impl FitReport {
    /// The report as a JSON object.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }
}

/// Checks the shape of a series: equal lengths, strictly increasing ts, finite values.
pub(crate) fn check_series(s: &SeriesRows) -> CoreResult<()> {
    let n = s.ts.len();
    let bad = |m: String| Err(CoreError::invalid_param("series", &s.entity_id, &m));
    if s.value.len() != n || s.features.len() != n || s.aux.as_ref().is_some_and(|a| a.len() != n) {
        return bad("ts, value, features and aux must have the same length".into());
    }
    if let Some(i) = (1..n).find(|&i| s.ts[i] <= s.ts[i - 1]) {
        return bad(format!("timestamps must be strictly increasing (row {i})"));
    }
    if let Some(i) = s.value.iter().position(|v| !v.is_finite()) {
        return bad(format!("value of row {i} is not finite"));
    }
    Ok(())
}

/// Fits one entity's noise model on `mask`.
/// `warm`: the training span is a warm-up span (see [`WARM_UP_DAYS`]).
/// `hour_prior`: `DetectorParams::count_hour_prior`; `refine`: the entity's
/// `noise::count_refine` (counts only); `skip_unrecorded`: `DetectorParams::stock_skip_unrecorded`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_noise(kind: MetricKind, s: &SeriesRows, cals: &[Cal], mask: &[bool], pooled: &Pooled, shape: Shape, warm: bool, hour_prior: bool, refine: bool, skip_unrecorded: bool) -> Noise {
    match kind {
        MetricKind::Count => fit_count(s, cals, mask, hour_prior, refine),
        MetricKind::Level => fit_level(s, cals, mask, if warm { 2 } else { 0 }, skip_unrecorded),
        MetricKind::Duration => fit_duration(s, mask, pooled, shape.events),
        MetricKind::Generic => fit_generic(s, cals, mask, &generic_base(s)),
    }
}

/// The fold of a row: folds alternate by local day; a `short` span (a few days) alternates
/// 3-hour blocks instead (each fold still sees every part of the day once the span reaches a day).
pub(crate) fn fold_of(c: &Cal, short: bool) -> i64 {
    if short { (c.day * 8 + (c.hour / 3.0).floor() as i64).rem_euclid(2) } else { c.day.rem_euclid(2) }
}

/// An entity's held-out derived rows (each row under the noise model fitted on the other fold)
/// and its per-feature divisors: the held-out 95th percentile of |z| over `cal_mask` rows at
/// 1.96 (at least 1). `all`: the model on all `fit_mask` rows, used for a fold too small to fit.
#[allow(clippy::too_many_arguments)]
pub(crate) fn held_out(kind: MetricKind, params: &DetectorParams, s: &SeriesRows, cals: &[Cal], fit_mask: &[bool], cal_mask: &[bool], pooled: &Pooled, shape: Shape, warm: bool, short: bool, refine: bool, all: &Noise, inputs: &[bool; MAX_NF]) -> (Vec<Row>, Vec<f64>) {
    let fold: Vec<i64> = cals.iter().map(|c| fold_of(c, short)).collect();
    let mut z = held_out_rows(kind, params, s, cals, fit_mask, pooled, shape, warm, refine, all, inputs, &fold);
    if short && kind == MetricKind::Count {
        // a count's own row and its run of repeats are judged against the profile at that
        // hour of the day: held out by 3-hour blocks, the other fold never saw that hour (a
        // span of a day has each hour once) and the residual measured the interpolation
        // across three unseen hours, which the model that scores (fitted on every hour) never
        // makes. Those two inputs are held out by alternate half-hours instead, so each fold
        // sees every hour; the horizons (1 h, 4 h, 24 h) keep the 3-hour blocks, a stand-in
        // for the day-to-day level a short span cannot show. A series without two rows per
        // hour (hourly) has no half-hours to alternate and keeps the blocks.
        if let Some(half) = half_hour_folds(cals, fit_mask) {
            let zh = held_out_rows(kind, params, s, cals, fit_mask, pooled, shape, warm, refine, all, inputs, &half);
            let own: Vec<usize> = features(kind).iter().enumerate().filter(|(_, f)| WITHIN_HOUR_INPUTS.contains(&f.name)).map(|(j, _)| j).collect();
            for (a, b) in z.iter_mut().zip(&zh) {
                own.iter().for_each(|&j| a.z[j] = b.z[j]);
            }
        }
    }
    let scales: Vec<f64> = features(kind)
        .iter()
        .enumerate()
        .map(|(j, f)| {
            if !f.rescale {
                return 1.0;
            }
            let mut a: Vec<f64> = z.iter().zip(cal_mask).filter(|(_, m)| **m).map(|(r, _)| r.z[j].abs()).collect();
            (quantile(&mut a, 0.95) / 1.96).max(1.0)
        })
        .collect();
    (z, scales)
}

/// The inputs of a count held out by alternate half-hours in a short span (see [`held_out`]).
const WITHIN_HOUR_INPUTS: [&str; 2] = ["count_now", "repeat_run"];

/// Folds alternating by local half-hour, when both hold at least a quarter of the `fit_mask`
/// rows (a step under an hour); None otherwise.
fn half_hour_folds(cals: &[Cal], fit_mask: &[bool]) -> Option<Vec<i64>> {
    let fold: Vec<i64> = cals.iter().map(|c| ((c.hour * 2.0).floor() as i64).rem_euclid(2)).collect();
    let ones = fold.iter().zip(fit_mask).filter(|(f, m)| **m && **f == 1).count();
    let all = fit_mask.iter().filter(|m| **m).count();
    (4 * ones.min(all - ones) >= all && all > 0).then_some(fold)
}

/// Each row under the noise model fitted on the rows of the other fold (`fold`: 0 or 1 per row).
#[allow(clippy::too_many_arguments)]
fn held_out_rows(kind: MetricKind, params: &DetectorParams, s: &SeriesRows, cals: &[Cal], fit_mask: &[bool], pooled: &Pooled, shape: Shape, warm: bool, refine: bool, all: &Noise, inputs: &[bool; MAX_NF], fold: &[i64]) -> Vec<Row> {
    let ones = vec![1.0; features(kind).len()];
    let fold_mask = |k: i64| -> Vec<bool> { fit_mask.iter().zip(fold).map(|(m, f)| *m && *f == k).collect() };
    let mut folds: Vec<Vec<Row>> = Vec::with_capacity(2);
    for k in 0..2 {
        let m = fold_mask(1 - k);
        // an event-valued series needs events in the fold, not just rows
        let enough = m.iter().filter(|x| **x).count() >= MIN_FOLD_ROWS && (!shape.events || duration_events(s, &m, true).len() >= 2);
        let model = if enough { fit_noise(kind, s, cals, &m, pooled, shape, warm, params.count_hour_prior, refine, params.stock_skip_unrecorded) } else { all.clone() };
        let mut rows = Vec::with_capacity(s.len());
        // only fold k's rows are read from this model (below): the others are skipped
        let want: Vec<bool> = fold.iter().map(|f| *f == k).collect();
        derive_some(&model, pooled, &ones, s, cals, 0, params.shift(), Some(&want), &mut rows);
        super::inputs::mask_rows(&mut rows, inputs);
        folds.push(rows);
    }
    (0..s.len()).map(|i| folds[fold[i] as usize][i]).collect()
}

/// Days from the first to the last row `mask` selects, plus one `step` (µs).
/// The mean step between the rows at `ts` (None for fewer than two).
pub(crate) fn mean_step(ts: &[i64]) -> Option<f64> {
    (ts.len() >= 2).then(|| (ts[ts.len() - 1] - ts[0]) as f64 / (ts.len() - 1) as f64)
}

fn entity_days(s: &SeriesRows, mask: &[bool], step: f64) -> f64 {
    let first = (0..s.len()).find(|&i| mask[i]);
    let last = (0..s.len()).rev().find(|&i| mask[i]);
    match (first, last) {
        (Some(a), Some(b)) => ((s.ts[b] - s.ts[a]) as f64 + step) / DAY_US as f64,
        _ => 0.0,
    }
}

/// splitmix64: a deterministic uniform draw in [0, 1) per (seed, entity, day).
fn unit_hash(seed: u64, a: u64, b: i64) -> f64 {
    let mut z = seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (b as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Windows grouped by entity id.
pub(crate) fn by_entity(ws: &[Window]) -> HashMap<&str, Vec<&Window>> {
    let mut m: HashMap<&str, Vec<&Window>> = HashMap::new();
    ws.iter().for_each(|w| m.entry(w.entity_id.as_str()).or_default().push(w));
    m
}

/// One entity's training rows made ready for its noise model: calendars, the rows fitted on
/// and calibrated on, the recognised shape and the rows as that shape presents them.
pub(crate) struct Prepared<'a> {
    pub cals: Vec<Cal>,
    pub fit_mask: Vec<bool>,
    pub cal_mask: Vec<bool>,
    pub shape: Shape,
    pub rows: std::borrow::Cow<'a, SeriesRows>,
    /// Rows inside spans marked false positive.
    pub normal_rows: usize,
}

impl<'a> Prepared<'a> {
    /// Prepares `s` with the known-anomaly (`excl`) and false-positive (`norm`) windows of
    /// its entity; `lookback` is how long after a known anomaly rows are not calibrated on.
    pub(crate) fn new(kind: MetricKind, s: &'a SeriesRows, excl: &HashMap<&str, Vec<&Window>>, norm: &HashMap<&str, Vec<&Window>>, lookback: i64) -> Prepared<'a> {
        let cals: Vec<Cal> = (0..s.len()).map(|i| calendar(s.ts[i], &s.features[i])).collect();
        let none = Vec::new();
        let (ex, no) = (excl.get(s.entity_id.as_str()).unwrap_or(&none), norm.get(s.entity_id.as_str()).unwrap_or(&none));
        let is_normal = |t: i64| no.iter().any(|w| w.covers(t, 0));
        let fit_mask: Vec<bool> = s.ts.iter().map(|&t| is_normal(t) || !ex.iter().any(|w| w.covers(t, 0))).collect();
        // calibration leaves out known anomalies and, for a day (counts: the look-back)
        // after them, the rows whose trailing sums or recent baseline still hold them; it
        // also leaves out spans marked false positive (fitted on as normal): feedback quiets them explicitly (`apply_feedback`), and
        // left in, a pattern marked on several entities would stretch the pooled tails and
        // dull every entity's alerts instead
        let cal_mask: Vec<bool> = s.ts.iter().map(|&t| !no.iter().any(|w| w.covers(t, lookback)) && !ex.iter().any(|w| w.covers(t, lookback))).collect();
        let normal_rows = s.ts.iter().filter(|&&t| is_normal(t)).count();
        let shape = Shape::recognise(kind, s, &fit_mask);
        let rows = if shape.transforms() { std::borrow::Cow::Owned(shape.apply(s)) } else { std::borrow::Cow::Borrowed(s) };
        Prepared { cals, fit_mask, cal_mask, shape, rows, normal_rows }
    }

    /// The entity's noise model and feature divisors, with its held-out derived rows (what
    /// calibration pools); None when fewer than [`MIN_ENTITY_ROWS`] rows may be fitted on.
    /// `model_warm`: the whole model is a warm-up model; `step`: the typical row step.
    pub(crate) fn fit_entity(&self, kind: MetricKind, params: &DetectorParams, pooled: &Pooled, model_warm: bool, step: f64, inputs: &[bool; MAX_NF]) -> Option<(EntityModel, Vec<Row>)> {
        if self.fit_mask.iter().filter(|m| **m).count() < MIN_ENTITY_ROWS {
            return None;
        }
        let s: &SeriesRows = &self.rows;
        // the entity's own span: an entity that joined late (a day of history in a model of
        // months) is fitted as in a warm-up span of that length, whatever the other entities saw
        let days = entity_days(s, &self.fit_mask, step);
        let warm = model_warm || days < params.min_train_days;
        let refine = kind == MetricKind::Count && count_refine(s, &self.cals, &self.fit_mask, params.count_hour_prior);
        let all = fit_noise(kind, s, &self.cals, &self.fit_mask, pooled, self.shape, warm, params.count_hour_prior, refine, params.stock_skip_unrecorded);
        let short = days < 4.0;
        let (z, scales) = held_out(kind, params, s, &self.cals, &self.fit_mask, &self.cal_mask, pooled, self.shape, warm, short, refine, &all, inputs);
        Some((EntityModel { id: s.entity_id.clone(), noise: all, shape: self.shape, scales }, z))
    }
}

/// Held-out calibration rows of all entities (sampled entity-days).
struct Pool {
    z: Vec<[f64; MAX_NF]>,
    block: Vec<u32>,
    blocks: usize,
    /// Per row: it carries a new observation of the noise. False for the rows of a held
    /// duration series after its refill (they repeat the refill's value until the next one):
    /// one refill is one observation however many rows hold it.
    fresh: Vec<bool>,
}

impl Detector {
    /// Fits a detector for one metric type of kind `kind` on the stored rows of every
    /// entity. Rows inside `exclude` windows (known anomalies) are not fitted on, nor are
    /// rows up to a day after them calibrated on (their trailing sums still contain the
    /// anomaly); rows inside `normal` windows (alerts marked false positive) always count as
    /// normal, and the entity's features are scaled so the pattern no longer alerts.
    pub fn fit(kind: MetricKind, params: &DetectorParams, series: &[SeriesRows], exclude: &[Window], normal: &[Window]) -> CoreResult<(Detector, FitReport)> {
        params.check()?;
        let mask = super::inputs::input_mask(kind, &params.exclude_inputs)?;
        let mut ids = HashSet::new();
        for s in series {
            check_series(s)?;
            if !ids.insert(s.entity_id.as_str()) {
                return Err(CoreError::invalid_param("series", &s.entity_id, "an entity may appear only once"));
            }
        }
        let (excl, norm) = (by_entity(exclude), by_entity(normal));
        let mut report = FitReport {
            kind: kind.name(),
            rows: 0,
            rows_excluded: 0,
            rows_normal: 0,
            entities: 0,
            entities_skipped: 0,
            train_days: 0.0,
            calibration_rows: 0,
            calibration_days: 0,
            threshold: 0.0,
            close: 0.0,
            held_out_alert_share: 0.0,
            normal_windows_applied: 0,
            type_feedback: Vec::new(),
            features: features(kind).iter().map(|f| f.name).collect(),
            interactions: Vec::new(),
            shapes: Default::default(),
            confidence: 1.0,
            warm_up: false,
            detector_family: "calibrated",
        };

        // masks and calendars; the rows whose derived features still see a window
        let lookback = params.lookback_us(kind);
        let mut prepared = Vec::with_capacity(series.len());
        let (mut t_min, mut t_max, mut steps) = (i64::MAX, i64::MIN, Vec::new());
        for s in series {
            let p = Prepared::new(kind, s, &excl, &norm, lookback);
            report.rows += s.len();
            report.rows_excluded += p.fit_mask.iter().filter(|m| !**m).count();
            report.rows_normal += p.normal_rows;
            if let (Some(&a), Some(&b)) = (s.ts.first(), s.ts.last()) {
                t_min = t_min.min(a);
                t_max = t_max.max(b);
            }
            steps.extend(mean_step(&s.ts));
            *report.shapes.entry(p.shape.name(kind).to_string()).or_insert(0) += 1;
            prepared.push(p);
        }
        let step = if steps.is_empty() { 0.0 } else { quantile(&mut steps, 0.5) };
        report.train_days = if t_max >= t_min { ((t_max - t_min) as f64 + step) / DAY_US as f64 } else { 0.0 };
        // `min_train_days` is the span for full confidence; from about a day (or 100 rows of
        // one series) a warm-up model is made with a stricter threshold (`warm_up_p`)
        let longest = series.iter().map(|s| s.len()).max().unwrap_or(0);
        let enough = report.train_days >= params.min_train_days || report.train_days >= WARM_UP_DAYS || longest >= WARM_UP_ROWS;
        if report.rows == 0 || !enough {
            return Err(CoreError::insufficient(format!("training rows span {:.1} days, at least {} are needed", report.train_days, WARM_UP_DAYS.min(params.min_train_days)))
                .with_hint(format!("A first model needs about a day of data or {WARM_UP_ROWS} observations of one series; weekly patterns are learned after {} days.", params.min_train_days)));
        }
        report.confidence = if params.min_train_days > 0.0 { (report.train_days / params.min_train_days).min(1.0) } else { 1.0 };
        report.warm_up = report.confidence < 1.0;

        let pooled = if kind == MetricKind::Duration {
            let ev: Vec<_> = prepared.iter().map(|p| duration_events(&p.rows, &p.fit_mask, p.shape.events)).collect();
            pool_durations(&ev)
        } else {
            Pooled::default()
        };

        let total_days: usize = prepared.iter().map(|p| p.cals.iter().zip(&p.cal_mask).filter(|(_, m)| **m).map(|(c, _)| c.day).collect::<HashSet<_>>().len()).sum();
        let rate = (params.calibration_blocks as f64 / total_days.max(1) as f64).min(1.0);
        let mut pool = Pool { z: Vec::new(), block: Vec::new(), blocks: 0, fresh: Vec::new() };
        let mut entities = Vec::new();
        // the entities' fits are independent: they run on threads, the pool is built in order
        let fits = super::par::map(&prepared, super::par::threads(), |p| p.fit_entity(kind, params, &pooled, report.warm_up, step, &mask))?;
        for (e, (p, fitted)) in prepared.iter().zip(fits).enumerate() {
            let Some((em, z)) = fitted else {
                report.entities_skipped += 1;
                continue;
            };
            let (cals, cal_mask) = (&p.cals, &p.cal_mask);
            let mut day_ids: HashMap<i64, u32> = HashMap::new();
            for (i, r) in z.iter().enumerate() {
                if !cal_mask[i] || unit_hash(params.seed, e as u64, cals[i].day) >= rate {
                    continue;
                }
                let next = pool.blocks as u32;
                let b = *day_ids.entry(cals[i].day).or_insert(next);
                if b == next {
                    pool.blocks += 1;
                }
                let mut row = r.z;
                row.iter_mut().zip(&em.scales).for_each(|(v, sc)| *v /= sc);
                pool.z.push(row);
                pool.block.push(b);
                pool.fresh.push(kind != MetricKind::Duration || p.shape.events || is_duration_event(&p.rows, i, false));
            }
            entities.push(em);
        }
        report.entities = entities.len();
        report.calibration_rows = pool.z.len();
        report.calibration_days = pool.blocks;
        if pool.z.is_empty() {
            return Err(CoreError::insufficient("no entity has enough usable training rows")
                .with_hint(format!("Each entity needs at least {MIN_ENTITY_ROWS} rows outside known-anomaly windows.")));
        }
        entities.sort_by(|a, b| a.id.cmp(&b.id));

        let mut det = calibrate(kind, params, pooled, entities, &pool, &mut report)?;
        if report.warm_up && kind != MetricKind::Duration {
            // a model that saw less than its full span calibrated on few, possibly unlike,
            // days: demand rarer rows before alerting. Not for durations: their noise model
            // has no calendar part (no weekly pattern left to learn), and the few refills seen
            // are accounted for by the pooled scale and its prior (`pool_durations`)
            let c2 = report.confidence * report.confidence;
            if kind == MetricKind::Count {
                // except for a count's own row (`count_now`): what a span short of a week has
                // not seen (the weekend's level, the hours shifted on rest days) is a level
                // that a horizon sums over many rows, so the totals and the change scan grow
                // with it while one row's deviation barely does. A single-row spike keeps the
                // alert level a fully trained model gives it (its tail probabilities beyond
                // the table are lowered by the same c^2 the threshold is raised by), so a
                // day-one model no longer needs a spike about 4 nats rarer than any other
                // model does (robustness corpus, `day1`: TUNE and fresh seeds found 2-3 more
                // spikes of 12-19 per metric type, no more false alerts)
                det.feature_tails[0].lower_far_tail(-c2.ln());
            }
            det.threshold = 1.0 - (1.0 - det.threshold) * c2;
            det.close = 1.0 - (1.0 - det.close) * c2;
            report.threshold = det.threshold;
            report.close = det.close;
        }
        (report.normal_windows_applied, report.type_feedback) = super::score::apply_feedback(&mut det, series, normal);
        det.params.detector_family = params.detector_family.resolve(kind);
        report.detector_family = det.params.detector_family.name();
        if det.params.detector_family != super::seq::Family::Calibrated {
            let outside = |s: &SeriesRows, i: usize| !exclude.iter().any(|w| w.entity_id == s.entity_id && w.covers(s.ts[i], 0));
            det.seq = Some(super::seq::SeqModel::fit(series, outside));
        }
        Ok((det, report))
    }
}

/// The forest's scores of the rows of `x`, scored in parts on threads (a row's score depends
/// on that row only).
pub(crate) fn forest_score(forest: &IsolationForest, x: ndarray::ArrayView2<f64>) -> CoreResult<Vec<f64>> {
    let rows: Vec<usize> = (0..x.nrows()).collect();
    let parts = super::par::parts(&rows, super::par::threads(), |first, part| forest.score(x.slice(ndarray::s![first..first + part.len(), ..])).to_vec())?;
    Ok(parts.concat())
}

/// Pooled feature tails, the forest and its tail, the daily-maximum tail and the threshold.
fn calibrate(kind: MetricKind, params: &DetectorParams, pooled: Pooled, entities: Vec<EntityModel>, pool: &Pool, report: &mut FitReport) -> CoreResult<Detector> {
    let info = features(kind);
    let nf = info.len();
    // a refill duration is one observation however many rows hold it: its tail is fitted on
    // one value per refill (`Tail::fit_normal_events`); counted in rows, the top of the sample
    // was one or two refills repeated (24 times a day at an hour, 96 at 15 minutes) and the
    // tail's reach depended on the sampling step. An event-valued series keeps its rows
    // (between refills it reads 0, and its held-out refills are mostly in-sample, two per fold
    // being rare in a week); so does a warm-up model (a day's refills, about one per entity and
    // mostly the duration in force when the span began, are too few for the table; its daily
    // tail is capped instead).
    let events = !report.warm_up && pool.fresh.iter().any(|f| *f) && pool.fresh.iter().any(|f| !*f);
    // A warm-up duration model's held-out rows mostly repeat the very value their fold was
    // fitted on (an entity that refilled once or never in a day's span: its held-out |z| is 0),
    // so their calibration table ends near |z| 1.5 at 1e-3 and any later refill 2 pooled scales
    // off its one observed duration alerted (robustness corpus `day1`: 6 of its 8 false alerts
    // on TUNE, 5 from entities with no refill in the training day). Its feature tail is made
    // no lighter than the model's own normal residual, and it gets no forest: fitted on the
    // same zeros, the forest isolated every non-zero |z| (a refill 0.7 scales off alerted).
    let in_sample_warm_dur = report.warm_up && kind == MetricKind::Duration;
    let feature_tails: Vec<Tail> = (0..nf)
        .map(|j| {
            let mut v: Vec<f64> = pool.z.iter().zip(&pool.fresh).filter(|(_, f)| **f || !events).map(|(r, _)| if info[j].signed { r[j].abs() } else { r[j].max(0.0) }).collect();
            if events {
                Tail::fit_normal_events(&mut v, MIN_BETA_Z)
            } else if in_sample_warm_dur {
                // the model's own unit (pooled scale, widened by the centre's error) decides
                // how unusual a refill is, not a calibration sample of in-sample zeros
                Tail::fit(&mut v, MIN_BETA_Z).at_least_normal(1.0)
            } else {
                Tail::fit(&mut v, MIN_BETA_Z)
            }
        })
        .collect();
    let mut det = Detector {
        kind,
        params: params.clone(),
        pooled,
        entities,
        feature_tails,
        forest: None,
        forest_tail: None,
        day_tail: Tail::fit(&mut [], MIN_BETA_NATS),
        threshold: 1.0 - params.alert_p,
        close: 1.0 - params.close_p,
        seq: None,
        borrow: Default::default(),
    };
    let mut forest_scores = vec![0.0; pool.z.len()];
    if params.use_forest && !in_sample_warm_dur {
        let pairs = forest_pairs(kind, params.interactions);
        let x = forest_matrix(pool.z.len(), |i| &pool.z[i][..nf], nf, &pairs);
        let names: Vec<&str> = info.iter().map(|f| f.name).collect();
        report.interactions = crate::selection::interaction_names(&names, &pairs);
        let forest = params.forest().fit(x.view())?;
        forest_scores = forest_score(&forest, x.view())?;
        det.forest_tail = Some(Tail::fit(&mut forest_scores.clone(), MIN_BETA_FOREST));
        det.forest = Some(forest);
    }
    let mut day_max = vec![0.0f64; pool.blocks];
    let mut row_t = Vec::with_capacity(pool.z.len());
    for (i, r) in pool.z.iter().enumerate() {
        let t = det.row_surprise(&r[..nf], forest_scores[i]).0;
        row_t.push(t);
        let b = pool.block[i] as usize;
        day_max[b] = day_max[b].max(t);
    }
    // The 1-nat prior on the daily maxima's scale holds for the known kinds, whose row
    // surprises are calibrated per input; a generic series' rows repeat one another more (real
    // series of the public benchmark: its TUNE half 46.5 -> 44.2 with the prior), so its
    // day tail keeps the fitted scale.
    det.day_tail = if kind == MetricKind::Generic {
        Tail::fit(&mut day_max.clone(), MIN_BETA_NATS)
    } else {
        Tail::fit_maxima(&mut day_max.clone(), MIN_BETA_NATS)
    };
    if report.warm_up && kind == MetricKind::Duration {
        // a warm-up span gives few entity-days to calibrate on (one per entity after a day),
        // and the exponential tail's scale estimated from a handful of daily maxima can be
        // several nats: the threshold then lies far beyond any shift a duration can show.
        // The daily maximum of row surprises (each -ln of a calibrated row tail) has a tail
        // no heavier than exponential with scale 1 nat (union bound over the day's rows)
        det.day_tail.cap_beta(1.0);
    }
    if let Some(c) = params.contamination {
        let mut scores: Vec<f64> = row_t.iter().map(|&t| det.score_of(t)).collect();
        det.threshold = quantile(&mut scores, 1.0 - c);
        det.close = det.close.min(det.threshold);
    }
    report.threshold = det.threshold;
    report.close = det.close;
    let alerts = day_max.iter().filter(|&&t| det.score_of(t) >= det.threshold).count();
    report.held_out_alert_share = alerts as f64 / day_max.len().max(1) as f64;
    Ok(det)
}
