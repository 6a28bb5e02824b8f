//! TreeSHAP tests: agreement with brute-force Shapley values of the same tree-path-dependent
//! game (all 2^d coalitions), additivity, symmetry, dummy, the log2-score transform.

use ndarray::Array2;

use super::tests::clusters;
use super::tree::{c_factor, Node, Tree};
use super::{IsolationForest, IsolationForestParams};
use crate::traits::Fit;

/// `v(S)` of one tree: follow the row at splits on features in `s` (a bit set), else
/// average both children by the sample rows that went each way.
fn value(tree: &Tree, j: usize, x: &[f64], s: u32) -> f64 {
    let n: Node = tree.nodes[j];
    if n.is_leaf() {
        return n.value;
    }
    let (l, r) = (n.left as usize, n.left as usize + 1);
    let f = n.feature as usize;
    if s & (1 << f) != 0 {
        return value(tree, if x[f] > n.value { r } else { l }, x, s);
    }
    let (sl, sr, sj) = (tree.sizes[l] as f64, tree.sizes[r] as f64, tree.sizes[j] as f64);
    (sl * value(tree, l, x, s) + sr * value(tree, r, x, s)) / sj
}

fn factorial(n: usize) -> f64 {
    (1..=n).map(|k| k as f64).product()
}

/// Brute-force Shapley values of the forest's mean path length (and v(∅)).
fn brute(model: &IsolationForest, x: &[f64]) -> (f64, Vec<f64>) {
    let d = model.n_features;
    let v = |s: u32| model.trees.iter().map(|t| value(t, 0, x, s)).sum::<f64>() / model.trees.len() as f64;
    let mut phi = vec![0.0; d];
    for (i, p) in phi.iter_mut().enumerate() {
        for s in 0u32..(1 << d) {
            if s & (1 << i) != 0 {
                continue;
            }
            let k = s.count_ones() as usize;
            let w = factorial(k) * factorial(d - k - 1) / factorial(d);
            *p += w * (v(s | (1 << i)) - v(s));
        }
    }
    (v(0), phi)
}

fn small_forest(x: &Array2<f64>, psi: usize, seed: u64) -> IsolationForest {
    IsolationForestParams::new().n_trees(12).max_samples(psi).seed(seed).fit(x.view()).expect("fit")
}

#[test]
fn tree_shap_equals_brute_force_shapley() {
    for (d, psi, seed) in [(2, 8, 1), (3, 16, 2), (4, 32, 3), (5, 64, 4), (4, 256, 5)] {
        let mut x = clusters(400, d, 2, seed);
        // an outlier row, so some paths are short and some long
        x[[0, 0]] += 30.0;
        let model = small_forest(&x, psi, seed);
        for i in [0usize, 1, 57, 203] {
            let row = x.row(i).to_vec();
            let got = model.shap_values(&row);
            let (base, want) = brute(&model, &row);
            assert!((got.base - base).abs() < 1e-9, "d={d} base {} vs {base}", got.base);
            for (j, (g, w)) in got.phi.iter().zip(&want).enumerate() {
                assert!((g - w).abs() < 1e-9, "d={d} row {i} feature {j}: {g} vs {w}");
            }
            // additivity: the values add up to the row's mean path length minus the base
            let sum: f64 = got.phi.iter().sum();
            assert!((sum - (got.value - got.base)).abs() < 1e-9, "sum {sum} vs {}", got.value - got.base);
            assert!((got.value - model.mean_path_length(&row)).abs() < 1e-12);
        }
    }
}

#[test]
fn repeated_feature_on_a_path_is_handled() {
    // one feature among two: paths split on the same feature several times (the unwind case)
    let x = clusters(300, 2, 3, 9);
    let model = small_forest(&x, 128, 9);
    let repeated = model.trees.iter().any(|t| {
        t.nodes.iter().filter(|n| !n.is_leaf()).count() > 3
    });
    assert!(repeated);
    for i in [0usize, 5, 99] {
        let row = x.row(i).to_vec();
        let (_, want) = brute(&model, &row);
        let got = model.shap_values(&row);
        for j in 0..2 {
            assert!((got.phi[j] - want[j]).abs() < 1e-9, "{:?} vs {want:?}", got.phi);
        }
    }
}

