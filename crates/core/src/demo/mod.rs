//! Deterministic, labelled demo data: four metric series per entity of a hotel / warehouse
//! stock system, with injected anomalies whose exact spans are returned as labels.
//!
//! Why it exists: `ml_generate_demo_data()` must give a new installation something realistic
//! to collect, train on and alert about, and the people tuning detection need ground truth.
//!
//! Conventions (the SQL layer and the README rely on them):
//! - One observation per metric type every 15 minutes (`STEP_US`); the last observation is at
//!   `end_us` aligned down to 15 minutes, the first `days * 96 - 1` steps earlier.
//! - Daily patterns follow local time at a fixed UTC+3 (`LOCAL_OFFSET_US`, Istanbul, no DST),
//!   so a "morning peak" is at 08:00 Istanbul even though timestamps are UTC.
//! - Entity `k` (0-based) is `urun_{k+1}` zero-padded to at least 4 digits; its series depend
//!   only on `(seed, k, days, end)`, never on how many entities are generated, so entities can
//!   be generated in any order or in parallel.
//! - No anomaly starts in the first `CLEAN_DAYS` days when `days >= 14` (training must see a
//!   clean full week; see DETECTION.md, "Training span"); for shorter runs, none in the first
//!   half. Anomalies of one entity never overlap within one metric type.
//! - Determinism: ChaCha8 streams give identical draws on every platform; the floating-point
//!   transcendental functions (`exp`, `ln`) come from the platform's libm, so bit-identical
//!   output is guaranteed on one platform and expected (not promised) across platforms.
//!
//! The series and anomaly kinds are described in `README` terms on `generate_entity`.

mod plan;
mod profile;
mod sample;
mod sim;
#[cfg(test)]
mod tests;

use crate::error::{CoreError, CoreResult};

pub use profile::{entity_profile, EntityProfile};

/// The four metric types, in the order of `EntitySeries::values`.
pub const METRIC_TYPES: [&str; 4] = ["stok_seviye", "tuketim_miktar", "dolum_sure", "zimmet_kullanim"];
/// Index of each metric type in `METRIC_TYPES` / `EntitySeries::values`.
pub const STOK: usize = 0;
pub const TUKETIM: usize = 1;
pub const DOLUM: usize = 2;
pub const ZIMMET: usize = 3;

/// The anomaly kinds a label can carry.
pub const KINDS: [&str; 6] = ["spike", "drop", "level_shift", "stuck", "missing_refill", "slow_leak"];

/// One observation every 15 minutes, in microseconds.
pub const STEP_US: i64 = 15 * 60 * 1_000_000;
pub const STEPS_PER_DAY: usize = 96;
pub const DAY_US: i64 = 24 * 60 * 60 * 1_000_000;
/// The fixed local offset (UTC+3, Istanbul) that the daily patterns follow.
pub const LOCAL_OFFSET_US: i64 = 3 * 60 * 60 * 1_000_000;
/// Days at the start of a run (when `days >= 14`) that never contain an anomaly.
pub const CLEAN_DAYS: u32 = 7;
/// Mean number of injected anomalies per entity per 30 days (all kinds together). The count of
/// one entity is this, scaled to `days`, times a uniform factor in [0.5, 1.5), rounded
/// stochastically: 1 to 3 per 30 days at the default of 2.
pub const ANOMALIES_PER_30_DAYS: f64 = 2.0;
pub const MAX_ENTITIES: u32 = 100_000;
pub const MAX_DAYS: u32 = 3650;

/// What to generate. `end_us` is microseconds since the Unix epoch (UTC) of the last
/// observation; it is aligned down to `STEP_US`.
#[derive(Clone, Debug)]
pub struct DemoParams {
    pub entities: u32,
    pub days: u32,
    pub seed: u64,
    pub end_us: i64,
}

