//! Stage 7: scoring stored observations with the active model of their metric type. A
//! saving pass scores what no saving pass scored yet, writes alerts (`alerts`) and advances
//! the scored watermark in the same transaction; an analyst's pass streams its rows.

use super::alerts::{self as alerts_stage, plan_alerts, plan_close_settled, AlertAction, AlertContext};
use super::shards;
use crate::gucs;
use super::features as feature_stage;
use super::model::{self, Model};
use pg_anomaly_core::model::DETECTOR_TYPE;
use super::stage::StageRun;
use super::train;
use crate::errors::Result;
use crate::storage::{alerts, locks, models, series, settings, to_unix_us};
use pg_anomaly_core::codec::partition_of;
use pg_anomaly_core::detect::{severity, MetricKind, Scored, SeriesRows};
use pg_anomaly_core::row::{deviation_percent, explanation_json};
use pg_anomaly_core::{CoreError, DetectRow, Severity};
use pgrx::datum::TimestampWithTimeZone;

/// Entities per read of a saving pass whose series span a month or more (or an unknown span).
const ENTITIES_PER_CHUNK: usize = 64;
/// A saving pass puts up to this many series in one chunk when their rows to read (the
/// unscored span plus the model's look-back) are short, within the rows of ENTITIES_PER_CHUNK
/// series of a month: a scheduled run over the last hour reads 8 chunks per metric type at
/// 1,000 entities instead of 16, so half the statements to plan over the partitioned tables.
/// The alerts are written in the same order whatever the chunks. Larger chunks cost more than
/// they save: with 512 the backend's CPU time went up 10 % (page faults of the chunk's rows,
/// 25 MB, allocated afresh every chunk), with 128 down 5 % (`bench/tick.sh`, 1,000 entities).
const MAX_ENTITIES_PER_CHUNK: usize = 128;
/// The span a series of unknown extent counts for when sizing chunks.
const MONTH_US: i64 = 31 * 86_400_000_000;
/// Entities per chunk when streaming an analyst's rows: a month of 15-minute rows of 16
/// series is about 46,000 rows held at a time.
const ENTITIES_PER_STREAMED_CHUNK: usize = 16;

/// The NOTICE of a saving detection run that finds another one running.
pub const BUSY: &str = "another saving detection run is in progress; skipping this one";

/// Takes the saving detection lock of a metric type until the transaction ends; false
/// (after a NOTICE naming the type) when another saving pass of that type holds it, e.g.
/// the real-time worker's: that pass scores the type, this one skips it and goes on with
/// the other types.
pub(super) fn lock_type(mt: &str) -> Result<bool> {
    if locks::try_detection(mt)? {
        return Ok(true);
    }
    pgrx::notice!("pg_anomaly: {} (metric type {})", BUSY, mt);
    Ok(false)
}

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
    let mut out = Vec::new();
    detect_into(metric_type, since, until, save, partition, trigger, Some(&mut out))?;
    Ok(out)
}

/// `detect_partition` putting the scored rows into `out` when given (a saving pass that
/// only counts them builds none); returns (rows scored, of which anomalous).
fn detect_into(
    metric_type: Option<&str>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    save: bool,
    partition: Option<(u32, u32)>,
    trigger: &str,
    mut out: Option<&mut Vec<DetectRow>>,
) -> Result<(i64, i64)> {
    let writer = settings::may_write_features()? && partition.is_none();
    let (mut scored, mut anomalous) = (0, 0);
    // every chunk's reads run prepared statements, planned once for the pass
    let _plans = series::ReadPlans::new();
    for mt in metric_types(metric_type)? {
        if save && partition.is_none() && !lock_type(&mt)? {
            continue;
        }
        let Some(mut run) = TypeRun::prepare(&mt, since, save, writer, metric_type.is_some(), partition, None, trigger)? else { continue };
        while run.next_chunk(until, save, ENTITIES_PER_CHUNK, out.as_deref_mut())? {}
        run.advance_scored()?;
        scored += run.scored_rows;
        anomalous += run.anomalous;
        if save && partition.is_none() {
            run.finish()?;
        }
    }
    Ok((scored, anomalous))
}

