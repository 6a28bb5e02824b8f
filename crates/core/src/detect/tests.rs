//! Unit tests of the detector's parts: numeric helpers, calendar, calibration tails,
//! episodes, severity and parameters.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use statrs::function::gamma::ln_gamma;

use super::calib::Tail;
use super::mathx::{calendar, median, nb_log_pmf, quantile, robust_sd, HOUR_US};
use super::*;
use crate::error::ErrorKind;
use crate::features::{col, NUM_FEATURES};

#[test]
fn quantiles_and_robust_scales() {
    let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
    assert_eq!(median(&mut v), 3.0);
    assert_eq!(quantile(&mut v, 0.0), 1.0);
    assert_eq!(quantile(&mut v, 1.0), 5.0);
    assert!((quantile(&mut v, 0.25) - 2.0).abs() < 1e-12);
    assert!(quantile(&mut [], 0.5).is_nan());
    // normal data: the robust sd is close to the true one, and one wild value barely moves it
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut x: Vec<f64> = (0..20_000).map(|_| 3.0 * rng.sample::<f64, _>(rand_distr::StandardNormal)).collect();
    x.push(1e9);
    let sd = robust_sd(&mut x);
    assert!((sd - 3.0).abs() < 0.1, "{sd}");
    // mostly ties: falls back to the mean absolute deviation instead of 0
    let mut ties = vec![0.0; 9];
    ties.push(10.0);
    assert!(robust_sd(&mut ties) > 0.0);
    assert_eq!(robust_sd(&mut [2.0, 2.0]), 0.0);
}

#[test]
fn gamma_and_negative_binomial() {
    assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
    assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    assert!((ln_gamma(0.1) - 2.252_712_651_734_206).abs() < 1e-10);
    for (mu, alpha) in [(0.3, 0.0), (4.0, 0.2), (25.0, 1.0)] {
        let total: f64 = (0..2000).map(|k| nb_log_pmf(k as f64, mu, alpha).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9, "mu {mu} alpha {alpha}: {total}");
        let mean: f64 = (0..2000).map(|k| k as f64 * nb_log_pmf(k as f64, mu, alpha).exp()).sum();
        assert!((mean - mu).abs() < 1e-6);
    }
    // alpha -> 0 is Poisson
    assert!((nb_log_pmf(3.0, 2.0, 1e-10) - nb_log_pmf(3.0, 2.0, 0.0)).abs() < 1e-6);
    assert!((nb_log_pmf(0.0, 2.0, 0.0) + 2.0).abs() < 1e-12);
}

/// The Lanczos ln_gamma (g = 7, 9 terms) the detector used before statrs.
fn hand_written_ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let s = (std::f64::consts::PI * x).sin().abs().max(f64::MIN_POSITIVE);
        return std::f64::consts::PI.ln() - s.ln() - hand_written_ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let a = C[0] + C.iter().enumerate().skip(1).map(|(i, c)| c / (x + i as f64)).sum::<f64>();
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The negative-binomial log-probability the detector used before statrs.
fn hand_written_nb_log_pmf(k: f64, mu: f64, alpha: f64) -> f64 {
    let k = k.round().max(0.0);
    let mu = mu.max(1e-9);
    if alpha < 1e-8 {
        return k * mu.ln() - mu - hand_written_ln_gamma(k + 1.0);
    }
    let r = 1.0 / alpha;
    hand_written_ln_gamma(k + r) - hand_written_ln_gamma(r) - hand_written_ln_gamma(k + 1.0) + r * (r / (r + mu)).ln() + k * (mu / (r + mu)).ln()
}

#[test]
fn statrs_agrees_with_the_hand_written_functions() {
    let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0);
    for i in 1..4000 {
        let x = i as f64 * 0.05;
        assert!(close(ln_gamma(x), hand_written_ln_gamma(x), 1e-12), "ln_gamma({x}): {} vs {}", ln_gamma(x), hand_written_ln_gamma(x));
    }
    // the ranges the detector meets: expected counts per row from 0.01 to 1000, dispersion
    // 0 (Poisson) to 5, observed counts 0 to 3000
    for mu in [0.01, 0.3, 1.0, 4.0, 25.0, 180.0, 1000.0] {
        for alpha in [0.0, 1e-4, 0.05, 0.2, 1.0, 5.0] {
            for k in [0.0, 1.0, 2.0, 3.0, 7.0, 20.0, 64.0, 300.0, 3000.0] {
                let (a, b) = (nb_log_pmf(k, mu, alpha), hand_written_nb_log_pmf(k, mu, alpha));
                assert!(close(a, b, 1e-9), "nb_log_pmf({k}, {mu}, {alpha}): {a} vs {b}");
            }
        }
    }
}

