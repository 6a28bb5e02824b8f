//! Detector bytes: magic `PGAD`, version 1, then the same bincode options, 64 MiB limit and
//! validate-on-deserialize as the isolation forest (`crate::forest::serialize`).
//!
//! Model bytes live in `ml_models.model_data` and may be corrupted or forged, so a decoded
//! detector is checked structurally before it exists: every scale positive and finite, every
//! calibration table monotone, profile lengths right, the noise models of the right kind,
//! entity ids sorted and unique, the forest as wide as the feature list plus its interactions.
//! Version 2 added `interactions` to the parameters; version 3 the recognised shape of each
//! entity and the measurement noise and drift of stock residuals; version 4 `exclude_inputs`;
//! version 5 `adapt_hours` and `change_scan`; version 6 the detector family, its two parameters
//! and the sequence family's per-entity models; version 7 each sequence model's training span
//! (version 6 bytes load with an empty span: they score as they did); version 8
//! `count_hour_prior` and `scan_over_row` (version 6 and 7 bytes load with both false: they
//! score as they did); version 9 `stock_skip_unrecorded` (version 6 to 8 bytes load with it
//! false: their stock models score as they did); version 10 `count_row_window` (version 4 to 9
//! bytes load with it false: their count models score as they did). Version 5 bytes are read as a `calibrated`
//! model, version 4 bytes as one with the recent baseline and the change scan off (both score
//! as they did); older bytes are refused (retrain).

use serde::Deserialize;

use super::calib::Tail;
use super::derive::features;
use super::fit::{Detector, EntityModel};
use super::noise::{Noise, Pooled};
use super::params::DetectorParams;
use super::seq::{Family, SeqEntity, SeqModel};
use super::{MetricKind, DETECTOR_MAGIC, DETECTOR_VERSION, DETECTOR_VERSION_5, DETECTOR_VERSION_6, DETECTOR_VERSION_7, DETECTOR_VERSION_8, DETECTOR_VERSION_9, DETECTOR_VERSION_PREVIOUS};
use crate::error::{CoreError, CoreResult};
use crate::forest::serialize::{decode, encode};
use crate::forest::IsolationForest;

/// Most entities one model may hold.
pub const MAX_ENTITIES: usize = 1_000_000;

impl Detector {
    /// The model as bytes. Fails only beyond the 64 MiB limit (about 200,000 entities).
    pub fn to_bytes(&self) -> CoreResult<Vec<u8>> {
        encode(DETECTOR_MAGIC, DETECTOR_VERSION, "anomaly detector", self)
    }

    /// Loads and validates bytes from [`to_bytes`](Self::to_bytes). Never panics: truncated,
    /// corrupt or hostile bytes give an `ErrorKind::Corrupt` error.
    pub fn from_bytes(bytes: &[u8]) -> CoreResult<Detector> {
        // an older format version is read in its own shape and converted
        fn old<W: serde::de::DeserializeOwned>(version: u16, bytes: &[u8]) -> CoreResult<Detector>
        where
            DetectorWire: From<W>,
        {
            let w: W = decode(DETECTOR_MAGIC, version, "anomaly detector", bytes)?;
            Detector::try_from(DetectorWire::from(w))
        }
        let stored = (bytes.len() >= 6 && bytes[..4] == DETECTOR_MAGIC).then(|| u16::from_le_bytes([bytes[4], bytes[5]]));
        match stored {
            Some(DETECTOR_VERSION_PREVIOUS) => old::<DetectorWireV4>(DETECTOR_VERSION_PREVIOUS, bytes),
            Some(DETECTOR_VERSION_5) => old::<DetectorWireV5>(DETECTOR_VERSION_5, bytes),
            Some(DETECTOR_VERSION_6) => old::<DetectorWireV6>(DETECTOR_VERSION_6, bytes),
            Some(DETECTOR_VERSION_7) => old::<DetectorWireV7>(DETECTOR_VERSION_7, bytes),
            Some(DETECTOR_VERSION_8) => old::<DetectorWireV8>(DETECTOR_VERSION_8, bytes),
            Some(DETECTOR_VERSION_9) => old::<DetectorWireV9>(DETECTOR_VERSION_9, bytes),
            _ => decode(DETECTOR_MAGIC, DETECTOR_VERSION, "anomaly detector", bytes),
        }
    }
}

