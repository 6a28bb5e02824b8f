//! Scores for an entity the detector was not trained on (it joined after the last training):
//! a warm-up noise model fitted on the entity's own look-back rows at scoring time.
//!
//! Why: without it a new entity of a known metric type scores 0 until the next training, so
//! its first days go unwatched. Its look-back (the last [`Detector::lookback_us`] before the
//! rows to score, which every caller passes anyway) is enough for the kind's noise model in its
//! warm-up form (no weekly pattern, a stock's usual minimum only at empty, a duration's centre
//! from the refills seen, their scale from the metric type's pooled one). The metric type's
//! calibration tails are reused; the entity's feature divisors are held out on its look-back
//! as training does for an entity of a few days (3-hour blocks), and its tail probabilities
//! are raised as a warm-up model's threshold is (`warm_penalty`).
//! Nothing is stored: the next training gives the entity its own model.
//!
//! Before it has [`MIN_ENTITY_ROWS`] rows of look-back spanning 6 hours ([`warm_ready`]: its
//! first 6 hours at 5 and 15-minute steps, its first day at hourly ones)
//! a new entity of a count type borrows what the type already knows ([`Detector::borrowed_entity`]):
//! the median shape of the trained entities' hour x weekday/weekend profiles (each divided by
//! its mean), their median dispersion and day-level variance, their median feature divisors
//! widened by [`BORROW_WIDEN`]; only the level is the entity's own, a trimmed ratio of its
//! look-back counts to the shape there, pulled toward the type's median level by
//! one hour of average rows (`noise::count_prior_rows` of its look-back: 4 rows at 15-minute
//! steps, 1 at hourly ones; an entity's first night says little about its day). Its tail
//! probabilities are raised by the same warm-up penalty (which is large for an hour or two of
//! look-back), so only a clear deviation alerts. Stock levels, durations and generic series
//! have no type-wide scale to borrow (each stock, refill and level has its own units and
//! centre) and keep waiting for their [`MIN_ENTITY_ROWS`] rows (at any step: nothing bridges
//! a span for them).

use super::fit::{fit_noise, held_out, Detector, EntityModel, MIN_ENTITY_ROWS};
use super::mathx::{calendar, median, Cal, CELLS};
use super::noise::{count_prior_rows, profile_f64, Noise};
use super::noise::duration_events;
use super::shape::Shape;
use super::{MetricKind, SeriesRows};

/// Fewest look-back rows (an hour at 15-minute steps) for a borrowed model.
pub(crate) const MIN_BORROW_ROWS: usize = 4;
/// Shortest look-back (µs) for a warm-up model of a new entity of a count type, besides its
/// [`MIN_ENTITY_ROWS`] rows: the 6 hours those rows are at 15-minute steps. Counted in rows
/// only, a 5-minute series got its own warm-up model after 2 hours (a profile of 24 hour
/// cells from two hours of one day) where the borrowed model knows the type's day.
pub(crate) const MIN_WARM_SPAN_US: i64 = 6 * 3_600_000_000;

/// Whether `from` look-back rows at `ts` are enough for a new entity's own warm-up model:
/// [`MIN_ENTITY_ROWS`] rows (a statistical minimum of evidence, as at training), and for a
/// count type (which the borrowed model bridges until then) a span of [`MIN_WARM_SPAN_US`]
/// whatever the step. Other kinds have nothing to bridge with: their rows would score 0 for
/// longer, and at 5-minute steps the span made no difference to their figures
/// (`short_hist --step 1`, TUNE and seeds 303/404/505: stock and duration lines identical).
pub(crate) fn warm_ready(kind: MetricKind, ts: &[i64], from: usize) -> bool {
    from >= MIN_ENTITY_ROWS && (kind != MetricKind::Count || look_back_us(&ts[..from]) >= MIN_WARM_SPAN_US)
}

/// The span of look-back rows `ts` (µs), first to last plus one mean step.
fn look_back_us(ts: &[i64]) -> i64 {
    let step = super::fit::mean_step(ts).unwrap_or(0.0);
    ts.last().zip(ts.first()).map_or(0, |(b, a)| b - a + step as i64)
}
/// Factor the borrowed (median) feature divisors are widened by: the level of a new entity
/// comes from a few rows, and its own spread is not known yet.
pub(crate) const BORROW_WIDEN: f64 = 1.5;

