//! Shapley attributions of the detector's row surprise to its inputs, the forest's TreeSHAP
//! folded to the same inputs, and global importance.
//!
//! What is explained: the row surprise `t(z) = max(max_j -ln P_j(z_j), -ln P_forest(s(z)))` in
//! nats (per-input calibrated tails and the isolation forest's calibrated score, see `mod.rs`),
//! a function of the row's derived inputs `z` (interaction columns are products of inputs, so
//! they are part of that function and need no separate credit). The final score is the
//! monotone map `score = 1 - P_day(T >= t)`; explaining `t` rather than the score keeps the
//! attributions additive in a unit that does not saturate at 1 for strong anomalies.
//!
//! Which Shapley values: exact *baseline* Shapley values (Sundararajan & Najmi 2020, "The many
//! Shapley values for model explanation") over the d <= 5 inputs, reference `z = 0` — the
//! deviation a normal row has under its noise model: `v(S) = t(z_S, 0_{not S})`, all 2^d
//! coalitions evaluated (at most 32 forest evaluations per row), so
//! `sum(phi) = t(z) - t(0)`, exactly, with no sampling error. Left-out inputs are always 0 and
//! get 0.
//!
//! The forest's own view ([`InputAttribution::forest`]): exact tree-path-dependent TreeSHAP of
//! `log2` of the forest score (`forest/shap.rs`), an interaction column's value split evenly
//! between its two inputs (the symmetric split; the sum is kept).

use serde::Serialize;
use serde_json::{json, Value};

use super::derive::{features, MAX_NF};
use super::fit::{check_series, forest_matrix, forest_pairs, Detector, EntityModel};
use super::{Scored, SeriesRows};
use crate::error::CoreResult;
use crate::forest::c_factor;

/// One input's attribution for one row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputAttribution {
    /// Stable input name (`count_1h`, ...).
    pub input: &'static str,
    /// Readable description.
    pub label: &'static str,
    /// The input's value `z` in the row (a dimensionless deviation).
    pub value: f64,
    /// Shapley value of the row surprise, in nats.
    pub attribution: f64,
    /// TreeSHAP value of `log2` of the forest score, interactions folded; None without forest.
    pub forest: Option<f64>,
}

/// The attributions of one row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub ts: i64,
    /// The model's score of the row, as `score_series` gives it (with the sequence family,
    /// the larger of the two families' scores, or the family's alone).
    pub score: f64,
    /// The calibrated detector's row surprise `t(z)` (nats); `sum(attribution) = surprise -
    /// base_surprise`.
    pub surprise: f64,
    /// `t(0)`: the surprise of a row with no deviation.
    pub base_surprise: f64,
    /// `log2` of the forest score and the TreeSHAP base (`sum(forest) = forest_log2 -
    /// forest_base`); None without forest.
    pub forest_log2: Option<f64>,
    pub forest_base: Option<f64>,
    /// Every input of the kind, in column order (left-out ones with zeros).
    pub inputs: Vec<InputAttribution>,
    /// The sequence family's view of the row (`seq.rs`), when the model has the family and a
    /// sequence model for the entity.
    pub sequence: Option<super::seq::SeqExplanation>,
    /// Which noise model scored the row: `trained` (the entity's own), `warm_up` (fitted on the
    /// entity's look-back at scoring time: the model was not trained on it) or `borrowed` (the
    /// metric type's, with the entity's level from its first look-back rows).
    pub model: super::score::ModelSource,
    /// Rows of look-back before the row (what a warm-up or borrowed model was fitted on).
    pub lookback_rows: usize,
}

/// Mean |attribution| per input over a sample of scored rows and over alerted rows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Importance {
    pub inputs: Vec<&'static str>,
    /// Mean |Shapley value| (nats) over the sampled rows.
    pub sample: Vec<f64>,
    /// The same over rows scoring at or above the alert threshold (0 when there are none).
    pub alerted: Vec<f64>,
    /// Mean |forest TreeSHAP value| (log2 forest score, folded) over the sampled rows.
    pub forest: Vec<f64>,
    pub rows_sample: usize,
    pub rows_alerted: usize,
}

