//! Alerts from scored rows: anomalous rows grouped into episodes, one alert per episode per
//! series, with its message and notifications.

use super::detect::grade;
use super::model::Model;
use super::notify;
use crate::errors::Result;
use crate::gucs;
use crate::storage::alerts;
use pg_anomaly_core::detect::{continues_unsettled, may_continue, Episode, Scored, SeriesRows};
use pg_anomaly_core::messages::{alert_text, series_context, AlertFacts, SeriesContext};
use pg_anomaly_core::row::{deviation_percent, explanation_json};

/// Turns the anomalous rows of one series into episodes and writes them. An episode that
/// overlaps a known alert of the series, or follows it within the gap, updates that alert
/// (rescoring after recomputed features must not add a second alert for the same span);
/// so does one that continues the series' open alert under the unsettled-gap rule, as two
/// episodes within one run would merge: within the model's reversal window of its end and
/// no row between back at a normal score (`before`: the rows after the open alert's end that
/// an earlier run scored, rescored as look-back; the rest are in `scored`). An alert marked
/// a false positive is not continued that way. Any other episode closes the open alert and
/// becomes a new one. Returns the alerts added.
#[allow(clippy::too_many_arguments)]
pub fn write_alerts(
    model: &Model,
    metric_type: &str,
    alert_type: &str,
    gap_us: i64,
    model_id: i64,
    threshold: f64,
    s: &SeriesRows,
    before: &[Scored],
    scored: &[Scored],
    known: &mut Vec<alerts::KnownAlert>,
) -> Result<i64> {
    let english = gucs::english();
    let params = model.episode_params(gap_us);
    let mut written = 0;
    for ep in model.episodes(scored, gap_us).into_iter().filter(|e| !e.suppressed) {
        let w = alert_of(&ep, metric_type, alert_type, model_id, threshold, s, scored, english);
        let continues = |k: &alerts::KnownAlert| ep.start_ts <= k.last_us.saturating_add(gap_us) && ep.end_ts.saturating_add(gap_us) >= k.first_us;
        let unsettled = |k: &alerts::KnownAlert| {
            k.open && !k.false_positive && k.last_us < ep.start_ts && continues_unsettled(k.last_us, ep.start_ts, before.iter().chain(&scored[..ep.start]), &params)
        };
        let found = match known.iter().position(continues) {
            Some(i) => Some(i),
            None => known.iter().position(unsettled),
        };
        if let Some(k) = found.map(|i| &mut known[i]) {
            // An escalation queues a notification at the new severity.
            if alerts::extend(k.id, &w)? {
                notify::after_alert(k.id, false)?;
            }
            k.first_us = k.first_us.min(w.first_us);
            k.last_us = k.last_us.max(w.last_us);
            continue;
        }
        for k in known.iter_mut().filter(|k| k.open) {
            alerts::close(k.id)?;
            k.open = false;
        }
        let id = alerts::insert(&w)?;
        notify::after_alert(id, true)?;
        written += 1;
        known.push(alerts::KnownAlert { id, first_us: w.first_us, last_us: w.last_us, open: true, false_positive: false });
    }
    Ok(written)
}

/// After a saving pass scored a series up to its last row: closes its open alert once no
/// later episode may continue it (past the episode gap, and past the reversal window or
/// with a row since back at a normal score, or marked a false positive past the gap), so
/// the alert stays open exactly as long as [`write_alerts`] would still extend it. `before`
/// and `scored` as there.
pub fn close_settled(model: &Model, gap_us: i64, before: &[Scored], scored: &[Scored], known: &mut [alerts::KnownAlert]) -> Result<()> {
    let Some(until) = scored.last().map(|r| r.ts) else { return Ok(()) };
    let params = model.episode_params(gap_us);
    for k in known.iter_mut().filter(|k| k.open) {
        let keep = if k.false_positive {
            until.saturating_sub(k.last_us) <= gap_us
        } else {
            may_continue(k.last_us, until, before.iter().chain(scored), &params)
        };
        if !keep {
            alerts::close(k.id)?;
            k.open = false;
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
        explanation: explanation_json(&peak.top, peak.neg_log10_p, peak.sequence.as_ref()),
    }
}
