//! Tests of the tuner: candidate generation, the objective, the search and its budget, and a
//! run on corpus data.

use std::cell::Cell;

use serde_json::json;

use super::tune::{agreement, families, search, values, Budget, Candidate, Fitter, Measure, Measurer, Objective, KNOBS};
use super::*;
use crate::error::CoreError;
use crate::quality::Span;

fn base(kind: MetricKind) -> Candidate {
    Candidate { family: kind, params: DetectorParams::default() }
}

fn measure(f1: Option<f64>, rate: f64) -> Measure {
    Measure { f1, alerts_per_series_week: rate, ..Default::default() }
}

fn span(e: &str, a: i64, b: i64) -> Span {
    Span { entity_id: e.into(), from_us: a, to_us: b }
}

#[test]
fn every_knob_has_values_and_candidates_stay_valid() {
    let c = base(MetricKind::Count);
    for knob in KNOBS {
        let vs = values(knob, &c, MetricKind::Count);
        assert!(!vs.is_empty(), "{knob}");
    }
    // the candidate generator never yields an invalid configuration
    let with = |c: &Candidate, k: &str, v: serde_json::Value| {
        let mut p = c.params.to_json();
        p[k] = v;
        serde_json::from_value::<DetectorParams>(p).ok().filter(|p| p.check().is_ok())
    };
    assert!(with(&c, "alert_p", json!(0.7)).is_none());
    // families: the own one first, never one that needs another metric's series
    assert_eq!(families(MetricKind::Level), vec![MetricKind::Level, MetricKind::Generic, MetricKind::Count]);
    assert_eq!(families(MetricKind::Generic), vec![MetricKind::Generic, MetricKind::Count]);
    assert_eq!(super::tune::family_of("duration"), Some(MetricKind::Duration));
    assert_eq!(super::tune::family_of("forest"), None);
}

#[test]
fn train_params_name_only_what_differs() {
    let mut c = base(MetricKind::Count);
    assert_eq!(c.train_params(MetricKind::Count), json!({}));
    c.params.alert_p = 0.01;
    c.params.exclude_inputs = vec!["count_1h".into()];
    c.family = MetricKind::Generic;
    assert_eq!(c.train_params(MetricKind::Count), json!({"alert_p": 0.01, "family": "generic"}));
    let j = c.to_json();
    assert_eq!(j["family"], "generic");
    assert_eq!(j["alert_p"], 0.01);
}

#[test]
fn objective_with_labels_is_event_f1_then_fewer_alerts() {
    let o = Objective::EventF1(0.1);
    assert!(o.better(&measure(Some(0.8), 1.0), &measure(Some(0.7), 0.1)));
    assert!(!o.better(&measure(Some(0.7), 0.1), &measure(Some(0.8), 1.0)));
    // equal F1: fewer alerts wins; exact tie keeps the incumbent
    assert!(o.better(&measure(Some(0.8), 0.2), &measure(Some(0.8), 0.3)));
    assert!(!o.better(&measure(Some(0.8), 0.3), &measure(Some(0.8), 0.3)));
    assert!(o.better(&measure(Some(0.1), 0.3), &measure(None, 0.0)));
    assert_eq!(o.name(), "event_f1");
    // more false alerts per series-week than the budget: worse, whatever its F1
    let noisy = Measure { false_alerts_per_series_week: 0.5, ..measure(Some(0.9), 1.0) };
    assert!(o.better(&measure(Some(0.2), 0.05), &noisy));
    assert!(o.score(&noisy) < 0.0);
    let noisier = Measure { false_alerts_per_series_week: 0.8, ..measure(Some(0.9), 1.0) };
    assert!(o.better(&noisy, &noisier));
}

#[test]
fn objective_without_labels_is_the_alert_budget() {
    let o = Objective::AlertBudget(0.1);
    // within the budget beats over it, however sensitive
    assert!(o.better(&measure(None, 0.05), &measure(None, 0.5)));
    // within: the more sensitive one
    assert!(o.better(&measure(None, 0.09), &measure(None, 0.05)));
    // over: the one closer to the budget
    assert!(o.better(&measure(None, 0.2), &measure(None, 0.4)));
    assert!(o.score(&measure(None, 0.4)) < 0.0 && o.score(&measure(None, 0.05)) > 0.0);
}

/// A measurer whose F1 peaks at alert_p = 0.01 without the forest; counts its calls and
/// can sleep to spend time.
struct Fake {
    calls: Cell<usize>,
    sleep_ms: u64,
    fail_base: bool,
}

impl Measurer for Fake {
    fn measure(&mut self, c: &Candidate) -> crate::error::CoreResult<Measure> {
        self.calls.set(self.calls.get() + 1);
        std::thread::sleep(std::time::Duration::from_millis(self.sleep_ms));
        if self.fail_base && c.params == DetectorParams::default() {
            return Err(CoreError::insufficient("no rows"));
        }
        let a = (c.params.alert_p.log10() + 2.0).abs();
        let f1 = 0.9 - 0.1 * a - if c.params.use_forest { 0.05 } else { 0.0 } - if c.family != MetricKind::Count { 0.2 } else { 0.0 };
        Ok(measure(Some(f1), 0.1))
    }
}

