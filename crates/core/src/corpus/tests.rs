use super::*;

const END: i64 = 1_743_379_200_000_000;

fn by_name(name: &str) -> Member {
    members().into_iter().find(|m| m.name == name).expect("member")
}

#[test]
fn deterministic_and_well_formed() {
    for m in members() {
        let a = generate(&m, 3, "t", 5, END);
        let b = generate(&m, 3, "t", 5, END);
        for k in 0..4 {
            assert_eq!(a.series[k].value, b.series[k].value, "{}", m.name);
            assert!(a.series[k].ts.windows(2).all(|w| w[0] < w[1]), "{}", m.name);
            assert!(a.series[k].value.iter().all(|v| v.is_finite() && *v >= 0.0), "{}", m.name);
            assert!(a.series[k].ts.last().is_some_and(|&t| t <= END), "{}", m.name);
        }
        let te = train_end_us(&m, END);
        for l in a.labels.iter().filter(|l| !l.neutral()) {
            assert!(l.from_us >= te && l.from_us <= l.to_us, "{} {:?}", m.name, l);
        }
    }
}

#[test]
fn recording_styles_show_in_the_values() {
    let ev = generate(&by_name("event_dur"), 1, "t", 0, END);
    let d = &ev.series[DOLUM].value;
    let zeros = d.iter().filter(|v| **v == 0.0).count();
    assert!(zeros > d.len() * 9 / 10, "event-valued durations are mostly 0");
    assert!(d.iter().any(|v| *v > 0.0));
    let held = generate(&by_name("other15"), 1, "t", 0, END);
    assert!(held.series[DOLUM].value.iter().all(|v| *v > 0.0));
    let cum = generate(&by_name("cumulative"), 1, "t", 0, END);
    assert!(cum.series[TUKETIM].value.windows(2).all(|w| w[1] >= w[0]));
    let hourly = generate(&by_name("hourly"), 1, "t", 0, END);
    assert_eq!(hourly.series[0].ts[1] - hourly.series[0].ts[0], 3_600_000_000);
    let gaps = generate(&by_name("gaps"), 1, "t", 0, END);
    assert!(gaps.series[0].ts.len() < held.series[0].ts.len());
}

#[test]
fn every_member_has_anomalies_over_a_split() {
    for m in members() {
        let n: usize = (0..20).map(|i| generate(&m, 9, "t", i, END).labels.iter().filter(|l| !l.neutral()).count()).sum();
        assert!(n >= 10, "{}: {n} labels", m.name);
    }
}

#[test]
fn auc_ranks() {
    assert_eq!(roc_auc(&[0.1, 0.2, 0.9, 0.8], &[false, false, true, true]), Some(1.0));
    assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
    assert_eq!(roc_auc(&[0.5], &[true]), None);
}

#[test]
fn event_counts_add_and_rate() {
    let mut t = EventCounts { labels: 10, found: 8, alerts: 10, fp: 2 };
    t.add(&EventCounts { labels: 10, found: 4, alerts: 2, fp: 2 });
    assert_eq!(t, EventCounts { labels: 20, found: 12, alerts: 12, fp: 4 });
    assert!((t.precision() - 8.0 / 12.0).abs() < 1e-12);
    assert!((t.recall() - 0.6).abs() < 1e-12);
    let f1 = 2.0 * (8.0 / 12.0) * 0.6 / (8.0 / 12.0 + 0.6);
    assert!((t.f1() - f1).abs() < 1e-12);
    assert_eq!(EventCounts::default().f1(), 0.0);
}