impl Importance {
    /// The ranking key of RFE: alerted-row importance plus sample importance.
    pub fn combined(&self) -> Vec<f64> {
        self.sample.iter().zip(&self.alerted).map(|(a, b)| a + b).collect()
    }

    /// For `ml_models.parameters`: one object per input, and what was measured.
    pub fn to_json(&self) -> Value {
        let per: Vec<Value> = (0..self.inputs.len())
            .map(|j| json!({"input": self.inputs[j], "sample": self.sample[j], "alerted": self.alerted[j], "forest": self.forest[j]}))
            .collect();
        json!({
            "inputs": per,
            "rows_sample": self.rows_sample,
            "rows_alerted": self.rows_alerted,
            "quantity": "mean |exact baseline Shapley value| of the row surprise (nats), reference: zero deviation; forest: mean |TreeSHAP value| of log2 forest score",
        })
    }
}

/// Shapley weight k! (d-k-1)! / d! of a coalition of size k among d players.
fn weight(d: usize, k: usize) -> f64 {
    let f = |n: usize| (1..=n).map(|v| v as f64).product::<f64>();
    f(k) * f(d - k - 1) / f(d)
}

impl Detector {
    /// The row surprise of every row of derived inputs in `zs` (each at least `nf` long).
    pub(super) fn surprises(&self, zs: &[[f64; MAX_NF]]) -> Vec<f64> {
        let nf = features(self.kind).len();
        let fs: Vec<f64> = match &self.forest {
            Some(f) => {
                let pairs = forest_pairs(self.kind, self.params.interactions);
                f.score(forest_matrix(zs.len(), |i| &zs[i][..nf], nf, &pairs).view()).to_vec()
            }
            None => vec![0.0; zs.len()],
        };
        zs.iter().zip(&fs).map(|(z, &f)| self.row_surprise(&z[..nf], f).0).collect()
    }

    /// Exact baseline Shapley values of the row surprise of derived inputs `z` (one per input
    /// of the kind), with `t(z)` and `t(0)`.
    pub(crate) fn shapley(&self, z: &[f64]) -> (Vec<f64>, f64, f64) {
        let nf = features(self.kind).len();
        let mask = self.used_inputs();
        let players: Vec<usize> = (0..nf).filter(|&j| mask[j]).collect();
        let d = players.len();
        let coalitions: Vec<[f64; MAX_NF]> = (0..1usize << d)
            .map(|s| {
                let mut r = [0.0; MAX_NF];
                for (b, &j) in players.iter().enumerate() {
                    if s & (1 << b) != 0 {
                        r[j] = z.get(j).copied().unwrap_or(0.0);
                    }
                }
                r
            })
            .collect();
        let v = self.surprises(&coalitions);
        let mut phi = vec![0.0; nf];
        for (b, &j) in players.iter().enumerate() {
            for (s, vs) in v.iter().enumerate() {
                if s & (1 << b) == 0 {
                    phi[j] += weight(d, s.count_ones() as usize) * (v[s | (1 << b)] - vs);
                }
            }
        }
        (phi, v[v.len() - 1], v[0])
    }

    /// TreeSHAP of `log2` of the forest score of inputs `z`, folded to the inputs:
    /// (values, log2 score, base). None without forest.
    fn forest_shap(&self, z: &[f64]) -> Option<(Vec<f64>, f64, f64)> {
        let f = self.forest.as_ref()?;
        let nf = features(self.kind).len();
        let pairs = forest_pairs(self.kind, self.params.interactions);
        let x = forest_matrix(1, |_| &z[..nf], nf, &pairs);
        let row: Vec<f64> = x.row(0).to_vec();
        let s = f.shap_values(&row).to_log2_score(c_factor(f.psi()));
        let mut phi = s.phi[..nf].to_vec();
        for (k, &(a, b)) in pairs.iter().enumerate() {
            let half = s.phi.get(nf + k).copied().unwrap_or(0.0) / 2.0;
            phi[a] += half;
            phi[b] += half;
        }
        Some((phi, s.value, s.base))
    }

