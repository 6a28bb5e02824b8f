//! Shapley explanations, importance, left-out inputs and recursive feature elimination.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::tests_fit::{cal_feats, BASE, DAY, HOUR, STEP};
use super::derive::features;
use super::*;
use crate::error::ErrorKind;


fn count_series(id: &str, seed: u64, days: i64, scale: f64) -> SeriesRows {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ts: Vec<i64> = (0..days * 96).map(|i| BASE + i * STEP).collect();
    let rate = |t: i64| {
        let h = t.rem_euclid(DAY) as f64 / HOUR as f64;
        scale * (0.3 + 1.5 * (-0.5 * ((h - 9.0) / 1.5f64).powi(2)).exp())
    };
    let value = ts.iter().map(|&t| Poisson::new(rate(t)).map_or(0.0, |p| p.sample(&mut rng))).collect();
    let features = ts.iter().map(|&t| cal_feats(t)).collect();
    SeriesRows { entity_id: id.into(), ts, value, features, aux: None }
}

fn train(n: usize, days: i64) -> Vec<SeriesRows> {
    (0..n).map(|k| count_series(&format!("e{k}"), k as u64, days, 4.0)).collect()
}

fn params(interactions: usize) -> DetectorParams {
    DetectorParams { n_trees: 40, calibration_blocks: 200, interactions, ..DetectorParams::default() }
}

/// Shapley values by their permutation definition: the mean over all d! orders of each
/// input's marginal contribution (independent of the subset formula the code uses).
fn by_permutations(det: &Detector, z: &[f64], players: &[usize]) -> Vec<f64> {
    fn perms(items: &[usize]) -> Vec<Vec<usize>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let x = rest.remove(i);
            for mut p in perms(&rest) {
                p.insert(0, x);
                out.push(p);
            }
        }
        out
    }
    let nf = features(det.kind).len();
    let t = |on: &[usize]| {
        let mut r = [0.0; 5];
        on.iter().for_each(|&j| r[j] = z[j]);
        det.surprises(&[r])[0]
    };
    let mut phi = vec![0.0; nf];
    let all = perms(players);
    for p in &all {
        for k in 0..p.len() {
            phi[p[k]] += t(&p[..=k]) - t(&p[..k]);
        }
    }
    phi.iter_mut().for_each(|v| *v /= all.len() as f64);
    phi
}

