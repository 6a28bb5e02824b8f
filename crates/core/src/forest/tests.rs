//! Fit, score and parameter tests of the isolation forest.

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::json;

use super::*;
use crate::error::ErrorKind;
use crate::traits::{Fit, ParamGuard};

/// `n` rows around `k` cluster centres in `d` dimensions (unit-variance Gaussian noise,
/// centres spread over ±10).
pub(super) fn clusters(n: usize, d: usize, k: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..d).map(|_| rng.gen_range(-10.0..10.0)).collect())
        .collect();
    let noise = Normal::new(0.0, 1.0).unwrap();
    Array2::from_shape_fn((n, d), |(i, j)| centres[i % k][j] + noise.sample(&mut rng))
}

/// ROC AUC of `scores` for `labels` (true = positive), by the Mann–Whitney rank statistic
/// with tied ranks averaged.
pub(super) fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l)
        .map(|(r, _)| r)
        .sum();
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

pub(super) fn fit(x: ArrayView2<f64>) -> IsolationForest {
    IsolationForestParams::new().fit(x).expect("fit")
}

#[test]
fn auc_helper_is_right() {
    assert_eq!(auc(&[0.1, 0.2, 0.9, 0.8], &[false, false, true, true]), 1.0);
    assert_eq!(auc(&[0.9, 0.8, 0.1, 0.2], &[false, false, true, true]), 0.0);
    assert_eq!(auc(&[0.5, 0.5], &[false, true]), 0.5);
}

