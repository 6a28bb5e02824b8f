//! Stocks recorded with gaps (`DetectorParams::stock_skip_unrecorded`): outages of every
//! metric, lost consumption rows and consumption that arrives late raise no alert, while a
//! refill missed inside an outage and a leak among lost rows still do; version 8 bytes (which
//! read the usual consumption where it is missing) load and score as before.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::tests_fit::{cal_feats, older_bytes, BASE, DAY, HOUR, STEP};
use super::*;

const TRAIN_DAYS: i64 = 14;
const DAYS: i64 = 19;

/// What happens to an entity's stock after the training span.
#[derive(Clone, Copy, PartialEq)]
enum Event {
    None,
    /// Refills stop at this instant (an outage of 8 hours starts 2 hours later).
    MissedRefill(i64),
    /// The stock loses 2 items per row more than consumption in `[from, from + 12 h)`.
    Leak(i64),
}

/// Stock driven by Poisson consumption with two daily peaks, refilled to 400 when below 100,
/// recorded exactly (stock = previous - consumption, + refills), every 15 minutes. Recording
/// loses 3 % of consumption rows (independently of the stock's) everywhere, and after the
/// training span three outages of 5-9 hours drop every metric, the first across a refill.
fn stock(id: &str, seed: u64, event: Event) -> SeriesRows {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let all: Vec<i64> = (0..DAYS * 96).map(|i| BASE + i * STEP).collect();
    let (mut level, mut vals, mut cons) = (400.0f64, Vec::new(), Vec::new());
    let mut refills = Vec::new();
    for &t in &all {
        let h = t.rem_euclid(DAY) as f64 / HOUR as f64;
        let bump = |c: f64, w: f64| (-0.5 * ((h - c) / w).powi(2)).exp();
        let c = Poisson::new(4.0 * (0.2 + 1.5 * bump(9.0, 1.5) + bump(19.0, 2.0))).map_or(0.0, |p| p.sample(&mut rng));
        let stopped = matches!(event, Event::MissedRefill(a) if t >= a);
        let leak = if matches!(event, Event::Leak(a) if t >= a && t < a + 12 * HOUR) { 2.0 } else { 0.0 };
        level = if level < 100.0 && !stopped {
            refills.push(t);
            400.0 - c
        } else {
            (level - c - leak).max(0.0)
        };
        vals.push(level);
        cons.push((!rng.gen_bool(0.03)).then_some(c));
    }
    // outages after training: the first spans the first refill after day 15
    let first_refill = refills.iter().copied().find(|&t| t >= BASE + 15 * DAY).unwrap_or(BASE + 15 * DAY);
    let mut out = vec![(first_refill - 2 * HOUR, first_refill + 4 * HOUR), (BASE + 17 * DAY + 3 * HOUR, BASE + 17 * DAY + 12 * HOUR)];
    if let Event::MissedRefill(a) = event {
        out.push((a + 2 * HOUR, a + 10 * HOUR));
    } else {
        out.push((BASE + 18 * DAY + 6 * HOUR, BASE + 18 * DAY + 11 * HOUR));
    }
    let keep: Vec<bool> = all.iter().map(|t| !out.iter().any(|o| *t >= o.0 && *t < o.1)).collect();
    let pick = |k: &[bool]| -> Vec<usize> { (0..all.len()).filter(|&i| k[i]).collect() };
    let idx = pick(&keep);
    SeriesRows {
        entity_id: id.into(),
        ts: idx.iter().map(|&i| all[i]).collect(),
        value: idx.iter().map(|&i| vals[i]).collect(),
        features: idx.iter().map(|&i| cal_feats(all[i])).collect(),
        aux: Some(idx.iter().map(|&i| cons[i]).collect()),
    }
}

fn fitted(params: &DetectorParams) -> Detector {
    let train: Vec<SeriesRows> = (0..10).map(|k| {
        let s = stock(&format!("s{k:02}"), 40 + k, Event::None);
        let n = s.ts.partition_point(|&t| t < BASE + TRAIN_DAYS * DAY);
        crate::corpus::head(&s, n)
    }).collect();
    Detector::fit(MetricKind::Level, params, &train, &[], &[]).expect("fit").0
}