#[test]
fn shapley_matches_permutations_and_adds_up() {
    for interactions in [0, 3] {
        let det = Detector::fit(MetricKind::Count, &params(interactions), &train(6, 9), &[], &[]).expect("fit").0;
        let mut s = count_series("e1", 91, 10, 4.0);
        let i = 9 * 96 + 36;
        s.value[i] += 30.0;
        s.value[i - 1] += 12.0;
        let e = det.explain_row(&s, i).expect("explain").expect("known entity");
        let scored = det.score_series(&s, i).expect("score");
        assert!((e.score - scored[0].score).abs() < 1e-12, "{} vs {}", e.score, scored[0].score);
        let z: Vec<f64> = e.inputs.iter().map(|a| a.value).collect();
        let want = by_permutations(&det, &z, &[0, 1, 2, 3, 4]);
        for (a, w) in e.inputs.iter().zip(&want) {
            assert!((a.attribution - w).abs() < 1e-9, "{}: {} vs {w}", a.input, a.attribution);
        }
        let sum: f64 = e.inputs.iter().map(|a| a.attribution).sum();
        assert!((sum - (e.surprise - e.base_surprise)).abs() < 1e-9);
        // the spike's own input leads, and the alert explanation says so
        let top = e.inputs.iter().max_by(|a, b| a.attribution.total_cmp(&b.attribution)).unwrap();
        assert_eq!(top.input, "count_now", "{:?}", e.inputs);
        assert!(scored[0].is_anomaly);
        assert_eq!(scored[0].top[0].0, "count vs usual for this hour");
        // forest TreeSHAP, interactions folded: adds up to the forest's log2 score
        let fsum: f64 = e.inputs.iter().map(|a| a.forest.expect("forest")).sum();
        assert!((fsum - (e.forest_log2.unwrap() - e.forest_base.unwrap())).abs() < 1e-9);
        assert_eq!((e.model, e.lookback_rows), (ModelSource::Trained, 191));
        // an entity the model was not trained on is explained with the warm-up model that
        // scored it (fitted on its look-back), and says so; with too little look-back for any
        // model (and a row out of range) there is no explanation
        let mut other = s.clone();
        other.entity_id = "nobody".into();
        let w = det.explain_row(&other, i).unwrap().expect("a warm-up model scored the row");
        assert_eq!(w.model, ModelSource::WarmUp);
        assert!((w.score - det.score_series(&other, i).expect("score")[0].score).abs() < 1e-12);
        assert!(serde_json::to_value(&w).expect("json")["model"] == "warm_up");
        // its first hours (8 rows of look-back): a model borrowed from the type
        let a = 9 * 96;
        let fresh = SeriesRows { entity_id: "nobody".into(), ts: other.ts[a..].to_vec(), value: other.value[a..].to_vec(), features: other.features[a..].to_vec(), aux: None };
        let b = det.explain_row(&fresh, 8).unwrap().expect("a borrowed model scored the row");
        assert_eq!((b.model, b.lookback_rows), (ModelSource::Borrowed, 8));
        assert!((b.score - det.score_series(&fresh, 8).expect("score")[0].score).abs() < 1e-12);
        let few = crate::corpus::head(&other, 3);
        assert_eq!(det.explain_row(&few, 2).unwrap(), None);
        assert_eq!(det.explain_row(&s, s.len()).unwrap(), None);
    }
}

#[test]
fn a_spike_is_explained_by_its_own_row_not_by_the_change_scan() {
    // the two-row spike of `shapley_matches_permutations_and_adds_up`: the scan's 1- and
    // 2-hour stretches hold exactly the spike's evidence. Counted as any stretch
    // (`scan_over_row` false, what models before version 8 do), the scan's thin tail under
    // the neighbouring-hours profile made "shift within 24 hours" the spike's main reason;
    // a short stretch must now carry more than the row itself
    let attribution = |over_row: bool| {
        let p = DetectorParams { count_hour_prior: true, scan_over_row: over_row, ..params(0) };
        let det = Detector::fit(MetricKind::Count, &p, &train(6, 9), &[], &[]).expect("fit").0;
        let mut s = count_series("e1", 91, 10, 4.0);
        let i = 9 * 96 + 36;
        s.value[i] += 30.0;
        s.value[i - 1] += 12.0;
        let e = det.explain_row(&s, i).expect("explain").expect("known entity");
        let of = |name: &str| e.inputs.iter().find(|a| a.input == name).map(|a| a.attribution).unwrap();
        (of("count_now"), of("count_24h"))
    };
    let (now, scan) = attribution(true);
    assert!(now > scan, "count_now {now}, count_24h {scan}");
    let (now_all, scan_all) = attribution(false);
    assert!(scan_all > scan && scan_all > now_all, "every stretch counted: count_now {now_all}, count_24h {scan_all}");
}

