//! Stage 6: training a model of a metric type from its stored features, measuring its
//! quality on the labelled windows, and activating it when it is not worse.
//!
//! Over 400 lines on purpose: reading the sample, fitting, measuring and activating are the
//! steps of one training and share its types (`Params`, `Sample`); the tuner reuses the reading.

use super::features as feature_stage;
use super::model::{self, Model};
use super::selection::select_and_save;
use super::shards;
use super::stage::StageRun;
use crate::errors::{invalid, not_found, Result};
use crate::storage::{locks, models, selection, series};
use pg_anomaly_core::detect::{fit_threads, tune, Detector, DetectorParams, Fitted, MetricKind, SeriesRows, Window};
use pg_anomaly_core::features::col;
use pg_anomaly_core::model::{DETECTOR_TYPE, ZSCORE_TYPE};
use pg_anomaly_core::quality::{evaluate, Quality, Span};
use pg_anomaly_core::traits::{Fit, ParamGuard};
use pg_anomaly_core::zscore::ZScoreParams;
use pg_anomaly_core::time::HOUR_US;
use pg_anomaly_core::CoreError;
use series::LabelledSpan;
use pgrx::datum::TimestampWithTimeZone;
use serde_json::json;

/// Entities read per query while loading training data.
const ENTITIES_PER_READ: usize = 64;
/// Rows a forest detector reads for fitting unless `max_train_rows` says otherwise. The
/// forest itself fits on max_samples rows per tree; this bounds the rows that calibrate the
/// threshold and measure quality, and with them the training time.
pub const DEFAULT_MAX_TRAIN_ROWS: usize = 400_000;
/// Tolerance after a window's end within which an alert still counts as finding it.
pub const FOUND_TOLERANCE_US: i64 = 2 * HOUR_US;
/// Episode gap with which a new model's alerts are formed when its quality is measured.
const EVALUATION_GAP_US: i64 = 2 * HOUR_US;

/// Trains; a failed attempt leaves its log row (written autonomously: the error rolls
/// back this transaction) and no model.
pub fn train_logged(req: &TrainRequest) -> Result<i64> {
    let started = crate::storage::runs::now()?;
    let outcome = train(req);
    if let Err(e) = &outcome {
        super::autonomous::record_failed_training(req.metric_type, req.model_type, started, &super::stage::error_text(e), req.reason, &req.params);
    }
    outcome
}

/// What to train: the metric and model type, the model's params, the training span (NULL
/// ends: all stored features), why (the training log's reason) and what started it.
pub struct TrainRequest<'a> {
    pub metric_type: &'a str,
    pub model_type: &'a str,
    pub params: serde_json::Value,
    pub train_from: Option<TimestampWithTimeZone>,
    pub train_until: Option<TimestampWithTimeZone>,
    pub reason: &'a str,
    pub trigger: &'a str,
}

impl<'a> TrainRequest<'a> {
    /// The detector with default params on every stored feature: what the schedule, first
    /// detection and format upgrades train.
    pub fn default_detector(metric_type: &'a str, reason: &'a str, trigger: &'a str) -> Self {
        TrainRequest { metric_type, model_type: DETECTOR_TYPE, params: json!({}), train_from: None, train_until: None, reason, trigger }
    }
}

/// Makes model `model_id` the active one of its metric and model type.
pub fn activate(model_id: i64) -> Result<bool> {
    if !models::activate(model_id)? {
        let hint = "SELECT id, metric_type, model_type, version FROM ml_models lists them."; // hint
        return Err(not_found(format!("model {model_id} does not exist"), hint));
    }
    Ok(true)
}

/// The parsed params of a model type, or a clear error naming the bad key.
enum Params {
    /// The detector's params, the most rows to read (0: all) and the noise-model family
    /// (None: the metric type's own kind).
    Forest(DetectorParams, usize, Option<MetricKind>),
    ZScore(ZScoreParams),
}

