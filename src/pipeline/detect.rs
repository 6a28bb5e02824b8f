//! Stage 7: scoring stored observations with the active model of their metric type. A
//! saving pass scores what no saving pass scored yet, writes alerts (`alerts`) and advances
//! the scored watermark in the same transaction; an analyst's pass streams its rows.

use super::alerts::{close_settled, write_alerts};
use super::features as feature_stage;
use super::model::{self, Model};
use pg_anomaly_core::model::DETECTOR_TYPE;
use super::stage::StageRun;
use super::train;
use crate::errors::Result;
use crate::storage::{alerts, locks, models, series, settings, to_unix_us};
use pg_anomaly_core::codec::partition_of;
use pg_anomaly_core::detect::{severity, MetricKind, Scored};
use pg_anomaly_core::row::{deviation_percent, explanation_json};
use pg_anomaly_core::{CoreError, DetectRow, Severity};
use pgrx::datum::TimestampWithTimeZone;

/// Entities per read of a saving pass.
const ENTITIES_PER_CHUNK: usize = 64;
/// Entities per chunk when streaming an analyst's rows: a month of 15-minute rows of 16
/// series is about 46,000 rows held at a time.
const ENTITIES_PER_STREAMED_CHUNK: usize = 16;

/// The NOTICE of a saving detection run that finds another one running.
pub const BUSY: &str = "another saving detection run is in progress; skipping this one";

/// The metric types a detection pass covers: the one asked for, or every enabled type and
/// every type with stored series.
pub fn metric_types(metric_type: Option<&str>) -> Result<Vec<String>> {
    Ok(match metric_type {
        Some(m) => vec![m.to_string()],
        None => settings::detected_metric_types()?,
    })
}

/// Scores the stored observations of one metric type (or all): with `save` and no `since`,
/// what no saving pass scored yet, writing alerts and advancing the watermark; returns
/// every scored row.
pub fn detect(
    metric_type: Option<&str>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    save: bool,
    trigger: &str,
) -> Result<Vec<DetectRow>> {
    detect_partition(metric_type, since, until, save, None, trigger)
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
    trigger: &str,
) -> Result<Vec<DetectRow>> {
    let writer = settings::may_write_features()? && partition.is_none();
    if save && partition.is_none() && !StageRun::lock(locks::Stage::Detection, BUSY)? {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for mt in metric_types(metric_type)? {
        let Some(mut run) = TypeRun::prepare(&mt, since, save, writer, metric_type.is_some(), partition, trigger)? else { continue };
        while run.next_chunk(until, save, ENTITIES_PER_CHUNK, &mut out)? {}
        if save && partition.is_none() {
            run.finish()?;
        }
    }
    Ok(out)
}

/// One metric type's scoring pass: its model and settings, and the series still to score.
struct TypeRun {
    run: StageRun,
    mt: String,
    model_id: i64,
    model: std::rc::Rc<Model>,
    kind: MetricKind,
    alert_type: String,
    gap_us: i64,
    work: Vec<(String, TimestampWithTimeZone)>,
    next: usize,
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
        trigger: &str,
    ) -> Result<Option<TypeRun>> {
        let run = StageRun::start("detection", Some(mt), trigger)?;
        // Scoring needs fresh features and an active model: it asks for both here.
        if writer {
            feature_stage::build(Some(mt), false, trigger)?;
        }
        let Some((model_id, _model_type)) = active_or_train(mt, writer, asked, trigger)? else { return Ok(None) };
        let model = model::load(model_id)?;
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
            Some((k, n)) => work.into_iter().filter(|w| partition_of(&w.0, n) == k).collect(),
            None => work,
        };
        Ok(Some(TypeRun { run, mt: mt.to_string(), model_id, model, kind, alert_type, gap_us, work, next: 0, scored_rows: 0, written: 0 }))
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
        let mut known = match (save, froms.iter().copied().min_by_key(|t| to_unix_us(*t))) {
            (true, Some(since)) => alerts::known_alerts(mt, &entities, since, self.gap_us)?,
            _ => Default::default(),
        };
        // An open alert that ended before the rows to score may still be continued under the
        // unsettled-gap rule, which needs the scores of the rows since its end: an earlier
        // run scored them and kept none, so they are read and rescored as look-back (at most
        // the reversal window; only series with such an alert).
        let window = model.open_window_us(self.gap_us);
        let open_ends: std::collections::HashMap<&str, i64> = chunk
            .iter()
            .filter_map(|c| {
                let from_us = to_unix_us(c.1);
                let k = known.get(&c.0)?.iter().find(|k| k.open && !k.false_positive && k.last_us < from_us && from_us.saturating_sub(k.last_us) <= window)?;
                Some((c.0.as_str(), k.last_us))
            })
            .collect();
        let read_froms: Vec<TimestampWithTimeZone> = chunk
            .iter()
            .map(|c| match open_ends.get(c.0.as_str()) {
                Some(end) => series::ts(end.saturating_add(1)),
                None => c.1,
            })
            .collect();
        let data = series::read(mt, self.kind.aux_metric(), &entities, &read_froms, model.lookback_us(), until)?;
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
                // the rows between the open alert's end and the rows to score (not reported)
                let before: Vec<Scored> = match open_ends.get(s.entity_id.as_str()) {
                    Some(&end) if s.ts.partition_point(|t| *t <= end) < first => {
                        let mut r = model.score_series(s, s.ts.partition_point(|t| *t <= end))?;
                        r.retain(|x| x.ts < from_us);
                        r
                    }
                    _ => Vec::new(),
                };
                let k = known.entry(s.entity_id.clone()).or_default();
                self.written += write_alerts(model, mt, &self.alert_type, self.gap_us, self.model_id, model.threshold(), s, &before, &scored, k)?;
                close_settled(model, self.gap_us, &before, &scored, k)?;
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
        alerts::close_stale(&self.mt, self.model.open_window_us(self.gap_us))?;
        self.run.success(None, self.scored_rows, self.written)?;
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
    trigger: String,
    run: Option<TypeRun>,
    buf: std::vec::IntoIter<DetectRow>,
}

