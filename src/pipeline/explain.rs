//! Explanations (ml_explain) and recursive feature elimination over the detector's inputs
//! (ml_select_features(..., 'rfe')).

use super::features as feature_stage;
use super::model::{self, Model};
use super::stage::StageRun;
use super::train::DEFAULT_MAX_TRAIN_ROWS;
use crate::errors::{not_found, Result};
use crate::storage::{rfe as store, series, to_unix_us};
use pg_anomaly_core::detect::{rfe, DetectorParams, MetricKind, ModelSource, SeriesRows, Window};
use pg_anomaly_core::{CoreError, ErrorKind};
use pgrx::datum::TimestampWithTimeZone;

/// Entities read per query.
const ENTITIES_PER_READ: usize = 64;

/// (input, label, value, attribution, share, forest_attribution, score, surprise, base_surprise)
pub type ExplainRow = (String, String, f64, f64, Option<f64>, Option<f64>, f64, f64, f64);

pub fn explain(metric_type: &str, entity_id: &str, at: TimestampWithTimeZone) -> Result<Vec<ExplainRow>> {
    let Some((id, model_type)) = crate::storage::models::active_any(metric_type)? else {
        return Err(not_found(
            format!("no active model for metric type \"{metric_type}\""),
            format!("Train one: SELECT ml_train('{metric_type}');"),
        ));
    };
    let model = model::load(id)?;
    let Model::Detector(det) = model.as_ref() else {
        return Err(CoreError::new(ErrorKind::NotReady, format!("the active model of \"{metric_type}\" is a {model_type} model"))
            .with_detail("Shapley explanations are computed for the isolation forest detector.")
            .with_hint(format!("Train one: SELECT ml_train('{metric_type}', 'isolation_forest');"))
            .into());
    };
    let ts = to_unix_us(at);
    let until = series::ts(ts.saturating_add(1));
    let read = series::read(metric_type, det.kind().aux_metric(), &[entity_id.to_string()], &[at], det.lookback_us(), Some(until))?;
    let s = read.into_iter().next().unwrap_or_else(|| SeriesRows { entity_id: entity_id.to_string(), ..Default::default() });
    let Some(i) = s.ts.iter().position(|&t| t == ts) else {
        return Err(CoreError::new(ErrorKind::NotFound, format!("no stored features of \"{metric_type}\" for entity \"{entity_id}\" at that timestamp"))
            .with_detail("Explanations are computed for rows of ml_features.")
            .with_hint("Pick a timestamp of ml_features (e.g. an alert's \"timestamp\"), or run ml_build_features() first.")
            .into());
    };
    let Some(e) = det.explain_row(&s, i)? else {
        return Err(CoreError::new(ErrorKind::NotFound, format!("the active model of \"{metric_type}\" does not know entity \"{entity_id}\" and it has too little look-back before that row"))
            .with_detail("An entity gets its own noise model at training; until then it is scored by a model fitted on its look-back rows (a count type from its second hour, other types from 24 rows), and its first rows score 0.")
            .with_hint(format!("Pick a later row, or retrain: SELECT ml_train('{metric_type}');"))
            .into());
    };
    let diff = e.surprise - e.base_surprise;
    let mut out: Vec<ExplainRow> = Vec::new();
    // an entity the model was not trained on: say first which model scored the row
    if let Some(label) = model_label(e.model, e.lookback_rows) {
        out.push(("model".to_string(), label, e.lookback_rows as f64, 0.0, None, None, e.score, e.surprise, e.base_surprise));
    }
    out.extend(e
        .inputs
        .into_iter()
        .map(|a| {
            let share = (diff.abs() > 1e-12).then(|| a.attribution / diff);
            (a.input.to_string(), a.label.to_string(), a.value, a.attribution, share, a.forest, e.score, e.surprise, e.base_surprise)
        }));
    // the sequence family's view: the row's bin and its context, their terms of the family's
    // surprise (base 0: the terms add up to the surprise)
    if let Some(q) = e.sequence {
        out.extend(q.inputs.into_iter().map(|a| {
            let share = (q.surprise.abs() > 1e-12).then(|| a.attribution / q.surprise);
            (a.input.to_string(), a.label, a.value, a.attribution, share, None, e.score, q.surprise, 0.0)
        }));
    }
    Ok(out)
}

