//! The two model families behind one interface: the detector (isolation forest on calibrated,
//! normalised inputs, `ml_models.model_type = 'isolation_forest'`) and the per-entity z-score
//! model (`'z_score'`). Decoding, scoring and episode grouping dispatch here, so the glue
//! never matches on the family.

use crate::detect::{episodes, Detector, Episode, EpisodeParams, Scored, SeriesRows};
use crate::features::col;
use crate::zscore::{z_to_score, ZScoreModel};
use crate::{CoreError, CoreResult};

/// A trained model of one metric type.
pub enum Model {
    Detector(Detector),
    ZScore(ZScoreModel),
}

/// `ml_models.model_type` of the detector.
pub const DETECTOR_TYPE: &str = "isolation_forest";
/// `ml_models.model_type` of the z-score model.
pub const ZSCORE_TYPE: &str = "z_score";

impl Model {
    /// Decodes stored model bytes of the given `ml_models.model_type`.
    pub fn decode(model_type: &str, bytes: &[u8]) -> CoreResult<Model> {
        match model_type {
            DETECTOR_TYPE => Ok(Model::Detector(Detector::from_bytes(bytes)?)),
            ZSCORE_TYPE => Ok(Model::ZScore(ZScoreModel::from_bytes(bytes)?)),
            other => Err(CoreError::corrupt(format!("unknown model type \"{other}\" in ml_models"))),
        }
    }

    /// The `ml_models.model_type` this model is stored under.
    pub fn model_type(&self) -> &'static str {
        match self {
            Model::Detector(_) => DETECTOR_TYPE,
            Model::ZScore(_) => ZSCORE_TYPE,
        }
    }

    /// How far before the first row to score the model reads (0: rows score on their own).
    pub fn lookback_us(&self) -> i64 {
        match self {
            Model::Detector(d) => d.lookback_us(),
            Model::ZScore(_) => 0,
        }
    }

    /// The score at and above which a row is anomalous.
    pub fn threshold(&self) -> f64 {
        match self {
            Model::Detector(d) => d.threshold(),
            Model::ZScore(z) => z_to_score(z.params().threshold(), z.params().threshold()),
        }
    }

    /// Groups scored rows into alert episodes (hysteresis, gap merging, a jump merged with
    /// its reversal, repeats suppressed); `gap_us` is the metric type's episode_gap.
    pub fn episodes(&self, scored: &[Scored], gap_us: i64) -> Vec<Episode> {
        episodes(scored, &self.episode_params(gap_us))
    }

    /// The episode parameters of this model with the metric type's episode_gap `gap_us`.
    pub fn episode_params(&self, gap_us: i64) -> EpisodeParams {
        match self {
            Model::Detector(d) => EpisodeParams { max_gap_us: gap_us, ..d.episode_params() },
            Model::ZScore(_) => {
                let t = self.threshold();
                EpisodeParams { threshold: t, close: t, max_gap_us: gap_us, suppress_us: 0, reversal_us: 0 }
            }
        }
    }

    /// How long after its last anomalous row an alert may still be continued by a later
    /// episode (the episode gap, or the reversal window when longer): an open alert is not
    /// closed for staleness before that.
    pub fn open_window_us(&self, gap_us: i64) -> i64 {
        gap_us.max(self.episode_params(gap_us).reversal_us)
    }

    /// Scores `s[first..]` (`s[..first]` is look-back).
    pub fn score_series(&self, s: &SeriesRows, first: usize) -> CoreResult<Vec<Scored>> {
        match self {
            Model::Detector(d) => d.score_series(s, first),
            Model::ZScore(z) => Ok((first..s.len()).map(|i| score_zscore_row(z, s, i)).collect()),
        }
    }
}

fn score_zscore_row(z: &ZScoreModel, s: &SeriesRows, i: usize) -> Scored {
    let hour = if z.params().by_hour() { s.features[i][col::HOUR_OF_DAY].map(|h| h as u8) } else { None };
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
        neg_log10_p: -(1.0 - score).clamp(1e-300, 1.0).log10(),
        sequence: None,
        warm_up: false,
        noise_model: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_model_type_is_corrupt_not_a_panic() {
        let e = Model::decode("random_forest", b"PGAD").err().expect("refused");
        assert_eq!(e.kind, crate::ErrorKind::Corrupt);
        assert!(e.message.contains("random_forest"), "{}", e.message);
    }

    #[test]
    fn forged_bytes_are_refused_for_both_families() {
        for t in [DETECTOR_TYPE, ZSCORE_TYPE] {
            assert!(Model::decode(t, b"not a model at all").is_err(), "{t}");
        }
    }
}