fn feats(hour: Option<f64>, dow: Option<f64>) -> [Option<f64>; NUM_FEATURES] {
    let mut f = [None; NUM_FEATURES];
    f[col::HOUR_OF_DAY] = hour;
    f[col::DAY_OF_WEEK] = dow;
    f
}

#[test]
fn calendar_uses_the_stored_local_fields() {
    // 2025-01-05 22:30 UTC is a Sunday; at UTC+3 it is Monday 01:30
    let ts = 1_736_116_200_000_000;
    let c = calendar(ts, &feats(Some(1.0), Some(1.0)));
    assert!((c.hour - 1.5).abs() < 1e-9);
    assert!(!c.weekend);
    let utc = calendar(ts, &feats(None, None));
    assert!((utc.hour - 22.5).abs() < 1e-9);
    assert!(utc.weekend);
    assert_eq!(c.day, utc.day + 1);
    // offsets west of UTC: 22:30 UTC is 17:30 at UTC-5, same day
    assert_eq!(calendar(ts, &feats(Some(17.0), Some(7.0))).day, utc.day);
    let _ = HOUR_US;
}

#[test]
fn tail_follows_an_exponential_and_extrapolates() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut x: Vec<f64> = (0..100_000).map(|_| -rng.gen::<f64>().ln()).collect();
    let t = Tail::fit(&mut x, 0.01);
    t.validate("test").unwrap();
    for q in [1.0, 3.0, 6.0, 9.0, 15.0, 30.0] {
        let ls = t.ln_survival(q);
        if q <= 7.0 {
            assert!((ls + q).abs() < 0.35, "x {q}: ln S {ls}");
        } else {
            // beyond the data the tail errs conservative (less surprising) but keeps decaying
            assert!(ls > -q - 0.5 && ls < -0.6 * q, "x {q}: ln S {ls}");
        }
    }
    assert_eq!(t.ln_survival(-1.0), 0.0);
    assert!(t.ln_survival(f64::NAN) == 0.0);
    assert_monotone_and_invertible(&t, 400, &[-0.5, -2.0, -7.0, -20.0]);
    // ties (a one-sided feature that is mostly 0) keep survival 1 at the tie value
    let mut z: Vec<f64> = (0..1000).map(|i| if i < 900 { 0.0 } else { i as f64 }).collect();
    let t = Tail::fit(&mut z, 0.01);
    assert_eq!(t.ln_survival(0.0), 0.0);
    assert!(t.ln_survival(1.0) <= 0.2f64.ln() + 1e-9);
    assert!(t.ln_survival(950.0) < 0.1f64.ln());
    Tail::fit(&mut [], 0.25).validate("empty").unwrap();
    // a statistic that never moved: its first small move is surprising, not infinitely so
    let t = Tail::fit(&mut vec![0.0; 500], 0.25);
    assert!(t.surprise(1.0) >= 4.0 && t.surprise(1.0) < 8.0, "{}", t.surprise(1.0));
}

#[test]
fn day_tail_threshold_is_stable_across_resamples() {
    // the daily maximum of 96 calibrated row surprises (Exp(1) each), 320 entity-days as a
    // metric type's pool holds: its survival at the threshold (one day in 1,000) is known,
    // ln(96 / 1e-3) = 11.47 nats
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut fitted, mut shrunk) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let days: Vec<f64> = (0..320).map(|_| (0..96).map(|_| -rng.gen::<f64>().ln()).fold(0.0, f64::max)).collect();
        let at = |t: Tail| t.inverse(1e-3f64.ln());
        fitted.push(at(Tail::fit(&mut days.clone(), 0.25)));
        let t = Tail::fit_maxima(&mut days.clone(), 0.25);
        t.validate("day maxima").unwrap();
        shrunk.push(at(t));
    }
    let sd = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let mean = shrunk.iter().sum::<f64>() / shrunk.len() as f64;
    let truth = (96.0f64 / 1e-3).ln();
    // the fitted scale moves the threshold by about 1.2 nats between resamples
    assert!(sd(&shrunk) < 0.75 * sd(&fitted), "threshold spread {} (scale fitted: {})", sd(&shrunk), sd(&fitted));
    assert!((mean - truth).abs() < 1.0, "mean threshold {mean} against {truth}");
}

