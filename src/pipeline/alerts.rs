//! Alerts from scored rows: anomalous rows grouped into episodes, one alert per episode per
//! series, with its message and notifications.

use super::detect::grade;
use super::model::Model;
use super::notify;
use crate::errors::Result;
use crate::storage::alerts;
use pg_anomaly_core::detect::{continues_unsettled, may_continue, Episode, Scored, SeriesRows};
use pg_anomaly_core::messages::{alert_text, series_context, AlertFacts, SeriesContext};
use pg_anomaly_core::row::{deviation_percent, explanation_json};

/// What writing a series' episodes does to ml_alerts, decided without touching it (so a
/// Citus worker can decide for its series and the coordinator apply, in order): a new
/// alert (`slot`: a negative placeholder for its id, which later actions of the same
/// series use), an extension of a known or new alert, or closing one.
#[derive(serde::Serialize, serde::Deserialize)]
pub enum AlertAction {
    Insert { slot: i64, alert: alerts::AlertWrite },
    Extend { id: i64, alert: alerts::AlertWrite },
    Close { id: i64 },
}

/// What a series' alerts are decided from besides its rows: the model and the metric
/// type's alert settings, and the alert language (the coordinator's, on a worker).
pub struct AlertContext<'a> {
    pub model: &'a Model,
    pub metric_type: &'a str,
    pub alert_type: &'a str,
    pub gap_us: i64,
    pub model_id: i64,
    pub english: bool,
}

/// Turns the anomalous rows of one series into episodes and decides their alerts. An
/// episode that overlaps a known alert of the series, or follows it within the gap, updates
/// that alert (rescoring after recomputed features must not add a second alert for the same
/// span); so does one that continues the series' open alert under the unsettled-gap rule, as
/// two episodes within one run would merge: within the model's reversal window of its end and
/// no row between back at a normal score (`before`: the rows after the open alert's end that
/// an earlier run scored, rescored as look-back; the rest are in `scored`). An alert marked
/// a false positive is not continued that way. Any other episode closes the open alert and
/// becomes a new one. Appends the actions and returns the alerts added.
pub fn plan_alerts(
    cx: &AlertContext,
    s: &SeriesRows,
    before: &[Scored],
    scored: &[Scored],
    known: &mut Vec<alerts::KnownAlert>,
    actions: &mut Vec<AlertAction>,
) -> i64 {
    let model = cx.model;
    let gap_us = cx.gap_us;
    let params = model.episode_params(gap_us);
    let mut written = 0;
    for ep in model.episodes(scored, gap_us).into_iter().filter(|e| !e.suppressed) {
        let w = alert_of(&ep, cx.metric_type, cx.alert_type, cx.model_id, model.threshold(), s, scored, cx.english);
        let continues = |k: &alerts::KnownAlert| ep.start_ts <= k.last_us.saturating_add(gap_us) && ep.end_ts.saturating_add(gap_us) >= k.first_us;
        let unsettled = |k: &alerts::KnownAlert| {
            k.open && !k.false_positive && k.last_us < ep.start_ts && continues_unsettled(k.last_us, ep.start_ts, before.iter().chain(&scored[..ep.start]), &params)
        };
        let found = match known.iter().position(continues) {
            Some(i) => Some(i),
            None => known.iter().position(unsettled),
        };
        if let Some(k) = found.map(|i| &mut known[i]) {
            k.first_us = k.first_us.min(w.first_us);
            k.last_us = k.last_us.max(w.last_us);
            actions.push(AlertAction::Extend { id: k.id, alert: w });
            continue;
        }
        for k in known.iter_mut().filter(|k| k.open) {
            actions.push(AlertAction::Close { id: k.id });
            k.open = false;
        }
        written += 1;
        let slot = -written;
        known.push(alerts::KnownAlert { id: slot, first_us: w.first_us, last_us: w.last_us, open: true, false_positive: false });
        actions.push(AlertAction::Insert { slot, alert: w });
    }
    written
}