#[test]
fn injected_outliers_score_higher() {
    let inliers = clusters(2000, 10, 3, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let outliers = Array2::from_shape_fn((50, 10), |_| rng.gen_range(-30.0..30.0));
    let x = ndarray::concatenate![ndarray::Axis(0), inliers, outliers];
    let labels: Vec<bool> = (0..x.nrows()).map(|i| i >= 2000).collect();
    let model = fit(x.view());
    let scores = model.score(x.view());
    let a = auc(scores.as_slice().unwrap(), &labels);
    assert!(a >= 0.95, "AUC {a}");
    assert!(scores.iter().all(|s| *s > 0.0 && *s <= 1.0));
}

#[test]
fn score_matches_score_row_and_layout() {
    let x = clusters(300, 5, 2, 3);
    let model = fit(x.view());
    let batch = model.score(x.view());
    for (i, row) in x.outer_iter().enumerate() {
        assert_eq!(batch[i], model.score_row(row.as_slice().unwrap()));
    }
    // a column-major view scores the same
    let fortran = x.t().as_standard_layout().to_owned();
    assert_eq!(model.score(fortran.t()), batch);
}

#[test]
fn same_seed_same_bytes_different_seed_different_model() {
    let x = clusters(500, 6, 3, 4);
    let a = fit(x.view()).to_bytes().unwrap();
    let b = fit(x.view()).to_bytes().unwrap();
    assert_eq!(a, b);
    let other = IsolationForestParams::new().seed(7).fit(x.view()).unwrap();
    assert_ne!(other.to_bytes().unwrap(), a);
    assert_ne!(other.score(x.view()), fit(x.view()).score(x.view()));
}

#[test]
fn one_row_fits_and_scores_half() {
    let x = Array2::from_shape_vec((1, 3), vec![1.0, 2.0, 3.0]).unwrap();
    let model = fit(x.view());
    assert_eq!(model.psi(), 1);
    assert_eq!(model.n_nodes(), model.n_trees());
    assert_eq!(model.score_row(&[1.0, 2.0, 3.0]), 0.5);
    assert_eq!(model.score_row(&[100.0, -5.0, f64::NAN]), 0.5);
    assert!(model
        .attribution(&[9.0, 9.0, 9.0])
        .iter()
        .all(|&s| s == 0.0));
}

#[test]
fn constant_columns_are_never_split() {
    let mut x = clusters(400, 4, 2, 5);
    x.column_mut(1).fill(3.0);
    let model = fit(x.view());
    for tree in &model.trees {
        assert!(tree.nodes.iter().all(|n| n.is_leaf() || n.feature != 1));
    }
    // all columns constant: every tree is one leaf
    let flat = Array2::from_elem((50, 3), 1.5);
    let model = fit(flat.view());
    assert_eq!(model.n_nodes(), model.n_trees());
    let s = model.score_row(&[1.5, 1.5, 1.5]);
    assert!((s - 0.5).abs() < 1e-12, "{s}");
}

#[test]
fn fit_rejects_bad_data() {
    let mut x = clusters(20, 3, 1, 6);
    x[[7, 2]] = f64::NAN;
    let e = fit_err(x.view());
    assert_eq!(e.kind, ErrorKind::NonFiniteValue);
    assert!(
        e.message.contains("row 7") && e.message.contains("column 2"),
        "{}",
        e.message
    );
    x[[7, 2]] = f64::INFINITY;
    assert_eq!(fit_err(x.view()).kind, ErrorKind::NonFiniteValue);
    assert_eq!(
        fit_err(Array2::zeros((0, 3)).view()).kind,
        ErrorKind::InsufficientData
    );
    assert_eq!(
        fit_err(Array2::zeros((5, 0)).view()).kind,
        ErrorKind::InvalidParameter
    );
    // node budget: 10_000 trees x psi 1000
    let big = clusters(1000, 2, 1, 6);
    let e = IsolationForestParams::new()
        .n_trees(10_000)
        .max_samples(1000)
        .fit(big.view())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
}

fn fit_err(x: ArrayView2<f64>) -> crate::error::CoreError {
    IsolationForestParams::new().fit(x).unwrap_err()
}

#[test]
fn nan_at_scoring_is_imputed_with_the_median() {
    let x = clusters(500, 4, 1, 8);
    let model = fit(x.view());
    let mut row = x.row(3).to_vec();
    row[2] = f64::NAN;
    let mut imputed = row.clone();
    imputed[2] = model.medians()[2];
    assert_eq!(model.score_row(&row), model.score_row(&imputed));
    // short rows: missing trailing features count as NaN; try_ variants refuse
    assert_eq!(
        model.score_row(&imputed[..2]),
        model.score_row(&[
            imputed[0],
            imputed[1],
            model.medians()[2],
            model.medians()[3]
        ])
    );
    assert_eq!(
        model.try_score_row(&row[..2]).unwrap_err().kind,
        ErrorKind::InvalidParameter
    );
    assert!(model.try_score(x.view()).is_ok());
    assert!(model.score_row(&[]).is_finite());
    // the batch path imputes the same way, for NaN cells and for too narrow or wide matrices
    let mut m = x.slice(ndarray::s![..20, ..]).to_owned();
    m[[3, 1]] = f64::NAN;
    m[[5, 0]] = f64::NAN;
    let rows: Vec<f64> = m
        .outer_iter()
        .map(|r| model.score_row(r.as_slice().unwrap()))
        .collect();
    assert_eq!(model.score(m.view()).to_vec(), rows);
    let narrow = m.slice(ndarray::s![.., ..2]);
    let rows: Vec<f64> = narrow
        .outer_iter()
        .map(|r| model.score_row(&r.to_vec()))
        .collect();
    assert_eq!(model.score(narrow).to_vec(), rows);
    let wide = ndarray::concatenate![ndarray::Axis(1), m, m];
    assert_eq!(model.score(wide.view()), model.score(m.view()));
    assert_eq!(model.score(Array2::zeros((0, 4)).view()).len(), 0);
    assert!(model.score_row(&[f64::INFINITY; 4]).is_finite());
}

#[test]
fn scoring_from_two_threads_is_identical() {
    fn assert_sync<T: Sync + Send>() {}
    assert_sync::<IsolationForest>();
    let x = clusters(2000, 8, 3, 9);
    let model = fit(x.view());
    let expected = model.score(x.view());
    let (a, b) = std::thread::scope(|s| {
        let ha = s.spawn(|| model.score(x.view()));
        let hb = s.spawn(|| {
            x.outer_iter()
                .map(|r| model.score_row(r.as_slice().unwrap()))
                .collect::<Vec<_>>()
        });
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert_eq!(a, expected);
    assert_eq!(b, expected.to_vec());
}

#[test]
fn contamination_sets_a_quantile_threshold() {
    let x = clusters(1000, 5, 2, 10);
    let model = IsolationForestParams::new()
        .contamination(Some(0.05))
        .fit(x.view())
        .unwrap();
    let t = model.threshold().unwrap();
    let flagged = model.score(x.view()).iter().filter(|&&s| s > t).count();
    assert!((40..=60).contains(&flagged), "{flagged}");
    assert_eq!(model.is_anomaly(t + 1e-9), Some(true));
    assert_eq!(fit(x.view()).is_anomaly(0.9), None);
    assert_eq!(
        threshold_from_contamination(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25).unwrap(),
        4.0
    );
    assert!(threshold_from_contamination(&[], 0.1).is_err());
    assert!(threshold_from_contamination(&[0.5, f64::NAN], 0.1).is_err());
    assert!(threshold_from_contamination(&[0.5], 0.6).is_err());
}

#[test]
fn c_factor_and_height_limit() {
    assert_eq!(c_factor(1), 0.0);
    assert_eq!(c_factor(2), 1.0);
    assert!((c_factor(256) - 10.2448).abs() < 1e-3, "{}", c_factor(256));
    assert_eq!(height_limit(1), 0);
    assert_eq!(height_limit(2), 1);
    assert_eq!(height_limit(256), 8);
    assert_eq!(height_limit(257), 9);
}

#[test]
fn params_are_checked() {
    let bad = |p: IsolationForestParams, key: &str| {
        let e = p.check().unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter);
        assert!(e.message.contains(key), "{}", e.message);
    };
    bad(IsolationForestParams::new().n_trees(0), "n_trees");
    bad(IsolationForestParams::new().n_trees(10_001), "n_trees");
    bad(IsolationForestParams::new().max_samples(0), "max_samples");
    bad(
        IsolationForestParams::new().max_samples(1_000_000_000),
        "max_samples",
    );
    bad(
        IsolationForestParams::new().max_features(0.0),
        "max_features",
    );
    bad(
        IsolationForestParams::new().max_features(1.5),
        "max_features",
    );
    bad(
        IsolationForestParams::new().max_features(f64::NAN),
        "max_features",
    );
    bad(
        IsolationForestParams::new().contamination(Some(0.0)),
        "contamination",
    );
    bad(
        IsolationForestParams::new().contamination(Some(0.51)),
        "contamination",
    );
    let ok = IsolationForestParams::new().check().unwrap();
    assert_eq!(
        (ok.n_trees(), ok.max_samples(), ok.max_features(), ok.seed()),
        (100, 256, 1.0, 42)
    );
    assert_eq!(ok.features_per_tree(25), 25);
    assert_eq!(
        IsolationForestParams::new()
            .max_features(0.01)
            .check()
            .unwrap()
            .features_per_tree(25),
        1
    );
}

#[test]
fn params_from_json() {
    let p = IsolationForestParams::from_json(
        &json!({"n_trees": 50, "max_samples": 128.0, "max_features": 0.5,
        "seed": 7, "contamination": 0.02}),
    )
    .unwrap()
    .check()
    .unwrap();
    assert_eq!(
        (
            p.n_trees(),
            p.max_samples(),
            p.max_features(),
            p.seed(),
            p.contamination()
        ),
        (50, 128, 0.5, 7, Some(0.02))
    );
    assert_eq!(
        IsolationForestParams::from_json(&json!(null)).unwrap(),
        IsolationForestParams::new()
    );
    assert_eq!(
        IsolationForestParams::from_json(&json!({"contamination": null})).unwrap(),
        IsolationForestParams::new()
    );
    for (v, key) in [
        (json!({"n_tree": 5}), "n_tree"),
        (json!({"n_trees": "100"}), "n_trees"),
        (json!({"n_trees": -1}), "n_trees"),
        (json!({"n_trees": 1.5}), "n_trees"),
        (json!({"max_features": true}), "max_features"),
        (json!({"seed": [1]}), "seed"),
        (json!({"n_trees": 0}), "n_trees"),
        (json!({"max_samples": 1_000_000_000u64}), "max_samples"),
    ] {
        let e = IsolationForestParams::from_json(&v).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter);
        assert!(e.message.contains(key), "{v}: {}", e.message);
    }
    let e = IsolationForestParams::from_json(&json!([1, 2])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameter);
}

#[test]
fn max_features_restricts_each_tree() {
    let x = clusters(500, 10, 2, 11);
    let model = IsolationForestParams::new()
        .max_features(0.3)
        .fit(x.view())
        .unwrap();
    for tree in &model.trees {
        let mut used: Vec<u32> = tree
            .nodes
            .iter()
            .filter(|n| !n.is_leaf())
            .map(|n| n.feature)
            .collect();
        used.sort_unstable();
        used.dedup();
        assert!(used.len() <= 3, "{used:?}");
    }
}