#[test]
fn left_out_inputs_get_zero_and_are_validated() {
    let mut p = params(2);
    p.exclude_inputs = vec!["count_now".into(), "count_24h".into()];
    let det = Detector::fit(MetricKind::Count, &p, &train(6, 9), &[], &[]).expect("fit").0;
    assert_eq!(det.inputs(), vec!["count_1h", "count_4h", "repeat_run"]);
    let mut s = count_series("e2", 5, 10, 4.0);
    let i = 9 * 96 + 40;
    s.value[i] += 30.0;
    let e = det.explain_row(&s, i).unwrap().unwrap();
    for a in &e.inputs {
        if a.input == "count_now" || a.input == "count_24h" {
            assert_eq!((a.value, a.attribution, a.forest), (0.0, 0.0, Some(0.0)), "{a:?}");
        }
    }
    let want = by_permutations(&det, &e.inputs.iter().map(|a| a.value).collect::<Vec<_>>(), &[1, 2, 4]);
    for (a, w) in e.inputs.iter().zip(&want) {
        assert!((a.attribution - w).abs() < 1e-9);
    }
    // the mask survives bytes
    let back = Detector::from_bytes(&det.to_bytes().unwrap()).unwrap();
    assert_eq!(back.inputs(), det.inputs());
    // bad names, every input left out
    let bad = |names: &[&str]| {
        let mut p = params(0);
        p.exclude_inputs = names.iter().map(|s| s.to_string()).collect();
        Detector::fit(MetricKind::Count, &p, &train(3, 8), &[], &[]).map(|_| ()).unwrap_err()
    };
    assert_eq!(bad(&["stock_below_usual"]).kind, ErrorKind::InvalidParameter);
    let e = bad(&["count_now", "count_1h", "count_4h", "count_24h", "repeat_run"]);
    assert!(format!("{e:?}").contains("no input"), "{e:?}");
    let j = DetectorParams::from_json(&serde_json::json!({"exclude_inputs": ["count_1h"]})).unwrap();
    assert_eq!(j.exclude_inputs, vec!["count_1h"]);
    assert!(DetectorParams::from_json(&serde_json::json!({"exclude_inputs": "count_1h"})).is_err());
    assert!(DetectorParams::from_json(&serde_json::json!({"exclude_inputs": ["a", "a"]})).is_err());
}

#[test]
fn importance_ranks_the_input_that_alerts() {
    let det = Detector::fit(MetricKind::Count, &params(0), &train(6, 9), &[], &[]).expect("fit").0;
    let mut series = train(6, 10);
    for (k, s) in series.iter_mut().enumerate() {
        let i = 9 * 96 + 30 + k;
        s.value[i] += 35.0;
    }
    let imp = det.importance(&series, 200).expect("importance");
    assert_eq!(imp.inputs.len(), 5);
    assert!(imp.rows_sample >= 150 && imp.rows_sample <= 200, "{}", imp.rows_sample);
    assert!(imp.rows_alerted >= 6, "{}", imp.rows_alerted);
    assert!(imp.sample.iter().chain(&imp.alerted).chain(&imp.forest).all(|v| v.is_finite() && *v >= 0.0));
    // a spike moves the count inputs (the row, then the 1 h / 4 h / 24 h sums while the
    // episode lasts), never the repeated-value input
    let low = (0..5).min_by(|&a, &b| imp.alerted[a].total_cmp(&imp.alerted[b])).unwrap();
    assert_eq!(imp.inputs[low], "repeat_run", "{imp:?}");
    assert!((0..4).all(|j| imp.alerted[j] > 2.0 * imp.sample[j]), "{imp:?}");
    assert_eq!(imp.to_json()["inputs"].as_array().unwrap().len(), 5);
}