/// After a saving pass scored a series up to its last row: closes its open alert once no
/// later episode may continue it (past the episode gap, and past the reversal window or
/// with a row since back at a normal score, or marked a false positive past the gap), so
/// the alert stays open exactly as long as [`plan_alerts`] would still extend it. `before`
/// and `scored` as there.
pub fn plan_close_settled(model: &Model, gap_us: i64, before: &[Scored], scored: &[Scored], known: &mut [alerts::KnownAlert], actions: &mut Vec<AlertAction>) {
    let Some(until) = scored.last().map(|r| r.ts) else { return };
    let params = model.episode_params(gap_us);
    for k in known.iter_mut().filter(|k| k.open) {
        let keep = if k.false_positive {
            until.saturating_sub(k.last_us) <= gap_us
        } else {
            may_continue(k.last_us, until, before.iter().chain(scored), &params)
        };
        if !keep {
            actions.push(AlertAction::Close { id: k.id });
            k.open = false;
        }
    }
}

/// Applies one series' actions to ml_alerts in order, queueing the notifications: a new
/// alert's and an escalation's.
pub fn apply(actions: &[AlertAction]) -> Result<()> {
    let mut ids: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    let id_of = |ids: &std::collections::HashMap<i64, i64>, id: i64| -> Result<i64> {
        if id >= 0 {
            return Ok(id);
        }
        ids.get(&id).copied().ok_or_else(|| pg_anomaly_core::CoreError::internal(format!("alert action names slot {id} before its alert")).into())
    };
    for a in actions {
        match a {
            AlertAction::Insert { slot, alert } => {
                let id = alerts::insert(alert)?;
                notify::after_alert(id, true)?;
                ids.insert(*slot, id);
            }
            AlertAction::Extend { id, alert } => {
                let id = id_of(&ids, *id)?;
                // An escalation queues a notification at the new severity.
                if alerts::extend(id, alert)? {
                    notify::after_alert(id, false)?;
                }
            }
            AlertAction::Close { id } => alerts::close(id_of(&ids, *id)?)?,
        }
    }
    Ok(())
}

/// The alert row of one episode: graded and explained at its peak, worded in the
/// configured language.
#[allow(clippy::too_many_arguments)]
fn alert_of(
    ep: &Episode,
    metric_type: &str,
    alert_type: &str,
    model_id: i64,
    threshold: f64,
    s: &SeriesRows,
    scored: &[Scored],
    english: bool,
) -> alerts::AlertWrite {
    let entity_id = s.entity_id.as_str();
    let rows = &scored[ep.start..=ep.end];
    let peak = &scored[ep.peak];
    let dev = deviation_percent(peak.value, peak.expected);
    let sev = grade(peak.score, threshold, dev);
    let (message, action) = alert_text(
        &AlertFacts {
            metric_type,
            entity_id,
            value: peak.value,
            expected: peak.expected,
            deviation_percent: dev,
            severity: sev.as_str(),
            reasons: &peak.top,
            direction: peak.direction,
            context: s.ts.binary_search(&peak.ts).map(|i| series_context(&s.ts, &s.value, i)).unwrap_or_else(|_| SeriesContext::default()),
        },
        english,
    );
    alerts::AlertWrite {
        alert_type: alert_type.to_string(),
        severity: sev,
        entity_id: entity_id.to_string(),
        metric_type: metric_type.to_string(),
        first_us: ep.start_ts,
        last_us: ep.end_ts,
        metric_value: peak.value,
        expected_value: peak.expected,
        deviation_percent: dev,
        message,
        suggested_action: action,
        score: rows[rows.len() - 1].score,
        peak_score: ep.peak_score,
        count: rows.iter().filter(|r| r.is_anomaly).count().max(1) as i32,
        model_id,
        explanation: explanation_json(&peak.top, peak.neg_log10_p, peak.sequence.as_ref(), peak.warm_up, peak.noise_model),
    }
}
