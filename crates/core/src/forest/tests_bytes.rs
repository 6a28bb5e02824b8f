//! Model bytes: round trip, validation, and fuzzing `from_bytes` with hostile input.
//!
//! Fuzz budget: [`FUZZ_CASES`] per proptest below, three proptests here (random bytes,
//! truncations, bit flips) plus the z-score model's in `crate::zscore`.

use proptest::prelude::*;

use super::tests::{clusters, fit};
use super::*;
use crate::error::ErrorKind;
use crate::traits::Fit;

/// Cases per fuzz proptest.
pub(crate) const FUZZ_CASES: u32 = 8_000;

/// A small model so each fuzz case decodes quickly while still having real trees.
fn small_model_bytes() -> Vec<u8> {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES
        .get_or_init(|| {
            let x = clusters(200, 3, 2, 31);
            let params = IsolationForestParams::new()
                .n_trees(4)
                .max_samples(32)
                .contamination(Some(0.1));
            params.fit(x.view()).unwrap().to_bytes().unwrap()
        })
        .clone()
}

#[test]
fn round_trip_scores_identically() {
    let x = clusters(1000, 7, 3, 32);
    let model = fit(x.view());
    let bytes = model.to_bytes().unwrap();
    assert_eq!(&bytes[..4], b"PGAF");
    let back = IsolationForest::from_bytes(&bytes).unwrap();
    assert_eq!(back, model);
    assert_eq!(back.score(x.view()), model.score(x.view()));
    assert_eq!(back.to_bytes().unwrap(), bytes);
}

#[test]
fn header_errors_are_corrupt() {
    let bytes = small_model_bytes();
    for bad in [&b""[..], &b"PGA"[..], &b"XXXX\x01\x00"[..], &bytes[..6]] {
        assert_eq!(
            IsolationForest::from_bytes(bad).unwrap_err().kind,
            ErrorKind::Corrupt
        );
    }
    let mut v2 = bytes.clone();
    v2[4] = 2;
    let e = IsolationForest::from_bytes(&v2).unwrap_err();
    assert!(e.message.contains("version 2"), "{}", e.message);
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        IsolationForest::from_bytes(&trailing).unwrap_err().kind,
        ErrorKind::Corrupt
    );
}

/// Re-encodes a model after `edit` breaks one invariant, to check that validation (not just
/// bincode) catches it.
fn tampered(edit: impl FnOnce(&mut IsolationForest)) -> ErrorKind {
    let x = clusters(200, 3, 2, 33);
    let mut model = IsolationForestParams::new()
        .n_trees(3)
        .max_samples(64)
        .fit(x.view())
        .unwrap();
    edit(&mut model);
    let bytes = model.to_bytes().unwrap();
    IsolationForest::from_bytes(&bytes).unwrap_err().kind
}

