//! The sequence family (`seq.rs`): it alarms on a context it has not seen (values that are
//! each ordinary, in an order never seen), stays quiet on the repeating pattern it learned,
//! rests after an alarm, names itself in explanations and survives the bytes round trip.

use super::seq::{Family, SEQ_LABEL};
use super::*;

const MIN: i64 = 60_000_000;
/// 2025-03-03T00:00:00Z.
const START: i64 = 1_740_960_000_000_000;
/// Rows per day at 15 minutes.
const DAY: usize = 96;

/// A ramp 0, 10, ..., 110 repeating every 12 rows (3 hours), a little jitter.
fn pattern(i: usize) -> f64 {
    (i % 12) as f64 * 10.0 + 0.3 * (((i * 104_729) % 7) as f64 / 3.0 - 1.0)
}

fn rows(id: &str, values: &[f64]) -> SeriesRows {
    let ts: Vec<i64> = (0..values.len() as i64).map(|i| START + i * 15 * MIN).collect();
    crate::corpus::series_rows(id, &ts, values, None, 0)
}

fn fit(family: Family, rest_hours: f64, train: &SeriesRows) -> Detector {
    let p = DetectorParams { min_train_days: 1.0, detector_family: family, seq_rest_hours: rest_hours, ..DetectorParams::default() };
    Detector::fit(MetricKind::Generic, &p, std::slice::from_ref(train), &[], &[]).expect("fit").0
}

/// 4 days of the pattern, then 2 days scored; `reversed` rows (in the scored part) run the
/// ramp backwards for 6 rows: every value is one the ramp takes, the order is new.
fn series_with(reversed: &[usize]) -> SeriesRows {
    let n = 6 * DAY;
    let mut v: Vec<f64> = (0..n).map(pattern).collect();
    for &at in reversed {
        for k in 0..6 {
            v[at + k] = (11 - k) as f64 * 10.0;
        }
    }
    rows("e1", &v)
}

fn alarms(scored: &[Scored]) -> Vec<usize> {
    scored.iter().enumerate().filter(|(_, r)| r.is_anomaly).map(|(i, _)| i).collect()
}

#[test]
fn sequence_family_alarms_on_an_unseen_context() {
    let at = 4 * DAY + 30;
    let s = series_with(&[at]);
    let train = crate::corpus::head(&s, 4 * DAY);
    let det = fit(Family::Sequence, 12.0, &train);
    let scored = det.score_series(&s, 4 * DAY).expect("score");
    let a = alarms(&scored);
    let first = at - 4 * DAY;
    assert!(a.iter().any(|&i| i >= first && i < first + 8), "no alarm at the reversed ramp (rows {first}..); alarms at {a:?}");
    let peak = scored[first..first + 8].iter().max_by(|x, y| x.score.total_cmp(&y.score)).expect("rows");
    assert_eq!(peak.top.first().map(|t| t.0.as_str()), Some(SEQ_LABEL), "the family is named in the explanation");
    assert!(peak.neg_log10_p > 3.0, "tail probability {}", peak.neg_log10_p);
}

#[test]
fn sequence_family_is_quiet_on_the_pattern_it_learned() {
    let s = series_with(&[]);
    let train = crate::corpus::head(&s, 4 * DAY);
    let det = fit(Family::Sequence, 12.0, &train);
    let scored = det.score_series(&s, 4 * DAY).expect("score");
    assert_eq!(scored.len(), 2 * DAY);
    assert!(alarms(&scored).is_empty(), "alarms on the learned pattern at {:?}", alarms(&scored));
}

#[test]
fn sequence_family_rests_after_an_alarm() {
    // a reversed ramp, then 3 hours later a value far above anything seen (more surprising,
    // so the recent-maximum rule alone would let it through): with a 12-hour rest it raises
    // nothing, without a rest it alarms
    let at = 4 * DAY + 30;
    let mut s = series_with(&[at]);
    s.value[at + 12] = 1000.0;
    let s = rows("e1", &s.value);
    let train = crate::corpus::head(&s, 4 * DAY);
    let second = at + 12 - 4 * DAY;
    let resting = fit(Family::Sequence, 12.0, &train).score_series(&s, 4 * DAY).expect("score");
    let eager = fit(Family::Sequence, 0.0, &train).score_series(&s, 4 * DAY).expect("score");
    let in_second = |sc: &[Scored]| alarms(sc).into_iter().filter(|&i| i >= second && i < second + 8).count();
    assert!(!alarms(&resting).is_empty(), "the first reversal alarms");
    assert_eq!(in_second(&resting), 0, "alarm during the rest: {:?}", alarms(&resting));
    assert!(in_second(&eager) > 0, "without a rest the second event alarms: {:?}", alarms(&eager));
    // the rest is rebuilt from the look-back: scoring from the second reversal on, with
    // the first in the look-back, gives the same (quiet) rows
    let later = fit(Family::Sequence, 12.0, &train).score_series(&s, at + 12).expect("score");
    assert_eq!(later.iter().take(8).filter(|r| r.is_anomaly).count(), 0);
}