/// A saving pass as the schedule and the real-time worker run it: (rows scored, of which
/// anomalous), without returning the rows. On a Citus cluster (per-series tables
/// distributed, `pg_anomaly.citus_shard_builds` on) the series are scored on the workers
/// and only alert decisions come back; elsewhere it is `detect` with `save`.
pub fn detect_saving(metric_type: Option<&str>, trigger: &str) -> Result<(i64, i64)> {
    if !shards::enabled()? {
        // the rows are counted, not built (their explanations and copies of the names were
        // the work of a row the schedule drops)
        return detect_into(metric_type, None, None, true, None, trigger, None);
    }
    let writer = settings::may_write_features()?;
    let (mut scored, mut anomalous) = (0, 0);
    for mt in metric_types(metric_type)? {
        if !lock_type(&mt)? {
            continue;
        }
        let Some(mut run) = TypeRun::prepare(&mt, None, true, writer, metric_type.is_some(), None, None, trigger)? else { continue };
        let before = run.scored_rows;
        run.anomalous = 0;
        run.on_shards()?;
        scored += run.scored_rows - before;
        anomalous += run.anomalous;
        run.finish()?;
    }
    Ok((scored, anomalous))
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
    /// Per series of `work`: the span of its rows to score in microseconds, when known
    /// (a saving pass: from the scored to the features watermark).
    spans: Vec<Option<i64>>,
    /// Per series of `work`: its features watermark in microseconds (a saving pass), at or
    /// after its newest feature row (`features::advance_state` moves it only forward, to the
    /// newest row written).
    ends: Vec<Option<i64>>,
    next: usize,
    scored_rows: i64,
    anomalous: i64,
    written: i64,
    /// The scored watermarks the chunks decided, written by [`TypeRun::advance_scored`] in
    /// one statement once every chunk of the type is scored.
    advanced: (Vec<String>, Vec<TimestampWithTimeZone>),
}

impl TypeRun {
    /// Builds missing features (when the caller may), finds or trains the model and lists
    /// the series to score (those of one partition of the entities, or of one entity, when
    /// given); None when the type has nothing to score with.
    #[allow(clippy::too_many_arguments)]
    fn prepare(
        mt: &str,
        since: Option<TimestampWithTimeZone>,
        save: bool,
        writer: bool,
        asked: bool,
        partition: Option<(u32, u32)>,
        entity: Option<&str>,
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
        let work: Vec<((String, TimestampWithTimeZone), (Option<i64>, Option<i64>))> = match (save, since) {
            (true, None) => alerts::unscored(mt)?
                .into_iter()
                .map(|(e, s, f)| {
                    let span = match (s, f) {
                        (Some(s), Some(f)) => Some(to_unix_us(f).saturating_sub(to_unix_us(s)).max(0)),
                        _ => None,
                    };
                    ((e, s.map(|t| series::ts(to_unix_us(t) + 1)).unwrap_or_else(TimestampWithTimeZone::negative_infinity)), (span, f.map(to_unix_us)))
                })
                .collect(),
            // an analyst's pass skips series with no feature row at or after `since` (nothing
            // to score; only their look-back would be read); a saving pass visits them all
            (_, s) => series::entities_since(mt, if save { None } else { s })?
                .into_iter()
                .map(|e| ((e, s.unwrap_or_else(TimestampWithTimeZone::negative_infinity)), (None, None)))
                .collect(),
        };
        let kept = |e: &str| partition.map_or(true, |(k, n)| partition_of(e, n) == k) && entity.map_or(true, |x| x == e);
        let (work, bounds): (Vec<_>, Vec<(Option<i64>, Option<i64>)>) = work.into_iter().filter(|w| kept(&w.0 .0)).unzip();
        let (spans, ends) = bounds.into_iter().unzip();
        Ok(Some(TypeRun {
            run,
            mt: mt.to_string(),
            model_id,
            model,
            kind,
            alert_type,
            gap_us,
            work,
            spans,
            ends,
            next: 0,
            scored_rows: 0,
            anomalous: 0,
            written: 0,
            advanced: Default::default(),
        }))
    }

