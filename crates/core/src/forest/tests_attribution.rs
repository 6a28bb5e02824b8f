//! Attribution tests: a row made anomalous in exactly one feature credits that feature.

use super::tests::{clusters, fit};

#[test]
fn the_perturbed_feature_gets_the_top_attribution() {
    let d = 8;
    let x = clusters(3000, d, 3, 21);
    let model = fit(x.view());
    let base = x.row(10).to_vec();
    for j in 0..d {
        for shift in [40.0, -40.0] {
            let mut row = base.clone();
            row[j] += shift;
            let shares = model.attribution(&row);
            let top = model.top_features(&row, 3);
            assert_eq!(top[0].0, j, "feature {j} shift {shift}: {shares:?}");
            // well above the even share 1/d
            assert!(top[0].1 > 1.5 / d as f64, "feature {j}: share {}", top[0].1);
            assert!(model.score_row(&row) > model.score_row(&base));
        }
    }
}

#[test]
fn shares_sum_to_one_and_top_features_is_sorted() {
    let x = clusters(1000, 6, 2, 22);
    let model = fit(x.view());
    for i in [0, 17, 500] {
        let row = x.row(i).to_vec();
        let shares = model.attribution(&row);
        assert_eq!(shares.len(), 6);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(shares.iter().all(|&s| s >= 0.0));
        let top = model.top_features(&row, 4);
        assert_eq!(top.len(), 4);
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
        assert!(model.top_features(&row, 0).is_empty());
        assert_eq!(
            model.top_features(&row, 100).len(),
            shares.iter().filter(|&&s| s > 0.0).count()
        );
    }
    // NaN features and short rows do not break attribution
    let shares = model.attribution(&[f64::NAN, 1.0]);
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
}
