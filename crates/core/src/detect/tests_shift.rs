//! Lasting shifts in counts (`DetectorParams::adapt_hours`, `change_scan`): a shift of days is
//! alerted within hours of its start as one alert, a lasting change of level becomes the new
//! normal, and version 4 model bytes (neither) are still read and score as before.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::tests_fit::{cal_feats, older_bytes, BASE, DAY, HOUR, STEP};
use super::*;

const TRAIN_DAYS: i64 = 14;

/// Poisson counts per 15 minutes with two daily peaks and a day-level factor (occupancy),
/// multiplied by `factor` in `[from, to)`.
fn counts(id: &str, seed: u64, days: i64, shift: Option<(i64, i64, f64)>) -> SeriesRows {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ts: Vec<i64> = (0..days * 96).map(|i| BASE + i * STEP).collect();
    let day_factor: Vec<f64> = (0..days).map(|_| {
        let z: f64 = rand_distr::StandardNormal.sample(&mut rng);
        (0.1 * z).exp()
    }).collect();
    let value = ts
        .iter()
        .map(|&t| {
            let h = t.rem_euclid(DAY) as f64 / HOUR as f64;
            let bump = |c: f64, w: f64| (-0.5 * ((h - c) / w).powi(2)).exp();
            let f = shift.filter(|s| t >= s.0 && t < s.1).map_or(1.0, |s| s.2);
            let mu = 2.0 * (0.2 + 1.5 * bump(9.0, 1.5) + bump(19.0, 2.0)) * day_factor[((t - BASE) / DAY) as usize] * f;
            Poisson::new(mu).map_or(0.0, |p| p.sample(&mut rng))
        })
        .collect();
    SeriesRows { entity_id: id.into(), features: ts.iter().map(|&t| cal_feats(t)).collect(), ts, value, aux: None }
}

fn fitted(params: &DetectorParams) -> Detector {
    let train: Vec<SeriesRows> = (0..16).map(|k| counts(&format!("e{k:02}"), 100 + k, TRAIN_DAYS, None)).collect();
    Detector::fit(MetricKind::Count, params, &train, &[], &[]).expect("fit").0
}

/// What a version 4 model does: no recent baseline, fixed 24-hour totals, and (as every
/// model before version 8) the day-level profile prior and every stretch of a scan counted
/// (and, as every model before version 9, `stock_skip_unrecorded` off: counts never read it).
fn legacy() -> DetectorParams {
    DetectorParams { adapt_hours: 0.0, change_scan: false, count_hour_prior: false, scan_over_row: false, stock_skip_unrecorded: false, count_row_window: false, ..DetectorParams::default() }
}

/// Start times of the alerts (episodes not suppressed) of `s` scored after the training span.
fn alerts(det: &Detector, s: &SeriesRows) -> Vec<i64> {
    let first = (TRAIN_DAYS * 96) as usize;
    let scored = det.score_series(s, first).expect("score");
    episodes(&scored, &det.episode_params()).iter().filter(|e| !e.suppressed).map(|e| e.start_ts).collect()
}

/// The median |count_24h| (as scored) of rows at or after `from` over its median before
/// `change` (scored rows after the training span): about 1 when the new level is normal.
fn long_input_ratio(det: &Detector, s: &SeriesRows, change: i64, from: i64) -> f64 {
    let first = (TRAIN_DAYS * 96) as usize;
    let em = det.entity(&s.entity_id).expect("known entity");
    let rows = det.derived(em, s, first);
    let pick = |keep: &dyn Fn(i64) -> bool| {
        let mut v: Vec<f64> = rows.iter().zip(&s.ts[first..]).filter(|(_, &t)| keep(t)).map(|(r, _)| r.z[3].abs()).collect();
        crate::stats::median(&mut v)
    };
    pick(&|t| t >= from) / pick(&|t| t < change)
}