fn fake(sleep_ms: u64) -> Fake {
    Fake { calls: Cell::new(0), sleep_ms, fail_base: false }
}

#[test]
fn search_starts_at_the_base_and_finds_the_better_configuration() {
    let mut m = fake(0);
    let r = search(base(MetricKind::Count), MetricKind::Count, Objective::EventF1(0.1), Budget { seconds: 60.0, max_trials: 1000 }, &KNOBS, &mut m);
    assert_eq!(r.trials[0].knob, "base");
    assert_eq!(r.trials[0].candidate, base(MetricKind::Count));
    assert!(r.trials[0].why.starts_with("base"));
    assert!(r.improved());
    let w = r.winner();
    assert_eq!((w.family, w.params.alert_p, w.params.use_forest), (MetricKind::Count, 1e-2, false));
    assert_eq!(r.stopped, "searched");
    // exactly one trial is marked best at the time it won, and the winner is one of them
    assert!(r.trials[r.best].best);
    // no configuration is measured twice
    let mut seen: Vec<String> = r.trials.iter().map(|t| t.candidate.to_json().to_string()).collect();
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n);
    assert_eq!(m.calls.get(), n);
    // deterministic
    let again = search(base(MetricKind::Count), MetricKind::Count, Objective::EventF1(0.1), Budget { seconds: 60.0, max_trials: 1000 }, &KNOBS, &mut fake(0));
    assert_eq!(again.trials.iter().map(|t| t.candidate.clone()).collect::<Vec<_>>(), r.trials.iter().map(|t| t.candidate.clone()).collect::<Vec<_>>());
}

#[test]
fn with_labels_a_better_f1_over_the_false_alert_budget_is_not_taken() {
    // F1 rises with alert_p, but above 1e-3 the false alerts pass the budget
    struct Greedy;
    impl Measurer for Greedy {
        fn measure(&mut self, c: &Candidate) -> crate::error::CoreResult<Measure> {
            let p = c.params.alert_p;
            Ok(Measure { f1: Some(0.5 + p), false_alerts_per_series_week: p * 100.0, ..Default::default() })
        }
    }
    let r = search(base(MetricKind::Count), MetricKind::Count, Objective::EventF1(0.1), Budget { seconds: 60.0, max_trials: 1000 }, &KNOBS, &mut Greedy);
    assert_eq!(r.winner().params.alert_p, 1e-3);
    // a base over the budget raises the cap to its own rate: it stays admissible
    let mut noisy = base(MetricKind::Count);
    noisy.params.alert_p = 1e-2;
    noisy.params.close_p = 2e-2;
    let r = search(noisy, MetricKind::Count, Objective::EventF1(0.1), Budget { seconds: 60.0, max_trials: 1000 }, &KNOBS, &mut Greedy);
    assert_eq!(r.objective, Objective::EventF1(1.0));
    assert_eq!(r.winner().params.alert_p, 1e-2);
}

#[test]
fn search_keeps_the_base_when_nothing_beats_it() {
    struct Flat;
    impl Measurer for Flat {
        fn measure(&mut self, _: &Candidate) -> crate::error::CoreResult<Measure> {
            Ok(measure(Some(0.5), 0.1))
        }
    }
    let r = search(base(MetricKind::Generic), MetricKind::Generic, Objective::EventF1(0.1), Budget { seconds: 60.0, max_trials: 1000 }, &KNOBS, &mut Flat);
    assert!(!r.improved());
    assert_eq!(r.best, 0);
    assert!(r.trials[1..].iter().all(|t| !t.best && t.why.starts_with("not better than trial 0")));
}

#[test]
fn search_respects_the_trial_and_time_budgets() {
    let r = search(base(MetricKind::Count), MetricKind::Count, Objective::EventF1(0.1), Budget { seconds: 60.0, max_trials: 3 }, &KNOBS, &mut fake(0));
    assert_eq!((r.trials.len(), r.stopped), (3, "trial_budget"));
    let t0 = std::time::Instant::now();
    let r = search(base(MetricKind::Count), MetricKind::Count, Objective::EventF1(0.1), Budget { seconds: 0.35, max_trials: 1000 }, &KNOBS, &mut fake(50));
    let took = t0.elapsed().as_secs_f64();
    assert_eq!(r.stopped, "time_budget");
    // a trial is started only when the time spent plus the slowest trial so far fits, so the
    // search ends before the budget plus one trial (each sleeps at least 50 ms: at most 7 fit)
    let slowest = r.trials.iter().map(|t| t.seconds).fold(0.0, f64::max);
    assert!(r.seconds <= 0.35 + slowest && took <= 0.35 + slowest + 0.05, "{took} {slowest}");
    assert!(r.trials.len() >= 2 && r.trials.len() <= 7, "{}", r.trials.len());
}

