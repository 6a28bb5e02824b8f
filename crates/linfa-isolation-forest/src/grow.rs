//! The seeded parts of a fit: which rows estimate the medians (and a contamination
//! threshold), which rows and features each tree sees. Tree `t` draws from ChaCha8 stream `t`
//! of the master seed, so a tree depends only on (seed, t), never on the order trees are
//! built in, and the estimation rows use a stream of their own.

use linfa::Float;
use ndarray::ArrayView2;
use rand::seq::index;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::tree::{Tree, TreeBuilder};

/// ChaCha stream of the estimation subsample; trees use streams 0..n_trees.
const ESTIMATION_STREAM: u64 = u64::MAX;

/// All rows when there are at most `max_rows`, else a seeded subsample of `max_rows` rows
/// (sorted).
pub fn estimation_rows(n_rows: usize, max_rows: usize, seed: u64) -> Vec<usize> {
    if n_rows <= max_rows {
        return (0..n_rows).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(ESTIMATION_STREAM);
    let mut rows = index::sample(&mut rng, n_rows, max_rows).into_vec();
    rows.sort_unstable();
    rows
}

/// Median of each feature over `rows` (mean of the two middle values for an even count).
pub fn feature_medians<F: Float>(records: &ArrayView2<F>, rows: &[usize]) -> Vec<F> {
    let mut column = Vec::with_capacity(rows.len());
    (0..records.ncols())
        .map(|j| {
            column.clear();
            column.extend(rows.iter().map(|&r| records[[r, j]]));
            median_in_place(&mut column)
        })
        .collect()
}

/// Median of finite values (reorders them); 0 for an empty slice.
pub fn median_in_place<F: Float>(values: &mut [F]) -> F {
    let n = values.len();
    if n == 0 {
        return F::zero();
    }
    let (_, &mut upper, _) = values.select_nth_unstable_by(n / 2, total_order);
    if n % 2 == 1 {
        return upper;
    }
    let lower = values[..n / 2].iter().copied().fold(F::neg_infinity(), F::max);
    // halves first: lower + upper may overflow
    let two = F::cast(2.0);
    lower / two + upper / two
}

/// IEEE total order restricted to non-NaN values (−0 before +0), as `f64::total_cmp`, for
/// any float type.
fn total_order<F: Float>(a: &F, b: &F) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal).then(a.is_sign_positive().cmp(&b.is_sign_positive()))
}

/// Grows tree `t` of a forest: `k` of the features (all when `k >= n_features`), `psi` rows
/// drawn without replacement, split down to depth `limit`.
pub fn grow_tree<F: Float>(records: &ArrayView2<F>, psi: usize, k: usize, limit: u32, seed: u64, t: u64) -> Tree<F> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(t);
    let n_features = records.ncols();
    let features: Vec<u32> = if k >= n_features {
        (0..n_features as u32).collect()
    } else {
        let mut f: Vec<u32> = index::sample(&mut rng, n_features, k).iter().map(|i| i as u32).collect();
        f.sort_unstable();
        f
    };
    let rows = index::sample(&mut rng, records.nrows(), psi);
    let mut sample = Vec::with_capacity(psi * n_features);
    for r in rows.iter() {
        sample.extend(records.row(r).iter().copied());
    }
    TreeBuilder::new(&sample, n_features, features, limit, &mut rng).grow()
}