/// What a count type's trained entities share, for [`Detector::borrowed_entity`]: the median
/// of their profiles each divided by its mean, the median of those means, their median
/// dispersion and day-level variance, their median feature divisors widened by
/// [`BORROW_WIDEN`], and their usual shape.
#[derive(Clone, Debug)]
pub(crate) struct Borrowed {
    shape: Shape,
    profile: Vec<f32>,
    level: f64,
    alpha: f64,
    rho2: f64,
    scales: Vec<f64>,
}

/// The [`Borrowed`] template of a loaded detector, computed on first use (it is the same for
/// every new entity of the type: about 4 ms over 1,000 entities, which per new
/// entity dominated the hourly run). Not part of the model's bytes; a clone or a change of
/// the entities' divisors (feedback) starts empty; never part of equality.
#[derive(Default)]
pub(crate) struct BorrowCache(pub(crate) std::sync::OnceLock<Option<Borrowed>>);

impl Clone for BorrowCache {
    fn clone(&self) -> Self {
        BorrowCache::default()
    }
}
impl PartialEq for BorrowCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl std::fmt::Debug for BorrowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BorrowCache")
    }
}

impl Detector {
    /// A model of `view`'s entity borrowed from the trained entities of the metric type, for an
    /// entity of a count type with at least [`MIN_BORROW_ROWS`] rows of look-back before `from`,
    /// too few for its own warm-up model ([`warm_ready`]; see the module doc); None otherwise.
    pub(crate) fn borrowed_entity(&self, view: &SeriesRows, from: usize) -> Option<EntityModel> {
        if self.kind != MetricKind::Count || from < MIN_BORROW_ROWS || warm_ready(self.kind, &view.ts, from) {
            return None;
        }
        let t = self.borrow.0.get_or_init(|| self.borrow_template()).as_ref()?;
        let owned;
        let st = if t.shape.transforms() {
            owned = t.shape.apply(view);
            &owned
        } else {
            view
        };
        let q: Vec<f64> = (0..from).map(|i| profile_f64(&t.profile, calendar(st.ts[i], &st.features[i])).max(0.0)).collect();
        let v: Vec<f64> = (0..from).map(|i| st.value[i].max(0.0)).collect();
        // the entity's level: look-back counts over the shape there, with the type's median
        // level as a prior; a second pass caps rows beyond 5 negative-binomial scales (a spike
        // in the first hour must not become the entity's level)
        // the prior is a length of time (an hour of the type's average rows), as the profile's
        // own prior is: 4 rows were 4 hours at hourly steps, as long as the look-back itself
        let prior = count_prior_rows(&view.ts[..from]);
        let level_of = |v: &[f64]| (v.iter().sum::<f64>() + prior * t.level) / (q.iter().sum::<f64>() + prior);
        let first = level_of(&v);
        let capped: Vec<f64> = v
            .iter()
            .zip(&q)
            .map(|(&x, &qi)| {
                let mu = first * qi;
                x.min(mu + 5.0 * (mu + t.alpha * mu * mu).sqrt() + 1.0)
            })
            .collect();
        let level = level_of(&capped);
        let profile: Vec<f32> = t.profile.iter().map(|&p| (f64::from(p) * level) as f32).collect();
        let noise = Noise::Count { profile, alpha: t.alpha, rho2: t.rho2 };
        noise.valid().then(|| EntityModel { id: view.entity_id.clone(), noise, shape: t.shape, scales: t.scales.clone() })
    }