/// The `family` key of a forest's params (what `ml_tune` may choose): the metric type's own
/// kind, `generic` or `count` (a level or duration model reads an aux series only its own
/// kind has).
fn parse_family(metric_type: &str, v: Option<serde_json::Value>) -> Result<Option<MetricKind>> {
    let Some(v) = v else { return Ok(None) };
    let own = MetricKind::from_metric_type(metric_type);
    let allowed = tune::families(own);
    let names: Vec<&str> = allowed.iter().map(|k| k.name()).collect();
    match v.as_str().and_then(tune::family_of) {
        Some(k) if allowed.contains(&k) => Ok(Some(k)),
        _ => Err(invalid("family", &v, &format!("family of metric type \"{metric_type}\" is one of {}", names.join(", ")))),
    }
}

fn parse_params(metric_type: &str, model_type: &str, params: &serde_json::Value) -> Result<Params> {
    match model_type {
        DETECTOR_TYPE => {
            // max_train_rows is about reading and family about the noise model, not the
            // detector's parameters: take them out before the detector's own keys are checked.
            let mut rest = params.clone();
            let family = parse_family(metric_type, rest.as_object_mut().and_then(|m| m.remove("family")))?;
            let cap = match rest.as_object_mut().and_then(|m| m.remove("max_train_rows")) {
                None => DEFAULT_MAX_TRAIN_ROWS,
                Some(v) => match v.as_u64() {
                    Some(0) => 0,
                    Some(n) if (10_000..=1_000_000_000).contains(&n) => n as usize,
                    _ => return Err(invalid("max_train_rows", v, "must be 0 (read every row) or an integer between 10000 and 1000000000")),
                },
            };
            let p = DetectorParams::from_json(&rest)?;
            p.check()?;
            Ok(Params::Forest(p, cap, family))
        }
        ZSCORE_TYPE => Ok(Params::ZScore(ZScoreParams::from_json(params)?)),
        other => Err(invalid("model_type", other, "model_type is 'isolation_forest' or 'z_score'")),
    }
}

/// Trains a model of `model_type` for a metric type from its stored features (building
/// missing features and running selection first when there is none) and returns the new
/// model id; the model is activated when there is no active one or its quality is not worse.
pub fn train(req: &TrainRequest) -> Result<i64> {
    let TrainRequest { metric_type, model_type, ref params, train_from, train_until, reason, trigger } = *req;
    let parsed = parse_params(metric_type, model_type, params)?;
    if !locks::try_stage(locks::Stage::Training)? {
        return Err(CoreError::new(pg_anomaly_core::ErrorKind::NotReady, "another training is running")
            .with_hint("Wait for it to finish; training runs one at a time.")
            .into());
    }
    let run = StageRun::start("training", Some(metric_type), trigger)?;
    // Training needs fresh features and a selected feature set: it asks for both here.
    feature_stage::build(Some(metric_type), false, trigger)?;
    let entities = series::entities(metric_type)?;
    if entities.is_empty() {
        return Err(CoreError::insufficient(format!("no stored features for metric type \"{metric_type}\""))
            .with_hint("Insert metrics of that type (ml_metrics, ml_ingest or ml_collect) and run ml_build_features().")
            .into());
    }
    // The selected feature set is recorded with the model; selection runs when there is none.
    let selected = match selection::kept(metric_type)? {
        Some(k) => k,
        None => select_and_save(metric_type, "all", trigger)?.into_iter().filter(|d| d.kept).map(|d| d.feature).collect(),
    };
    // the series are read as the metric type's own kind (its aux series); the model may be
    // of another family (params.family, chosen by ml_tune)
    let own = MetricKind::from_metric_type(metric_type);
    let kind = match &parsed {
        Params::Forest(_, _, Some(family)) => *family,
        _ => own,
    };
    let windows = series::known_windows(metric_type)?;
    let read_started = std::time::Instant::now();
    let sample = read_sample(metric_type, own, entities, &parsed, &windows.normal, train_from, train_until)?;
    let read_secs = read_started.elapsed().as_secs_f64();
    let fit_started = std::time::Instant::now();
    let (bytes, model, mut info) = fit(metric_type, kind, parsed, params.get("exclude_inputs").is_some(), &sample, &windows)?;
    let fit_secs = fit_started.elapsed().as_secs_f64();
    let threshold = model.threshold();
    let data = &sample.data;
    let (first_ts, last_ts) = data.iter().fold((i64::MAX, i64::MIN), |(a, b), s| {
        (a.min(*s.ts.first().unwrap_or(&i64::MAX)), b.max(*s.ts.last().unwrap_or(&i64::MIN)))
    });
    let eval_started = std::time::Instant::now();
    let (q, importance) = evaluate_model(&model, data, &windows.labels, &windows.normal, first_ts, last_ts)?;
    if let (Some(imp), Some(obj)) = (importance, info.as_object_mut()) {
        obj.insert("importance".into(), imp);
    }
    let eval_secs = eval_started.elapsed().as_secs_f64();
    describe(&mut info, model_type, metric_type, &selected, threshold, params, pg_anomaly_core::forest::header_version(&bytes));
    let rows = sample.rows as i64;
    let id = models::insert(models::NewModel {
        model_type,
        metric_type,
        bytes,
        parameters: info.clone(),
        threshold: Some(threshold),
        data_points: rows,
        trained_from: (first_ts != i64::MAX).then(|| series::ts(first_ts)),
        trained_until: (last_ts != i64::MIN).then(|| series::ts(last_ts)),
    })?;
    models::set_quality(id, q.accuracy.filter(|_| q.windows > 0), q.precision, q.recall, q.f1)?;
    let activate = replaces_active(metric_type, model_type, &q)?;
    if activate {
        models::activate(id)?;
    }
    let metrics = training_metrics([read_secs, fit_secs, eval_secs], data.len(), threshold, activate, &q);
    models::log(models::TrainingLog {
        model_id: Some(id),
        metric_type,
        model_type,
        started: run.started,
        data_points: Some(rows),
        success: true,
        error: None,
        reason,
        metrics,
    })?;
    run.success(None, rows, 1)?;
    Ok(id)
}