    /// The at most 3 inputs with the largest positive Shapley values, as (label, share of the
    /// positive total), largest first: the alert explanation.
    pub(crate) fn top_shares(&self, z: &[f64]) -> Vec<(String, f64)> {
        let info = features(self.kind);
        let (phi, _, _) = self.shapley(z);
        let total: f64 = phi.iter().filter(|p| **p > 0.0).sum();
        if total <= 0.0 {
            return Vec::new();
        }
        let mut ranked: Vec<(usize, f64)> = phi.iter().enumerate().filter(|(_, p)| **p > 0.0).map(|(j, p)| (j, p / total)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(3);
        ranked.into_iter().map(|(j, s)| (info[j].label.to_string(), s)).collect()
    }

    /// Explains row `i` of `s` as [`score_series`](Self::score_series)`(s, i)` scores it (rows
    /// up to a day before it are its look-back), with the noise model it was scored with: the
    /// entity's own, or for an entity the model was not trained on the warm-up or borrowed
    /// model fitted on its look-back (`warm.rs`). None when no model scores the row (an
    /// unknown entity with too little look-back) or `i` is out of range; errors only on a
    /// malformed series.
    pub fn explain_row(&self, s: &SeriesRows, i: usize) -> CoreResult<Option<Explanation>> {
        check_series(s)?;
        if i >= s.len() {
            return Ok(None);
        }
        let (view, at) = self.lookback_view(s, i, i + 1);
        let view = view.as_ref();
        let Some((em, _, source)) = self.entity_for(view, at) else { return Ok(None) };
        let rows = self.derived(em.as_ref(), view, at);
        let Some(row) = rows.first() else { return Ok(None) };
        let info = features(self.kind);
        let nf = info.len();
        let (phi, t, t0) = self.shapley(&row.z[..nf]);
        let forest = self.forest_shap(&row.z[..nf]);
        let score = self.score_series(view, at)?.first().map_or_else(|| self.score_of(t), |r| r.score);
        let p = &self.params;
        let sequence = self.seq.as_ref().and_then(|sq| sq.explain(view, at, self.threshold, p.seq_margin, (p.seq_rest_hours * 3600e6) as i64, self.lookback_us()));
        let inputs = (0..nf)
            .map(|j| InputAttribution {
                input: info[j].name,
                label: info[j].label,
                value: row.z[j],
                attribution: phi[j],
                forest: forest.as_ref().map(|f| f.0[j]),
            })
            .collect();
        Ok(Some(Explanation {
            ts: s.ts[i],
            score,
            surprise: t,
            base_surprise: t0,
            forest_log2: forest.as_ref().map(|f| f.1),
            forest_base: forest.as_ref().map(|f| f.2),
            inputs,
            sequence,
            model: source,
            lookback_rows: at,
        }))
    }

    /// Global importance over `series`: mean |Shapley value| per input over about `max_rows`
    /// rows sampled evenly from all scored rows, and over at most `max_rows` rows at or above
    /// the alert threshold (evenly thinned); the forest's mean |TreeSHAP value| over the sample.
    /// Rows of entities the model does not know are skipped.
    /// Rows are derived and scored on threads, series by series in order; the result is the
    /// one a serial pass gives.
    pub fn importance(&self, series: &[SeriesRows], max_rows: usize) -> CoreResult<Importance> {
        Ok(self.scan::<()>(series, max_rows, None)?.0)
    }

    /// [`importance`](Self::importance) and every series scored from its first row (what
    /// [`score_series`](Self::score_series)`(s, 0)` gives), in one pass: a trained entity's rows
    /// are derived and forest-scored once for both. `keep` turns each series' scored rows into
    /// what the caller keeps (it runs on worker threads); the results in the order of
    /// `series`. A series `score_series` refuses is an error.
    pub fn score_with_importance<R: Send>(&self, series: &[SeriesRows], max_rows: usize, keep: impl Fn(&SeriesRows, Vec<Scored>) -> R + Sync) -> CoreResult<(Importance, Vec<R>)> {
        self.scan(series, max_rows, Some(&keep))
    }

    fn scan<R: Send>(&self, series: &[SeriesRows], max_rows: usize, keep: Option<&(dyn Fn(&SeriesRows, Vec<Scored>) -> R + Sync)>) -> CoreResult<(Importance, Vec<R>)> {
        let info = features(self.kind);
        let nf = info.len();
        let max_rows = max_rows.max(1);
        let total: usize = series.iter().filter(|s| self.knows(&s.entity_id)).map(|s| s.len()).sum();
        let stride = total.div_ceil(max_rows).max(1);
        // the series to go through: the importance scans the known, valid ones, each with the
        // count of scanned rows before it (a row is sampled by its place among all of them);
        // scoring goes through every series
        let mut plan: Vec<(&SeriesRows, Option<(&EntityModel, usize)>)> = Vec::new();
        let mut seen = 0usize;
        for s in series {
            match self.entity(&s.entity_id).filter(|_| check_series(s).is_ok()) {
                Some(em) => {
                    plan.push((s, Some((em, seen))));
                    seen += s.len();
                }
                None if keep.is_some() => plan.push((s, None)),
                None => {}
            }
        }
        type Part<R> = CoreResult<(Vec<[f64; MAX_NF]>, Vec<[f64; MAX_NF]>, Vec<R>)>;
        let parts = super::par::parts(&plan, super::par::threads(), |_, part| -> Part<R> {
            let (mut sample, mut alerted, mut kept) = (Vec::new(), Vec::new(), Vec::new());
            for &(s, known) in part {
                let Some((em, before)) = known.filter(|_| !s.is_empty()) else {
                    if let Some(k) = keep {
                        kept.push(k(s, self.score_series(s, 0)?));
                    }
                    continue;
                };
                let rows = self.derived(em, s, 0);
                let fs = self.forest_scores(&rows);
                for (k, (r, &f)) in rows.iter().zip(&fs).enumerate() {
                    if (before + k).is_multiple_of(stride) {
                        sample.push(r.z);
                    }
                    if self.score_of(self.row_surprise(&r.z[..nf], f).0) >= self.threshold {
                        alerted.push(r.z);
                    }
                }
                if let Some(k) = keep {
                    // a trained entity from its first row: no look-back to drop, no penalty
                    kept.push(k(s, self.scored_rows(s, 0, em, 0.0, false, &rows, &fs)));
                }
            }
            Ok((sample, alerted, kept))
        })?;
        let (mut sample, mut alerted, mut kept) = (Vec::new(), Vec::new(), Vec::new());
        for p in parts {
            let (s, a, k) = p?;
            sample.extend(s);
            alerted.extend(a);
            kept.extend(k);
        }
        if alerted.len() > max_rows {
            let step = alerted.len() as f64 / max_rows as f64;
            alerted = (0..max_rows).map(|k| alerted[(k as f64 * step) as usize]).collect();
        }
        let mean_abs = |rows: &[[f64; MAX_NF]], f: &dyn Fn(&[f64]) -> Vec<f64>| -> Vec<f64> {
            let mut acc = vec![0.0; nf];
            for r in rows {
                acc.iter_mut().zip(f(&r[..nf])).for_each(|(a, p)| *a += p.abs());
            }
            acc.iter_mut().for_each(|a| *a /= rows.len().max(1) as f64);
            acc
        };
        let shap = |z: &[f64]| self.shapley(z).0;
        let tree = |z: &[f64]| self.forest_shap(z).map_or_else(|| vec![0.0; nf], |f| f.0);
        Ok((Importance {
            inputs: info.iter().map(|f| f.name).collect(),
            sample: mean_abs(&sample, &shap),
            alerted: mean_abs(&alerted, &shap),
            forest: mean_abs(&sample, &tree),
            rows_sample: sample.len(),
            rows_alerted: alerted.len(),
        }, kept))
    }
}