/// The alerts (start, end) of `s` scored after the training span.
fn alerts(det: &Detector, s: &SeriesRows) -> Vec<(i64, i64)> {
    let first = s.ts.partition_point(|&t| t < BASE + TRAIN_DAYS * DAY);
    let scored = det.score_series(s, first).expect("score");
    episodes(&scored, &det.episode_params()).iter().filter(|e| !e.suppressed).map(|e| (e.start_ts, e.end_ts)).collect()
}

fn legacy() -> DetectorParams {
    DetectorParams { stock_skip_unrecorded: false, count_row_window: false, ..DetectorParams::default() }
}

#[test]
fn gaps_and_lost_consumption_rows_raise_no_stock_alert() {
    let (det, old) = (fitted(&DetectorParams::default()), fitted(&legacy()));
    let (mut now, mut before) = (0, 0);
    for k in 0..10 {
        let s = stock(&format!("s{k:02}"), 40 + k, Event::None);
        now += alerts(&det, &s).len();
        before += alerts(&old, &s).len();
    }
    assert_eq!(now, 0, "false stock alerts on normal series with gaps");
    // what the usual consumption standing in for a lost row did on these series
    assert!(before > 0, "legacy alerts {before}");
}

#[test]
fn consumption_arriving_late_raises_no_stock_alert() {
    // the last hour's stock rows are scored before their consumption rows arrive
    let det = fitted(&DetectorParams::default());
    for k in 0..10 {
        let s = stock(&format!("s{k:02}"), 40 + k, Event::None);
        let end = s.ts.partition_point(|&t| t < BASE + 16 * DAY + 10 * HOUR);
        let mut s = crate::corpus::head(&s, end);
        let n = s.len();
        s.aux.as_mut().expect("aux")[n - 4..].iter_mut().for_each(|c| *c = None);
        assert!(alerts(&det, &s).is_empty(), "entity {k}");
    }
}

#[test]
fn a_refill_missed_inside_an_outage_and_a_leak_still_alert() {
    let det = fitted(&DetectorParams::default());
    for k in 0..4 {
        let stop = BASE + (15 + k as i64) * DAY + 7 * HOUR;
        let s = stock(&format!("s{k:02}"), 40 + k, Event::MissedRefill(stop));
        let a = alerts(&det, &s);
        assert!(a.iter().any(|x| x.1 >= stop), "missed refill of entity {k} not alerted: {a:?}");
        let leak = BASE + (15 + k as i64) * DAY + 8 * HOUR;
        let s = stock(&format!("s{k:02}"), 40 + k, Event::Leak(leak));
        let a = alerts(&det, &s);
        assert!(a.iter().any(|x| x.0 <= leak + 14 * HOUR && x.1 >= leak), "leak of entity {k} not alerted: {a:?}");
    }
}

#[test]
fn version_8_bytes_still_load_and_score_as_before() {
    // version 8 had no stock_skip_unrecorded: it is the parameter before version 10's last
    // (two bools), so its payload is this one without those 2 bytes before `pooled`
    let det = fitted(&legacy());
    let v8 = older_bytes(&det, 2, 0, 8);
    let back = Detector::from_bytes(&v8).expect("version 8 loads");
    assert_eq!(back, det);
    assert!(!back.params.stock_skip_unrecorded);
    let s = stock("s03", 43, Event::None);
    let first = s.ts.partition_point(|&t| t < BASE + TRAIN_DAYS * DAY);
    let old = back.score_series(&s, first).expect("a");
    assert_eq!(old, det.score_series(&s, first).expect("b"));
    // a model fitted with version 9's default scores the same rows otherwise (loaded with it
    // on, those bytes would not score as before)
    assert_ne!(fitted(&DetectorParams::default()).score_series(&s, first).expect("c"), old);
}
