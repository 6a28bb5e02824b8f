//! Order statistics and robust scales shared by the detector and the z-score model.

/// MAD -> standard deviation for normal data.
pub const MAD_TO_SD: f64 = 1.4826;
/// Mean absolute deviation -> standard deviation for normal data (sqrt(pi / 2)).
pub const MEAN_AD_TO_SD: f64 = 1.2533;

/// The `q` quantile (0..=1, linear interpolation) of `v`; reorders `v`; NaN for an empty slice.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let (_, &mut a, upper) = v.select_nth_unstable_by(lo, f64::total_cmp);
    if lo + 1 >= n {
        return a;
    }
    let b = upper.iter().copied().fold(f64::INFINITY, f64::min);
    a + (pos - lo as f64) * (b - a)
}

/// Median of `v` (reorders it); NaN when empty.
pub fn median(v: &mut [f64]) -> f64 {
    quantile(v, 0.5)
}

/// A robust standard deviation of `v` around its median: 1.4826 x MAD, or when more than half
/// the values tie (MAD 0), 1.2533 x the mean absolute deviation; 0 when all values are equal
/// or `v` is empty. Reorders `v`.
pub fn robust_sd(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let m = median(v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut dev);
    if mad > 0.0 {
        return MAD_TO_SD * mad;
    }
    MEAN_AD_TO_SD * dev.iter().sum::<f64>() / dev.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_medians_and_robust_scales() {
        assert!(quantile(&mut [], 0.5).is_nan());
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(quantile(&mut [0.0, 10.0], 0.25), 2.5);
        assert_eq!(robust_sd(&mut [5.0, 5.0, 5.0]), 0.0);
        // MAD of 1..=5 around 3 is 1
        assert!((robust_sd(&mut [1.0, 2.0, 3.0, 4.0, 5.0]) - MAD_TO_SD).abs() < 1e-12);
        // more than half tie: mean absolute deviation instead
        let s = robust_sd(&mut [0.0, 0.0, 0.0, 4.0]);
        assert!((s - MEAN_AD_TO_SD * 1.0).abs() < 1e-12, "{s}");
    }
}