    /// How many series the next chunk of a saving pass takes: `size` series of a month's
    /// rows (or of unknown span) at most, in up to MAX_ENTITIES_PER_CHUNK series of short spans.
    fn chunk_len(&self, size: usize) -> usize {
        let budget = (size as i64).saturating_mul(MONTH_US);
        let lookback = self.model.lookback_us().max(0);
        let (mut used, mut n) = (0i64, 0usize);
        for span in &self.spans[self.next.min(self.spans.len())..] {
            let cost = span.unwrap_or(MONTH_US).saturating_add(lookback).clamp(1, MONTH_US);
            if n > 0 && (n >= MAX_ENTITIES_PER_CHUNK.max(size) || used.saturating_add(cost) > budget) {
                break;
            }
            used = used.saturating_add(cost);
            n += 1;
        }
        n.max(1)
    }

    /// Scores the next chunk of series into `out` (writing alerts and advancing watermarks
    /// when saving); false when every series was scored.
    fn next_chunk(&mut self, until: Option<TimestampWithTimeZone>, save: bool, size: usize, out: Option<&mut Vec<DetectRow>>) -> Result<bool> {
        if self.next >= self.work.len() {
            return Ok(false);
        }
        pgrx::check_for_interrupts!();
        let _no_jit = crate::storage::PlannerGuard::jit_off();
        let size = if save { self.chunk_len(size) } else { size };
        let range = self.next..(self.next + size).min(self.work.len());
        let chunk = self.work[range.clone()].to_vec();
        // A saving pass reads up to just after the chunk's newest features watermark: no
        // feature row lies beyond it, so the same rows are read, and with the bound the read
        // skips the day partitions after it (those created ahead, empty: 7 more index descents
        // and rescans per series, several per cent of a scheduled run's backend time, perf).
        let until = match (until, self.ends[range].iter().copied().collect::<Option<Vec<i64>>>()) {
            (None, Some(ends)) if save => ends.into_iter().max().map(|e| series::ts(e.saturating_add(1))),
            (u, _) => u,
        };
        self.next += chunk.len();
        let known = if save { self.known(&chunk)? } else { Default::default() };
        let (mt, aux) = (self.mt.clone(), self.kind.aux_metric());
        let outcomes = score_chunk(&self.context(gucs::english()), &chunk, known, until, save, out, |e, f, lookback, until| {
            series::read_scored(&mt, aux, e, f, lookback, until)
        })?;
        self.apply(outcomes)?;
        Ok(true)
    }

    /// The alerts of a chunk of series that a saving pass may continue or overlap.
    fn known(&self, chunk: &[(String, TimestampWithTimeZone)]) -> Result<Known> {
        let entities: Vec<String> = chunk.iter().map(|c| c.0.clone()).collect();
        Ok(match chunk.iter().map(|c| c.1).min_by_key(|t| to_unix_us(*t)) {
            Some(since) => alerts::known_alerts(&self.mt, &entities, since, self.gap_us)?,
            None => Default::default(),
        })
    }

