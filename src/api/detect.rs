//! Stage 7: scoring (ml_detect) and alerts.

use super::features as feature_stage;
use super::model::Model;
use super::train;
use crate::errors::{run, Result};
use crate::gucs;
use crate::storage::{alerts, locks, models, runs, series, to_unix_us};
use pg_anomaly_core::detect::{severity, MetricKind, Scored, SeriesRows};
use pg_anomaly_core::messages::{alert_text, series_context, AlertFacts, SeriesContext};
use pg_anomaly_core::CoreError;
use pgrx::datum::{JsonB, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use serde_json::json;

const ENTITIES_PER_CHUNK: usize = 64;
/// Entities per chunk when streaming an analyst's rows: a month of 15-minute rows of 16
/// series is about 46,000 rows held at a time.
const ENTITIES_PER_STREAMED_CHUNK: usize = 16;

pub type DetectRow = (
    String,
    String,
    TimestampWithTimeZone,
    f64,
    f64,
    bool,
    Option<String>,
    Option<f64>,
    Option<f64>,
    Option<JsonB>,
);

/// Scores stored observations and returns one row per scored observation. With
/// save => true and no `since` it scores what no saving run scored yet and writes alerts
/// (one per anomaly episode per series), advancing the watermark in the same transaction.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_temp)]
pub fn ml_detect(
    metric_type: default!(Option<&str>, "NULL"),
    since: default!(Option<TimestampWithTimeZone>, "NULL"),
    until: default!(Option<TimestampWithTimeZone>, "NULL"),
    save: default!(bool, false),
    parallel: default!(i32, 1),
) -> std::result::Result<
    TableIterator<
        'static,
        (
            name!(metric_type, String),
            name!(entity_id, String),
            name!(timestamp, TimestampWithTimeZone),
            name!(metric_value, f64),
            name!(score, f64),
            name!(is_anomaly, bool),
            name!(severity, Option<String>),
            name!(expected_value, Option<f64>),
            name!(deviation_percent, Option<f64>),
            name!(explanation, Option<JsonB>),
        ),
    >,
    ErrorReport,
> {
    run("ml_detect", || {
        if parallel > 1 && save {
            return Ok(TableIterator::new(crate::workers::parallel::detection(metric_type, since, until, parallel)?.into_iter()));
        }
        if !save {
            return Ok(TableIterator::new(Streamed::new(metric_type, since, until)?));
        }
        Ok(TableIterator::new(detect(metric_type, since, until, save)?.into_iter()))
    })
}

/// Whether the current role may write the feature store (readers score without building).
fn may_write() -> Result<bool> {
    Ok(crate::storage::one::<bool>("SELECT has_table_privilege('ml_features', 'INSERT')", &[])?.unwrap_or(false))
}

pub fn metric_types(metric_type: Option<&str>) -> Result<Vec<String>> {
    Ok(match metric_type {
        Some(m) => vec![m.to_string()],
        None => Spi::connect(|client| -> Result<Vec<String>> {
            let mut v = Vec::new();
            for r in client.select(
                "SELECT metric_type FROM ml_settings WHERE enabled
                  UNION SELECT DISTINCT metric_type FROM ml_series_state ORDER BY 1",
                None,
                &[],
            )? {
                if let Some(m) = r.get::<String>(1)? {
                    v.push(m);
                }
            }
            Ok(v)
        })?,
    })
}

pub fn detect(
    metric_type: Option<&str>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    save: bool,
) -> Result<Vec<DetectRow>> {
    detect_partition(metric_type, since, until, save, None)
}

/// Detection over one partition of the entities (hash modulo n equal to k), or all of them.
/// A partitioned run is a worker of a parallel run: the leader holds the stage lock and
/// built the features and models.
pub fn detect_partition(
    metric_type: Option<&str>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    save: bool,
    partition: Option<(u32, u32)>,
) -> Result<Vec<DetectRow>> {
    let writer = may_write()? && partition.is_none();
    if save && partition.is_none() && !locks::try_stage(locks::Stage::Detection)? {
        pgrx::notice!("pg_anomaly: another saving detection run is in progress; skipping this one");
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for mt in metric_types(metric_type)? {
        let Some(mut run) = TypeRun::prepare(&mt, since, save, writer, metric_type.is_some(), partition)? else { continue };
        while run.next_chunk(until, save, ENTITIES_PER_CHUNK, &mut out)? {}
        if save && partition.is_none() {
            run.finish()?;
        }
    }
    Ok(out)
}

/// One metric type's scoring pass: its model and settings, and the series still to score.
struct TypeRun {
    mt: String,
    model_id: i64,
    model: std::rc::Rc<Model>,
    kind: MetricKind,
    alert_type: String,
    gap_us: i64,
    work: Vec<(String, TimestampWithTimeZone)>,
    next: usize,
    started: TimestampWithTimeZone,
    scored_rows: i64,
    written: i64,
}

impl TypeRun {
    /// Builds missing features (when the caller may), finds or trains the model and lists
    /// the series to score; None when the type has nothing to score with.
    fn prepare(
        mt: &str,
        since: Option<TimestampWithTimeZone>,
        save: bool,
        writer: bool,
        asked: bool,
        partition: Option<(u32, u32)>,
    ) -> Result<Option<TypeRun>> {
        let started = runs::now()?;
        if writer {
            feature_stage::build(Some(mt), false)?;
        }
        let Some((model_id, _model_type)) = active_or_train(mt, writer, asked)? else { return Ok(None) };
        let model = Model::load(model_id)?;
        let kind = MetricKind::from_metric_type(mt);
        let (alert_type, gap_us) = alerts::settings(mt)?;
        let work: Vec<(String, TimestampWithTimeZone)> = match (save, since) {
            (true, None) => alerts::unscored(mt)?
                .into_iter()
                .map(|(e, s)| (e, s.map(|t| series::ts(to_unix_us(t) + 1)).unwrap_or_else(TimestampWithTimeZone::negative_infinity)))
                .collect(),
            (_, s) => series::entities(mt)?
                .into_iter()
                .map(|e| (e, s.unwrap_or_else(TimestampWithTimeZone::negative_infinity)))
                .collect(),
        };
        let work = match partition {
            Some((k, n)) => work.into_iter().filter(|w| crate::workers::parallel::partition_of(&w.0, n) == k).collect(),
            None => work,
        };
        Ok(Some(TypeRun { mt: mt.to_string(), model_id, model, kind, alert_type, gap_us, work, next: 0, started, scored_rows: 0, written: 0 }))
    }

    /// Scores the next chunk of series into `out` (writing alerts and advancing watermarks
    /// when saving); false when every series was scored.
    fn next_chunk(&mut self, until: Option<TimestampWithTimeZone>, save: bool, size: usize, out: &mut Vec<DetectRow>) -> Result<bool> {
        if self.next >= self.work.len() {
            return Ok(false);
        }
        pgrx::check_for_interrupts!();
        let chunk = &self.work[self.next..(self.next + size).min(self.work.len())];
        self.next += chunk.len();
        let mt = self.mt.as_str();
        let model = &self.model;
        let entities: Vec<String> = chunk.iter().map(|c| c.0.clone()).collect();
        let froms: Vec<TimestampWithTimeZone> = chunk.iter().map(|c| c.1).collect();
        let data = series::read(mt, self.kind.aux_metric(), &entities, &froms, model.lookback_us(), until)?;
        let mut known = match (save, froms.iter().copied().min_by_key(|t| to_unix_us(*t))) {
            (true, Some(since)) => alerts::known_alerts(mt, &entities, since, self.gap_us)?,
            _ => Default::default(),
        };
        let (mut adv_e, mut adv_t) = (Vec::new(), Vec::new());
        for s in &data {
            let from_us = chunk.iter().find(|c| c.0 == s.entity_id).map(|c| to_unix_us(c.1)).unwrap_or(i64::MIN);
            let first = s.ts.partition_point(|t| *t < from_us);
            if first >= s.len() {
                continue;
            }
            let scored = model.score_series(s, first)?;
            self.scored_rows += scored.len() as i64;
            if save {
                let k = known.entry(s.entity_id.clone()).or_default();
                self.written += write_alerts(model, mt, &self.alert_type, self.gap_us, self.model_id, model.threshold(), s, &scored, k)?;
                adv_e.push(s.entity_id.clone());
                adv_t.push(series::ts(scored.last().map(|r| r.ts).unwrap_or(s.ts[s.len() - 1])));
            }
            for r in scored {
                out.push(output_row(mt, &s.entity_id, &r, model.threshold()));
            }
        }
        if save && !adv_e.is_empty() {
            alerts::advance_scored(mt, adv_e, adv_t)?;
        }
        Ok(true)
    }

    /// Closes stale episodes and records the run (a saving, unpartitioned pass).
    fn finish(&self) -> Result<()> {
        alerts::close_stale(&self.mt, self.gap_us)?;
        runs::success("detection", Some(&self.mt), None, self.started, self.scored_rows, self.written)?;
        Ok(())
    }
}

/// An analyst's ml_detect (no saving): rows are produced a chunk of series at a time as the
/// query consumes them, so a pass over months of every metric type holds one chunk in
/// memory, not every scored row. An error is raised from inside the scan.
pub struct Streamed {
    types: std::vec::IntoIter<String>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    writer: bool,
    asked: bool,
    run: Option<TypeRun>,
    buf: std::vec::IntoIter<DetectRow>,
}

impl Streamed {
    pub fn new(metric_type: Option<&str>, since: Option<TimestampWithTimeZone>, until: Option<TimestampWithTimeZone>) -> Result<Self> {
        Ok(Streamed {
            types: metric_types(metric_type)?.into_iter(),
            since,
            until,
            writer: may_write()?,
            asked: metric_type.is_some(),
            run: None,
            buf: Vec::new().into_iter(),
        })
    }

    fn step(&mut self) -> Result<Option<DetectRow>> {
        loop {
            if let Some(r) = self.buf.next() {
                return Ok(Some(r));
            }
            if let Some(run) = self.run.as_mut() {
                let mut rows = Vec::new();
                if run.next_chunk(self.until, false, ENTITIES_PER_STREAMED_CHUNK, &mut rows)? {
                    self.buf = rows.into_iter();
                    continue;
                }
                self.run = None;
            }
            let Some(mt) = self.types.next() else { return Ok(None) };
            self.run = TypeRun::prepare(&mt, self.since, false, self.writer, self.asked, None)?;
        }
    }
}

impl Iterator for Streamed {
    type Item = DetectRow;

    fn next(&mut self) -> Option<DetectRow> {
        match self.step() {
            Ok(r) => r,
            Err(e) => {
                e.into_report("ml_detect").report(pgrx::PgLogLevel::ERROR);
                None
            }
        }
    }
}

/// The active model of a metric type; with none, trains one when the caller may and there
/// is data (saying so), else fails with a hint.
pub fn active_or_train(metric_type: &str, writer: bool, asked: bool) -> Result<Option<(i64, String)>> {
    if let Some((id, model_type)) = models::active_any(metric_type)? {
        // A model in a format this build does not read (an older one, after an upgrade) is
        // refitted on first use by a caller who may train, saying so; anyone else gets the
        // load error with its hint. Damaged bytes stay an error.
        match Model::load(id) {
            Err(crate::errors::Error::Core(e))
                if writer && e.kind == pg_anomaly_core::ErrorKind::Corrupt && e.message.starts_with("unsupported ") && e.message.contains(" format version ") =>
            {
                pgrx::notice!("pg_anomaly: the active {} model {} of \"{}\" cannot be loaded ({}); refitting it now", model_type, id, metric_type, e.message);
                let new_id = train::train_logged(metric_type, &model_type, &json!({}), None, None, "model format upgrade")?;
                return Ok(Some((new_id, model_type)));
            }
            _ => return Ok(Some((id, model_type))),
        }
    }
    if series::entities(metric_type)?.is_empty() {
        if asked {
            return Err(CoreError::insufficient(format!("no stored features for metric type \"{metric_type}\""))
                .with_hint("Insert metrics of that type and run ml_build_features().")
                .into());
        }
        return Ok(None);
    }
    if !writer {
        return Err(CoreError::new(pg_anomaly_core::ErrorKind::NotReady, format!("no active model for metric type \"{metric_type}\""))
            .with_hint(format!("An admin must train one first: SELECT ml_train('{metric_type}');"))
            .into());
    }
    pgrx::notice!("pg_anomaly: no active model for \"{}\"; training one now", metric_type);
    let id = train::train_logged(metric_type, "isolation_forest", &json!({}), None, None, "first detection")?;
    Ok(Some((id, "isolation_forest".to_string())))
}

fn deviation(value: f64, expected: Option<f64>) -> Option<f64> {
    let e = expected?;
    if e.abs() < 1e-9 {
        return None;
    }
    Some(100.0 * (value - e) / e.abs())
}

fn output_row(metric_type: &str, entity: &str, r: &Scored, threshold: f64) -> DetectRow {
    let dev = deviation(r.value, r.expected);
    let sev = r.is_anomaly.then(|| severity(r.score, threshold, dev).to_string());
    let explanation = (!r.top.is_empty()).then(|| {
        JsonB(json!(r.top.iter().map(|(f, s)| json!({"feature": f, "share": s})).collect::<Vec<_>>()))
    });
    (metric_type.to_string(), entity.to_string(), series::ts(r.ts), r.value, r.score, r.is_anomaly, sev, r.expected, dev, explanation)
}

/// Turns the anomalous rows of one series into episodes and writes them. An episode that
/// overlaps a known alert of the series, or follows it within the gap, updates that alert
/// (rescoring after recomputed features must not add a second alert for the same span);
/// any other episode closes the open alert and becomes a new one.
#[allow(clippy::too_many_arguments)]
fn write_alerts(
    model: &Model,
    metric_type: &str,
    alert_type: &str,
    gap_us: i64,
    model_id: i64,
    threshold: f64,
    s: &SeriesRows,
    scored: &[Scored],
    known: &mut Vec<alerts::KnownAlert>,
) -> Result<i64> {
    let english = gucs::english();
    let mut written = 0;
    for ep in model.episodes(scored, gap_us).into_iter().filter(|e| !e.suppressed) {
        let rows = &scored[ep.start..=ep.end];
        let peak = &scored[ep.peak];
        let dev = deviation(peak.value, peak.expected);
        let sev = severity(peak.score, threshold, dev);
        let (message, action) = alert_text(
            &AlertFacts {
                metric_type,
                entity_id: &s.entity_id,
                value: peak.value,
                expected: peak.expected,
                deviation_percent: dev,
                severity: sev,
                reasons: &peak.top,
                direction: peak.direction,
                context: s.ts.binary_search(&peak.ts).map(|i| series_context(&s.ts, &s.value, i)).unwrap_or_else(|_| SeriesContext::default()),
            },
            english,
        );
        let w = alerts::AlertWrite {
            alert_type: alert_type.to_string(),
            severity: sev.to_string(),
            entity_id: s.entity_id.clone(),
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
            explanation: json!(peak.top.iter().map(|(f, sh)| json!({"feature": f, "share": sh})).collect::<Vec<_>>()),
        };
        let continues = |k: &alerts::KnownAlert| ep.start_ts <= k.last_us.saturating_add(gap_us) && ep.end_ts.saturating_add(gap_us) >= k.first_us;
        if let Some(k) = known.iter_mut().find(|k| continues(k)) {
            // An escalation queues a notification at the new severity.
            if alerts::extend(k.id, &w)? {
                super::notify::after_alert(k.id, false)?;
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
        super::notify::after_alert(id, true)?;
        written += 1;
        known.push(alerts::KnownAlert { id, first_us: w.first_us, last_us: w.last_us, open: true });
    }
    Ok(written)
}

/// A detection row as JSON (how parallel workers hand rows to their leader), and back.
pub fn row_to_json(r: &DetectRow) -> serde_json::Value {
    json!({ "m": r.0, "e": r.1, "t": crate::storage::to_unix_us(r.2), "v": r.3, "s": r.4, "a": r.5, "sev": r.6,
            "x": r.7, "d": r.8, "expl": r.9.as_ref().map(|j| j.0.clone()) })
}

pub fn row_from_json(v: &serde_json::Value) -> Option<DetectRow> {
    Some((
        v["m"].as_str()?.to_string(),
        v["e"].as_str()?.to_string(),
        series::ts(v["t"].as_i64()?),
        v["v"].as_f64()?,
        v["s"].as_f64()?,
        v["a"].as_bool()?,
        v["sev"].as_str().map(str::to_owned),
        v["x"].as_f64(),
        v["d"].as_f64(),
        v["expl"].is_object().then(|| JsonB(v["expl"].clone())).or_else(|| v["expl"].is_array().then(|| JsonB(v["expl"].clone()))),
    ))
}