#[test]
fn sequence_family_round_trips_and_is_named_in_the_parameters() {
    let s = series_with(&[4 * DAY + 30]);
    let train = crate::corpus::head(&s, 4 * DAY);
    let det = fit(Family::Both, 12.0, &train);
    let back = Detector::from_bytes(&det.to_bytes().expect("bytes")).expect("decode");
    assert_eq!(back, det);
    assert_eq!(back.score_series(&s, 4 * DAY).expect("score"), det.score_series(&s, 4 * DAY).expect("score"));
    assert_eq!(det.params().to_json()["detector_family"], "both");
    let p = DetectorParams::from_json(&serde_json::json!({"detector_family": "sequence", "seq_margin": 1.5})).expect("params");
    assert_eq!((p.detector_family, p.seq_margin), (Family::Sequence, 1.5));
    assert!(DetectorParams::from_json(&serde_json::json!({"detector_family": "htm"})).is_err());
    assert!(DetectorParams::from_json(&serde_json::json!({"seq_rest_hours": 100})).is_err());
    // a calibrated model has no sequence part; a forged family without one is refused
    let plain = fit(Family::Calibrated, 12.0, &train);
    assert!(plain.seq.is_none());
    let mut forged = plain.clone();
    forged.params.detector_family = Family::Sequence;
    assert!(Detector::from_bytes(&forged.to_bytes().expect("bytes")).is_err());
}

#[test]
fn version_5_bytes_still_load_as_calibrated() {
    let s = series_with(&[4 * DAY + 30]);
    let train = crate::corpus::head(&s, 4 * DAY);
    let mut det = fit(Family::Calibrated, 12.0, &train);
    // what bytes before version 8 mean (the two count parameters, version 9's stock one and
    // version 10's count one play no part in a generic model)
    (det.params.count_hour_prior, det.params.scan_over_row, det.params.stock_skip_unrecorded, det.params.count_row_window) = (false, false, false, false);
    // version 5 is version 6 without the family and its two f64 parameters (17 bytes of the
    // parameters, before version 8's two bools and the one each of versions 9 and 10) and
    // without the trailing `None` of the sequence models
    let v5 = super::tests_fit::older_bytes(&det, 4 + 17, 1, 5);
    let back = Detector::from_bytes(&v5).expect("version 5 loads");
    assert_eq!(back, det);
    assert_eq!(back.params().detector_family, Family::Calibrated);
}