#[test]
fn rfe_records_every_round_and_never_keeps_zero_inputs() {
    let series = train(5, 9);
    // labels: spikes on three series
    let mut series_l = series.clone();
    let mut labels = Vec::new();
    for (k, s) in series_l.iter_mut().take(3).enumerate() {
        let i = 8 * 96 + 40 + 3 * k;
        s.value[i] += 40.0;
        labels.push(Window { entity_id: format!("e{k}"), from_us: s.ts[i], to_us: s.ts[i] });
    }
    let r = rfe(MetricKind::Count, &params(0), &series_l, &labels, &[]).expect("rfe");
    assert_eq!(r.criterion, "event_f1");
    assert_eq!(r.rounds.len(), 5);
    for (k, round) in r.rounds.iter().enumerate() {
        assert_eq!(round.round, k);
        assert_eq!(round.inputs.len(), 5 - k);
        assert_eq!(round.importance.len(), round.inputs.len());
        assert!(round.f1.is_some());
        assert_eq!(round.dropped.is_none(), k == 4);
        if let Some(d) = &round.dropped {
            assert!(!r.rounds[k + 1].inputs.contains(d) && round.inputs.contains(d));
        }
    }
    assert!(!r.kept().is_empty());
    let best = r.rounds.iter().map(|x| x.f1.unwrap()).fold(0.0, f64::max);
    assert_eq!(r.rounds[r.chosen].f1.unwrap(), best);
    assert_eq!(r.excluded().len() + r.kept().len(), 5);
    assert!(r.rounds[0].f1.unwrap() > 0.5, "{:?}", r.rounds[0]);

    // no labels: agreement with the all-input detector decides
    let u = rfe(MetricKind::Count, &params(0), &series_l, &[], &[]).expect("rfe");
    assert_eq!(u.criterion, "alert_agreement");
    assert_eq!(u.rounds[0].agreement, 1.0);
    assert!(u.rounds[u.chosen].agreement >= rfe::MIN_AGREEMENT);
    assert!(u.rounds.iter().all(|x| x.f1.is_none() && !x.inputs.is_empty()));

    // a one-input kind: one round, nothing dropped
    let one = rfe(MetricKind::Duration, &params(0), &[], &[], &[]);
    assert!(one.is_err());
}

/// Every input an alert can be blamed on reads in Turkish in a Turkish message: no English
/// label slips through (each kind's labels against the message texts' table).
#[test]
fn every_input_label_has_a_turkish_text() {
    for kind in [MetricKind::Count, MetricKind::Level, MetricKind::Duration, MetricKind::Generic] {
        for f in features(kind) {
            let tr = crate::messages::feature_label(f.label, false);
            assert_ne!(tr, f.label, "{kind:?} input {} has no Turkish label", f.name);
            assert!(!tr.contains(" usual") && !tr.contains(" vs "), "{kind:?} input {}: {tr}", f.name);
        }
    }
}

#[test]
fn input_surprises_are_the_row_surprises_a_score_is_taken_from() {
    // `input_surprises` (the `--tails` diagnostic of bench/quality.sh) must read each row as
    // scoring does: the largest of a row's input surprises, through the daily-maximum tail,
    // is the row's score (a trained entity: no warm-up penalty, calibrated family)
    let det = Detector::fit(MetricKind::Count, &params(0), &train(6, 9), &[], &[]).expect("fit").0;
    let mut s = count_series("e1", 91, 10, 4.0);
    let first = 9 * 96;
    let i = first + 36;
    s.value[i] += 30.0;
    let us = det.input_surprises(&s, first).expect("surprises");
    let scored = det.score_series(&s, first).expect("score");
    assert_eq!(us.len(), scored.len());
    let nf = features(MetricKind::Count).len();
    for (u, r) in us.iter().zip(&scored) {
        assert_eq!(u.len(), nf + 1, "the inputs, then the forest");
        assert!(u.iter().all(|x| x.is_finite() && *x >= 0.0));
        let t = u.iter().copied().fold(0.0, f64::max);
        assert!((det.score_of(t) - r.score).abs() < 1e-12, "row at {}: {} against {}", r.ts, det.score_of(t), r.score);
    }
    // the spike row: its own count leads, far above what one normal row in a thousand reaches
    let spike = &us[i - first];
    let lead = (0..=nf).max_by(|&a, &b| spike[a].total_cmp(&spike[b])).unwrap();
    assert_eq!(lead, 0, "count_now leads the spike row: {spike:?}");
    assert!(spike[0] > 1000f64.ln(), "{spike:?}");
    // a row of a normal day mostly stays below that
    let quiet = us.iter().filter(|u| u[0] < 1000f64.ln()).count();
    assert!(quiet as f64 >= 0.95 * us.len() as f64, "{quiet} of {}", us.len());
    // nothing to read: an unknown entity without look-back, or no rows to score
    let mut other = crate::corpus::head(&s, 3);
    other.entity_id = "nobody".into();
    assert!(det.input_surprises(&other, 0).expect("unknown").is_empty());
    assert!(det.input_surprises(&s, s.len()).expect("none").is_empty());
}
