//! Per-entity z-score model: a centre and a scale per entity (and per entity × hour of day),
//! and `z = (value − centre) / scale`.
//!
//! Robust by default (median and MAD × 1.4826, the MAD's consistency constant for a normal
//! distribution; Iglewicz & Hoaglin 1993) because training spans contain the very anomalies
//! we look for, and one spike inflates a standard deviation but not a MAD. When more than half
//! the values are identical the MAD is 0; the scale then falls back to 1.2533 × the mean
//! absolute deviation from the median (the "modified z" rule), and finally to a floor of
//! `1e-9 × max(|centre|, 1)` so a constant series gives huge but finite z for any change.
//!
//! Score: `1 − 2^(−|z| / threshold)`, in [0, 1), 0 at z = 0 and exactly 0.5 at
//! `|z| = threshold`, like an isolation-forest score at its usual boundary, so both models'
//! scores read alike; `is_anomaly` is `|z| > threshold`. It is a monotone rescaling, not a
//! tail probability: calibration belongs to `detect`.
//!
//! Bytes: magic `PGAZ`, version 1, then the same bincode options, 64 MiB limit and
//! validate-on-deserialize as the isolation forest (`crate::forest::serialize`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CoreError, CoreResult, ErrorKind};
use crate::forest::{json, serialize};
use crate::traits::{Fit, ParamGuard};

use crate::stats::{MAD_TO_SD, MEAN_AD_TO_SD};
/// Relative floor on the scale.
pub const SCALE_FLOOR_REL: f64 = 1e-9;
/// Largest accepted `min_points`.
pub const MAX_MIN_POINTS: usize = 1_000_000;
/// Magic of z-score model bytes.
pub const ZSCORE_MAGIC: [u8; 4] = *b"PGAZ";
/// Current z-score model format version.
pub const ZSCORE_VERSION: u16 = 1;
/// The keys [`ZScoreParams::from_json`] accepts.
pub const JSON_KEYS: [&str; 4] = ["robust", "by_hour", "threshold", "min_points"];

/// Checked z-score parameters; only [`ParamGuard::check`] builds them (deserializing one
/// runs the same check).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawParams")]
pub struct ZScoreValidParams {
    robust: bool,
    by_hour: bool,
    threshold: f64,
    min_points: usize,
}

impl ZScoreValidParams {
    /// Median/MAD (true) or mean/standard deviation (false).
    pub fn robust(&self) -> bool {
        self.robust
    }
    /// Whether a baseline is also kept per entity × hour of day.
    pub fn by_hour(&self) -> bool {
        self.by_hour
    }
    /// |z| above which a value is anomalous, and where the score is 0.5.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
    /// Fewest values for a baseline (entity or hour bucket) to be kept.
    pub fn min_points(&self) -> usize {
        self.min_points
    }
}

/// Unchecked z-score parameters. Defaults: `robust` true, `by_hour` false, `threshold` 3.5
/// (Iglewicz & Hoaglin's cut-off for the modified z), `min_points` 8.
#[derive(Debug, Clone, PartialEq)]
pub struct ZScoreParams(ZScoreValidParams);

impl Default for ZScoreParams {
    fn default() -> Self {
        ZScoreParams(ZScoreValidParams {
            robust: true,
            by_hour: false,
            threshold: 3.5,
            min_points: 8,
        })
    }
}

impl ZScoreParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets robust (median/MAD) or classical (mean/std) statistics.
    pub fn robust(mut self, robust: bool) -> Self {
        self.0.robust = robust;
        self
    }
    /// Sets whether to keep per-hour baselines.
    pub fn by_hour(mut self, by_hour: bool) -> Self {
        self.0.by_hour = by_hour;
        self
    }
    /// Sets the |z| threshold.
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.0.threshold = threshold;
        self
    }
    /// Sets the fewest values per baseline.
    pub fn min_points(mut self, min_points: usize) -> Self {
        self.0.min_points = min_points;
        self
    }
    /// Reads a user's parameter object (`null` = defaults); unknown keys, wrong types and
    /// out-of-domain values are `InvalidParameter` errors naming the key.
    pub fn from_json(value: &Value) -> CoreResult<Self> {
        let mut params = Self::default();
        if let Some(map) = json::object(value, &JSON_KEYS, "z-score")? {
            for (key, v) in map {
                params = match key.as_str() {
                    "robust" => params.robust(json::as_bool(key, v)?),
                    "by_hour" => params.by_hour(json::as_bool(key, v)?),
                    "threshold" => params.threshold(json::as_f64(key, v)?),
                    "min_points" => params.min_points(json::as_usize(key, v)?),
                    _ => params,
                };
            }
        }
        params.check_ref()?;
        Ok(params)
    }
}

impl ParamGuard for ZScoreParams {
    type Checked = ZScoreValidParams;

