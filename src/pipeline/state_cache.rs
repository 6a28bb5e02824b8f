//! Process-local cache of the feature kernels' state per series.
//!
//! An incremental feature build normally re-reads a month of look-back per touched series
//! (the 30-period windows and lags need it). A process that built a series' features keeps
//! the kernels' state after its last row ([`SeriesState`]) here, tagged with the
//! `ml_series_state.features_version` its own write produced, and the next build resumes
//! from it reading only the new rows. A kept state is used only while the stored version is
//! still that one (versions come from a sequence and are never reused, so any other writer,
//! a recompute for late data, a rebuild, or a rolled-back transaction makes it stale), its
//! last row is the series' `features_until`, the new rows all come after it, and the metric
//! type's settings and the time zone are unchanged. Resumed rows are bitwise equal to a recompute: the core
//! proves that for any split of a series into batches.
//!
//! Bounded by `pg_anomaly.feature_state_cache_mb` (about 95 kB per series of 15-minute
//! data). When full, states not used by the current build go first, least recently used
//! first; if that is not enough, the new state is not kept. A build touching more series
//! than fit thus keeps a stable part of them warm, where plain LRU would evict each state
//! just before the next build needs it.

use pg_anomaly_core::features::{FeatureParams, SeriesState};
use std::cell::RefCell;
use std::collections::HashMap;

struct Entry {
    state: SeriesState,
    version: i64,
    used: u64,
    bytes: usize,
}

#[derive(Default)]
struct Cache {
    map: HashMap<(String, String), Entry>,
    bytes: usize,
    tick: u64,
    /// The tick at which the current build started.
    build_start: u64,
    /// The current build runs in a process that ends with it (a pg_cron job): keep nothing.
    one_shot: bool,
    /// The time zone (pg_anomaly.timezone) the kept states' calendar buckets were filled in.
    zone: String,
}

/// Marks the start of a feature build (states used before it may be evicted for its own).
/// `one_shot`: the process ends with this run (a pg_cron job runs in a process of its own),
/// so no state it builds would ever be resumed here: [`put`] keeps nothing for this build
/// (the kernel checkpoints carry the next run), instead of holding up to the cache's limit.
/// `zone`: the build's time zone; states kept in another one (pg_anomaly.timezone changed
/// by a reload while the real-time worker kept them) are dropped, since their hour-of-day
/// buckets would carry the old calendar into the new rows.
pub fn begin_build(one_shot: bool, zone: &str) {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.zone != zone {
            c.map.clear();
            c.bytes = 0;
            c.zone = zone.to_string();
        }
        c.tick += 1;
        c.build_start = c.tick;
        c.one_shot = one_shot;
    })
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Whether this process keeps any state (none when the cache is off or nothing was built
/// here yet): a build that could resume nothing skips looking up the stored versions.
pub fn holds_any() -> bool {
    CACHE.with(|c| !c.borrow().map.is_empty())
}

/// Takes the kept state of a series out of the cache when it is still exactly the stored
/// one (see the module doc); a stale one is dropped.
pub fn take(metric_type: &str, entity_id: &str, version: i64, features_until_us: i64, params: &FeatureParams) -> Option<SeriesState> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let e = c.map.remove(&(metric_type.to_string(), entity_id.to_string()))?;
        c.bytes -= e.bytes;
        let fresh = e.version == version && e.state.last_ts() == Some(features_until_us) && e.state.params() == params;
        fresh.then_some(e.state)
    })
}

/// Whether [`put`] may keep states in this build (not in a one-shot process, nor with a
/// cache of 0 bytes): when not, a build drops each state as soon as it needs it no more.
pub fn keeps() -> bool {
    crate::gucs::feature_state_cache_bytes() > 0 && CACHE.with(|c| !c.borrow().one_shot)
}

/// Keeps a series' state after this process wrote its features as `version`.
pub fn put(metric_type: &str, entity_id: &str, version: i64, state: SeriesState) {
    let limit = crate::gucs::feature_state_cache_bytes();
    if limit == 0 {
        return;
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.one_shot {
            return;
        }
        c.tick += 1;
        let bytes = state.approx_bytes() + metric_type.len() + entity_id.len() + 64;
        if c.bytes + bytes > limit {
            let target = limit.saturating_sub(bytes);
            evict_older(&mut c, target);
            if c.bytes + bytes > limit {
                return; // full of states this build uses: do not keep this one
            }
        }
        let used = c.tick;
        if let Some(old) = c.map.insert((metric_type.to_string(), entity_id.to_string()), Entry { state, version, used, bytes }) {
            c.bytes -= old.bytes;
        }
        c.bytes += bytes;
    })
}

/// Drops states the current build has not used, least recently used first, until the
/// cache holds at most `target` bytes.
fn evict_older(c: &mut Cache, target: usize) {
    let start = c.build_start;
    let mut by_age: Vec<(u64, (String, String))> = c.map.iter().filter(|(_, e)| e.used < start).map(|(k, e)| (e.used, k.clone())).collect();
    by_age.sort_unstable_by_key(|(u, _)| *u);
    for (_, k) in by_age {
        if c.bytes <= target {
            break;
        }
        if let Some(e) = c.map.remove(&k) {
            c.bytes -= e.bytes;
        }
    }
}

/// Forgets every kept state of a metric type (or all): a full rebuild starts over.
pub fn forget(metric_type: Option<&str>) {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.map.retain(|k, _| metric_type.is_some_and(|m| k.0 != m));
        c.bytes = c.map.values().map(|e| e.bytes).sum();
    })
}

/// (series kept, bytes) of this process's cache.
pub fn stats() -> (usize, usize) {
    CACHE.with(|c| {
        let c = c.borrow();
        (c.map.len(), c.bytes)
    })
}