/// [`DetectorParams`] as version 4 stored them (no `adapt_hours`, no `change_scan`).
#[derive(Deserialize)]
struct ParamsV4 {
    n_trees: usize,
    max_samples: usize,
    seed: u64,
    contamination: Option<f64>,
    alert_p: f64,
    close_p: f64,
    max_gap_minutes: f64,
    suppress_hours: f64,
    reversal_hours: f64,
    calibration_blocks: usize,
    min_train_days: f64,
    use_forest: bool,
    interactions: usize,
    exclude_inputs: Vec<String>,
}

/// [`DetectorParams`] as version 5 stored them: version 4's fields, then two more (no
/// detector family). bincode writes a nested struct's fields in line, without framing, so
/// this reads exactly the flat version 5 layout.
#[derive(Deserialize)]
struct ParamsV5 {
    v4: ParamsV4,
    adapt_hours: f64,
    change_scan: bool,
}

impl From<ParamsV4> for ParamsV5 {
    /// What a version 4 model did: the training baseline alone, fixed 24-hour totals.
    fn from(v4: ParamsV4) -> Self {
        ParamsV5 { v4, adapt_hours: 0.0, change_scan: false }
    }
}

/// [`DetectorParams`] as versions 6 and 7 stored them: version 5's fields, then the detector
/// family and its two parameters (no `count_hour_prior`, no `scan_over_row`).
#[derive(Deserialize)]
struct ParamsV7 {
    v5: ParamsV5,
    detector_family: Family,
    seq_margin: f64,
    seq_rest_hours: f64,
}

impl From<ParamsV5> for ParamsV7 {
    /// A version 5 model is a `calibrated` one; the sequence family's parameters keep their
    /// defaults (unused by that family).
    fn from(v5: ParamsV5) -> Self {
        let d = DetectorParams::default();
        ParamsV7 { v5, detector_family: Family::Calibrated, seq_margin: d.seq_margin, seq_rest_hours: d.seq_rest_hours }
    }
}

impl From<ParamsV7> for DetectorParams {
    /// What a model stored before version 8 did: count profiles pulled toward the day's
    /// level, every stretch of the change scan counted.
    fn from(p7: ParamsV7) -> Self {
        let p = p7.v5;
        let v4 = p.v4;
        DetectorParams {
            n_trees: v4.n_trees,
            max_samples: v4.max_samples,
            seed: v4.seed,
            contamination: v4.contamination,
            alert_p: v4.alert_p,
            close_p: v4.close_p,
            max_gap_minutes: v4.max_gap_minutes,
            suppress_hours: v4.suppress_hours,
            reversal_hours: v4.reversal_hours,
            calibration_blocks: v4.calibration_blocks,
            min_train_days: v4.min_train_days,
            use_forest: v4.use_forest,
            interactions: v4.interactions,
            exclude_inputs: v4.exclude_inputs,
            adapt_hours: p.adapt_hours,
            change_scan: p.change_scan,
            detector_family: p7.detector_family,
            seq_margin: p7.seq_margin,
            seq_rest_hours: p7.seq_rest_hours,
            count_hour_prior: false,
            scan_over_row: false,
            stock_skip_unrecorded: false,
            count_row_window: false,
        }
    }
}

/// [`DetectorParams`] as version 8 stored them: version 7's fields, then two bools (no
/// `stock_skip_unrecorded`).
#[derive(Deserialize)]
struct ParamsV8 {
    v7: ParamsV7,
    count_hour_prior: bool,
    scan_over_row: bool,
}

impl From<ParamsV8> for DetectorParams {
    /// What a version 8 model did: a stock row without its consumption read the usual
    /// consumption of the hour instead.
    fn from(p8: ParamsV8) -> Self {
        DetectorParams { count_hour_prior: p8.count_hour_prior, scan_over_row: p8.scan_over_row, stock_skip_unrecorded: false, ..DetectorParams::from(p8.v7) }
    }
}