    fn check_ref(&self) -> CoreResult<&ZScoreValidParams> {
        let p = &self.0;
        if !(p.threshold > 0.0 && p.threshold.is_finite()) {
            return Err(CoreError::invalid_param(
                "threshold",
                p.threshold,
                "threshold must be a positive finite number",
            ));
        }
        if p.min_points < 2 || p.min_points > MAX_MIN_POINTS {
            return Err(CoreError::invalid_param(
                "min_points",
                p.min_points,
                "min_points must be between 2 and 1000000 (a scale needs two values)",
            ));
        }
        Ok(p)
    }

    fn check(self) -> CoreResult<ZScoreValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// A centre, a scale (> 0) and the number of training values behind them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub centre: f64,
    pub scale: f64,
    pub n: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EntityBaseline {
    overall: Baseline,
    /// Hours (0..=23) with at least `min_points` values; empty unless `by_hour`.
    hours: BTreeMap<u8, Baseline>,
}

/// A fitted z-score model. `BTreeMap`s keep the bytes deterministic for a given input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ZScoreWire")]
pub struct ZScoreModel {
    params: ZScoreValidParams,
    entities: BTreeMap<String, EntityBaseline>,
}

impl<I> Fit<I> for ZScoreValidParams
where
    I: IntoIterator<Item = (String, Option<u8>, f64)>,
{
    type Object = ZScoreModel;

    /// Fits on `(entity, hour of day, value)` triples. Entities with fewer than `min_points`
    /// values are left out (`z` returns `None` for them); hour buckets with fewer are not
    /// kept and fall back to the entity baseline. `hour` is ignored unless `by_hour`.
    /// Errors: an empty entity (`EmptyValue`), a NaN/infinite value (`NonFiniteValue`), an
    /// hour above 23 (`InvalidParameter`), no entity with enough values (`InsufficientData`).
    fn fit(&self, groups: I) -> CoreResult<ZScoreModel> {
        let mut raw: BTreeMap<String, (Vec<f64>, [Vec<f64>; 24])> = BTreeMap::new();
        for (i, (entity, hour, value)) in groups.into_iter().enumerate() {
            if entity.is_empty() {
                return Err(CoreError::new(
                    ErrorKind::EmptyValue,
                    format!("entity id of value {i} is empty"),
                ));
            }
            if !value.is_finite() {
                return Err(CoreError::new(
                    ErrorKind::NonFiniteValue,
                    format!("value {i} of entity \"{entity}\" is {value}"),
                ));
            }
            let bucket = match hour {
                Some(h) if h >= 24 => {
                    return Err(CoreError::invalid_param(
                        "hour",
                        h,
                        "an hour of the day must be between 0 and 23",
                    ))
                }
                Some(h) if self.by_hour => Some(h as usize),
                _ => None,
            };
            let (all, hours) = raw.entry(entity).or_default();
            all.push(value);
            if let Some(h) = bucket {
                hours[h].push(value);
            }
        }
        let mut entities = BTreeMap::new();
        for (name, (mut all, mut hours)) in raw {
            if all.len() < self.min_points {
                continue;
            }
            let overall = baseline(&mut all, self.robust);
            let hours = (0u8..24)
                .zip(hours.iter_mut())
                .filter(|(_, v)| v.len() >= self.min_points)
                .map(|(h, v)| (h, baseline(v, self.robust)))
                .collect();
            entities.insert(name, EntityBaseline { overall, hours });
        }
        if entities.is_empty() {
            return Err(CoreError::insufficient(
                "no entity has enough values for a z-score baseline",
            )
            .with_detail(format!(
                "Each entity needs at least min_points = {} values.",
                self.min_points
            )));
        }
        Ok(ZScoreModel {
            params: self.clone(),
            entities,
        })
    }
}

/// Centre and scale of finite `values` (reordered); see the module doc for the fallbacks.
fn baseline(values: &mut [f64], robust: bool) -> Baseline {
    let n = values.len() as f64;
    let (centre, scale) = if robust {
        let median = crate::forest::median_of(values);
        let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
        let mad = crate::forest::median_of(&mut dev);
        let scale = if mad > 0.0 {
            MAD_TO_SD * mad
        } else {
            MEAN_AD_TO_SD * dev.iter().sum::<f64>() / n
        };
        (median, scale)
    } else {
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0).max(1.0);
        (mean, var.sqrt())
    };
    let floor = SCALE_FLOOR_REL * centre.abs().max(1.0);
    let scale = if scale.is_finite() {
        scale.max(floor)
    } else {
        f64::MAX
    };
    Baseline {
        centre,
        scale,
        n: values.len() as u64,
    }
}

