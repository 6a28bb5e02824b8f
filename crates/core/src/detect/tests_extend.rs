//! Entities beyond the training sample (`extend.rs`) get the model a fit of every entity gives
//! them, and are scored as trained entities.

use super::*;
use crate::corpus::{generate, members, series_rows, train_end_us, LOCAL_OFFSET_US};

const END: i64 = 1_743_379_200_000_000;

/// 16 entities of the `other15` member, metric `metric` (aux `aux`), cut at the member's
/// training end.
fn entities(metric: usize, aux: Option<usize>) -> Vec<SeriesRows> {
    let m = members().into_iter().find(|m| m.name == "other15").expect("member");
    let te = train_end_us(&m, END);
    (0..16)
        .map(|k| {
            let e = generate(&m, 31, "x", k, END);
            let a = aux.map(|a| (e.series[a].ts.as_slice(), e.series[a].value.as_slice()));
            let s = series_rows(&e.id, &e.series[metric].ts, &e.series[metric].value, a, LOCAL_OFFSET_US);
            crate::corpus::head(&s, s.ts.partition_point(|&t| t < te))
        })
        .collect()
}

#[test]
fn entities_beyond_the_sample_get_the_model_a_fit_of_all_gives_them() {
    // stock against consumption, and consumption (their noise models need no pooled part)
    for (kind, metric, aux) in [(MetricKind::Level, 0, Some(1)), (MetricKind::Count, 1, None)] {
        let all = entities(metric, aux);
        let p = DetectorParams::default();
        let (full, _) = Detector::fit(kind, &p, &all, &[], &[]).expect("fit all");
        let (mut part, rep) = Detector::fit(kind, &p, &all[..6], &[], &[]).expect("fit sample");
        assert_eq!(rep.entities, 6);
        assert!(!part.knows(&all[9].entity_id));
        let added = part.extend(&all, &[], &[], 3).expect("extend");
        assert_eq!(added, 10, "{kind:?}");
        for s in &all {
            assert_eq!(part.entity(&s.entity_id), full.entity(&s.entity_id), "{kind:?} {}", s.entity_id);
        }
        // an extended entity is scored as a trained one: no warm-up model, no look-back penalty
        let s = &all[12];
        let scored = part.score_series(s, s.len() - 96).expect("score");
        assert!(scored.iter().all(|r| !r.warm_up && r.expected.is_some()));
        let mut unknown = part.clone();
        unknown.entities.retain(|e| e.id != s.entity_id);
        assert!(unknown.score_series(s, s.len() - 96).expect("score").iter().all(|r| r.warm_up), "without extend it was a warm-up entity");
        // known entities are left as they are; the bytes carry the extended entities
        assert_eq!(part.extend(&all, &[], &[], 1).expect("again"), 0);
        let back = Detector::from_bytes(&part.to_bytes().expect("bytes")).expect("decode");
        assert!(back.knows(&s.entity_id));
    }
}

#[test]
fn an_extended_entity_leaves_its_known_anomalies_out() {
    let all = entities(1, None);
    let p = DetectorParams::default();
    let (mut part, _) = Detector::fit(MetricKind::Count, &p, &all[..6], &[], &[]).expect("fit sample");
    let (mut spiked, s) = (part.clone(), all[10].clone());
    // a day of tenfold consumption at the end of the extended entity's history, known as an anomaly
    let mut bad = s.clone();
    let cut = bad.len() - 96;
    bad.value[cut..].iter_mut().for_each(|v| *v *= 10.0);
    let w = Window { entity_id: s.entity_id.clone(), from_us: bad.ts[cut], to_us: bad.ts[bad.len() - 1] };
    part.extend(std::slice::from_ref(&s), &[], &[], 1).expect("clean");
    spiked.extend(std::slice::from_ref(&bad), &[w], &[], 1).expect("excluded");
    let (a, b) = (part.entity(&s.entity_id).expect("a"), spiked.entity(&s.entity_id).expect("b"));
    assert_eq!(a.shape, b.shape);
    // fitted on the clean rows only: the same noise model as without the anomalous day's rows
    let mut trimmed = s.clone();
    trimmed.ts.truncate(cut);
    trimmed.value.truncate(cut);
    trimmed.features.truncate(cut);
    let mut other = part.clone();
    other.entities.retain(|e| e.id != s.entity_id);
    other.extend(std::slice::from_ref(&trimmed), &[], &[], 1).expect("trimmed");
    assert_eq!(spiked.entity(&s.entity_id).map(|e| &e.noise), other.entity(&s.entity_id).map(|e| &e.noise));
    // unmarked, the tenfold day would have been learned
    let mut learned = other.clone();
    learned.entities.retain(|e| e.id != s.entity_id);
    learned.extend(std::slice::from_ref(&bad), &[], &[], 1).expect("unmarked");
    assert_ne!(learned.entity(&s.entity_id).map(|e| &e.noise), other.entity(&s.entity_id).map(|e| &e.noise));
    // and an entity appearing twice is an error
    let twice = vec![s.clone(), s];
    assert!(part.clone().extend(&twice, &[], &[], 1).is_err());
}