#[test]
fn explain_row_says_why_the_sequence_family_alarmed() {
    let at = 4 * DAY + 30;
    let s = series_with(&[at]);
    let train = crate::corpus::head(&s, 4 * DAY);
    for family in [Family::Sequence, Family::Both] {
        let det = fit(family, 12.0, &train);
        let scored = det.score_series(&s, 4 * DAY).expect("score");
        let first = alarms(&scored).into_iter().find(|&k| k >= at - 4 * DAY).expect("an alarm at the reversed ramp");
        let i = 4 * DAY + first;
        let e = det.explain_row(&s, i).expect("explain").expect("known entity");
        assert!((e.score - scored[first].score).abs() < 1e-12, "{family:?}: explained score {} vs scored {}", e.score, scored[first].score);
        let q = e.sequence.as_ref().expect("the sequence family's view");
        assert_eq!(q.inputs.iter().map(|x| x.input).collect::<Vec<_>>(), ["sequence_bin", "sequence_previous", "sequence_two_before"]);
        let sum: f64 = q.inputs.iter().map(|x| x.attribution).sum();
        assert!((sum - q.surprise).abs() < 1e-9, "terms add up to the surprise: {sum} vs {}", q.surprise);
        assert!(q.surprise > q.reference + q.margin && !q.resting, "{q:?}");
        assert!(q.ln_p < 0.0 && (crate::detect::score::score_from_ln_p(q.ln_p) - scored[first].score).abs() < 1e-12 || family == Family::Both, "{q:?}");
        // every value of the reversed ramp is one the ramp takes: its context, not its range, is new
        let ctx = q.inputs[1].attribution + q.inputs[2].attribution;
        assert!(ctx > q.inputs[0].attribution, "the context carries the surprise: {q:?}");
        assert!(q.inputs.iter().all(|x| x.value.is_finite() && x.label.starts_with("sequence: ")), "{q:?}");
        // a row of the learned pattern: small surprise, no alarm
        let calm = det.explain_row(&s, 4 * DAY + 6).unwrap().unwrap();
        let c = calm.sequence.expect("sequence view");
        assert!(c.surprise < c.reference + c.margin && crate::detect::score::score_from_ln_p(c.ln_p) < det.threshold(), "{c:?}");
    }
    // the calibrated family has no sequence view
    let det = fit(Family::Calibrated, 12.0, &train);
    assert!(det.explain_row(&s, at).unwrap().unwrap().sequence.is_none());
}

#[test]
fn an_alert_row_carries_the_family_bins() {
    // the explanation of the row the family alarmed on names its bin (with the range) and
    // the two bins before it, as ml_explain shows them
    let at = 4 * DAY + 30;
    let s = series_with(&[at]);
    let train = crate::corpus::head(&s, 4 * DAY);
    for family in [Family::Sequence, Family::Both] {
        let det = fit(family, 12.0, &train);
        let scored = det.score_series(&s, 4 * DAY).expect("score");
        let first = alarms(&scored).into_iter().find(|&k| k >= at - 4 * DAY).expect("an alarm at the reversed ramp");
        let r = &scored[first];
        let q = r.sequence.as_ref().expect("the family's bins on the alarmed row");
        let e = det.explain_row(&s, 4 * DAY + first).unwrap().unwrap().sequence.expect("sequence view");
        let bins: Vec<f64> = [Some(&q.bin), q.previous.as_ref(), q.two_before.as_ref()].iter().map(|b| f64::from(b.expect("two rows of history").bin)).collect();
        assert_eq!(bins, e.inputs.iter().map(|x| x.value).collect::<Vec<_>>(), "the same bins as ml_explain");
        assert!(e.inputs[0].label.contains(&q.bin.range), "{} vs {}", e.inputs[0].label, q.bin.range);
        let j = crate::row::explanation_json(&r.top, r.neg_log10_p, r.sequence.as_ref(), r.warm_up, r.noise_model);
        let el = j.as_array().unwrap().iter().find(|x| x["feature"] == SEQ_LABEL).expect("sequence_context element");
        assert!(el["share"].is_number() && el["neg_log10_p"].is_number(), "existing keys kept: {el}");
        assert_eq!(el["sequence_bin"]["bin"], q.bin.bin);
        assert!(el["sequence_bin"]["range"].as_str().is_some_and(|t| t.starts_with("bin ")), "{el}");
        assert!(el["sequence_bin"]["value"].is_number(), "{el}");
        assert_eq!(el["sequence_previous"]["bin"], q.previous.as_ref().unwrap().bin);
        assert_eq!(el["sequence_two_before"]["bin"], q.two_before.as_ref().unwrap().bin);
        // the ramp's values all lie inside the training range: closed bounds around the value
        let (lo, hi) = (el["sequence_bin"]["low"].as_f64().unwrap(), el["sequence_bin"]["high"].as_f64().unwrap());
        let v = el["sequence_bin"]["value"].as_f64().unwrap();
        assert!(lo <= v + 1e-6 && v <= hi + 1e-6, "{el}");
        // other elements (the calibrated detector's reasons) carry no bins
        assert!(j.as_array().unwrap().iter().filter(|x| x["feature"] != SEQ_LABEL).all(|x| x.get("sequence_bin").is_none()));
    }
    // rows below the close level and calibrated models carry none
    let det = fit(Family::Both, 12.0, &train);
    let scored = det.score_series(&s, 4 * DAY).expect("score");
    assert!(scored.iter().all(|r| r.sequence.is_none() || r.top.iter().any(|t| t.0 == SEQ_LABEL)));
    assert!(fit(Family::Calibrated, 12.0, &train).score_series(&s, 4 * DAY).unwrap().iter().all(|r| r.sequence.is_none()));
}