/// Completes the description stored with a model (ml_models.parameters).
#[allow(clippy::too_many_arguments)]
fn describe(
    info: &mut serde_json::Value,
    model_type: &str,
    metric_type: &str,
    selected: &[String],
    threshold: f64,
    params: &serde_json::Value,
    format_version: Option<u16>,
) {
    if let Some(obj) = info.as_object_mut() {
        obj.insert("model_type".into(), json!(model_type));
        obj.insert("metric_type".into(), json!(metric_type));
        obj.insert("features_selected".into(), json!(selected));
        obj.insert("threshold".into(), json!(threshold));
        // The version in the stored bytes' header (the detector's or the forest's).
        obj.insert("format_version".into(), json!(format_version));
        obj.insert("params".into(), params.clone());
    }
}

/// What the training log records: timings (read, fit, evaluate seconds), size and quality.
fn training_metrics(seconds: [f64; 3], entities: usize, threshold: f64, activated: bool, q: &Quality) -> serde_json::Value {
    json!({
        "read_seconds": seconds[0],
        "fit_seconds": seconds[1],
        "evaluate_seconds": seconds[2],
        "entities": entities,
        "threshold": threshold,
        "activated": activated,
        "quality": { "windows": q.windows, "found": q.found, "alerts": q.alerts, "false_alerts": q.false_alerts,
                     "precision": q.precision, "recall": q.recall, "f1": q.f1, "accuracy": q.accuracy },
    })
}

/// Whether a new model of this quality becomes the active one: when there is none, when
/// the active one cannot be loaded by this build (e.g. an older format), or when its F1 is
/// not better.
fn replaces_active(metric_type: &str, model_type: &str, q: &Quality) -> Result<bool> {
    Ok(match models::active(metric_type, model_type)? {
        None => true,
        Some((active_id, _, _)) if model::load(active_id).is_err() => true,
        Some((_, _, active_f1)) => match (q.f1, active_f1) {
            (Some(new), Some(old)) => new >= old,
            _ => true,
        },
    })
}

