use super::*;
use linfa::prelude::*;
use ndarray::{array, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 500 points around the origin and 5 far away (the last rows).
fn cloud<F: Float>() -> Array2<F> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    Array2::from_shape_fn((505, 3), |(i, _)| {
        let v: f64 = rng.gen_range(-1.0..1.0);
        F::cast(if i >= 500 { 8.0 + v } else { v })
    })
}

fn fits_and_ranks<F: Float>() {
    let x = cloud::<F>();
    let forest = IsolationForestParams::<F>::new().seed(3).fit(&DatasetBase::from(x.clone())).unwrap();
    let scores = forest.predict(&x);
    let normal_max = scores.iter().take(500).fold(F::zero(), |a, &b| a.max(b));
    let outlier_min = scores.iter().skip(500).fold(F::one(), |a, &b| a.min(b));
    assert!(outlier_min > normal_max, "outliers {outlier_min} vs normal {normal_max}");
    assert!(scores.iter().all(|&s| s > F::zero() && s <= F::one()));
}

#[test]
fn f64_and_f32_forests_rank_outliers_first() {
    fits_and_ranks::<f64>();
    fits_and_ranks::<f32>();
}

#[test]
fn same_seed_same_forest_other_seed_other_forest() {
    let data = DatasetBase::from(cloud::<f64>());
    let a = IsolationForestParams::new().seed(9).fit(&data).unwrap();
    let b = IsolationForestParams::new().seed(9).fit(&data).unwrap();
    let c = IsolationForestParams::new().seed(10).fit(&data).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.trees(), c.trees());
}

#[test]
fn bad_parameters_are_refused_before_fitting() {
    let data = DatasetBase::from(cloud::<f64>());
    let refused = |p: IsolationForestParams<f64>| matches!(p.fit(&data), Err(IsolationForestError::InvalidParameter { .. }));
    assert!(refused(IsolationForestParams::new().n_trees(0)));
    assert!(refused(IsolationForestParams::new().max_samples(0)));
    assert!(refused(IsolationForestParams::new().max_features(0.0)));
    assert!(refused(IsolationForestParams::new().max_features(1.5)));
    assert!(refused(IsolationForestParams::new().contamination(Some(0.7))));
    assert!(IsolationForestParams::<f64>::new().contamination(Some(0.01)).check().is_ok());
}

#[test]
fn non_finite_and_empty_training_data_are_errors() {
    let x = array![[0.0, 1.0], [f64::NAN, 2.0]];
    match IsolationForestParams::new().fit(&DatasetBase::from(x)) {
        Err(IsolationForestError::NonFinite { row: 1, column: 0 }) => {}
        other => panic!("{other:?}"),
    }
    let empty = Array2::<f64>::zeros((0, 2));
    assert!(matches!(IsolationForestParams::new().fit(&DatasetBase::from(empty)), Err(IsolationForestError::EmptyData(_))));
}

#[test]
fn labels_at_a_threshold_and_from_contamination() {
    let x = cloud::<f64>();
    let forest = IsolationForestParams::new().contamination(Some(0.01)).fit(&DatasetBase::from(x.clone())).unwrap();
    let t = forest.threshold().expect("a threshold from the contamination");
    let labels = forest.with_threshold(t).predict(&x);
    assert!(labels.iter().skip(500).all(|&l| l), "every outlier labelled");
    let flagged = labels.iter().filter(|&&l| l).count();
    assert!((5..=6).contains(&flagged), "{flagged} rows flagged at 1% contamination of 505");
}

#[test]
fn nan_at_scoring_is_the_training_median() {
    let x = cloud::<f64>();
    let forest = IsolationForestParams::new().fit(&DatasetBase::from(x)).unwrap();
    let m = forest.medians().to_vec();
    assert_eq!(forest.score_row(&[f64::NAN, m[1], m[2]]), forest.score_row(&m));
}

#[test]
fn a_single_row_scores_one_half() {
    let forest = IsolationForestParams::new().fit(&DatasetBase::from(array![[1.0, 2.0]])).unwrap();
    assert_eq!(forest.score_row(&[100.0, -3.0]), 0.5);
}

#[test]
fn median_matches_total_order_on_signed_zeros() {
    let mut v = [0.0f64, -0.0, -0.0];
    assert!(median_in_place(&mut v).is_sign_negative());
    let mut w = [1.0f64, 3.0, 2.0, 4.0];
    assert_eq!(median_in_place(&mut w), 2.5);
}
