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

#[test]
fn fitting_batches_apart_and_adding_them_gives_the_models_of_extend() {
    // training fits one chunk of entities on worker threads while it reads the next, and adds
    // every chunk's models at the end: the same models, bit for bit, as extending chunk by
    // chunk and as a fit of every entity
    for (kind, metric, aux) in [(MetricKind::Level, 0, Some(1)), (MetricKind::Count, 1, None)] {
        let all = entities(metric, aux);
        let p = DetectorParams::default();
        let (full, _) = Detector::fit(kind, &p, &all, &[], &[]).expect("fit all");
        let (sample, _) = Detector::fit(kind, &p, &all[..6], &[], &[]).expect("fit sample");
        let mut stepwise = sample.clone();
        for chunk in all.chunks(4) {
            stepwise.extend(chunk, &[], &[], 2).expect("extend");
        }
        // the chunks overlap the sample (known entities are skipped) and one another
        let batches: Vec<Fitted> = [&all[..8], &all[4..12], &all[10..]].iter().map(|c| sample.fit_beyond(c, &[], &[], 3).expect("fit_beyond")).collect();
        assert_eq!(batches.iter().map(Fitted::len).sum::<usize>(), 2 + 6 + 6, "{kind:?}: fitted before anything is added");
        let mut batched = sample.clone();
        assert_eq!(batched.add_fitted(batches), 10, "{kind:?}: an entity fitted twice is added once");
        assert_eq!(batched, stepwise, "{kind:?}");
        assert_eq!(batched.entities.len(), all.len());
        for s in &all {
            assert_eq!(batched.entity(&s.entity_id), full.entity(&s.entity_id), "{kind:?} {}", s.entity_id);
        }
        assert_eq!(batched.to_bytes().expect("bytes"), stepwise.to_bytes().expect("bytes"));
        // nothing left to fit once every entity is known
        assert!(batched.fit_beyond(&all, &[], &[], 2).expect("again").is_empty());
    }
}

#[test]
fn fits_and_importance_on_threads_equal_a_serial_pass() {
    // the sample's entity fits, the forest's calibration scores and the importance scan run
    // on threads: the detector, its report and its importance are those of one thread, bit
    // for bit, whatever the number of threads
    for (kind, metric, aux) in [(MetricKind::Level, 0, Some(1)), (MetricKind::Count, 1, None)] {
        let all = entities(metric, aux);
        let p = DetectorParams::default();
        let run = |threads: usize| {
            super::par::FORCE_THREADS.with(|f| f.set(threads));
            let (det, rep) = Detector::fit(kind, &p, &all, &[], &[]).expect("fit");
            let imp = det.importance(&all, 150).expect("importance");
            super::par::FORCE_THREADS.with(|f| f.set(0));
            (det, rep, imp)
        };
        let (serial, rep1, imp1) = run(1);
        for threads in [2, 3, 7, 40] {
            let (det, rep, imp) = run(threads);
            assert_eq!(det, serial, "{kind:?} {threads}");
            assert_eq!(det.to_bytes().expect("bytes"), serial.to_bytes().expect("bytes"));
            assert_eq!(rep, rep1, "{kind:?} {threads}");
            assert_eq!(imp, imp1, "{kind:?} {threads}");
        }
        assert!(imp1.rows_sample > 100, "{imp1:?}");
    }
}

#[test]
fn parts_run_in_order_and_a_panicking_part_is_an_error() {
    let items: Vec<usize> = (0..103).collect();
    for threads in [1, 2, 5, 103, 500] {
        let doubled = super::par::map(&items, threads, |x| 2 * x).expect("map");
        assert_eq!(doubled, items.iter().map(|x| 2 * x).collect::<Vec<_>>());
        let firsts = super::par::parts(&items, threads, |first, part| (first, part[0], part.len())).expect("parts");
        assert!(firsts.iter().all(|&(first, x, _)| first == x), "{firsts:?}");
        assert_eq!(firsts.iter().map(|p| p.2).sum::<usize>(), items.len());
    }
    // a panic on a worker thread (not the caller's part) comes back as an internal error
    let r = super::par::map(&items, 4, |&x| if x == 90 { panic!("boom") } else { x });
    assert_eq!(r.expect_err("panicked").kind, crate::error::ErrorKind::Internal);
}

#[test]
fn scoring_with_importance_gives_score_series_and_importance() {
    // training measures a new model's quality and its importance in one pass over the sample:
    // each series' rows are those score_series gives from the first row (unknown entities
    // scored as new ones), and the importance is the one importance gives
    for (kind, metric, aux, family) in [(MetricKind::Level, 0, Some(1), super::seq::Family::Calibrated), (MetricKind::Count, 1, None, super::seq::Family::Both)] {
        let all = entities(metric, aux);
        let p = DetectorParams { detector_family: family, ..DetectorParams::default() };
        let (det, _) = Detector::fit(kind, &p, &all[..10], &[], &[]).expect("fit");
        assert_eq!(det.seq.is_some(), family == super::seq::Family::Both);
        let mut series = all.clone();
        // an anomaly on a trained entity and on an unknown one, so rows alert
        for k in [3, 12] {
            let i = series[k].len() - 40;
            series[k].value[i] *= 8.0;
            series[k].value[i] += 50.0;
        }
        for threads in [1, 3] {
            super::par::FORCE_THREADS.with(|f| f.set(threads));
            let (imp, scored) = det.score_with_importance(&series, 120, |s, rows| (s.entity_id.clone(), rows)).expect("scan");
            assert_eq!(imp, det.importance(&series, 120).expect("importance"), "{kind:?}");
            assert_eq!(scored.len(), series.len());
            for (s, (id, rows)) in series.iter().zip(&scored) {
                assert_eq!(id, &s.entity_id);
                assert_eq!(rows, &det.score_series(s, 0).expect("score"), "{kind:?} {id}");
            }
            assert!(scored.iter().any(|(_, r)| r.iter().any(|x| x.is_anomaly)), "{kind:?}: some row alerts");
            super::par::FORCE_THREADS.with(|f| f.set(0));
        }
        // a series score_series refuses is an error, not skipped
        let mut bad = series.clone();
        bad[2].value[5] = f64::NAN;
        assert!(det.score_with_importance(&bad, 120, |_, r| r.len()).is_err());
    }
}