fn scored(ts_min: i64, score: f64, direction: i8) -> Scored {
    Scored { ts: ts_min * 60_000_000, value: 0.0, score, is_anomaly: score >= 0.999, expected: None, direction, top: vec![], neg_log10_p: -(1.0 - score).max(1e-300).log10(), sequence: None, warm_up: false, noise_model: None }
}

fn params() -> EpisodeParams {
    EpisodeParams { threshold: 0.999, close: 0.98, max_gap_us: 60 * 60_000_000, suppress_us: 24 * HOUR_US, reversal_us: 12 * HOUR_US }
}

#[test]
fn episodes_use_hysteresis_and_merge_gaps() {
    // opens only at the threshold, stays open down to the close level
    let rows: Vec<Scored> = [0.5, 0.99, 0.9995, 0.99, 0.985, 0.5, 0.99, 0.5].iter().enumerate().map(|(i, &s)| scored(i as i64 * 15, s, 1)).collect();
    let eps = episodes(&rows, &params());
    assert_eq!(eps.len(), 1);
    assert_eq!((eps[0].start, eps[0].end, eps[0].peak), (2, 4, 2));
    // two episodes 45 minutes apart merge, 3 hours apart do not (but the second is suppressed)
    let mut rows: Vec<Scored> = (0..40).map(|i| scored(i * 15, 0.1, 1)).collect();
    rows[2].score = 0.9999;
    rows[5].score = 0.9999;
    rows[20].score = 0.99;
    rows[21].score = 0.9995;
    let eps = episodes(&rows, &params());
    assert_eq!(eps.len(), 2);
    assert_eq!((eps[0].start, eps[0].end), (2, 5));
    assert_eq!(eps[1].start, 21);
    assert!(!eps[0].suppressed && eps[1].suppressed);
    // a more unusual repeat is not suppressed
    rows[21].score = 0.999_99;
    let eps = episodes(&rows, &params());
    assert!(!eps[1].suppressed);
    // no rows, no episodes; an episode still open at the end is kept
    assert!(episodes(&[], &params()).is_empty());
    let open: Vec<Scored> = (0..3).map(|i| scored(i * 15, 0.9999, 1)).collect();
    assert_eq!(episodes(&open, &params()).len(), 1);
}

#[test]
fn a_jump_and_its_reversal_are_one_episode() {
    let mut rows: Vec<Scored> = (0..60).map(|i| scored(i * 15, 0.1, 0)).collect();
    rows[3] = scored(45, 0.9999, 1);
    rows[30] = scored(450, 0.9999, -1);
    let eps = episodes(&rows, &params());
    assert_eq!(eps.len(), 1);
    assert_eq!((eps[0].start, eps[0].end), (3, 30));
    // same direction, beyond the gap: two episodes
    rows[30].direction = 1;
    assert_eq!(episodes(&rows, &params()).len(), 2);
    // a return a little more unusual than the jump is still its reversal
    rows[30] = scored(450, 0.999_99, -1);
    assert_eq!(episodes(&rows, &params()).len(), 1);
    // a swing the other way far more unusual than the jump (-log10 p 12 against 4) is an event
    // of its own, and as more unusual than the alert it is not suppressed either
    rows[30] = scored(450, 1.0 - 1e-12, -1);
    let eps = episodes(&rows, &params());
    assert_eq!(eps.len(), 2, "{eps:?}");
    assert_eq!((eps[1].start, eps[1].suppressed), (30, false));
}