    fn context(&self, english: bool) -> Scoring<'_> {
        Scoring {
            alerts: AlertContext { model: &self.model, metric_type: &self.mt, alert_type: &self.alert_type, gap_us: self.gap_us, model_id: self.model_id, english },
        }
    }

    /// Writes what scoring decided: the alerts of every series in order, in this
    /// transaction; the scored watermarks are kept for [`TypeRun::advance_scored`].
    fn apply(&mut self, outcomes: Vec<SeriesOutcome>) -> Result<()> {
        for o in outcomes {
            alerts_stage::apply(&o.actions)?;
            self.written += o.written;
            self.scored_rows += o.scored;
            self.anomalous += o.anomalous;
            if let Some(t) = o.advance_to_us {
                self.advanced.0.push(o.entity_id);
                self.advanced.1.push(series::ts(t));
            }
        }
        Ok(())
    }

    /// Advances the scored watermarks of every series the pass scored so far, in one
    /// statement, in this transaction (before the stale episodes are closed, which reads
    /// them). Nothing in a pass reads a watermark between its chunks, so writing them at the
    /// end of the type leaves the same state as a statement per chunk did; that UPDATE
    /// joined each chunk's watermarks to ml_series_state with a sequential scan of the
    /// table, 32 scans of it per run at 1,000 entities x 4 types (8 % of a scheduled run's
    /// backend time, perf), one per metric type now.
    fn advance_scored(&mut self) -> Result<()> {
        let (e, t) = std::mem::take(&mut self.advanced);
        if !e.is_empty() {
            alerts::advance_scored(&self.mt, e, t)?;
        }
        Ok(())
    }

    /// A saving pass over every series at once on a Citus cluster: each worker scores the
    /// series of its shards (`ml_detect_shard`, with this model's bytes, the alert settings
    /// and the series' known alerts) and returns only what to write; the alerts are applied
    /// here in the order of a single-node pass.
    fn on_shards(&mut self) -> Result<()> {
        if self.work.is_empty() {
            return Ok(());
        }
        let mut items = Vec::with_capacity(self.work.len());
        for chunk in self.work.chunks(ENTITIES_PER_CHUNK) {
            pgrx::check_for_interrupts!();
            let mut known = self.known(chunk)?;
            for (e, from) in chunk {
                items.push(ShardItem { entity_id: e.clone(), from_us: to_unix_us(*from), known: known.remove(e).unwrap_or_default() });
            }
        }
        let order: std::collections::HashMap<String, usize> = items.iter().enumerate().map(|(i, it)| (it.entity_id.clone(), i)).collect();
        let (model_type, bytes) = model::bytes(self.model_id)?;
        let request = ShardRequest {
            metric_type: self.mt.clone(),
            model_id: self.model_id,
            model_type,
            model: bytes,
            alert_type: self.alert_type.clone(),
            gap_us: self.gap_us,
            english: gucs::english(),
            items,
        };
        let mut outcomes = shards::detect(&request)?;
        outcomes.sort_by_key(|o| order.get(&o.entity_id).copied().unwrap_or(usize::MAX));
        self.next = self.work.len();
        self.apply(outcomes)?;
        self.advance_scored()
    }

    /// Closes stale episodes and records the run (a saving, unpartitioned pass).
    fn finish(&self) -> Result<()> {
        alerts::close_stale(&self.mt, self.model.open_window_us(self.gap_us))?;
        self.run.success(None, self.scored_rows, self.written)?;
        Ok(())
    }
}

/// The known alerts of some series, by entity.
type Known = std::collections::HashMap<String, Vec<alerts::KnownAlert>>;

/// What scoring needs besides the rows: the model and how its alerts are written.
pub(super) struct Scoring<'a> {
    pub alerts: AlertContext<'a>,
}

/// What scoring one series decided: its alert actions (applied in order), the watermark to
/// advance to (saving), the rows scored and the alerts added.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SeriesOutcome {
    pub entity_id: String,
    pub actions: Vec<AlertAction>,
    pub advance_to_us: Option<i64>,
    pub scored: i64,
    pub anomalous: i64,
    pub written: i64,
}

/// One series of a shard's detection request: where its unscored rows start and its
/// known alerts.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ShardItem {
    pub entity_id: String,
    pub from_us: i64,
    pub known: Vec<alerts::KnownAlert>,
}