impl DemoParams {
    /// Validates the parameters; `generate_entity` assumes they passed.
    pub fn check(&self) -> CoreResult<()> {
        if !(1..=MAX_ENTITIES).contains(&self.entities) {
            return Err(CoreError::invalid_param("entities", self.entities, "must be between 1 and 100000"));
        }
        if !(1..=MAX_DAYS).contains(&self.days) {
            return Err(CoreError::invalid_param("days", self.days, "must be between 1 and 3650"));
        }
        let span = (self.n_steps() as i64 - 1) * STEP_US;
        let ok = self
            .end_aligned_us()
            .checked_sub(span)
            .and_then(|s| s.checked_add(LOCAL_OFFSET_US))
            .and_then(|_| self.end_aligned_us().checked_add(LOCAL_OFFSET_US))
            .is_some();
        if !ok {
            return Err(CoreError::invalid_param("end", self.end_us, "the time span does not fit in a timestamp"));
        }
        Ok(())
    }

    /// Observations per metric type and entity: `days * 96`.
    pub fn n_steps(&self) -> usize {
        self.days.min(MAX_DAYS) as usize * STEPS_PER_DAY
    }

    /// `end_us` aligned down to a 15-minute boundary: the timestamp of the last observation.
    pub fn end_aligned_us(&self) -> i64 {
        // Saturates only for instants `check` rejects anyway.
        self.end_us.saturating_sub(self.end_us.rem_euclid(STEP_US))
    }

    /// The timestamp of the first observation.
    pub fn start_us(&self) -> i64 {
        let span = (self.n_steps() as i64 - 1).max(0) * STEP_US;
        self.end_aligned_us().saturating_sub(span)
    }

    /// The timestamp of observation `i`.
    pub fn timestamp_us(&self, i: usize) -> i64 {
        self.start_us().saturating_add(i as i64 * STEP_US)
    }

    /// Steps at the start that never contain an anomaly (see the module doc).
    pub fn clean_steps(&self) -> usize {
        if self.days >= 2 * CLEAN_DAYS {
            CLEAN_DAYS as usize * STEPS_PER_DAY
        } else {
            self.n_steps() / 2
        }
    }
}

/// The entity id of 0-based `index`: `urun_0001` for index 0, zero-padded to at least 4 digits
/// and to the width of `entities`, so the ids of one run sort in index order.
pub fn entity_id(index: u32, entities: u32) -> String {
    let width = entities.max(index.saturating_add(1)).to_string().len().max(4);
    format!("urun_{:0width$}", u64::from(index) + 1, width = width)
}

/// One injected anomaly: on `metric_type` of entity `entity_index`, from `starts_at_us` to
/// `ends_at_us` inclusive (both observation timestamps).
#[derive(Clone, Debug, PartialEq)]
pub struct DemoLabel {
    pub metric_type: &'static str,
    pub entity_index: u32,
    pub starts_at_us: i64,
    pub ends_at_us: i64,
    pub kind: &'static str,
}

/// All four series of one entity: values[m][i] is METRIC_TYPES[m] at start_us + i*STEP_US.
#[derive(Clone, Debug)]
pub struct EntitySeries {
    pub entity_index: u32,
    pub values: [Vec<f64>; 4],
    pub labels: Vec<DemoLabel>,
}

/// The step indices a label covers in its entity's series, for scoring a detector row by row:
/// `values[m][i]` for `i` in the range, with `m` the label's metric index.
pub fn label_steps(params: &DemoParams, label: &DemoLabel) -> std::ops::RangeInclusive<usize> {
    let step = |t: i64| (t.saturating_sub(params.start_us()) / STEP_US).max(0) as usize;
    step(label.starts_at_us)..=step(label.ends_at_us)
}

/// The index in `METRIC_TYPES` of a metric type name.
pub fn metric_index(metric_type: &str) -> Option<usize> {
    METRIC_TYPES.iter().position(|&m| m == metric_type)
}