#[test]
fn validation_catches_structural_damage() {
    let split = |m: &IsolationForest| m.trees[0].nodes.iter().position(|n| !n.is_leaf()).unwrap();
    assert_eq!(tampered(|m| m.n_features = 0), ErrorKind::Corrupt);
    assert_eq!(
        tampered(|m| m.medians.pop().map(|_| ()).unwrap()),
        ErrorKind::Corrupt
    );
    assert_eq!(tampered(|m| m.medians[0] = f64::NAN), ErrorKind::Corrupt);
    assert_eq!(tampered(|m| m.psi = 0), ErrorKind::Corrupt);
    assert_eq!(tampered(|m| m.trees.clear()), ErrorKind::Corrupt);
    assert_eq!(tampered(|m| m.trees[1].nodes.clear()), ErrorKind::Corrupt);
    assert_eq!(
        tampered(|m| m.threshold = Some(f64::INFINITY)),
        ErrorKind::Corrupt
    );
    assert_eq!(
        tampered(|m| m.contamination = Some(0.9)),
        ErrorKind::Corrupt
    );
    assert_eq!(
        tampered(|m| {
            let i = split(m);
            m.trees[0].nodes[i].feature = 3
        }),
        ErrorKind::Corrupt
    );
    assert_eq!(
        tampered(|m| {
            let i = split(m);
            m.trees[0].nodes[i].value = f64::NAN
        }),
        ErrorKind::Corrupt
    );
    // a child pointing back at the root: a cycle
    assert_eq!(
        tampered(|m| {
            let i = split(m);
            m.trees[0].nodes[i].left = 0
        }),
        ErrorKind::Corrupt
    );
    // children out of range
    assert_eq!(
        tampered(|m| {
            let i = split(m);
            m.trees[0].nodes[i].left = 100_000
        }),
        ErrorKind::Corrupt
    );
    // two parents sharing children
    assert_eq!(
        tampered(|m| {
            let splits: Vec<usize> = (0..m.trees[0].nodes.len())
                .filter(|&i| !m.trees[0].nodes[i].is_leaf())
                .collect();
            let l = m.trees[0].nodes[splits[1]].left;
            m.trees[0].nodes[splits[2]].left = l;
        }),
        ErrorKind::Corrupt
    );
    // a leaf whose path length cannot come from its depth
    assert_eq!(
        tampered(|m| {
            let i = m.trees[0].nodes.iter().position(|n| n.is_leaf()).unwrap();
            m.trees[0].nodes[i].value = 1e6;
        }),
        ErrorKind::Corrupt
    );
}

#[test]
fn serde_json_deserialization_is_validated_too() {
    let x = clusters(100, 2, 1, 34);
    let model = IsolationForestParams::new()
        .n_trees(2)
        .fit(x.view())
        .unwrap();
    let mut v = serde_json::to_value(&model).unwrap();
    assert_eq!(
        serde_json::from_value::<IsolationForest>(v.clone()).unwrap(),
        model
    );
    v["n_features"] = serde_json::json!(5);
    assert!(serde_json::from_value::<IsolationForest>(v).is_err());
}

#[test]
fn hostile_lengths_do_not_allocate() {
    // header + n_features 1, psi 1, seed 0, two None, medians len 1 [0.0], trees len 2^63
    let mut bytes = b"PGAF\x01\x00".to_vec();
    bytes.extend([1, 1, 0, 0, 0, 1]);
    bytes.extend(0f64.to_le_bytes());
    bytes.push(253); // varint tag: u64 follows
    bytes.extend((1u64 << 63).to_le_bytes());
    assert_eq!(
        IsolationForest::from_bytes(&bytes).unwrap_err().kind,
        ErrorKind::Corrupt
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(FUZZ_CASES))]

    #[test]
    fn fuzz_random_bytes(mut tail in proptest::collection::vec(any::<u8>(), 0..512), keep_header in any::<bool>()) {
        let mut bytes = if keep_header { b"PGAF\x01\x00".to_vec() } else { Vec::new() };
        bytes.append(&mut tail);
        let _ = IsolationForest::from_bytes(&bytes);
    }

    #[test]
    fn fuzz_truncated_bytes(cut in any::<prop::sample::Index>()) {
        let bytes = small_model_bytes();
        let n = cut.index(bytes.len());
        prop_assert_eq!(IsolationForest::from_bytes(&bytes[..n]).unwrap_err().kind, ErrorKind::Corrupt);
    }

    #[test]
    fn fuzz_bit_flipped_bytes(flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
        let mut bytes = small_model_bytes();
        for (at, bit) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        if let Ok(model) = IsolationForest::from_bytes(&bytes) {
            // a flip that still validates (e.g. in a threshold) must give a usable model
            let s = model.score_row(&[0.0, 1.0, 2.0]);
            prop_assert!(s > 0.0 && s <= 1.0);
            let _ = model.attribution(&[0.0, 1.0, 2.0]);
        }
    }
}