#[test]
fn an_event_that_never_settles_between_episodes_is_one_alert() {
    // a missing refill: the unexplained fall alerts, the score sags to 0.85-0.97 (below the
    // close level, never back to normal) for 6 hours, then the empty stock alerts more loudly
    let mut rows: Vec<Scored> = (0..80).map(|i| scored(i * 15, 0.1, 0)).collect();
    (4..12).for_each(|i| rows[i] = scored(i as i64 * 15, 0.9999, -1));
    (12..36).for_each(|i| rows[i] = scored(i as i64 * 15, 0.85 + 0.005 * (i - 12) as f64, -1));
    // same direction on both sides, so that the reversal rule is not what merges them
    (36..44).for_each(|i| rows[i] = scored(i as i64 * 15, 0.999_99, -1));
    let eps = episodes(&rows, &params());
    assert_eq!(eps.len(), 1, "{eps:?}");
    assert_eq!((eps[0].start, eps[0].end, eps[0].peak), (4, 43, 36));
    // one row back at a normal score in between: two events (the second more unusual, so alerted)
    rows[20].score = 0.5;
    let eps = episodes(&rows, &params());
    assert_eq!(eps.len(), 2);
    assert!(!eps[1].suppressed);
    // elevated but farther apart than reversal_us (12 h here): two events
    let mut rows: Vec<Scored> = (0..120).map(|i| scored(i * 15, 0.9, 0)).collect();
    rows[2].score = 0.9999;
    rows[100].score = 0.999_99;
    assert_eq!(episodes(&rows, &params()).len(), 2);
}

#[test]
fn a_later_run_continues_an_alert_under_the_same_rule() {
    // the missing refill above, scored in two runs split at row 20 (in the sag): the first run
    // sees one episode (rows 4..=11); what the second run needs to join its episode to that
    // alert is the rule one run applies, over the rows between (some scored by the first run)
    let mut rows: Vec<Scored> = (0..80).map(|i| scored(i * 15, 0.1, 0)).collect();
    (4..12).for_each(|i| rows[i] = scored(i as i64 * 15, 0.9999, -1));
    (12..36).for_each(|i| rows[i] = scored(i as i64 * 15, 0.85 + 0.005 * (i - 12) as f64, -1));
    (36..44).for_each(|i| rows[i] = scored(i as i64 * 15, 0.999_99, -1));
    let p = params();
    let first = episodes(&rows[..20], &p);
    assert_eq!(first.len(), 1);
    let end = first[0].end_ts;
    // the first run keeps the alert open: past the gap, but not settled and within reversal_us
    assert!(rows[19].ts - end > p.max_gap_us);
    assert!(may_continue(end, rows[19].ts, &rows[..20], &p));
    let second = episodes(&rows[20..], &p);
    assert_eq!(second.len(), 1);
    let start = second[0].start_ts;
    assert!(start - end > p.max_gap_us);
    assert!(continues_unsettled(end, start, &rows[..], &p));
    // one row back at a normal score, in either run: no continuation, and the first run
    // closes the alert when that row is its own
    for at in [15, 25] {
        let mut settled = rows.clone();
        settled[at].score = 0.5;
        assert!(!continues_unsettled(end, start, &settled[..], &p), "{at}");
        assert_eq!(may_continue(end, settled[19].ts, &settled[..20], &p), at >= 20, "{at}");
    }
    // farther than reversal_us after the alert's end: neither
    let late = end + p.reversal_us + 1;
    assert!(!continues_unsettled(end, late, &rows[..], &p));
    assert!(!may_continue(end, late, &rows[..], &p));
    // within the episode gap an alert stays open whatever the rows say (the gap rule)
    let mut settled = rows.clone();
    settled[12].score = 0.0;
    assert!(may_continue(end, settled[12].ts, &settled[..13], &p));
}

#[test]
fn severity_bands() {
    let thr = 0.999;
    assert_eq!(severity(0.999, thr, None), "dusuk");
    assert_eq!(severity(1.0 - 1e-4, thr, None), "dusuk");
    assert_eq!(severity(1.0 - 2e-5, thr, None), "orta");
    assert_eq!(severity(1.0 - 1e-7, thr, None), "yuksek");
    assert_eq!(severity(1.0 - 1e-10, thr, None), "kritik");
    assert_eq!(severity(1.0, thr, None), "kritik");
    // deviation raises the band, never lowers it
    assert_eq!(severity(0.999, thr, Some(-100.0)), "orta");
    assert_eq!(severity(0.999, thr, Some(450.0)), "yuksek");
    assert_eq!(severity(1.0, thr, Some(1.0)), "kritik");
    assert_eq!(severity(0.999, thr, Some(f64::NAN)), "dusuk");
    assert!(SEVERITY_LEVELS.contains(&severity(f64::NAN, thr, None)));
}