/// A saving detection pass as the coordinator hands it to each shard: the model (bytes
/// and id: ml_models stays on the coordinator), the alert settings and language, and every
/// series to score (each shard keeps its own).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ShardRequest {
    pub metric_type: String,
    pub model_id: i64,
    pub model_type: String,
    /// Travels as an argument of its own (bytea), not in the JSON.
    #[serde(skip)]
    pub model: Vec<u8>,
    pub alert_type: String,
    pub gap_us: i64,
    pub english: bool,
    pub items: Vec<ShardItem>,
}

/// Scores a chunk of series (entity, first ts to score) whose rows `read` gives (entities,
/// read starts, look-back, until): the rows into `out` when given; with `save`, each series'
/// alert actions and watermark, decided from its `known` alerts. Reads nothing else and
/// writes nothing, so a Citus worker runs it for its own series.
pub(super) fn score_chunk(
    sc: &Scoring,
    chunk: &[(String, TimestampWithTimeZone)],
    mut known: Known,
    until: Option<TimestampWithTimeZone>,
    save: bool,
    mut out: Option<&mut Vec<DetectRow>>,
    read: impl FnOnce(&[String], &[TimestampWithTimeZone], i64, Option<TimestampWithTimeZone>) -> Result<Vec<SeriesRows>>,
) -> Result<Vec<SeriesOutcome>> {
    let model = sc.alerts.model;
    let mt = sc.alerts.metric_type;
    let gap_us = sc.alerts.gap_us;
    let entities: Vec<String> = chunk.iter().map(|c| c.0.clone()).collect();
    // An open alert that ended before the rows to score may still be continued under the
    // unsettled-gap rule, which needs the scores of the rows since its end: an earlier
    // run scored them and kept none, so they are read and rescored as look-back (at most
    // the reversal window; only series with such an alert).
    let window = model.open_window_us(gap_us);
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
    let data = read(&entities, &read_froms, model.lookback_us(), until)?;
    let mut outcomes = Vec::with_capacity(data.len());
    for s in &data {
        let from_us = chunk.iter().find(|c| c.0 == s.entity_id).map(|c| to_unix_us(c.1)).unwrap_or(i64::MIN);
        let first = s.ts.partition_point(|t| *t < from_us);
        if first >= s.len() {
            continue;
        }
        let scored = model.score_series(s, first)?;
        let mut o = SeriesOutcome {
            entity_id: s.entity_id.clone(),
            actions: Vec::new(),
            advance_to_us: None,
            scored: scored.len() as i64,
            anomalous: scored.iter().filter(|r| r.is_anomaly).count() as i64,
            written: 0,
        };
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
            o.written = plan_alerts(&sc.alerts, s, &before, &scored, k, &mut o.actions);
            plan_close_settled(model, gap_us, &before, &scored, k, &mut o.actions);
            o.advance_to_us = Some(scored.last().map(|r| r.ts).unwrap_or(s.ts[s.len() - 1]));
        }
        if let Some(out) = out.as_deref_mut() {
            for r in &scored {
                out.push(output_row(mt, &s.entity_id, r, model.threshold()));
            }
        }
        outcomes.push(o);
    }
    Ok(outcomes)
}