/// Maps |z| to a score in [0, 1): `1 − 2^(−|z| / threshold)`; 0.5 at `|z| = threshold`.
pub fn z_to_score(z: f64, threshold: f64) -> f64 {
    1.0 - (-z.abs() / threshold).exp2()
}

impl ZScoreModel {
    /// Fits with `params` (same as `params.fit(groups)`).
    pub fn fit(
        params: &ZScoreValidParams,
        groups: impl IntoIterator<Item = (String, Option<u8>, f64)>,
    ) -> CoreResult<Self> {
        params.fit(groups)
    }
    /// The parameters the model was fitted with.
    pub fn params(&self) -> &ZScoreValidParams {
        &self.params
    }
    /// Number of modelled entities.
    pub fn n_entities(&self) -> usize {
        self.entities.len()
    }
    /// Modelled entities, in order.
    pub fn entities(&self) -> impl Iterator<Item = &str> {
        self.entities.keys().map(String::as_str)
    }
    /// The baseline used for `entity` at `hour`: the hour bucket when `by_hour` and the bucket
    /// was kept, else the entity's. `None` for an unknown entity.
    pub fn baseline(&self, entity: &str, hour: Option<u8>) -> Option<Baseline> {
        let e = self.entities.get(entity)?;
        Some(
            hour.and_then(|h| e.hours.get(&h))
                .copied()
                .unwrap_or(e.overall),
        )
    }
    /// `(value − centre) / scale`; `None` for an unknown entity or a non-finite value.
    pub fn z(&self, entity: &str, hour: Option<u8>, value: f64) -> Option<f64> {
        if !value.is_finite() {
            return None;
        }
        let b = self.baseline(entity, hour)?;
        Some((value - b.centre) / b.scale)
    }
    /// The centre (the value the model expects); `None` for an unknown entity.
    pub fn expected(&self, entity: &str, hour: Option<u8>) -> Option<f64> {
        self.baseline(entity, hour).map(|b| b.centre)
    }
    /// [`z_to_score`] of [`z`](Self::z).
    pub fn score(&self, entity: &str, hour: Option<u8>, value: f64) -> Option<f64> {
        self.z(entity, hour, value)
            .map(|z| z_to_score(z, self.params.threshold))
    }
    /// `|z| > threshold`.
    pub fn is_anomaly(&self, entity: &str, hour: Option<u8>, value: f64) -> Option<bool> {
        self.z(entity, hour, value)
            .map(|z| z.abs() > self.params.threshold)
    }
    /// The model as bytes; fails only beyond the 64 MiB limit (hundreds of thousands of
    /// entities with hourly baselines: split such a model per metric type).
    pub fn to_bytes(&self) -> CoreResult<Vec<u8>> {
        serialize::encode(ZSCORE_MAGIC, ZSCORE_VERSION, "z-score model", self)
    }
    /// Loads and validates; corrupt or hostile bytes give `ErrorKind::Corrupt`, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> CoreResult<Self> {
        serialize::decode(ZSCORE_MAGIC, ZSCORE_VERSION, "z-score model", bytes)
    }
}

/// Serialized shape of [`ZScoreValidParams`], checked into it.
#[derive(Deserialize)]
struct RawParams {
    robust: bool,
    by_hour: bool,
    threshold: f64,
    min_points: usize,
}

impl TryFrom<RawParams> for ZScoreValidParams {
    type Error = CoreError;

    fn try_from(r: RawParams) -> CoreResult<Self> {
        let p = ZScoreValidParams {
            robust: r.robust,
            by_hour: r.by_hour,
            threshold: r.threshold,
            min_points: r.min_points,
        };
        ZScoreParams(p).check()
    }
}

/// Serialized shape of [`ZScoreModel`], validated into it.
#[derive(Deserialize)]
struct ZScoreWire {
    params: ZScoreValidParams,
    entities: BTreeMap<String, EntityBaseline>,
}

impl TryFrom<ZScoreWire> for ZScoreModel {
    type Error = CoreError;

    fn try_from(w: ZScoreWire) -> CoreResult<Self> {
        let params = w.params;
        let ok = |b: &Baseline| {
            b.centre.is_finite()
                && b.scale.is_finite()
                && b.scale > 0.0
                && b.n >= params.min_points as u64
        };
        if w.entities.is_empty() {
            return Err(CoreError::corrupt("z-score model has no entities"));
        }
        for (name, e) in &w.entities {
            let hours_ok = e.hours.iter().all(|(&h, b)| h < 24 && ok(b))
                && (params.by_hour || e.hours.is_empty());
            if name.is_empty() || !ok(&e.overall) || !hours_ok {
                return Err(CoreError::corrupt(format!(
                    "invalid baseline for entity \"{name}\""
                )));
            }
        }
        Ok(ZScoreModel {
            params,
            entities: w.entities,
        })
    }
}

#[cfg(test)]
mod tests;
