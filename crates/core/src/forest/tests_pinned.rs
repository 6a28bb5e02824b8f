//! Scores pinned from before the forest's trees moved to the linfa-isolation-forest crate:
//! the same seed must keep giving bit-identical scores (and so identical stored models).

use super::IsolationForestParams;
use crate::traits::Fit;
use ndarray::Array2;

fn data() -> Array2<f64> {
    // deterministic, no RNG: a skewed cloud with a few far rows, irrational steps
    Array2::from_shape_fn((700, 4), |(i, j)| {
        let t = (i * 7 + j * 13) as f64;
        let base = (t * 0.618_033_988_749_895).fract() * (1.0 + j as f64) - 0.5;
        if i % 97 == 0 { base * 25.0 + 3.0 } else { base }
    })
}

#[test]
fn scores_are_pinned_across_the_move_to_the_linfa_crate() {
    let x = data();
    let forest = IsolationForestParams::new().n_trees(60).max_samples(128).max_features(0.75).seed(1234).contamination(Some(0.02)).fit(x.view()).unwrap();
    let scores = forest.score(x.view());
    let picked: Vec<u64> = [0usize, 1, 97, 350, 699].iter().map(|&i| scores[i].to_bits()).collect();
    let sum_bits = scores.sum().to_bits();
    let bytes = forest.to_bytes().unwrap();
    let checksum = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    println!("PINNED {picked:?} {sum_bits} {:?} {} {checksum}", forest.threshold().map(f64::to_bits), bytes.len());
    assert_eq!(picked, PICKED);
    assert_eq!(sum_bits, SUM_BITS);
    assert_eq!(forest.threshold().map(f64::to_bits), THRESHOLD_BITS);
    assert_eq!((bytes.len(), checksum), BYTES);
}

const PICKED: [u64; 5] = [4603529625861218247, 4601816617910086468, 4605238094564913494, 4601701979297799429, 4601977561473046255];
const SUM_BITS: u64 = 4644481355338267873;
const THRESHOLD_BITS: Option<u64> = Some(4603370197566873192);
const BYTES: (usize, u64) = (60805, 8517278449140656942);