/// One shard's part of a saving detection pass, on the worker that holds the shard
/// (`ml_detect_shard`): scores the request's series that this shard holds, reading its own
/// shards directly, and returns their outcomes. Writes nothing.
pub fn detect_shard(shard: &str, request: &ShardRequest) -> Result<Vec<SeriesOutcome>> {
    // the shard is checked before the model bytes are decoded
    let group = shards::group(shard)?;
    let model = Model::decode(&request.model_type, &request.model)?;
    let sc = Scoring {
        alerts: AlertContext {
            model: &model,
            metric_type: &request.metric_type,
            alert_type: &request.alert_type,
            gap_us: request.gap_us,
            model_id: request.model_id,
            english: request.english,
        },
    };
    let all: Vec<String> = request.items.iter().map(|i| i.entity_id.clone()).collect();
    let mine: std::collections::HashSet<String> = crate::storage::citus::shard_entities(&group, &all)?.into_iter().collect();
    let items: Vec<&ShardItem> = request.items.iter().filter(|i| mine.contains(&i.entity_id)).collect();
    let aux = MetricKind::from_metric_type(&request.metric_type).aux_metric();
    let mut outcomes = Vec::new();
    for part in items.chunks(ENTITIES_PER_CHUNK) {
        pgrx::check_for_interrupts!();
        let chunk: Vec<(String, TimestampWithTimeZone)> = part.iter().map(|i| (i.entity_id.clone(), series::ts(i.from_us))).collect();
        let known: Known = part
            .iter()
            .filter(|i| !i.known.is_empty())
            .map(|i| (i.entity_id.clone(), i.known.clone()))
            .collect();
        outcomes.extend(score_chunk(&sc, &chunk, known, None, true, None, |e, f, lookback, until| {
            series::read_shard_scored(&group, &request.metric_type, aux, e, f, lookback, until)
        })?);
    }
    Ok(outcomes)
}

/// An analyst's ml_detect (no saving): rows are produced a chunk of series at a time as the
/// query consumes them, so a pass over months of every metric type holds one chunk in
/// memory, not every scored row. An error is raised from inside the scan.
pub struct Streamed {
    types: std::vec::IntoIter<String>,
    since: Option<TimestampWithTimeZone>,
    until: Option<TimestampWithTimeZone>,
    /// One entity's series only (ml_detect's entity_id), the type asked for, and whether a
    /// type had the entity.
    entity: Option<String>,
    metric_type: Option<String>,
    entity_found: bool,
    writer: bool,
    asked: bool,
    trigger: String,
    run: Option<TypeRun>,
    buf: std::vec::IntoIter<DetectRow>,
}

impl Streamed {
    pub fn new(
        metric_type: Option<&str>,
        entity: Option<&str>,
        since: Option<TimestampWithTimeZone>,
        until: Option<TimestampWithTimeZone>,
        trigger: &str,
    ) -> Result<Self> {
        Ok(Streamed {
            types: metric_types(metric_type)?.into_iter(),
            since,
            until,
            entity: entity.map(str::to_string),
            metric_type: metric_type.map(str::to_string),
            entity_found: false,
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
                if run.next_chunk(self.until, false, ENTITIES_PER_STREAMED_CHUNK, Some(&mut rows))? {
                    self.buf = rows.into_iter();
                    continue;
                }
                self.run = None;
            }
            let Some(mt) = self.types.next() else { return self.finished() };
            if let Some(e) = &self.entity {
                // a type without the entity loads no model (nor trains one)
                if !series::has_series(&mt, e)? {
                    continue;
                }
                self.entity_found = true;
            }
            self.run = TypeRun::prepare(&mt, self.since, false, self.writer, self.asked, None, self.entity.as_deref(), &self.trigger)?;
        }
    }

    /// The end of the pass: an entity no metric type holds is an error, not an empty result
    /// (a misspelt name would otherwise look like a series without anomalies).
    fn finished(&self) -> Result<Option<DetectRow>> {
        match &self.entity {
            Some(e) if !self.entity_found => Err(crate::errors::not_found(
                match &self.metric_type {
                    Some(mt) => format!("no stored observations of entity \"{e}\" for metric type \"{mt}\""),
                    None => format!("no stored observations of entity \"{e}\" for any metric type"),
                },
                "Check the entity_id: SELECT DISTINCT metric_type, entity_id FROM ml_series_state lists the series with features.",
            )),
            _ => Ok(None),
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
        explanation: (!r.top.is_empty()).then(|| explanation_json(&r.top, r.neg_log10_p, r.sequence.as_ref(), r.warm_up, r.noise_model)),
    }
}

/// The severity of a row or an episode's peak.
pub fn grade(score: f64, threshold: f64, deviation_percent: Option<f64>) -> Severity {
    let s = severity(score, threshold, deviation_percent);
    Severity::parse(s).unwrap_or(Severity::Kritik)
}