#[test]
fn params_from_json_are_strict() {
    let p = DetectorParams::from_json(&json!({"alert_p": 0.0005, "n_trees": 50, "use_forest": false})).unwrap();
    assert_eq!((p.alert_p, p.n_trees, p.use_forest), (0.0005, 50, false));
    assert_eq!(DetectorParams::from_json(&serde_json::Value::Null).unwrap(), DetectorParams::default());
    assert_eq!(DetectorParams::from_json(&p.to_json()).unwrap(), p);
    for bad in [json!({"n_tree": 5}), json!({"alert_p": "x"}), json!({"alert_p": 0.7}), json!({"close_p": 1e-5}), json!({"n_trees": 0}), json!({"contamination": 0.9}), json!({"max_gap_minutes": -1}), json!([1])] {
        let e = DetectorParams::from_json(&bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter, "{bad}");
    }
}

#[test]
fn metric_kinds() {
    assert_eq!(MetricKind::from_metric_type("stok_seviye"), MetricKind::Level);
    assert_eq!(MetricKind::from_metric_type("zimmet_kullanim"), MetricKind::Count);
    assert_eq!(MetricKind::from_metric_type("dolum_sure"), MetricKind::Duration);
    assert_eq!(MetricKind::from_metric_type("sicaklik"), MetricKind::Generic);
    assert_eq!(MetricKind::Level.aux_metric(), Some("tuketim_miktar"));
    assert_eq!(MetricKind::Duration.aux_metric(), Some("stok_seviye"));
    assert_eq!(MetricKind::Count.aux_metric(), None);
}

#[test]
fn event_tail_follows_a_normal_residual_beyond_the_table() {
    // 200 refills' |z| of a normal residual with scale 1.5: the table stops near the 93rd
    // percentile; beyond it the tail is the normal one conditioned on the knot, so 1e-3 lies
    // near 3.29 * 1.5
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let normal = |r: &mut ChaCha8Rng| -> f64 {
        let (u, v): (f64, f64) = (r.gen::<f64>().max(1e-300), r.gen());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let z: Vec<f64> = (0..200).map(|_| (1.5 * normal(&mut rng)).abs()).collect();
    let t = Tail::fit_normal_events(&mut z.clone(), 0.25);
    t.validate("events").unwrap();
    let x3 = t.inverse(1e-3f64.ln());
    assert!((x3 - 3.29 * 1.5).abs() < 0.6, "1e-3 at {x3}");
    // monotone and invertible, and still decaying beyond the last level
    assert_monotone_and_invertible(&t, 200, &[-1.0, -5.0, -9.0, -15.0]);
    assert!(t.ln_survival(20.0) < t.ln_survival(15.0));
    // a held-out spread narrower than the model's unit (in-sample fits) does not make every
    // later refill improbable: the normal part keeps at least scale 1
    let mut narrow: Vec<f64> = (0..200).map(|_| (0.2 * normal(&mut rng)).abs()).collect();
    let t = Tail::fit_normal_events(&mut narrow, 0.25);
    assert!(t.inverse(1e-3f64.ln()) > 2.0, "{}", t.inverse(1e-3f64.ln()));
    // too few values: the table alone
    Tail::fit_normal_events(&mut [], 0.25).validate("empty").unwrap();
    Tail::fit_normal_events(&mut [1.0], 0.25).validate("one").unwrap();
}

/// `t`'s ln survival never rises over `0, 0.1, .., (steps - 1) * 0.1`, and `inverse` undoes it
/// (within 1e-9) at each of `lps`.
fn assert_monotone_and_invertible(t: &Tail, steps: usize, lps: &[f64]) {
    let mut last = 0.0;
    for k in 0..steps {
        let ls = t.ln_survival(k as f64 * 0.1);
        assert!(ls <= last + 1e-12, "ln S rises at {}: {ls} after {last}", k as f64 * 0.1);
        last = ls;
    }
    for &lp in lps {
        assert!((t.ln_survival(t.inverse(lp)) - lp).abs() < 1e-9, "inverse({lp})");
    }
}
