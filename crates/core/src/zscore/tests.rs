//! Tests of the z-score model (`crate::zscore`), beside it so `mod.rs` stays one readable
//! file.

use proptest::prelude::*;
use serde_json::json;

use super::*;

/// Cases per z-score fuzz proptest (three of them).
const FUZZ_CASES: u32 = 4_000;

fn rows(entity: &str, values: &[f64]) -> Vec<(String, Option<u8>, f64)> {
    values
        .iter()
        .map(|&v| (entity.to_string(), None, v))
        .collect()
}

fn default_params() -> ZScoreValidParams {
    ZScoreParams::new().check().unwrap()
}

#[test]
fn robust_baseline_is_median_and_mad() {
    let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 1000.0];
    let m = ZScoreModel::fit(&default_params(), rows("a", &values)).unwrap();
    let b = m.baseline("a", None).unwrap();
    assert_eq!(b.centre, 5.0);
    assert!((b.scale - 1.4826 * 2.0).abs() < 1e-12, "{}", b.scale);
    assert_eq!(b.n, 9);
    assert_eq!(m.expected("a", Some(3)), Some(5.0));
    assert!((m.z("a", None, 5.0 + 2.9652).unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(m.z("nobody", None, 1.0), None);
    assert_eq!(m.z("a", None, f64::NAN), None);
    assert!(m.is_anomaly("a", None, 1000.0).unwrap());
    assert!(!m.is_anomaly("a", None, 6.0).unwrap());
}

#[test]
fn classical_baseline_is_mean_and_std() {
    let p = ZScoreParams::new()
        .robust(false)
        .min_points(2)
        .check()
        .unwrap();
    let m = ZScoreModel::fit(&p, rows("a", &[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])).unwrap();
    let b = m.baseline("a", None).unwrap();
    assert_eq!(b.centre, 5.0);
    assert!((b.scale - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
}

#[test]
fn zero_mad_falls_back_then_floors() {
    // more than half identical: MAD 0, mean absolute deviation used instead
    let m = ZScoreModel::fit(
        &default_params(),
        rows("a", &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0, 4.0]),
    )
    .unwrap();
    assert!((m.baseline("a", None).unwrap().scale - 1.2533).abs() < 1e-12);
    // constant: floored scale, finite z
    let m = ZScoreModel::fit(&default_params(), rows("c", &[100.0; 8])).unwrap();
    assert_eq!(
        m.baseline("c", None).unwrap().scale,
        100.0 * SCALE_FLOOR_REL
    );
    assert_eq!(m.z("c", None, 100.0), Some(0.0));
    assert!(m.z("c", None, 101.0).unwrap().is_finite());
    assert_eq!(m.score("c", None, 101.0).unwrap(), 1.0);
}

#[test]
fn hour_buckets_and_fallback() {
    let p = ZScoreParams::new().by_hour(true).check().unwrap();
    let mut data = Vec::new();
    for i in 0..10 {
        data.push(("e".to_string(), Some(3u8), 100.0 + i as f64)); // 10 values at 3h
        data.push(("e".to_string(), Some(4u8), i as f64 * 0.01)); // 10 values at 4h
    }
    data.push(("e".to_string(), Some(5u8), 50.0)); // too few at 5h
    let m = ZScoreModel::fit(&p, data.clone()).unwrap();
    assert_eq!(m.expected("e", Some(3)), Some(104.5));
    assert!((m.expected("e", Some(4)).unwrap() - 0.045).abs() < 1e-12);
    let overall = m.expected("e", None).unwrap();
    assert_eq!(m.expected("e", Some(5)), Some(overall));
    assert_eq!(m.expected("e", Some(200)), Some(overall));
    // without by_hour, hours are ignored
    let flat = ZScoreModel::fit(&default_params(), data).unwrap();
    assert_eq!(flat.expected("e", Some(3)), Some(overall));
}

#[test]
fn fit_errors_and_skipped_entities() {
    let p = default_params();
    let e = ZScoreModel::fit(&p, rows("a", &[1.0, f64::NAN])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NonFiniteValue);
    assert_eq!(
        ZScoreModel::fit(&p, rows("", &[1.0])).unwrap_err().kind,
        ErrorKind::EmptyValue
    );
    let e = ZScoreModel::fit(&p, vec![("a".to_string(), Some(24), 1.0)]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
    assert_eq!(
        ZScoreModel::fit(&p, rows("a", &[1.0; 7])).unwrap_err().kind,
        ErrorKind::InsufficientData
    );
    let mut data = rows("small", &[1.0; 3]);
    data.extend(rows("big", &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]));
    let m = ZScoreModel::fit(&p, data).unwrap();
    assert_eq!(m.entities().collect::<Vec<_>>(), vec!["big"]);
    assert_eq!(m.z("small", None, 1.0), None);
}

#[test]
fn score_mapping() {
    assert_eq!(z_to_score(0.0, 3.5), 0.0);
    assert!((z_to_score(3.5, 3.5) - 0.5).abs() < 1e-15);
    assert!((z_to_score(-7.0, 3.5) - 0.75).abs() < 1e-15);
    assert!(z_to_score(4.0, 3.5) > z_to_score(3.0, 3.5));
    assert!(z_to_score(1e12, 3.5) <= 1.0);
}

#[test]
fn params_check_and_json() {
    assert_eq!(
        ZScoreParams::new().threshold(0.0).check().unwrap_err().kind,
        ErrorKind::InvalidParameter
    );
    assert!(ZScoreParams::new()
        .threshold(f64::INFINITY)
        .check()
        .is_err());
    assert!(ZScoreParams::new().min_points(1).check().is_err());
    let p = ZScoreParams::from_json(
        &json!({"robust": false, "by_hour": true, "threshold": 3, "min_points": 20}),
    )
    .unwrap()
    .check()
    .unwrap();
    assert_eq!(
        (p.robust(), p.by_hour(), p.threshold(), p.min_points()),
        (false, true, 3.0, 20)
    );
    assert_eq!(
        ZScoreParams::from_json(&json!(null)).unwrap(),
        ZScoreParams::new()
    );
    for (v, key) in [
        (json!({"robustness": true}), "robustness"),
        (json!({"robust": 1}), "robust"),
        (json!({"threshold": "3"}), "threshold"),
        (json!({"min_points": 2.5}), "min_points"),
        (json!({"threshold": -1}), "threshold"),
    ] {
        let e = ZScoreParams::from_json(&v).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter);
        assert!(e.message.contains(key), "{v}: {}", e.message);
    }
}

fn sample_model() -> ZScoreModel {
    let p = ZScoreParams::new()
        .by_hour(true)
        .min_points(3)
        .check()
        .unwrap();
    let data = (0..60).map(|i| {
        (
            format!("e{}", i % 3),
            Some((i % 2) as u8),
            (i * 7 % 11) as f64,
        )
    });
    ZScoreModel::fit(&p, data).unwrap()
}

#[test]
fn bytes_round_trip_and_validation() {
    let m = sample_model();
    let bytes = m.to_bytes().unwrap();
    assert_eq!(&bytes[..4], b"PGAZ");
    assert_eq!(sample_model().to_bytes().unwrap(), bytes);
    let back = ZScoreModel::from_bytes(&bytes).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.z("e1", Some(1), 4.0), m.z("e1", Some(1), 4.0));
    // a forest's bytes are not a z-score model
    assert_eq!(
        ZScoreModel::from_bytes(b"PGAF\x01\x00").unwrap_err().kind,
        ErrorKind::Corrupt
    );
    let mut bad = m.clone();
    bad.entities.get_mut("e0").unwrap().overall.scale = 0.0;
    assert_eq!(
        ZScoreModel::from_bytes(&bad.to_bytes().unwrap())
            .unwrap_err()
            .kind,
        ErrorKind::Corrupt
    );
    let mut bad = m.clone();
    bad.entities
        .get_mut("e0")
        .unwrap()
        .hours
        .insert(30, m.baseline("e0", None).unwrap());
    assert_eq!(
        ZScoreModel::from_bytes(&bad.to_bytes().unwrap())
            .unwrap_err()
            .kind,
        ErrorKind::Corrupt
    );
    let mut bad = m.clone();
    bad.params.min_points = 0;
    assert_eq!(
        ZScoreModel::from_bytes(&bad.to_bytes().unwrap())
            .unwrap_err()
            .kind,
        ErrorKind::Corrupt
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(FUZZ_CASES))]

    #[test]
    fn fuzz_random_bytes(mut tail in proptest::collection::vec(any::<u8>(), 0..512), keep_header in any::<bool>()) {
        let mut bytes = if keep_header { b"PGAZ\x01\x00".to_vec() } else { Vec::new() };
        bytes.append(&mut tail);
        let _ = ZScoreModel::from_bytes(&bytes);
    }

    #[test]
    fn fuzz_truncated_bytes(cut in any::<prop::sample::Index>()) {
        let bytes = sample_model().to_bytes().unwrap();
        let n = cut.index(bytes.len());
        prop_assert_eq!(ZScoreModel::from_bytes(&bytes[..n]).unwrap_err().kind, ErrorKind::Corrupt);
    }

    #[test]
    fn fuzz_bit_flipped_bytes(flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
        let mut bytes = sample_model().to_bytes().unwrap();
        for (at, bit) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        if let Ok(m) = ZScoreModel::from_bytes(&bytes) {
            for e in m.entities() {
                let s = m.score(e, Some(1), 3.0).unwrap();
                prop_assert!((0.0..=1.0).contains(&s));
            }
        }
    }
}