impl Streamed {
    pub fn new(metric_type: Option<&str>, since: Option<TimestampWithTimeZone>, until: Option<TimestampWithTimeZone>, trigger: &str) -> Result<Self> {
        Ok(Streamed {
            types: metric_types(metric_type)?.into_iter(),
            since,
            until,
            writer: settings::may_write_features()?,
            asked: metric_type.is_some(),
            trigger: trigger.to_string(),
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
            self.run = TypeRun::prepare(&mt, self.since, false, self.writer, self.asked, None, &self.trigger)?;
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
pub fn active_or_train(metric_type: &str, writer: bool, asked: bool, trigger: &str) -> Result<Option<(i64, String)>> {
    if let Some((id, model_type)) = models::active_any(metric_type)? {
        // A model in a format this build does not read (an older one, after an upgrade) is
        // refitted on first use by a caller who may train, saying so; anyone else gets the
        // load error with its hint. Damaged bytes stay an error.
        match model::load(id) {
            Err(crate::errors::Error::Core(e))
                if writer && e.kind == pg_anomaly_core::ErrorKind::Corrupt && e.message.starts_with("unsupported ") && e.message.contains(" format version ") =>
            {
                pgrx::notice!("pg_anomaly: the active {} model {} of \"{}\" cannot be loaded ({}); refitting it now", model_type, id, metric_type, e.message);
                let new_id = train::train_logged(&train::TrainRequest { model_type: &model_type, ..train::TrainRequest::default_detector(metric_type, "model format upgrade", trigger) })?;
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
    let id = train::train_logged(&train::TrainRequest::default_detector(metric_type, "first detection", trigger))?;
    Ok(Some((id, DETECTOR_TYPE.to_string())))
}

/// One scored row as ml_detect returns it: severity on anomalies, explanation when the
/// model gave reasons.
fn output_row(metric_type: &str, entity: &str, r: &Scored, threshold: f64) -> DetectRow {
    let dev = deviation_percent(r.value, r.expected);
    DetectRow {
        metric_type: metric_type.to_string(),
        entity_id: entity.to_string(),
        ts_us: r.ts,
        metric_value: r.value,
        score: r.score,
        is_anomaly: r.is_anomaly,
        severity: r.is_anomaly.then(|| grade(r.score, threshold, dev)),
        expected_value: r.expected,
        deviation_percent: dev,
        explanation: (!r.top.is_empty()).then(|| explanation_json(&r.top, r.neg_log10_p, r.sequence.as_ref())),
    }
}

/// The severity of a row or an episode's peak.
pub fn grade(score: f64, threshold: f64, deviation_percent: Option<f64>) -> Severity {
    let s = severity(score, threshold, deviation_percent);
    Severity::parse(s).unwrap_or(Severity::Kritik)
}