    /// What a count type's trained entities share (see [`Borrowed`]); None without count
    /// entities of a positive level. Computed once per loaded model (`BorrowCache`).
    fn borrow_template(&self) -> Option<Borrowed> {
        // the type's usual presentation (a cumulative counter can not be recognised on a few rows)
        let counts = |c: bool| self.entities.iter().filter(|e| e.shape.cumulative == c).count();
        let cumulative = counts(true) > counts(false);
        let shape = Shape { cumulative, ..Shape::default() };
        let mean = |p: &[f32]| p.iter().map(|v| f64::from(*v)).sum::<f64>() / p.len().max(1) as f64;
        let peers: Vec<(&EntityModel, &Vec<f32>, f64, f64, f64)> = self
            .entities
            .iter()
            .filter(|e| e.shape.cumulative == cumulative)
            .filter_map(|e| match &e.noise {
                Noise::Count { profile, alpha, rho2 } => Some((e, profile, *alpha, *rho2, mean(profile))),
                _ => None,
            })
            .collect();
        if peers.is_empty() {
            return None;
        }
        let level = median(&mut peers.iter().map(|p| p.4).collect::<Vec<_>>());
        if level.is_nan() || level <= 0.0 {
            return None;
        }
        let positive: Vec<_> = peers.iter().filter(|p| p.4 > 0.0).collect();
        let profile: Vec<f32> = (0..CELLS).map(|c| median(&mut positive.iter().map(|p| f64::from(p.1[c]) / p.4).collect::<Vec<_>>()) as f32).collect();
        let alpha = median(&mut peers.iter().map(|p| p.2).collect::<Vec<_>>());
        let rho2 = median(&mut peers.iter().map(|p| p.3).collect::<Vec<_>>());
        let nf = super::derive::features(self.kind).len();
        let scales: Vec<f64> = (0..nf).map(|j| median(&mut peers.iter().map(|p| p.0.scales[j]).collect::<Vec<_>>()).max(1.0) * BORROW_WIDEN).collect();
        scales.iter().all(|s| s.is_finite()).then_some(Borrowed { shape, profile, level, alpha, rho2, scales })
    }

    /// A warm-up model of `view`'s entity from its rows before `from` (look-back), or None when
    /// there are too few of them ([`warm_ready`]: [`MIN_ENTITY_ROWS`], for a count type over 6
    /// hours) or, for a duration, no refill in them.
    pub(crate) fn warm_entity(&self, view: &SeriesRows, from: usize) -> Option<EntityModel> {
        if !warm_ready(self.kind, &view.ts, from) || self.entities.is_empty() {
            return None;
        }
        let mask: Vec<bool> = (0..view.len()).map(|i| i < from).collect();
        let shape = Shape::recognise(self.kind, view, &mask);
        let owned;
        let st = if shape.transforms() {
            owned = shape.apply(view);
            &owned
        } else {
            view
        };
        if self.kind == MetricKind::Duration && duration_events(st, &mask, shape.events).is_empty() {
            return None;
        }
        let cals: Vec<Cal> = (0..st.len()).map(|i| calendar(st.ts[i], &st.features[i])).collect();
        let refine = self.kind == MetricKind::Count && super::noise::count_refine(st, &cals, &mask, self.params.count_hour_prior);
        let noise = fit_noise(self.kind, st, &cals, &mask, &self.pooled, shape, true, self.params.count_hour_prior, refine);
        if !noise.valid() {
            return None;
        }
        // the divisors a trained entity of this span would get: held out over 3-hour blocks
        let (_, scales) = held_out(self.kind, &self.params, st, &cals, &mask, &mask, &self.pooled, shape, true, true, refine, &noise, &self.used_inputs());
        Some(EntityModel { id: view.entity_id.clone(), noise, shape, scales })
    }

    /// `ln` of the factor a warm-up entity's tail probabilities are multiplied by: as for a
    /// warm-up model (`Detector::fit`), `1 / confidence^2` with confidence = look-back span /
    /// `min_train_days`, less what the model's own threshold already demands; 0 for durations
    /// (no calendar part in their noise model).
    pub(crate) fn warm_penalty(&self, view: &SeriesRows, from: usize) -> f64 {
        if self.kind == MetricKind::Duration || self.params.min_train_days <= 0.0 || from == 0 {
            return 0.0;
        }
        let step = super::fit::mean_step(&view.ts[..from]).unwrap_or(0.0);
        let days = ((view.ts[from - 1] - view.ts[0]) as f64 + step) / super::mathx::DAY_US as f64;
        let c2 = (days / self.params.min_train_days).clamp(1e-3, 1.0).powi(2);
        // a warm-up model's threshold already asks `alert_p * c_model^2`
        let model_c2 = if self.params.contamination.is_none() { ((1.0 - self.threshold) / self.params.alert_p).clamp(1e-6, 1.0) } else { 1.0 };
        (model_c2 / c2).max(1.0).ln()
    }
}
