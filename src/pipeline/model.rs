//! The models the glue scores with: the detector (isolation forest on calibrated,
//! normalised inputs) or the per-entity z-score model, behind one interface.

use crate::errors::{Error, Result};
use crate::storage::models;
use pg_anomaly_core::detect::{episodes, Detector, Episode, EpisodeParams, Scored, SeriesRows};
use pg_anomaly_core::features::col;
use pg_anomaly_core::zscore::ZScoreModel;
use pg_anomaly_core::CoreError;
use std::rc::Rc;

pub enum Model {
    Detector(Detector),
    ZScore(ZScoreModel),
}

impl Model {
    pub fn decode(model_type: &str, bytes: &[u8]) -> Result<Model> {
        match model_type {
            "isolation_forest" => Ok(Model::Detector(Detector::from_bytes(bytes)?)),
            "z_score" => Ok(Model::ZScore(ZScoreModel::from_bytes(bytes)?)),
            other => Err(Error::Core(CoreError::corrupt(format!("unknown model type \"{other}\" in ml_models")))),
        }
    }

    /// The model `id`, decoded once per backend and reused until another id is asked for.
    pub fn load(id: i64) -> Result<Rc<Model>> {
        models::cached(id, |bytes, params| {
            let t = params.get("model_type").and_then(|v| v.as_str()).unwrap_or("isolation_forest").to_string();
            Model::decode(&t, bytes)
        })
    }

    pub fn lookback_us(&self) -> i64 {
        match self {
            Model::Detector(d) => d.lookback_us(),
            Model::ZScore(_) => 0,
        }
    }

    pub fn threshold(&self) -> f64 {
        match self {
            Model::Detector(d) => d.threshold(),
            Model::ZScore(z) => pg_anomaly_core::zscore::z_to_score(z.params().threshold(), z.params().threshold()),
        }
    }

    /// Groups scored rows into alert episodes (hysteresis, gap merging, a jump merged with
    /// its reversal, repeats suppressed); `gap_us` is the metric type's episode_gap.
    pub fn episodes(&self, scored: &[Scored], gap_us: i64) -> Vec<Episode> {
        let p = match self {
            Model::Detector(d) => EpisodeParams { max_gap_us: gap_us, ..d.episode_params() },
            Model::ZScore(_) => {
                let t = self.threshold();
                EpisodeParams { threshold: t, close: t, max_gap_us: gap_us, suppress_us: 0, reversal_us: 0 }
            }
        };
        episodes(scored, &p)
    }

    /// Scores s[first..] (s[..first] is look-back).
    pub fn score_series(&self, s: &SeriesRows, first: usize) -> Result<Vec<Scored>> {
        match self {
            Model::Detector(d) => Ok(d.score_series(s, first)?),
            Model::ZScore(z) => Ok((first..s.len())
                .map(|i| {
                    let hour = if z.params().by_hour() {
                        s.features[i][col::HOUR_OF_DAY].map(|h| h as u8)
                    } else {
                        None
                    };
                    let v = s.value[i];
                    let zz = z.z(&s.entity_id, hour, v);
                    let score = z.score(&s.entity_id, hour, v).unwrap_or(0.0);
                    Scored {
                        ts: s.ts[i],
                        value: v,
                        score,
                        is_anomaly: z.is_anomaly(&s.entity_id, hour, v).unwrap_or(false),
                        expected: z.expected(&s.entity_id, hour),
                        direction: zz.map(|z| if z > 0.0 { 1 } else if z < 0.0 { -1 } else { 0 }).unwrap_or(0),
                        top: if zz.is_some() { vec![("value".to_string(), 1.0)] } else { vec![] },
                    }
                })
                .collect()),
        }
    }
}