/// The training data as read: the series, their row count, and how many entities there
/// were to read from.
struct Sample {
    data: Vec<SeriesRows>,
    rows: usize,
    entities_total: usize,
    /// The entities a forest's sample did not read (in sample order), and how to read them:
    /// each gets its own noise model after calibration (`extend_beyond_sample`).
    rest: Vec<String>,
    aux: Option<&'static str>,
    from: TimestampWithTimeZone,
    until: Option<TimestampWithTimeZone>,
}

/// Reads the training series: every entity for a z-score model; for a forest, entities in
/// the seeded sample order until about max_train_rows rows.
fn read_sample(
    metric_type: &str,
    kind: MetricKind,
    entities: Vec<String>,
    parsed: &Params,
    normal: &[LabelledSpan],
    train_from: Option<TimestampWithTimeZone>,
    train_until: Option<TimestampWithTimeZone>,
) -> Result<Sample> {
    let from = train_from.unwrap_or_else(TimestampWithTimeZone::negative_infinity);
    let (entities, cap) = match parsed {
        Params::Forest(p, cap, _) => (sample_order(entities, normal, p.seed), *cap),
        Params::ZScore(_) => (entities, 0),
    };
    let entities_total = entities.len();
    let aux = kind.aux_metric();
    let (data, chunks) = if shards::enabled()? {
        // Citus: the sample is planned here from each series' row count (a grouped count on
        // the shards), exactly as the reads below would cut it, then every shard reads and
        // packs its part on its worker; the series are put back in the single-node order.
        let counts = crate::storage::citus::row_counts(metric_type, from, train_until)?;
        let chunks = plan_reads(&entities, cap, |chunk| Ok(chunk.iter().map(|e| counts.get(e).copied().unwrap_or(0)).sum()))?;
        let mut by_entity = shards::sample(&shards::SampleRequest {
            metric_type: metric_type.to_string(),
            aux_metric: aux.map(str::to_string),
            entities: chunks.iter().flatten().cloned().collect(),
            from_us: train_from.map(crate::storage::to_unix_us),
            until_us: train_until.map(crate::storage::to_unix_us),
        })?;
        let mut data: Vec<SeriesRows> = Vec::with_capacity(by_entity.len());
        for chunk in &chunks {
            // as series::read returns a chunk: the series with rows, ordered by entity
            let mut part: Vec<SeriesRows> = chunk.iter().filter_map(|e| by_entity.remove(e)).collect();
            part.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
            data.extend(part);
        }
        (data, chunks)
    } else {
        let mut data: Vec<SeriesRows> = Vec::with_capacity(entities.len());
        let chunks = plan_reads(&entities, cap, |chunk| {
            let froms = vec![from; chunk.len()];
            let read = series::read(metric_type, aux, chunk, &froms, 0, train_until)?;
            let n = read.iter().map(|s| s.len()).sum::<usize>();
            data.extend(read);
            Ok(n)
        })?;
        (data, chunks)
    };
    let rows = data.iter().map(|s| s.len()).sum();
    let read = chunks.iter().map(Vec::len).sum::<usize>();
    let rest = entities[read..].to_vec();
    Ok(Sample { data, rows, entities_total, rest, aux, from, until: train_until })
}

/// The reads of a sample: chunks of `entities` in order until about `cap` rows (0: every
/// entity); `read` reads a chunk (or counts its rows) and returns its rows.
fn plan_reads(entities: &[String], cap: usize, mut read: impl FnMut(&[String]) -> Result<usize>) -> Result<Vec<Vec<String>>> {
    let mut chunks = Vec::new();
    let mut rows = 0usize;
    let mut next = 0usize;
    while next < entities.len() && (cap == 0 || rows < cap) {
        pgrx::check_for_interrupts!();
        // With a cap, size each read from the rows per entity seen so far so the sample
        // ends near the cap rather than up to a whole read past it.
        let take = match (cap, next) {
            (0, _) => ENTITIES_PER_READ,
            (_, 0) => 4,
            _ => ((cap - rows) * next).div_ceil(rows.max(1)).clamp(1, ENTITIES_PER_READ),
        };
        let chunk = &entities[next..(next + take).min(entities.len())];
        next += chunk.len();
        rows += read(chunk)?;
        chunks.push(chunk.to_vec());
    }
    Ok(chunks)
}

