//! Entities beyond a training sample: each gets its own noise model after calibration.
//!
//! Why: a training reads whole series until `max_train_rows` (on 15-minute data about 140 of
//! 1,000 entities of a metric type). Calibration (the pooled tails, the forest, the threshold)
//! needs no more than that sample, but the noise model and the feature divisors of an entity
//! come from its own rows only. Entities outside the sample used to be scored as if new
//! (`warm.rs`: fitted on their look-back at every run, no daily or weekly pattern, tail
//! probabilities raised by 1 / confidence^2), so beyond a few hundred entities most of a
//! metric type was watched by warm-up models, refitted at every scoring run. `extend` fits
//! them exactly as `fit` fits the sample's entities (`Prepared::fit_entity`).

use std::collections::HashSet;

use super::fit::{by_entity, check_series, mean_step, Detector, EntityModel, Prepared};
use super::{SeriesRows, Window};
use crate::error::CoreResult;

/// Noise models [`Detector::fit_beyond`] fitted for entities the detector did not know, in the
/// order of their series; [`Detector::add_fitted`] adds them.
#[derive(Debug, Default)]
pub struct Fitted(Vec<EntityModel>);

impl Fitted {
    /// How many entities were fitted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Detector {
    /// Fits the entities of `series` the detector does not know yet (known ones are left as
    /// they are), on their rows outside `exclude` (known anomalies) with `normal` (spans
    /// marked false positive) fitted on as normal, as [`Detector::fit`] fits the entities of
    /// its sample; the calibration is not changed. Returns how many entities were added (an
    /// entity with fewer usable rows than training needs is not). Fits on up to `threads`
    /// threads. The same as [`fit_beyond`](Self::fit_beyond) then [`add_fitted`](Self::add_fitted).
    pub fn extend(&mut self, series: &[SeriesRows], exclude: &[Window], normal: &[Window], threads: usize) -> CoreResult<usize> {
        let fitted = self.fit_beyond(series, exclude, normal, threads)?;
        Ok(self.add_fitted(vec![fitted]))
    }

    /// The fitting half of [`extend`](Self::extend): the noise models of the entities of
    /// `series` the detector does not know, without adding them. It borrows the detector
    /// only to read it, so a caller may fit one batch of series on worker threads while it
    /// reads the next (training does); a model depends on its entity's rows, the windows and
    /// the calibration only, never on the other entities fitted.
    pub fn fit_beyond(&self, series: &[SeriesRows], exclude: &[Window], normal: &[Window], threads: usize) -> CoreResult<Fitted> {
        let mut ids = HashSet::new();
        for s in series {
            check_series(s)?;
            if !ids.insert(s.entity_id.as_str()) {
                return Err(crate::error::CoreError::invalid_param("series", &s.entity_id, "an entity may appear only once"));
            }
        }
        let todo: Vec<&SeriesRows> = series.iter().filter(|s| self.entity(&s.entity_id).is_none()).collect();
        let (excl, norm) = (by_entity(exclude), by_entity(normal));
        let (kind, lookback, inputs) = (self.kind, self.params.lookback_us(self.kind), self.used_inputs());
        let fit_one = |s: &SeriesRows| -> Option<EntityModel> {
            // the series' own typical step (training takes the sample's median)
            let step = mean_step(&s.ts).unwrap_or(0.0);
            // a model whose sample spanned less than min_train_days is a warm-up model; its
            // other entities span as little and are fitted as warm-up by their own span
            Prepared::new(kind, s, &excl, &norm, lookback).fit_entity(kind, &self.params, &self.pooled, false, step, &inputs).map(|(em, _)| em)
        };
        Ok(Fitted(super::par::map(&todo, threads, |s| fit_one(s))?.into_iter().flatten().collect()))
    }

    /// Adds the entities of `batches` (from [`fit_beyond`](Self::fit_beyond) on this
    /// detector) in order; an entity the detector knows by then, e.g. one fitted in an
    /// earlier batch too, is left as it is, as `extend` called batch by batch would. Returns
    /// how many were added.
    pub fn add_fitted(&mut self, batches: impl IntoIterator<Item = Fitted>) -> usize {
        let mut known: HashSet<String> = self.entities.iter().map(|e| e.id.clone()).collect();
        let before = self.entities.len();
        for em in batches.into_iter().flat_map(|b| b.0) {
            if known.insert(em.id.clone()) {
                self.entities.push(em);
            }
        }
        self.entities.sort_by(|a, b| a.id.cmp(&b.id));
        self.entities.len() - before
    }
}