/// The label of the `model` row of `ml_explain` for a row an entity's own model did not score
/// (None for a trained entity): which model scored it and from how many look-back rows.
fn model_label(model: ModelSource, rows: usize) -> Option<String> {
    match model {
        ModelSource::Trained => None,
        ModelSource::WarmUp => Some(format!(
            "warm_up: the active model was not trained on this entity; a warm-up noise model fitted on its {rows} look-back rows at scoring time scored the row (no weekly pattern, alert probability raised as for a short history); retraining gives it its own"
        )),
        ModelSource::Borrowed => Some(format!(
            "warm_up (borrowed): the active model was not trained on this entity and it has only {rows} look-back rows; a model borrowed from the metric type's trained entities (their usual daily profile shape, dispersion and widened bands) at the entity's own level from those rows scored the row; retraining gives it its own"
        )),
    }
}

/// Runs recursive feature elimination for a metric type on its stored training data (as
/// ml_train reads it, at most the default row budget), records every round and the per-input
/// decisions, and returns the decisions (input, kept, importance in the first round, reason).
pub fn select_rfe(metric_type: &str, trigger: &str) -> Result<Vec<(String, bool, Option<f64>, String)>> {
    let run = StageRun::start("selection", Some(metric_type), trigger)?;
    let kind = MetricKind::from_metric_type(metric_type);
    // as training does: the rounds fit on the current features
    feature_stage::build(Some(metric_type), false, trigger)?;
    let entities = series::entities(metric_type)?;
    if entities.is_empty() {
        return Err(CoreError::insufficient(format!("no stored features for metric type \"{metric_type}\""))
            .with_hint("Load metrics and run ml_build_features() first.")
            .into());
    }
    let windows = series::known_windows(metric_type)?;
    let mut data: Vec<SeriesRows> = Vec::new();
    let mut rows = 0usize;
    for chunk in entities.chunks(ENTITIES_PER_READ) {
        if rows >= DEFAULT_MAX_TRAIN_ROWS {
            break;
        }
        pgrx::check_for_interrupts!();
        let froms = vec![TimestampWithTimeZone::negative_infinity(); chunk.len()];
        let read = series::read(metric_type, kind.aux_metric(), chunk, &froms, 0, None)?;
        rows += read.iter().map(|s| s.len()).sum::<usize>();
        data.extend(read);
    }
    let w = |s: &series::LabelledSpan| Window { entity_id: s.entity_id.clone(), from_us: s.from_us, to_us: s.to_us };
    let labels: Vec<Window> = windows.labels.iter().map(w).collect();
    let normal: Vec<Window> = windows.normal.iter().map(w).collect();
    let r = rfe(kind, &DetectorParams::default(), &data, &labels, &normal)?;
    let first = &r.rounds[0];
    let chosen = &r.rounds[r.chosen];
    let fmt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
    let measure = |x: &pg_anomaly_core::detect::RfeRound| match r.criterion {
        "event_f1" => format!("event F1 {}", fmt(x.f1)),
        _ => format!("alert agreement {:.3}", x.agreement),
    };
    let decisions = first
        .inputs
        .iter()
        .zip(&first.importance)
        .map(|(name, imp)| {
            let kept = chosen.inputs.contains(name);
            let reason = if kept {
                format!("kept: round {} of {} ({} inputs) has the best {}; all inputs: {}", r.chosen, r.rounds.len(), chosen.inputs.len(), measure(chosen), measure(first))
            } else {
                let out = r.rounds.iter().find(|x| x.dropped.as_deref() == Some(name.as_str()));
                match out {
                    Some(x) => format!("dropped after round {}: least important input ({:.3}) of {}", x.round, x.importance[x.inputs.iter().position(|n| n == name).unwrap_or(0)], x.inputs.len()),
                    None => "dropped".to_string(),
                }
            };
            (name.clone(), kept, Some(*imp), reason)
        })
        .collect::<Vec<_>>();
    store::save(metric_type, &r, &decisions)?;
    run.success(None, rows as i64, chosen.inputs.len() as i64)?;
    Ok(decisions)
}
