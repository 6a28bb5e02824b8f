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

use super::fit::{fit_noise, held_out, Detector, EntityModel, MIN_ENTITY_ROWS};
use super::mathx::{calendar, Cal};
use super::noise::duration_events;
use super::shape::Shape;
use super::{MetricKind, SeriesRows};

impl Detector {
    /// A warm-up model of `view`'s entity from its rows before `from` (look-back), or None when
    /// there are fewer than [`MIN_ENTITY_ROWS`] of them (or, for a duration, no refill in them).
    pub(crate) fn warm_entity(&self, view: &SeriesRows, from: usize) -> Option<EntityModel> {
        if from < MIN_ENTITY_ROWS || self.entities.is_empty() {
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
        let noise = fit_noise(self.kind, st, &cals, &mask, &self.pooled, shape, true, self.params.count_hour_prior);
        if !noise.valid() {
            return None;
        }
        // the divisors a trained entity of this span would get: held out over 3-hour blocks
        let (_, scales) = held_out(self.kind, &self.params, st, &cals, &mask, &mask, &self.pooled, shape, true, true, &noise, &self.used_inputs());
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
        let step = if from >= 2 { (view.ts[from - 1] - view.ts[0]) as f64 / (from - 1) as f64 } else { 0.0 };
        let days = ((view.ts[from - 1] - view.ts[0]) as f64 + step) / super::mathx::DAY_US as f64;
        let c2 = (days / self.params.min_train_days).clamp(1e-3, 1.0).powi(2);
        // a warm-up model's threshold already asks `alert_p * c_model^2`
        let model_c2 = if self.params.contamination.is_none() { ((1.0 - self.threshold) / self.params.alert_p).clamp(1e-6, 1.0) } else { 1.0 };
        (model_c2 / c2).max(1.0).ln()
    }
}
