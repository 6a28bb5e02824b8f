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
