//! The per-entity constants: scale, seasonality and stock policy.
//!
//! Public so the people tuning detection can see what "normal" is for an entity (its expected
//! count in a slot, its capacity) without re-deriving it from the series.

use rand::Rng;

use super::sample::{log_uniform, stream, Purpose};
use super::STEPS_PER_DAY;

/// The constants of one entity; a pure function of `(seed, entity_index)`.
#[derive(Clone, Debug)]
pub struct EntityProfile {
    /// Mean consumption per step on a weekday (before the per-day factor), 0.2..30.
    pub base_rate: f64,
    /// Shape of the gamma mixing of consumption (negative binomial): smaller is noisier.
    pub nb_shape: f64,
    /// Mean weekend consumption relative to a weekday.
    pub weekend_factor: f64,
    /// Hours by which this entity's daily peaks are shifted.
    pub peak_shift_h: f64,
    /// Stock capacity in items (2-5 days of consumption, at least 40).
    pub capacity: f64,
    /// A refill is ordered when stock falls below this.
    pub reorder_point: f64,
    /// Longest delay, in steps, between ordering a refill and its landing.
    pub max_delay_steps: u32,
    /// Median refill duration in minutes for a typical refill amount.
    pub base_duration_min: f64,
    /// Log-scale spread of refill durations.
    pub duration_sigma: f64,
    /// The usual refill amount (capacity - reorder point), the reference of the duration model.
    pub typical_refill: f64,
    /// Custody usage per step in weekday working hours.
    pub custody_rate: f64,
    /// Weekend custody usage relative to a weekday.
    pub custody_weekend_factor: f64,
    consumption_shape: [[f64; STEPS_PER_DAY]; 2],
    custody_shape: [[f64; STEPS_PER_DAY]; 2],
}

/// Relative spread of the per-day occupancy factor (both counts).
pub(super) const DAY_SIGMA: f64 = 0.1;

impl EntityProfile {
    /// Expected consumption in local slot `slot` (0..96) of a weekday or weekend day.
    pub fn consumption_rate(&self, slot: usize, weekend: bool) -> f64 {
        self.base_rate * self.consumption_shape[usize::from(weekend)][slot % STEPS_PER_DAY]
    }
    /// Expected custody usage in local slot `slot` of a weekday or weekend day.
    pub fn custody_rate_at(&self, slot: usize, weekend: bool) -> f64 {
        self.custody_rate * self.custody_shape[usize::from(weekend)][slot % STEPS_PER_DAY]
    }
}

/// The profile of entity `entity_index` under `seed`.
pub fn entity_profile(seed: u64, entity_index: u32) -> EntityProfile {
    let mut rng = stream(seed, entity_index, Purpose::Profile);
    let base_rate = log_uniform(&mut rng, 0.2, 30.0);
    let nb_shape = rng.gen_range(4.0..16.0);
    let weekend_factor = rng.gen_range(0.55..1.45);
    let peak_shift_h = rng.gen_range(-0.75..0.75);
    let days_of_stock = rng.gen_range(2.0..5.0);
    let capacity = (base_rate * STEPS_PER_DAY as f64 * days_of_stock).round().max(40.0);
    let reorder_frac: f64 = rng.gen_range(0.2..0.35);
    // At least half a day of consumption, so the 2 h worst-case delay never empties the stock
    // in clean data; at most half the capacity, so refills stay a few per cycle.
    let reorder_point = (reorder_frac * capacity).max(0.5 * STEPS_PER_DAY as f64 * base_rate).min(0.5 * capacity).round();
    let max_delay_steps = rng.gen_range(2..=8);
    let base_duration_min = rng.gen_range(20.0..90.0);
    let duration_sigma = rng.gen_range(0.12..0.25);
    let custody_rate = log_uniform(&mut rng, 0.3, 8.0);
    let custody_weekend_factor = rng.gen_range(0.15..0.4);

    let mut consumption_shape = [[0.0; STEPS_PER_DAY]; 2];
    let mut custody_shape = [[0.0; STEPS_PER_DAY]; 2];
    for slot in 0..STEPS_PER_DAY {
        let h = (slot as f64 + 0.5) / 4.0 - peak_shift_h;
        // Hotel: quiet night, breakfast peak, a midday plateau, a dinner / evening peak.
        consumption_shape[0][slot] = 0.12 + 1.7 * bump(h, 8.0, 1.2) + 0.6 * bump(h, 13.0, 1.8) + 1.3 * bump(h, 20.0, 1.6);
        consumption_shape[1][slot] = 0.15 + 1.4 * bump(h, 9.5, 1.5) + 0.8 * bump(h, 13.5, 2.0) + 1.4 * bump(h, 20.5, 1.8);
        // Staff: working hours 08-18 with a lunch dip, a trickle at night.
        let work = sigmoid(3.0 * (h - 8.0)) * sigmoid(3.0 * (18.0 - h)) * (1.0 - 0.4 * bump(h, 12.5, 0.6));
        custody_shape[0][slot] = 0.03 + work;
        custody_shape[1][slot] = 0.03 + work;
    }
    normalise(&mut consumption_shape[0], 1.0);
    normalise(&mut consumption_shape[1], weekend_factor);
    for s in custody_shape[1].iter_mut() {
        *s *= custody_weekend_factor;
    }

    EntityProfile {
        base_rate,
        nb_shape,
        weekend_factor,
        peak_shift_h,
        capacity,
        reorder_point,
        max_delay_steps,
        base_duration_min,
        duration_sigma,
        typical_refill: (capacity - reorder_point).max(1.0),
        custody_rate,
        custody_weekend_factor,
        consumption_shape,
        custody_shape,
    }
}

/// A Gaussian bump on the 24 h circle, so a peak near midnight wraps.
fn bump(h: f64, centre: f64, width: f64) -> f64 {
    let d = (h - centre).rem_euclid(24.0);
    let d = d.min(24.0 - d);
    (-0.5 * (d / width).powi(2)).exp()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Scales `shape` to mean `mean`.
fn normalise(shape: &mut [f64; STEPS_PER_DAY], mean: f64) {
    let m = shape.iter().sum::<f64>() / STEPS_PER_DAY as f64;
    for s in shape.iter_mut() {
        *s *= mean / m;
    }
}