#[test]
fn the_outlying_feature_shortens_the_path_most() {
    let x = clusters(2000, 6, 3, 11);
    let model = IsolationForestParams::new().seed(11).fit(x.view()).expect("fit");
    let mut row = x.row(3).to_vec();
    row[4] += 40.0;
    let s = model.shap_values(&row);
    let most = (0..6).min_by(|&a, &b| s.phi[a].total_cmp(&s.phi[b])).unwrap();
    assert_eq!(most, 4, "{:?}", s.phi);
    assert!(s.phi[4] < 0.0);
    assert!(s.value < s.base);
    // log2-score values: positive for the outlying feature, same additivity
    let l = s.to_log2_score(c_factor(model.psi()));
    assert!(l.phi[4] > 0.0);
    let sum: f64 = l.phi.iter().sum();
    assert!((sum - (l.value - l.base)).abs() < 1e-9);
    assert!((l.value - model.score_row(&row).log2()).abs() < 1e-9);
    assert_eq!(model.shap_log2_score(&row), l);
}

#[test]
fn an_unused_feature_gets_zero() {
    // column 2 is constant: no tree can split on it
    let mut x = clusters(500, 4, 2, 13);
    x.column_mut(2).fill(7.0);
    let model = small_forest(&x, 64, 13);
    for i in [0usize, 10, 400] {
        let mut row = x.row(i).to_vec();
        row[2] = -1e6; // whatever the row holds there
        let s = model.shap_values(&row);
        assert_eq!(s.phi[2], 0.0);
        let sum: f64 = s.phi.iter().sum();
        assert!((sum - (s.value - s.base)).abs() < 1e-9);
    }
}

#[test]
fn identical_features_get_equal_values() {
    // columns 0 and 1 are the same data; the forest gets every tree twice, once with the two
    // swapped, so the game is symmetric in them and a row with x0 == x1 must credit both alike
    let mut x = clusters(400, 3, 2, 17);
    let c0 = x.column(0).to_owned();
    x.column_mut(1).assign(&c0);
    let mut model = small_forest(&x, 32, 17);
    let swapped: Vec<Tree> = model
        .trees
        .iter()
        .map(|t| {
            let mut t = t.clone();
            for n in t.nodes.iter_mut().filter(|n| !n.is_leaf() && n.feature < 2) {
                n.feature = 1 - n.feature;
            }
            t
        })
        .collect();
    model.trees.extend(swapped);
    for i in [0usize, 1, 250] {
        let mut row = x.row(i).to_vec();
        row[1] = row[0];
        let s = model.shap_values(&row);
        assert!((s.phi[0] - s.phi[1]).abs() < 1e-9, "{:?}", s.phi);
        let (_, want) = brute(&model, &row);
        assert!((s.phi[0] - want[0]).abs() < 1e-9);
    }
}

#[test]
fn nan_is_imputed_and_single_row_forest_is_zero() {
    let x = clusters(300, 3, 2, 19);
    let model = small_forest(&x, 32, 19);
    let mut row = x.row(4).to_vec();
    row[1] = f64::NAN;
    let mut imputed = row.clone();
    imputed[1] = model.medians()[1];
    assert_eq!(model.shap_values(&row), model.shap_values(&imputed));
    // a short row is padded with medians too
    assert_eq!(model.shap_values(&row[..1]).phi.len(), 3);

    let one = Array2::from_shape_vec((1, 2), vec![1.0, 2.0]).unwrap();
    let m = IsolationForestParams::new().n_trees(3).fit(one.view()).expect("fit");
    let s = m.shap_values(&[5.0, 5.0]);
    assert_eq!(s.phi, vec![0.0, 0.0]);
    assert_eq!(s.to_log2_score(c_factor(m.psi())).phi, vec![0.0, 0.0]);
}