#[test]
fn a_lasting_change_of_level_becomes_the_new_normal() {
    let change = BASE + 17 * DAY + 10 * HOUR;
    let s = counts("e03", 7, 30, Some((change, i64::MAX, 1.8)));
    let (new, old) = (fitted(&DetectorParams::default()), fitted(&legacy()));
    let a = alerts(&new, &s);
    assert!(!a.is_empty() && a[0] >= change && a[0] - change <= 12 * HOUR, "first alert {:?} h after the change", a.first().map(|t| (t - change) as f64 / HOUR as f64));
    // once the recent window holds the new level (48 h on), the 24-hour input is back to the
    // sizes it had before the change; against the training baseline alone it stays far out
    let settled = change + 48 * HOUR;
    let (r_new, r_old) = (long_input_ratio(&new, &s, change, settled), long_input_ratio(&old, &s, change, settled));
    assert!(r_new < 2.0, "new: {r_new} old: {r_old}");
    assert!(r_old > 4.0, "new: {r_new} old: {r_old}");
    // and the new level raises fewer alerts than before (the row and 1-hour inputs stay
    // against the training baseline, so a busy hour at the new level may still alert)
    let b = alerts(&old, &s);
    assert!(a.len() < b.len(), "new {a:?}, old {b:?}");
}

#[test]
fn a_shift_of_days_is_alerted_within_hours_and_its_end_is_quiet() {
    let (from, to) = (BASE + 18 * DAY + 8 * HOUR, BASE + 20 * DAY + 8 * HOUR);
    let det = fitted(&DetectorParams::default());
    let s = counts("e05", 11, 26, Some((from, to, 2.5)));
    let a = alerts(&det, &s);
    assert!(!a.is_empty(), "shift not alerted");
    assert!(a[0] >= from && a[0] - from <= 6 * HOUR, "first alert {} h after the start", (a[0] - from) as f64 / HOUR as f64);
    assert!(a.iter().all(|&t| t <= to + 2 * HOUR), "the return to normal alerted: {a:?}");
    // a series without a shift stays quiet
    assert!(alerts(&det, &counts("e05", 12, 26, None)).is_empty());
}

#[test]
fn version_4_bytes_still_load_and_score_as_before() {
    let det = fitted(&legacy());
    // version 4 had no adapt_hours and change_scan: they were the last two parameters, so
    // its payload is this one without their 9 bytes (an f64 and a bool) before `pooled`
    // (version 6 added the detector family and its two f64 parameters after them, 17 bytes,
    // and a trailing `None` byte for the sequence models; version 8 two bools after those,
    // versions 9 and 10 one more each)
    let mut v4 = older_bytes(&det, 9 + 17 + 2 + 1 + 1, 1, 4);
    let back = Detector::from_bytes(&v4).expect("version 4 loads");
    assert_eq!(back, det);
    let s = counts("e01", 5, 20, Some((BASE + 16 * DAY, i64::MAX, 2.0)));
    assert_eq!(back.score_series(&s, 1344).expect("a"), det.score_series(&s, 1344).expect("b"));
    // versions before 4 are refused with a hint to refit
    v4[4..6].copy_from_slice(&3u16.to_le_bytes());
    let e = Detector::from_bytes(&v4).expect_err("version 3");
    assert_eq!(e.kind, crate::error::ErrorKind::Corrupt);
    assert!(e.hint.as_deref().is_some_and(|h| h.contains("Refit")), "{e:?}");
}

#[test]
fn version_7_bytes_still_load_and_score_as_before() {
    // version 7 had no count_hour_prior and scan_over_row: they are the two parameters before
    // version 9's and version 10's (four bools), so its payload is this one without those 4
    // bytes before `pooled`
    let p = DetectorParams { count_hour_prior: false, scan_over_row: false, stock_skip_unrecorded: false, count_row_window: false, ..DetectorParams::default() };
    let det = fitted(&p);
    let v7 = older_bytes(&det, 4, 0, 7);
    let back = Detector::from_bytes(&v7).expect("version 7 loads");
    assert_eq!(back, det);
    let s = counts("e01", 5, 20, Some((BASE + 16 * DAY, i64::MAX, 2.0)));
    let first = (TRAIN_DAYS * 96) as usize;
    let old = back.score_series(&s, first).expect("a");
    assert_eq!(old, det.score_series(&s, first).expect("b"));
    // a model fitted with version 8's parameters on scores the same rows otherwise (loaded
    // with them on, those bytes would not score as before)
    let now = fitted(&DetectorParams { count_hour_prior: true, scan_over_row: true, ..DetectorParams::default() });
    assert_ne!(now.score_series(&s, first).expect("c"), old);
}