/// [`DetectorParams`] as version 9 stored them: version 8's fields, then
/// `stock_skip_unrecorded` (no `count_row_window`).
#[derive(Deserialize)]
struct ParamsV9 {
    v8: ParamsV8,
    stock_skip_unrecorded: bool,
}

impl From<ParamsV9> for DetectorParams {
    /// What a version 9 model did: a count's own input read its row alone.
    fn from(p9: ParamsV9) -> Self {
        DetectorParams { stock_skip_unrecorded: p9.stock_skip_unrecorded, count_row_window: false, ..DetectorParams::from(p9.v8) }
    }
}

/// Version 4 and 5 bytes: the current shape but for the parameters and without sequence models.
type DetectorWireV4 = DetectorWire<ParamsV4, ()>;
type DetectorWireV5 = DetectorWire<ParamsV5, ()>;

impl<P: Into<ParamsV5>> From<DetectorWire<P, ()>> for DetectorWire {
    fn from(w: DetectorWire<P, ()>) -> Self {
        w.map(|p| DetectorParams::from(ParamsV7::from(p.into())), |()| None)
    }
}

/// A sequence model's entity as version 6 stored it (no training span).
#[derive(Deserialize)]
struct SeqEntityV6 {
    id: String,
    edges: Vec<f64>,
    lo: f64,
    hi: f64,
    c1: Vec<(u32, u32)>,
    c2: Vec<(u32, u32)>,
    c3: Vec<(u32, u32)>,
    n: u32,
    s_ref: f64,
    med: f64,
}

#[derive(Deserialize)]
struct SeqModelV6 {
    entities: Vec<SeqEntityV6>,
}

/// Version 6 bytes: version 7's shape but for the sequence models' training span.
type DetectorWireV6 = DetectorWire<ParamsV7, Option<SeqModelV6>>;
/// Version 7 bytes: the current shape but for the parameters (no `count_hour_prior`, no
/// `scan_over_row`).
type DetectorWireV7 = DetectorWire<ParamsV7, Option<SeqModel>>;

/// Version 8 bytes: the current shape but for the parameters (no `stock_skip_unrecorded`).
type DetectorWireV8 = DetectorWire<ParamsV8, Option<SeqModel>>;

/// Version 9 bytes: the current shape but for the parameters (no `count_row_window`).
type DetectorWireV9 = DetectorWire<ParamsV9, Option<SeqModel>>;

impl From<DetectorWireV9> for DetectorWire {
    fn from(w: DetectorWireV9) -> Self {
        w.map(DetectorParams::from, |seq| seq)
    }
}

impl From<DetectorWireV8> for DetectorWire {
    fn from(w: DetectorWireV8) -> Self {
        w.map(DetectorParams::from, |seq| seq)
    }
}

impl From<DetectorWireV7> for DetectorWire {
    fn from(w: DetectorWireV7) -> Self {
        w.map(DetectorParams::from, |seq| seq)
    }
}

impl From<DetectorWireV6> for DetectorWire {
    fn from(w: DetectorWireV6) -> Self {
        w.map(DetectorParams::from, |seq| {
            seq.map(|m| SeqModel {
                entities: m
                    .entities
                    .into_iter()
                    .map(|e| SeqEntity { id: e.id, edges: e.edges, lo: e.lo, hi: e.hi, c1: e.c1, c2: e.c2, c3: e.c3, n: e.n, s_ref: e.s_ref, med: e.med, trained_from: i64::MAX, trained_to: i64::MIN })
                    .collect(),
            })
        })
    }
}

/// The serialized shape of [`Detector`] (same fields, same order), validated into it;
/// `P` is the parameters' shape of the format version (the current one by default), `S` the
/// sequence models' (`()`: absent before version 6).
#[derive(Deserialize)]
pub(crate) struct DetectorWire<P = DetectorParams, S = Option<SeqModel>> {
    kind: MetricKind,
    params: P,
    pooled: Pooled,
    entities: Vec<EntityModel>,
    feature_tails: Vec<Tail>,
    forest: Option<IsolationForest>,
    forest_tail: Option<Tail>,
    day_tail: Tail,
    threshold: f64,
    close: f64,
    seq: S,
}

