//! The tuner's trial runner: fits a configuration, scores the evaluation rows (in threads) and
//! measures the alert episodes against the windows (see `tune.rs`).

use std::sync::Arc;

use super::tune::{Candidate, Measure, Measurer, TOLERANCE_US};
use super::{episodes, Detector, DetectorParams, Scored, SeriesRows, Window};
use crate::error::CoreResult;
use crate::quality::{evaluate, Span};

const WEEK_US: f64 = 7.0 * 86_400e6;

/// Measures configurations by fitting on `fit` (known anomalies `exclude` left out, spans
/// marked false positive `normal` learned as normal) and scoring `eval` (each series from its
/// `first` row), the alerts compared with `windows`.
pub struct Fitter<'a> {
    pub fit: &'a [SeriesRows],
    pub exclude: &'a [Window],
    pub normal: &'a [Window],
    pub eval: Vec<(&'a SeriesRows, usize)>,
    pub windows: Vec<Span>,
    /// The span measured (alerts and windows outside are ignored).
    pub from_us: i64,
    pub to_us: i64,
    /// The episode gap to use instead of each candidate's `max_gap_minutes` (the SQL layer
    /// forms episodes with `ml_settings.episode_gap`).
    pub gap_us: Option<i64>,
    /// Detector fits done so far (an episode knob reuses the last fit's scores).
    pub fits: usize,
    /// Scores of the last fits, by fit key (at most two kept).
    cache: Vec<(String, Arc<Fitted>)>,
}

impl<'a> Fitter<'a> {
    /// Measures on the training data itself (what `ml_train` measures a model on).
    pub fn in_sample(fit: &'a [SeriesRows], exclude: &'a [Window], normal: &'a [Window], labels: &[Window]) -> Fitter<'a> {
        let (from, to) = fit.iter().filter(|s| !s.is_empty()).fold((i64::MAX, i64::MIN), |(a, b), s| (a.min(s.ts[0]), b.max(s.ts[s.len() - 1])));
        let windows = labels.iter().map(|w| Span { entity_id: w.entity_id.clone(), from_us: w.from_us, to_us: w.to_us }).collect();
        Fitter { fit, exclude, normal, eval: fit.iter().map(|s| (s, 0)).collect(), windows, from_us: from, to_us: to, gap_us: None, fits: 0, cache: Vec::new() }
    }

    /// Fits on `fit` and scores `eval` from the given rows, measured against `windows` over [from_us, to_us].
    pub fn split(fit: &'a [SeriesRows], eval: Vec<(&'a SeriesRows, usize)>, windows: Vec<Span>, from_us: i64, to_us: i64) -> Fitter<'a> {
        Fitter { fit, exclude: &[], normal: &[], eval, windows, from_us, to_us, gap_us: None, fits: 0, cache: Vec::new() }
    }

    /// Whether there are windows to measure against (else the alert budget decides).
    pub fn labelled(&self) -> bool {
        self.windows.iter().any(|w| w.to_us >= self.from_us && w.from_us <= self.to_us)
    }

    fn scored(&mut self, c: &Candidate) -> CoreResult<Arc<Fitted>> {
        // the episode knobs do not change scores: one fit serves all their values
        let mut keyed = c.clone();
        let d = DetectorParams::default();
        (keyed.params.max_gap_minutes, keyed.params.suppress_hours, keyed.params.reversal_hours) = (d.max_gap_minutes, d.suppress_hours, d.reversal_hours);
        let key = keyed.to_json().to_string();
        if let Some((_, s)) = self.cache.iter().find(|(k, _)| *k == key) {
            return Ok(s.clone());
        }
        let (det, _) = Detector::fit(c.family, &c.params, self.fit, self.exclude, self.normal)?;
        self.fits += 1;
        let all: Vec<Vec<Scored>> = super::par::map(&self.eval, super::par::threads(), |(s, first)| det.score_series(s, *first))?.into_iter().collect::<CoreResult<_>>()?;
        let all = Arc::new(Fitted { threshold: det.threshold(), close: det.close_level(), rows: all });
        if self.cache.len() >= 2 {
            self.cache.remove(0);
        }
        self.cache.push((key, all.clone()));
        Ok(all)
    }
}

/// A fit's threshold, close level and scored rows (one list per eval series).
struct Fitted {
    threshold: f64,
    close: f64,
    rows: Vec<Vec<Scored>>,
}

impl Measurer for Fitter<'_> {
    fn measure(&mut self, c: &Candidate) -> CoreResult<Measure> {
        let fitted = self.scored(c)?;
        // threshold and close come from the fit (warm-up, contamination); the gaps from c
        let p = super::EpisodeParams {
            threshold: fitted.threshold,
            close: fitted.close,
            max_gap_us: self.gap_us.unwrap_or((c.params.max_gap_minutes * 60e6) as i64),
            suppress_us: (c.params.suppress_hours * 3600e6) as i64,
            reversal_us: (c.params.reversal_hours * 3600e6) as i64,
        };
        let mut spans = Vec::new();
        let mut weeks = 0.0;
        for ((s, first), rows) in self.eval.iter().zip(fitted.rows.iter()) {
            if let (Some(a), Some(b)) = (s.ts.get(*first), s.ts.last()) {
                weeks += (b - a).max(0) as f64 / WEEK_US;
            }
            for e in episodes(rows, &p).into_iter().filter(|e| !e.suppressed) {
                spans.push(Span { entity_id: s.entity_id.clone(), from_us: e.start_ts, to_us: e.end_ts });
            }
        }
        let q = evaluate(&self.windows, &spans, self.eval.len(), self.from_us, self.to_us, TOLERANCE_US);
        let per = |n: usize| if weeks > 0.0 { n as f64 / weeks } else { 0.0 };
        Ok(Measure {
            windows: q.windows,
            found: q.found,
            alerts: q.alerts,
            false_alerts: q.false_alerts,
            precision: q.precision,
            recall: q.recall,
            f1: q.f1,
            alerts_per_series_week: per(q.alerts),
            false_alerts_per_series_week: per(q.false_alerts),
            stability: None,
            spans,
        })
    }
}