#[test]
fn a_base_that_cannot_be_measured_stops_the_search() {
    let mut m = Fake { calls: Cell::new(0), sleep_ms: 0, fail_base: true };
    let r = search(base(MetricKind::Count), MetricKind::Count, Objective::EventF1(0.1), Budget { seconds: 60.0, max_trials: 100 }, &KNOBS, &mut m);
    assert_eq!((r.trials.len(), r.stopped, r.best), (1, "base_failed", 0));
    assert!(r.trials[0].why.starts_with("failed: no rows"));
    assert!(!r.improved());
}

#[test]
fn without_labels_an_unstable_winner_is_not_taken() {
    // alerts grow with alert_p (more sensitive); at alert_p 3e-3 and above, the alerts
    // depend on the seed
    struct Seedy;
    impl Measurer for Seedy {
        fn measure(&mut self, c: &Candidate) -> crate::error::CoreResult<Measure> {
            let n = (c.params.alert_p * 1e4).round() as i64;
            let shift = if c.params.alert_p >= 3e-3 { c.params.seed as i64 * 1_000_000_000 } else { 0 };
            let spans: Vec<Span> = (0..n).map(|k| span("e", k * 100_000_000_000 + shift, k * 100_000_000_000 + shift + 1)).collect();
            Ok(Measure { alerts_per_series_week: n as f64 / 1000.0, spans, ..Default::default() })
        }
    }
    let r = search(base(MetricKind::Count), MetricKind::Count, Objective::AlertBudget(0.1), Budget { seconds: 60.0, max_trials: 1000 }, &KNOBS, &mut Seedy);
    assert_eq!(r.winner().params.alert_p, 1e-3, "{:?}", r.trials.iter().map(|t| &t.why).collect::<Vec<_>>());
    let t = r.trials.iter().find(|t| t.candidate.params.alert_p == 3e-3).expect("tried");
    assert!(t.why.starts_with("not taken: unstable across seeds"), "{}", t.why);
    assert_eq!(r.trials[0].measure.as_ref().and_then(|m| m.stability), Some(1.0));
}

#[test]
fn agreement_is_event_f1_of_alert_spans() {
    let a = vec![span("e", 0, 10), span("e", 100, 110)];
    assert_eq!(agreement(&a, &a), 1.0);
    assert_eq!(agreement(&[], &[]), 1.0);
    assert!((agreement(&a, &a[..1]) - 2.0 / 3.0).abs() < 1e-12);
}

#[test]
fn fitter_measures_corpus_data_and_episode_knobs_reuse_the_fit() {
    use crate::corpus::{generate, head, members, metric_series, train_end_us, METRIC_TYPES};
    let end = 1_743_379_200_000_000i64;
    let m = members().into_iter().find(|m| m.name == "other15").expect("member");
    let ents: Vec<_> = (0..6).map(|i| generate(&m, 7, "t", i, end)).collect();
    let te = train_end_us(&m, end);
    let mi = METRIC_TYPES.iter().position(|x| *x == "tuketim_miktar").expect("metric");
    let series = metric_series(&ents, mi);
    let train: Vec<SeriesRows> = series.iter().map(|s| head(s, s.ts.partition_point(|&t| t < te))).collect();
    let eval: Vec<(&SeriesRows, usize)> = series.iter().map(|s| (s, s.ts.partition_point(|&t| t < te))).collect();
    let windows: Vec<Span> = ents.iter().flat_map(|e| e.labels.iter().filter(|l| l.metric_type == "tuketim_miktar" && !l.neutral()).map(|l| span(&e.id, l.from_us, l.to_us))).collect();
    assert!(!windows.is_empty());
    let mut f = Fitter::split(&train, eval, windows, te, end);
    assert!(f.labelled());
    let c = base(MetricKind::Count);
    let a = f.measure(&c).expect("measure");
    assert!(a.windows > 0 && a.f1.is_some() && a.alerts_per_series_week > 0.0, "{a:?}");
    // the same measure as scoring by hand with the detector
    let (det, _) = Detector::fit(MetricKind::Count, &c.params, &train, &[], &[]).expect("fit");
    let alerts: usize = series.iter().map(|s| {
        let rows = det.score_series(s, s.ts.partition_point(|&t| t < te)).expect("score");
        episodes(&rows, &det.episode_params()).iter().filter(|e| !e.suppressed).count()
    }).sum();
    assert_eq!(a.alerts, alerts);
    // an episode knob reuses the cached scores (no refit), and merging more never makes
    // more alerts
    assert_eq!(f.fits, 1);
    let mut wide = c.clone();
    wide.params.max_gap_minutes = 480.0;
    let b = f.measure(&wide).expect("measure");
    assert_eq!(f.fits, 1);
    assert!(b.alerts <= a.alerts);
    // a stricter threshold alerts less
    let mut strict = c.clone();
    strict.params.alert_p = 1e-5;
    strict.params.close_p = 1e-5;
    assert!(f.measure(&strict).expect("measure").alerts <= a.alerts);
    assert_eq!(f.fits, 2);
    // in-sample without labels: no windows, the alert budget decides
    let f2 = Fitter::in_sample(&train, &[], &[], &[]);
    assert!(!f2.labelled());
}