impl<P, S> DetectorWire<P, S> {
    /// The same model with its parameters and sequence models converted (an older format
    /// version's shapes to the current ones); every other field as it is.
    fn map<P2, S2>(self, params: impl FnOnce(P) -> P2, seq: impl FnOnce(S) -> S2) -> DetectorWire<P2, S2> {
        DetectorWire {
            kind: self.kind,
            params: params(self.params),
            pooled: self.pooled,
            entities: self.entities,
            feature_tails: self.feature_tails,
            forest: self.forest,
            forest_tail: self.forest_tail,
            day_tail: self.day_tail,
            threshold: self.threshold,
            close: self.close,
            seq: seq(self.seq),
        }
    }
}

fn kind_of(noise: &Noise) -> MetricKind {
    match noise {
        Noise::Count { .. } => MetricKind::Count,
        Noise::Level { .. } => MetricKind::Level,
        Noise::Duration { .. } => MetricKind::Duration,
        Noise::Generic { .. } => MetricKind::Generic,
    }
}

impl TryFrom<DetectorWire> for Detector {
    type Error = CoreError;

    fn try_from(w: DetectorWire) -> CoreResult<Self> {
        let nf = features(w.kind).len();
        w.params.check().map_err(|e| CoreError::corrupt("stored detector parameters are invalid").with_detail(e.message))?;
        if !(w.pooled.dur_slope.is_finite() && w.pooled.dur_sigma.is_finite()) {
            return Err(CoreError::corrupt("pooled constants are not finite"));
        }
        if w.entities.len() > MAX_ENTITIES {
            return Err(CoreError::corrupt(format!("{} entities exceed the limit", w.entities.len())));
        }
        if w.entities.windows(2).any(|p| p[0].id >= p[1].id) {
            return Err(CoreError::corrupt("entity ids are not sorted and unique"));
        }
        for e in &w.entities {
            let scales_ok = e.scales.len() == nf && e.scales.iter().all(|s| s.is_finite() && *s > 0.0);
            if kind_of(&e.noise) != w.kind || !e.noise.valid() || !scales_ok {
                return Err(CoreError::corrupt(format!("noise model of entity \"{}\" is malformed", e.id)));
            }
        }
        if w.feature_tails.len() != nf {
            return Err(CoreError::corrupt("calibration tables do not match the features"));
        }
        for t in &w.feature_tails {
            t.validate("a feature")?;
        }
        match (&w.forest, &w.forest_tail) {
            (Some(f), Some(t)) if f.n_features() == nf + super::fit::forest_pairs(w.kind, w.params.interactions).len() => t.validate("the forest")?,
            (None, None) => {}
            _ => return Err(CoreError::corrupt("forest and its calibration do not match")),
        }
        super::inputs::input_mask(w.kind, &w.params.exclude_inputs).map_err(|e| CoreError::corrupt("stored detector inputs are invalid").with_detail(e.message))?;
        w.day_tail.validate("the daily maximum")?;
        let unit = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        if !(unit(w.threshold) && unit(w.close) && w.close <= w.threshold) {
            return Err(CoreError::corrupt(format!("threshold {} / close level {} out of range", w.threshold, w.close)));
        }
        match (&w.seq, w.params.detector_family) {
            (Some(m), Family::Sequence | Family::Both) if m.valid() => {}
            (None, Family::Calibrated) => {}
            _ => return Err(CoreError::corrupt("sequence models do not match the detector family")),
        }
        Ok(Detector {
            seq: w.seq,
            kind: w.kind,
            params: w.params,
            pooled: w.pooled,
            entities: w.entities,
            feature_tails: w.feature_tails,
            forest: w.forest,
            forest_tail: w.forest_tail,
            day_tail: w.day_tail,
            threshold: w.threshold,
            close: w.close,
            borrow: Default::default(),
        })
    }
}