/// Generates the four series and the labels of entity `entity_index` (0-based).
///
/// Series:
/// - `tuketim_miktar`: items consumed per 15 min. Negative-binomial counts (gamma-Poisson)
///   around a rate = entity level (log-uniform 0.2..30 per step on a weekday) x hotel daily
///   profile (night low, peaks near 08:00 and 20:00 local, later morning on weekends) x a
///   per-entity weekend factor (0.55..1.45) x a per-day occupancy factor (log-normal, 10 %).
/// - `stok_seviye`: items in stock. stock(t) = max(0, stock(t-1) + refill(t) - consumption(t));
///   when it falls below the reorder point a refill is ordered and lands 1..8 steps later,
///   filling to 92-100 % of capacity (2-5 days of consumption). Outside anomalies
///   `stock diff + consumption` is exactly 0, except at refills (positive).
/// - `dolum_sure`: minutes the most recent refill took (a step function that changes at each
///   refill): log-normal around a per-entity base (20..90 min), growing as amount^0.3.
/// - `zimmet_kullanim`: items in custody used per 15 min: Poisson counts with a working-hours
///   profile (08-18 local, lunch dip), weekends at 15-40 %, a per-day factor.
///
/// Anomalies (labelled only on the metric whose behaviour is anomalous):
/// - `spike` on tuketim_miktar or zimmet_kullanim: 1-3 steps with 5-10x the slot's normal
///   count added. A consumption spike is real consumption, so stock falls accordingly.
/// - `drop` on tuketim_miktar: consumption is 0 for 2-10 h during busy hours (07-22 local),
///   an outage; stock stays flat accordingly.
/// - `level_shift` on tuketim_miktar (rate x2.5-4 for 1-3 days; stock and refills follow) or on
///   dolum_sure (refills landing in a 1-3 day window, or the first one after it starts, take
///   x2.5-4 as long; labelled from the first slow refill until the next normal one).
/// - `stuck` on stok_seviye (the reported stock repeats the last value for 8-24 h while true
///   stock moves on; the recovery jump follows the label) or on zimmet_kullanim (the count
///   repeats one value for 8-24 h, starting in working hours on a weekday).
/// - `missing_refill` on stok_seviye: the next refill ordered is skipped; labelled from when it
///   should have landed until the late refill, after the stock has been 0 for 6-24 h.
/// - `slow_leak` on stok_seviye: stock loses a constant extra 1 item or 40-100 % of the mean
///   consumption per step for 8-36 h, consumption unchanged.
pub fn generate_entity(params: &DemoParams, entity_index: u32) -> EntitySeries {
    let n = params.n_steps();
    let start_us = params.start_us();
    let clock = Clock::new(start_us);
    let profile = entity_profile(params.seed, entity_index);
    let mut plan_rng = sample::stream(params.seed, entity_index, sample::Purpose::Plan);
    let planned = plan::plan_anomalies(&mut plan_rng, &profile, &clock, n, params.clean_steps(), params.days);
    let (values, spans) = sim::simulate(&profile, &planned, &clock, n, params.seed, entity_index);
    let mut labels: Vec<DemoLabel> = spans
        .into_iter()
        .map(|s| {
            let (metric, kind) = s.kind.label();
            DemoLabel {
                metric_type: METRIC_TYPES[metric],
                entity_index,
                starts_at_us: start_us.saturating_add(s.start as i64 * STEP_US),
                ends_at_us: start_us.saturating_add(s.end as i64 * STEP_US),
                kind,
            }
        })
        .collect();
    labels.sort_by(|a, b| (a.starts_at_us, a.metric_type).cmp(&(b.starts_at_us, b.metric_type)));
    EntitySeries { entity_index, values, labels }
}

/// Local (UTC+3) calendar position of each step, computed from the first step so the hot loop
/// only adds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    slot0: usize,
    day0: i64,
}

impl Clock {
    pub(crate) fn new(start_us: i64) -> Clock {
        let local_step = start_us.saturating_add(LOCAL_OFFSET_US).div_euclid(STEP_US);
        Clock { slot0: local_step.rem_euclid(STEPS_PER_DAY as i64) as usize, day0: local_step.div_euclid(STEPS_PER_DAY as i64) }
    }
    /// 15-minute slot of the local day (0 = 00:00-00:15 local).
    pub(crate) fn slot(&self, i: usize) -> usize {
        (self.slot0 + i) % STEPS_PER_DAY
    }
    /// Local day number since 1970-01-01.
    pub(crate) fn local_day(&self, i: usize) -> i64 {
        self.day0 + ((self.slot0 + i) / STEPS_PER_DAY) as i64
    }
    /// Saturday or Sunday, local time (1970-01-01 was a Thursday).
    pub(crate) fn weekend(&self, i: usize) -> bool {
        (self.local_day(i) + 3).rem_euclid(7) >= 5
    }
}