#[test]
fn oracle_window_statistic_is_the_poisson_likelihood_ratio() {
    use super::oracle::{quasi_llr, score, Counts};
    // exact Poisson ratio x ln(x / e) - (x - e), signed; halved at twice the variance
    assert!((quasi_llr(10.0, 4.0, 4.0) - (10.0 * 2.5f64.ln() - 6.0)).abs() < 1e-12);
    assert!((quasi_llr(0.0, 3.0, 3.0) + 3.0).abs() < 1e-12);
    assert!((quasi_llr(10.0, 4.0, 8.0) - (10.0 * 2.5f64.ln() - 6.0) / 2.0).abs() < 1e-12);
    // 5-minute rows expecting 1 each, alternating 0 and 2 (every even window exactly as
    // expected, no repeated values); one hour of 2 and 4 (36 against 12) ending at row 200
    let n = 400;
    let ts: Vec<i64> = (0..n as i64).map(|i| END - (n as i64 - i) * 300_000_000).collect();
    let mut x: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 0.0 } else { 2.0 }).collect();
    for (k, xi) in x[189..=200].iter_mut().enumerate() {
        *xi = if k % 2 == 0 { 2.0 } else { 4.0 };
    }
    let c = Counts::from_parts(ts, x, vec![1.0; n], vec![1.0; n], false);
    let s = score(&c);
    let exact = 36.0 * 3f64.ln() - 24.0;
    assert!((s[200].nats - exact).abs() < 1e-9, "{} vs {exact}", s[200].nats);
    assert_eq!(s[200].dir, 1);
    // a normal row far from it: no window is off by more than one count
    assert!(s[50].nats < 1.5, "{}", s[50].nats);
    // the covering score reaches the hour's first row
    assert!(s[189].cover >= exact - 1e-9 && s[189].nats < exact);
}

#[test]
fn oracle_scores_stay_low_on_a_null_series_and_find_a_doubled_day() {
    use super::oracle::{score, Counts};
    use rand::SeedableRng;
    use rand_distr::{Distribution, Poisson};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let n = 96 * 14;
    let ts: Vec<i64> = (0..n as i64).map(|i| END - (n as i64 - i) * 900_000_000).collect();
    let mean = |i: usize| 0.1 + 3.0 * (-0.5 * (((i % 96) as f64 - 40.0) / 8.0).powi(2)).exp();
    let (mut null_max, mut shifted) = (0.0f64, 0.0f64);
    for k in 0..40 {
        let e: Vec<f64> = (0..n).map(mean).collect();
        let x: Vec<f64> = (0..n).map(|i| Poisson::new(e[i] * if k == 0 && (960..1056).contains(&i) { 2.0 } else { 1.0 }).map_or(0.0, |p| p.sample(&mut rng))).collect();
        let s = score(&Counts::from_parts(ts.clone(), x, e.clone(), e, false));
        if k == 0 {
            shifted = s[960..1056].iter().map(|r| r.nats).fold(0.0, f64::max);
            null_max = null_max.max(s[..960].iter().map(|r| r.nats).fold(0.0, f64::max));
        } else {
            null_max = null_max.max(s.iter().map(|r| r.nats).fold(0.0, f64::max));
        }
    }
    // about 54,000 rows of five windows each and their runs: the null maximum stays near
    // ln(number of tests) (10.1 here); a day at twice its rate (about 150 against 75 expected,
    // 150 ln 2 - 75 = 29 nats for the day's window alone; 34.6 here) is far above
    assert!(null_max < 14.0, "null maximum {null_max}");
    assert!(shifted > 25.0, "shifted day {shifted}");
}

#[test]
fn oracle_expectation_matches_the_recorded_counts() {
    // the true means the oracle reads line up with the recorded rows: over the anomaly-free
    // training days the recorded totals are within a few percent of the expected totals
    for name in ["other15", "hourly", "gaps", "units", "cumulative"] {
        let m = by_name(name);
        let (mut x, mut e) = ([0.0f64; 2], [0.0f64; 2]);
        for i in 0..10 {
            let (ent, known) = generate_with_truth(&m, 5, "t", i, END);
            assert_eq!(ent.series[ZIMMET].value, generate(&m, 5, "t", i, END).series[ZIMMET].value);
            let te = train_end_us(&m, END);
            for (k, mi) in [TUKETIM, ZIMMET].into_iter().enumerate() {
                let s = &ent.series[mi];
                let c = oracle::Counts::new(&known, mi, &s.ts, &s.value, false);
                for r in 1..c.ts.len() {
                    if c.ts[r] < te {
                        x[k] += c.x[r];
                        e[k] += c.e[r];
                    }
                }
            }
        }
        for k in 0..2 {
            assert!((x[k] / e[k] - 1.0).abs() < 0.05, "{name} {k}: observed {} expected {}", x[k], e[k]);
        }
    }
}
