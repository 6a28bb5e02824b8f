//! Random streams and the few samplers the generator needs.
//!
//! Each entity gets one ChaCha8 stream per purpose, keyed by the seed and numbered by
//! `entity_index * 8 + purpose`: entity k never shares draws with entity j, and the noise of one
//! metric does not shift when an anomaly of another metric consumes extra draws.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

/// What a stream is used for (its number within the entity).
#[derive(Clone, Copy, Debug)]
pub(super) enum Purpose {
    Profile = 0,
    Plan = 1,
    Consumption = 2,
    Custody = 3,
    Refill = 4,
    Effects = 5,
}

/// A versioned tag in the key, so a change of the generator that alters its output can change
/// the tag and no two generator versions are mistaken for each other.
const KEY_TAG: &[u8; 24] = b"pg_anomaly demo data v1\0";

pub(super) fn stream(seed: u64, entity_index: u32, purpose: Purpose) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..].copy_from_slice(KEY_TAG);
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(u64::from(entity_index) * 8 + purpose as u64);
    rng
}

/// A Poisson count as f64. Inversion (one uniform, one `exp`) below 30, where it is fastest and
/// `exp(-lambda)` is far from underflow; rand_distr's rejection sampler above.
pub(super) fn poisson<R: Rng>(rng: &mut R, lambda: f64) -> f64 {
    // Also rejects NaN, which compares false with everything.
    if !lambda.is_finite() || lambda <= 0.0 {
        return 0.0;
    }
    if lambda < 30.0 {
        let u: f64 = rng.gen();
        let mut p = (-lambda).exp();
        let mut cdf = p;
        let mut k = 0.0;
        // The cap only guards against u rounding to 1.0 beyond the accumulated cdf.
        while u > cdf && k < 200.0 {
            k += 1.0;
            p *= lambda / k;
            cdf += p;
        }
        k
    } else {
        match Poisson::new(lambda) {
            Ok(d) => d.sample(rng),
            Err(_) => lambda.round(),
        }
    }
}

/// A standard normal draw.
pub(super) fn normal<R: Rng>(rng: &mut R) -> f64 {
    StandardNormal.sample(rng)
}

/// A log-normal factor with mean 1 and log-scale `sigma`.
pub(super) fn unit_lognormal<R: Rng>(rng: &mut R, sigma: f64) -> f64 {
    (sigma * normal(rng) - 0.5 * sigma * sigma).exp()
}

/// Log-uniform in [lo, hi): entity scales spanning two orders of magnitude.
pub(super) fn log_uniform<R: Rng>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    rng.gen_range(lo.ln()..hi.ln()).exp()
}
