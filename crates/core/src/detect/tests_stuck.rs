//! Runs of repeated counts (a reading stuck at 0, custody usage): the repeat run is scored
//! against the run profile (`noise::run_profile`), so normal quiet nights no longer set a
//! tail that a stuck reading in working hours cannot beat.

use super::*;
use crate::corpus::{generate, members, metric_series, train_end_us};

const END: i64 = 1_743_379_200_000_000;

/// The repeat run's value at held-out survival 1e-3 of a custody-usage model of the
/// robustness corpus' `other15` member (40 entities, a week of training) for `seed`.
fn run_tail(seed: u64) -> f64 {
    let m = members().into_iter().find(|m| m.name == "other15").expect("member");
    let ents: Vec<_> = (0..40).map(|i| generate(&m, seed, "t", i, END)).collect();
    let te = train_end_us(&m, END);
    let train: Vec<SeriesRows> = metric_series(&ents, 3).iter().map(|s| crate::corpus::head(s, s.ts.partition_point(|&t| t < te))).collect();
    let (det, _) = Detector::fit(MetricKind::Count, &DetectorParams::default(), &train, &[], &[]).expect("fit");
    let cal = det.calibration_summary();
    assert_eq!(cal["features"][4]["feature"], "repeat_run");
    cal["features"][4]["row_p_1e-3"].as_f64().expect("summary")
}

#[test]
fn quiet_nights_do_not_set_the_repeat_run_tail_of_working_hours_counts() {
    // custody is used in working hours (2 % of the rate otherwise): with the profile the other
    // inputs use, every held-out hour that is always quiet expected a share of the day's rate,
    // so one normal row in 1,000 reached a run of zeros of about 20 nats, and a reading stuck
    // at 0 from 11:00 (a run of 10-30 nats) could not alert; scored against the run profile,
    // normal runs stay near what a model that fits the quiet hours gives (6-8 nats)
    for seed in [12, 27] {
        let q = run_tail(seed);
        assert!(q < 10.0, "seed {seed}: repeat run at 1e-3 {q:.1} nats");
    }
}