/// `-ln P(bin)` from the training counts alone, for the bin a row's explanation names.
fn unigram_surprise_from_training(det: &Detector, bin: u32) -> f64 {
    let e = &det.seq.as_ref().expect("sequence model").entities[0];
    let k = f64::from(e.edges.len() as u32 + 3);
    let c = e.c1.iter().find(|x| x.0 == bin).map_or(0.0, |x| f64::from(x.1));
    -((c + 0.5) / (f64::from(e.n) + 0.5 * k)).ln()
}

#[test]
fn training_rows_are_not_counted_twice() {
    // the frozen counts hold the training rows: the look-back of the first scored row (the
    // last training day) and the training rows themselves, when scored from the first row,
    // add nothing to them
    let s = series_with(&[]);
    let train = crate::corpus::head(&s, 4 * DAY);
    let det = fit(Family::Sequence, 12.0, &train);
    for i in [4 * DAY, 2 * DAY, 3 * DAY + 40] {
        let e = det.explain_row(&s, i).unwrap().unwrap().sequence.expect("sequence view");
        let bin = e.inputs[0].value as u32;
        let want = unigram_surprise_from_training(&det, bin);
        assert!((e.inputs[0].attribution - want).abs() < 1e-12, "row {i}: -ln P(bin) {} vs training counts {want}", e.inputs[0].attribution);
    }
    // a row a day after training: the scored day before it is counted (it was not trained on)
    let e = det.explain_row(&s, 5 * DAY + 10).unwrap().unwrap().sequence.unwrap();
    assert!((e.inputs[0].attribution - unigram_surprise_from_training(&det, e.inputs[0].value as u32)).abs() > 1e-9, "the scored rows are learned: {e:?}");
    // scoring from the first row gives the rows after training the scores they get when
    // scored from there (their look-back holds only training rows either way)
    let all = det.score_series(&s, 0).unwrap();
    let after = det.score_series(&s, 4 * DAY).unwrap();
    assert_eq!(&all[4 * DAY..4 * DAY + 8], &after[..8]);
}

#[test]
fn version_6_bytes_still_load_without_the_training_span() {
    use serde::Serialize;
    #[derive(Serialize)]
    struct EntityV6<'a> {
        id: &'a str,
        edges: &'a [f64],
        lo: f64,
        hi: f64,
        c1: &'a [(u32, u32)],
        c2: &'a [(u32, u32)],
        c3: &'a [(u32, u32)],
        n: u32,
        s_ref: f64,
        med: f64,
    }
    let s = series_with(&[4 * DAY + 30]);
    let train = crate::corpus::head(&s, 4 * DAY);
    let det = fit(Family::Both, 12.0, &train);
    let seq = det.seq.as_ref().unwrap();
    let v6: Vec<EntityV6> = seq.entities.iter().map(|e| EntityV6 { id: &e.id, edges: &e.edges, lo: e.lo, hi: e.hi, c1: &e.c1, c2: &e.c2, c3: &e.c3, n: e.n, s_ref: e.s_ref, med: e.med }).collect();
    // the current bytes up to the sequence models, then version 6's models
    let tail = {
        use bincode::Options;
        let o = bincode::DefaultOptions::new();
        (o.serialize(&det.seq).unwrap().len(), o.serialize(&Some((v6,))).unwrap())
    };
    // (without version 8's two bools and the one each of versions 9 and 10, the last 4 bytes
    // of the parameters)
    let mut old = super::tests_fit::older_bytes(&det, 4, tail.0, 6);
    old.extend_from_slice(&tail.1);
    let back = Detector::from_bytes(&old).expect("version 6 loads");
    let e = &back.seq.as_ref().unwrap().entities[0];
    assert_eq!((e.trained_from, e.trained_to), (i64::MAX, i64::MIN), "no training span recorded");
    assert_eq!(e.c1, seq.entities[0].c1);
    assert!(!back.score_series(&s, 4 * DAY).unwrap().is_empty());
    assert_eq!(Detector::from_bytes(&det.to_bytes().unwrap()).unwrap(), det);
}