/// Fits the model on the sample (labelled windows and alerts not marked false positive
/// excluded, false-positive spans learned as normal); returns its bytes, the model and the description stored with it.
fn fit(
    metric_type: &str,
    kind: MetricKind,
    parsed: Params,
    explicit_inputs: bool,
    sample: &Sample,
    windows: &series::KnownWindows,
) -> Result<(Vec<u8>, Model, serde_json::Value)> {
    let to_window = |w: &LabelledSpan| Window { entity_id: w.entity_id.clone(), from_us: w.from_us, to_us: w.to_us };
    // labelled and reviewed anomalies, and every alert not marked false positive (read or not)
    let exclude: Vec<Window> = windows.labels.iter().chain(&windows.unreviewed).map(to_window).collect();
    let normal_w: Vec<Window> = windows.normal.iter().map(to_window).collect();
    let data = &sample.data;
    Ok(match parsed {
        Params::Forest(mut p, cap, _) => {
            // inputs left out by the last recursive feature elimination, unless the
            // parameters name their own
            if !explicit_inputs {
                p.exclude_inputs = rfe_excluded(metric_type, kind)?;
            }
            let (mut d, report) = Detector::fit(kind, &p, data, &exclude, &normal_w)?;
            let beyond = extend_beyond_sample(&mut d, metric_type, sample, &exclude, &normal_w)?;
            if report.warm_up {
                // a model from less than `min_train_days`: made, but the caller should know
                pgrx::notice!(
                    "pg_anomaly: the \"{}\" model was trained on {:.1} days of data (min_train_days {}): weekly patterns are not learned yet, so it alerts only on rarer rows until then; retrain when more data has arrived",
                    metric_type,
                    report.train_days,
                    p.min_train_days
                );
            }
            // the importance is added by evaluate_model, from the rows it scores
            let info = json!({ "detector": d.params().to_json(), "report": report.to_json(), "inputs": d.inputs(),
                               "sample": { "max_train_rows": cap, "entities_read": data.len(), "entities": sample.entities_total,
                                           "entities_fitted_beyond": beyond,
                                           "unreviewed_alerts_excluded": windows.unreviewed.len() } });
            (d.to_bytes()?, Model::Detector(d), info)
        }
        Params::ZScore(p) => {
            let by_hour = p.check_ref()?.by_hour();
            let exclude = &exclude;
            let values = data.iter().flat_map(|s| {
                (0..s.len()).filter_map(move |i| {
                    let ts = s.ts[i];
                    let labelled = exclude.iter().any(|w| w.entity_id == s.entity_id && ts >= w.from_us && ts <= w.to_us);
                    let hour = if by_hour { s.features[i][col::HOUR_OF_DAY].map(|h| h as u8) } else { None };
                    (!labelled).then(|| (s.entity_id.clone(), hour, s.value[i]))
                })
            });
            let m = p.fit(values.collect::<Vec<_>>())?;
            let info = json!({ "zscore": { "robust": m.params().robust(), "by_hour": m.params().by_hour(),
                                          "threshold": m.params().threshold(), "min_points": m.params().min_points() } });
            (m.to_bytes()?, Model::ZScore(m), info)
        }
    })
}

/// Gives every entity the sample did not read its own noise model (`Detector::extend`: the
/// calibration stays the sample's), reading them a chunk at a time; returns how many were
/// added. Without it they were scored as new entities, from a warm-up model refitted on their
/// look-back at every scoring run.
///
/// The reads (SPI: this backend's thread only) and the fits (plain Rust) overlap: while the
/// worker threads fit one chunk (`Detector::fit_beyond`, which only reads the detector), this
/// thread reads the next; the models are added once every chunk is fitted
/// (`Detector::add_fitted`), the same models in the same order as fitting chunk by chunk.
/// The threads never call into PostgreSQL; a panic in one becomes an error here.
fn extend_beyond_sample(d: &mut Detector, metric_type: &str, sample: &Sample, exclude: &[Window], normal: &[Window]) -> Result<usize> {
    let threads = fit_threads();
    let this: &Detector = d;
    let joined = |h: std::thread::ScopedJoinHandle<'_, std::result::Result<Fitted, CoreError>>| -> Result<Fitted> {
        Ok(h.join().map_err(|_| CoreError::internal("fitting the entities beyond the training sample panicked"))??)
    };
    let fitted: Result<Vec<Fitted>> = std::thread::scope(|scope| {
        let mut done = Vec::with_capacity(sample.rest.len().div_ceil(ENTITIES_PER_READ));
        let mut fitting = None;
        let mut outcome = Ok(());
        for chunk in sample.rest.chunks(ENTITIES_PER_READ) {
            pgrx::check_for_interrupts!();
            let froms = vec![sample.from; chunk.len()];
            let read = match series::read(metric_type, sample.aux, chunk, &froms, 0, sample.until) {
                Ok(r) => r,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            if let Some(h) = fitting.take() {
                match joined(h) {
                    Ok(f) => done.push(f),
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
            fitting = Some(scope.spawn(move || this.fit_beyond(&read, exclude, normal, threads)));
        }
        // the last chunk's fit (or, after an error, the one still running) is waited for here
        if let Some(h) = fitting.take() {
            let last = joined(h);
            if outcome.is_ok() {
                done.push(last?);
            }
        }
        outcome.map(|_| done)
    });
    Ok(d.add_fitted(fitted?))
}

/// Rows per set (sampled, alerted) whose Shapley values give the importance stored with a
/// model (about 1-5 s on 144,000 rows, bench/explain.sh).
const IMPORTANCE_ROWS: usize = 300;

/// The inputs the chosen round of the last elimination (ml_feature_set_rounds) leaves out.
/// Names the kind does not have are ignored, and a record that would leave no input is
/// ignored: the table is writable by admins and must not break training.
pub(super) fn rfe_excluded(metric_type: &str, kind: MetricKind) -> Result<Vec<String>> {
    let Some(kept) = crate::storage::rfe::chosen(metric_type)? else { return Ok(Vec::new()) };
    let all = pg_anomaly_core::detect::inputs_of(kind);
    if !kept.iter().any(|k| all.contains(&k.as_str())) {
        return Ok(Vec::new());
    }
    Ok(all.into_iter().filter(|n| !kept.iter().any(|k| k == n)).map(str::to_string).collect())
}

/// The order in which a forest's training reads entities until it has max_train_rows:
/// first every entity with a span marked false positive (feedback is always learned), then
/// the rest in an order fixed by the seed (FNV-1a of seed and entity), so the sample is a
/// spread over the entities that the same seed repeats.
fn sample_order(entities: Vec<String>, normal: &[LabelledSpan], seed: u64) -> Vec<String> {
    let marked: std::collections::HashSet<&str> = normal.iter().map(|n| n.entity_id.as_str()).collect();
    let key = |e: &str| pg_anomaly_core::codec::fnv1a64(seed.to_le_bytes().iter().chain(e.as_bytes()).copied());
    let mut keyed: Vec<(bool, u64, String)> = entities.into_iter().map(|e| (!marked.contains(e.as_str()), key(&e), e)).collect();
    keyed.sort();
    keyed.into_iter().map(|(_, _, e)| e).collect()
}

/// The training data of a forest with `params` as `ml_train` reads it (the same entities, the
/// same row cap), for the tuner. Known windows read by the caller.
pub(super) fn read_for_tuning(metric_type: &str, own: MetricKind, params: &DetectorParams, normal: &[LabelledSpan]) -> Result<(Vec<SeriesRows>, usize)> {
    let entities = series::entities(metric_type)?;
    let parsed = Params::Forest(params.clone(), DEFAULT_MAX_TRAIN_ROWS, None);
    let s = read_sample(metric_type, own, entities, &parsed, normal, None, None)?;
    Ok((s.data, s.rows))
}

/// Scores the training span with the new model, forms episodes and compares them with the
/// known windows (labels: anomalies; false positives: spans that must not alert); with a
/// detector, also the importance stored with it (`importance` in ml_models.parameters), from
/// the same derived rows (`Detector::score_with_importance`: the rows and the importance are
/// those of a separate scoring and importance pass).
fn evaluate_model(
    model: &Model,
    data: &[SeriesRows],
    labels: &[LabelledSpan],
    normal: &[LabelledSpan],
    from_us: i64,
    to_us: i64,
) -> Result<(Quality, Option<serde_json::Value>)> {
    let measure = !(labels.is_empty() && normal.is_empty());
    // The episode gap used to measure quality: the default pg_anomaly episode_gap.
    let gap = EVALUATION_GAP_US;
    let spans_of = |s: &SeriesRows, scored: Vec<pg_anomaly_core::detect::Scored>| -> Vec<Span> {
        model.episodes(&scored, gap).into_iter().filter(|e| !e.suppressed).map(|ep| Span { entity_id: s.entity_id.clone(), from_us: ep.start_ts, to_us: ep.end_ts }).collect()
    };
    let failed = |e: CoreError| CoreError::internal(format!("evaluating the new model failed: {e:?}"));
    let (importance, spans): (Option<serde_json::Value>, Vec<std::result::Result<Vec<Span>, String>>) = match model {
        Model::Detector(d) if measure => {
            let (imp, spans) = d.score_with_importance(data, IMPORTANCE_ROWS, spans_of).map_err(failed)?;
            (Some(imp.to_json()), spans.into_iter().map(Ok).collect())
        }
        Model::Detector(d) => (Some(d.importance(data, IMPORTANCE_ROWS)?.to_json()), Vec::new()),
        _ if measure => (None, score_spans(model, data, &spans_of)),
        _ => (None, Vec::new()),
    };
    if !measure {
        return Ok((Quality::default(), importance));
    }
    let mut alerts = Vec::new();
    for r in spans {
        alerts.extend(r.map_err(|e| CoreError::internal(format!("evaluating the new model failed: {e}")))?);
    }
    // Quality is measured on the entities read (the training sample): windows of others
    // would count as missed without having been scored.
    let read: std::collections::HashSet<&str> = data.iter().map(|s| s.entity_id.as_str()).collect();
    let windows: Vec<Span> = labels
        .iter()
        .filter(|w| read.contains(w.entity_id.as_str()))
        .map(|w| Span { entity_id: w.entity_id.clone(), from_us: w.from_us, to_us: w.to_us })
        .collect();
    Ok((evaluate(&windows, &alerts, data.len(), from_us, to_us, FOUND_TOLERANCE_US), importance))
}

/// The alert spans of every series scored with `model` (plain Rust, no SPI: the series are
/// split over the machine's cores).
fn score_spans(model: &Model, data: &[SeriesRows], spans_of: &(dyn Fn(&SeriesRows, Vec<pg_anomaly_core::detect::Scored>) -> Vec<Span> + Sync)) -> Vec<std::result::Result<Vec<Span>, String>> {
    let threads = fit_threads();
    let per = data.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = data
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || -> std::result::Result<Vec<Span>, String> {
                    let mut spans = Vec::new();
                    for s in chunk {
                        spans.extend(spans_of(s, model.score_series(s, 0).map_err(|e| format!("{e:?}"))?));
                    }
                    Ok(spans)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("scoring thread panicked".into()))).collect()
    })
}

/// Params are a handful of numbers: a megabyte of JSON is refused before anything echoes it.
pub fn check_params_size(params: &serde_json::Value) -> Result<()> {
    let len = params.to_string().len();
    if len > 10_000 {
        return Err(pg_anomaly_core::CoreError::new(pg_anomaly_core::ErrorKind::InvalidParameter, "params is too large")
            .with_detail(format!("It has {len} bytes of JSON; at most 10000 are allowed."))
            .with_hint("Pass only the parameters to change (n_trees, max_samples, alert_p, seed, ...).")
            .into());
    }
    Ok(())
}
