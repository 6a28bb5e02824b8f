//! Stages 2-3: feature engineering into the feature store, incremental (new, late and
//! corrected metrics) or a full rebuild, serial or one partition of a parallel rebuild.

use super::stage::StageRun;
use super::state_cache;
use crate::errors::Result;
use crate::storage::features::CheckpointAction;
use crate::storage::{checkpoints, citus, features as store, from_unix_us, locks, settings, to_unix_us};
use pg_anomaly_core::codec::partition_of;
use pg_anomaly_core::features::{owner_tag, FeatureParams, FeatureRow, SeriesState};
use pgrx::datum::TimestampWithTimeZone;
use std::collections::HashMap;

/// Series per read query of a full rebuild: bounds the backend's memory (one chunk of
/// series histories at a time) whatever the number of series.
const SERIES_PER_CHUNK: usize = 64;
/// The same for an incremental build, whose series are read from a checkpoint or over at
/// most their look-back (31 periods): larger chunks pay each statement's fixed cost less
/// often (at 1,000 entities, one chunk per metric type: 4 per tick instead of 16 with 256).
/// A chunk's decoded states take about 90 kB each (15-minute data), ~90 MB at once.
const SERIES_PER_INCREMENTAL_CHUNK: usize = 1024;

/// The feature stage, callable from other stages (detection builds missing features first).
pub fn build(metric_type: Option<&str>, full_rebuild: bool, trigger: &str) -> Result<i64> {
    if !StageRun::lock(locks::Stage::Features, BUSY)? {
        return Ok(0);
    }
    let run = StageRun::start("features", metric_type, trigger)?;
    // a pg_cron run is a process of its own that ends with its job: it keeps no state
    state_cache::begin_build(trigger == "cron", &settings::feature_time_zone()?);
    let (rows_in, rows_out) = if crate::gucs::citus_shard_builds() && citus::metrics_distributed()? {
        // Citus: every shard is built on its worker, all at once; the coordinator only
        // hands out its feature settings and adds up the rows.
        citus::build_on_shards(metric_type, full_rebuild, &settings::feature_settings_text()?)?
    } else {
        build_locked(metric_type, full_rebuild, None)?
    };
    run.success(None, rows_in, rows_out)?;
    Ok(rows_out)
}

/// One shard's part of a feature build on a Citus cluster, run on the worker that holds
/// the shard (`citus::build_on_shards` calls it there through ml_build_features_shard):
/// the series of that shard that changed (or all of them), with the coordinator's feature
/// settings. Every statement names the shard's series, so it stays on this node. Returns
/// (rows read, rows written).
pub fn build_shard(shard: &str, metric_type: Option<&str>, full_rebuild: bool, settings_text: &str) -> Result<(i64, i64)> {
    let Some(group) = citus::shard_group(shard)? else {
        return Err(crate::errors::invalid("shard", shard, "not a shard of ml_metrics on this node"));
    };
    let Some(fs) = settings::parse_feature_settings(settings_text) else {
        return Err(crate::errors::invalid("settings", "(text)", "not the feature settings of a coordinator"));
    };
    // The override ends with this call, also when an error unwinds through it (Citus keeps
    // the worker's connection, and so this backend, for later commands).
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            settings::override_feature_settings(None);
        }
    }
    settings::override_feature_settings(Some(fs));
    let _reset = Reset;
    {
        let work = citus::shard_work(&group, metric_type, full_rebuild)?;
        if full_rebuild {
            let mut i = 0;
            while i < work.len() {
                let mut j = i;
                while j < work.len() && work[j].0 == work[i].0 {
                    j += 1;
                }
                let entities: Vec<String> = work[i..j].iter().map(|w| w.1.clone()).collect();
                citus::clear_series(&work[i].0, &entities)?;
                i = j;
            }
        }
        // no checkpoints on a Citus cluster: the shards' series state is not local
        build_work(work, full_rebuild, false)
    }
}

/// The NOTICE of a feature build that finds another one running.
pub const BUSY: &str = "another feature build is running; skipping this one";

/// Work list: (metric_type, entity_id, first timestamp to compute).
fn work_list(metric_type: Option<&str>, full_rebuild: bool) -> Result<Vec<(String, String, TimestampWithTimeZone)>> {
    if full_rebuild {
        state_cache::forget(metric_type);
        store::clear(metric_type)?;
        Ok(store::all_series(metric_type)?
            .into_iter()
            .map(|(m, e)| (m, e, TimestampWithTimeZone::negative_infinity()))
            .collect())
    } else {
        store::take_dirty(metric_type)
    }
}

/// Builds the features of one partition of the series (entity hash modulo `n` equal to
/// `k`) from scratch, without clearing (a parallel rebuild clears first, separately):
/// what each worker of a parallel full rebuild does. Returns (rows read, rows written).
pub fn build_partition(metric_type: Option<&str>, k: u32, n: u32) -> Result<(i64, i64)> {
    build_locked(metric_type, true, Some((k, n)))
}

fn build_locked(metric_type: Option<&str>, full_rebuild: bool, partition: Option<(u32, u32)>) -> Result<(i64, i64)> {
    let mut work = match partition {
        None => work_list(metric_type, full_rebuild)?,
        Some(_) => store::all_series(metric_type)?
            .into_iter()
            .map(|(m, e)| (m, e, TimestampWithTimeZone::negative_infinity()))
            .collect(),
    };
    if let Some((k, n)) = partition {
        work.retain(|w| partition_of(&w.1, n) == k);
    }
    let checkpoints = checkpoints::available()? && !citus::is_distributed("ml_series_state")?;
    build_work(work, full_rebuild && partition.is_none(), checkpoints)
}

/// Builds the features of a work list sorted by metric type; `cleared`: the old rows of
/// these series are gone already (a full rebuild), so no chunk deletes first; `checkpoints`:
/// resume series from ml_series_checkpoint and keep it up to date.
fn build_work(work: Vec<(String, String, TimestampWithTimeZone)>, cleared: bool, checkpoints: bool) -> Result<(i64, i64)> {
    let (mut rows_in, mut rows_out) = (0i64, 0i64);
    let tz = if checkpoints { Some(settings::feature_time_zone()?) } else { None };
    let mut i = 0;
    while i < work.len() {
        let mt = work[i].0.clone();
        let mut j = i;
        while j < work.len() && work[j].0 == mt {
            j += 1;
        }
        let (period_us, stat_window_us) = settings::feature_windows(&mt)?;
        let params = FeatureParams { period_us, stat_window_us, ..FeatureParams::default() };
        params.check()?;
        // a rebuild (cleared, or a parallel worker's share: from minus infinity) reads whole histories
        let whole = cleared || work[i..j].iter().any(|w| !w.2.is_finite());
        let per_chunk = if whole { SERIES_PER_CHUNK } else { SERIES_PER_INCREMENTAL_CHUNK };
        for chunk in work[i..j].chunks(per_chunk) {
            pgrx::check_for_interrupts!();
            let (r, w) = build_chunk(&mt, chunk, &params, cleared, tz.as_deref())?;
            rows_in += r;
            rows_out += w;
        }
        i = j;
    }
    Ok((rows_in, rows_out))
}

/// Builds the features of one chunk of series of a metric type and writes them; returns
/// (rows read, rows written). Series this process kept the kernel state of resume from it,
/// others from a current checkpoint (ml_series_checkpoint, when `tz` is given), reading only
/// rows after the state's last one; the rest read their look-back.
fn build_chunk(
    metric_type: &str,
    chunk: &[(String, String, TimestampWithTimeZone)],
    params: &FeatureParams,
    full_rebuild: bool,
    tz: Option<&str>,
) -> Result<(i64, i64)> {
    let _no_jit = crate::storage::PlannerGuard::jit_off();
    let entities: Vec<String> = chunk.iter().map(|c| c.1.clone()).collect();
    let from: Vec<TimestampWithTimeZone> = chunk.iter().map(|c| c.2).collect();
    if !full_rebuild {
        store::delete_from(metric_type, &entities, &from)?;
    }
    let t0 = std::time::Instant::now();
    let mut kept = if state_cache::holds_any() && !full_rebuild { kept_states(metric_type, chunk, params)? } else { HashMap::new() };
    let in_memory = kept.len();
    // checkpoints still valid after this build: series whose new rows all come after theirs
    let mut valid_cp: HashMap<String, i64> = HashMap::new();
    // their encoded states, decoded one at a time while computing (a state is ~90 kB in
    // memory: decoding a chunk's worth at once costs as much in fresh pages as in decoding)
    let mut pending: HashMap<String, (Vec<u8>, i64)> = HashMap::new();
    let mut t_load = t0.elapsed();
    if let (Some(tz), false) = (tz, full_rebuild) {
        let want: Vec<String> = entities.iter().filter(|e| !kept.contains_key(*e)).cloned().collect();
        let stored = checkpoints::load(metric_type, &entities, &want, tz)?;
        t_load = t0.elapsed();
        for (e, cp) in stored {
            let Some(c) = chunk.iter().find(|c| c.1 == e) else { continue };
            if !cp.current || to_unix_us(c.2) <= cp.until_us {
                continue;
            }
            valid_cp.insert(e.clone(), cp.until_us);
            if let Some(bytes) = cp.bytes {
                pending.insert(e, (bytes, cp.until_us));
            }
        }
    }
    let t_decode = t0.elapsed();
    let (series, resumed, cold) = read_chunk(metric_type, chunk, params, &kept, &pending)?;
    let t1 = t0.elapsed();
    // drop each state right after its rows unless this build keeps it in memory or writes it
    let keep_all = !full_rebuild && state_cache::keeps();
    // whether a series' checkpoint is (re)written after this build: with checkpoints, when it
    // has none still valid or got far enough past it
    let refresh = |valid_cp: &HashMap<String, i64>, e: &str, last: i64| match valid_cp.get(e) {
        Some(&until) if tz.is_some() => last.saturating_sub(until) >= refresh_after_us(params.period_us, e),
        _ => tz.is_some(),
    };
    let mut out = Computed::default();
    let failed = compute(metric_type, &series, params, &mut kept, &mut pending, keep_all, &|e, l| refresh(&valid_cp, e, l), &mut out)?;
    if !failed.is_empty() {
        // checkpoints that did not decode: those series again, from their look-back
        let (mut bad, mut detail) = (0usize, String::new());
        for (e, why) in &failed {
            valid_cp.remove(e);
            if let Some(why) = why {
                bad += 1;
                detail = format!("entity {e}: {why}");
            }
        }
        if bad > 0 {
            pgrx::warning!(
                "pg_anomaly: {bad} kernel checkpoint(s) of metric type {metric_type} could not be used and were recomputed from their look-back (last: {detail})"
            );
        }
        let again: Vec<(String, String, TimestampWithTimeZone)> = chunk.iter().filter(|c| failed.iter().any(|f| f.0 == c.1)).cloned().collect();
        let (series, _, _) = read_chunk(metric_type, &again, params, &HashMap::new(), &HashMap::new())?;
        let none = compute(metric_type, &series, params, &mut HashMap::new(), &mut HashMap::new(), keep_all, &|e, l| refresh(&valid_cp, e, l), &mut out)?;
        debug_assert!(none.is_empty());
    }
    let Computed { batch, read, entities, firsts, lasts, mut states } = out;
    let t2 = t0.elapsed();
    let written = store::insert(batch)?;
    let t3 = t0.elapsed();
    let mut saves = Vec::new();
    let mut n_carried = 0usize;
    if !entities.is_empty() {
        // Each series' checkpoint after this build, decided before its state is written so
        // that one statement writes both: a new one when due (compute kept the states whose
        // checkpoint is due), kept when still valid and not due, else none.
        let actions: Option<Vec<CheckpointAction>> = tz.map(|_| {
            entities
                .iter()
                .zip(&lasts)
                .map(|(e, l)| match (states.contains_key(e), refresh(&valid_cp, e, to_unix_us(*l))) {
                    (true, true) => CheckpointAction::Write,
                    (_, false) => CheckpointAction::Keep,
                    (false, true) => CheckpointAction::Drop,
                })
                .collect()
        });
        let action_of: HashMap<String, (CheckpointAction, i64)> = match &actions {
            Some(a) => entities.iter().cloned().zip(a.iter().copied().zip(lasts.iter().map(|l| to_unix_us(*l)))).collect(),
            None => HashMap::new(),
        };
        n_carried = actions.as_ref().map(|a| a.iter().filter(|x| **x == CheckpointAction::Keep).count()).unwrap_or(0);
        for (e, version) in store::advance_state(metric_type, entities, firsts, lasts, actions)? {
            let state = states.remove(&e);
            if let Some(&(action, last)) = action_of.get(&e) {
                if let Some(mut st) = state {
                    if action == CheckpointAction::Write {
                        let bytes = st.encode(owner_tag(metric_type, &e));
                        let oldest = st.first_ts().unwrap_or(last);
                        saves.push((e.clone(), version, from_unix_us(last), from_unix_us(oldest), bytes));
                    }
                    if keep_all {
                        state_cache::put(metric_type, &e, version, st);
                    }
                }
            } else if let Some(st) = state.filter(|_| keep_all) {
                // a full rebuild (often a one-off in a session, or a parallel worker about
                // to exit) keeps nothing in memory; incremental builds, the real-time worker's, do
                state_cache::put(metric_type, &e, version, st);
            }
        }
    }
    let saved_bytes: usize = saves.iter().map(|s| s.4.len()).sum();
    let n_saved = saves.len();
    if let Some(tz) = tz {
        checkpoints::save(metric_type, tz, saves)?;
    }
    let (cached, cached_bytes) = state_cache::stats();
    pgrx::debug1!(
        "pg_anomaly features chunk: {} series resumed ({} in memory, {} from checkpoints), {} from the look-back ({} states, {} kB kept); {} checkpoints written ({} kB), {} carried; read {:?} (checkpoints {:?}, decoding {:?}) compute {:?} insert {:?} state {:?}",
        resumed,
        in_memory,
        resumed.saturating_sub(in_memory),
        cold,
        cached,
        cached_bytes >> 10,
        n_saved,
        saved_bytes >> 10,
        n_carried,
        t1,
        t_load,
        t_decode - t_load,
        t2 - t1,
        t3 - t2,
        t0.elapsed() - t3
    );
    Ok((read, written))
}

/// How far a series may get past its checkpoint before a new one is written: between half
/// a period and one and a half, by a hash of the entity, so the series of a metric type
/// (all checkpointed by the same full build) spread their rewrites over the ticks of a day.
fn refresh_after_us(period_us: i64, entity_id: &str) -> i64 {
    let spread = i64::from(partition_of(entity_id, 1024));
    period_us / 2 + (period_us / 1024).saturating_mul(spread)
}

/// The kept kernel states this chunk can resume from: only series whose new rows all come
/// after the kept state's last row (late or corrected rows recompute from the look-back)
/// and whose rows are all still stored (retention drops none of them).
fn kept_states(
    metric_type: &str,
    chunk: &[(String, String, TimestampWithTimeZone)],
    params: &FeatureParams,
) -> Result<HashMap<String, SeriesState>> {
    let mut kept = HashMap::new();
    let stored = store::versions(metric_type, &chunk.iter().map(|c| c.1.clone()).collect::<Vec<_>>())?;
    for c in chunk {
        let Some(&(until, version)) = stored.get(&c.1) else { continue };
        if to_unix_us(c.2) <= until {
            continue;
        }
        if let Some(st) = state_cache::take(metric_type, &c.1, version, until, params) {
            kept.insert(c.1.clone(), st);
        }
    }
    // Retention may have dropped rows a kept state holds since it was kept (ml_cleanup runs
    // in another process; nothing about the series' version tells): with a retention
    // shorter than the look-back it always does. Such a state is dropped and its series
    // recomputed from the rows that are left, as the checkpoints are (ml_cleanup forgets
    // those itself).
    if !kept.is_empty() {
        let (names, oldest): (Vec<String>, Vec<i64>) = kept.iter().filter_map(|(e, st)| Some((e.clone(), st.first_ts()?))).unzip();
        let present = store::rows_present(metric_type, &names, &oldest)?;
        kept.retain(|e, st| st.first_ts().is_none() || present.contains(e));
    }
    Ok(kept)
}

/// Reads the chunk's series: from just after the kept state's last row for resumed ones
/// (no look-back; rows before the first one to compute only feed the state), with the
/// look-back for the others. Returns the series and how many were resumed and read cold.
fn read_chunk(
    metric_type: &str,
    chunk: &[(String, String, TimestampWithTimeZone)],
    params: &FeatureParams,
    kept: &HashMap<String, SeriesState>,
    pending: &HashMap<String, (Vec<u8>, i64)>,
) -> Result<(Vec<store::SeriesData>, usize, usize)> {
    let (mut cold_e, mut cold_f, mut warm_e, mut warm_f) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut first: HashMap<&str, i64> = HashMap::new();
    for c in chunk {
        match kept.get(&c.1).and_then(|st| st.last_ts()).or_else(|| pending.get(&c.1).map(|p| p.1)) {
            Some(last) => {
                warm_e.push(c.1.clone());
                warm_f.push(from_unix_us(last + 1));
                first.insert(&c.1, to_unix_us(c.2));
            }
            None => {
                cold_e.push(c.1.clone());
                cold_f.push(c.2);
            }
        }
    }
    let mut series = store::read_series(metric_type, &cold_e, &cold_f, params.lookback_us())?;
    if !warm_e.is_empty() {
        // look-back 0 from just after the kept state's last row
        let mut warm = store::read_series(metric_type, &warm_e, &warm_f, 0)?;
        for s in &mut warm {
            if let Some(&f) = first.get(s.entity_id.as_str()) {
                s.first_out = s.obs.partition_point(|o| o.ts < f);
            }
        }
        series.extend(warm);
    }
    Ok((series, warm_e.len(), cold_e.len()))
}

/// The feature rows of a chunk, ready to write, and the kernels' state after each series
/// (those asked to be kept).
struct Computed {
    batch: store::FeatureBatch,
    read: i64,
    entities: Vec<String>,
    firsts: Vec<TimestampWithTimeZone>,
    lasts: Vec<TimestampWithTimeZone>,
    states: HashMap<String, SeriesState>,
}

impl Default for Computed {
    fn default() -> Self {
        Computed {
            batch: store::FeatureBatch::new(0),
            read: 0,
            entities: Vec::new(),
            firsts: Vec::new(),
            lasts: Vec::new(),
            states: HashMap::new(),
        }
    }
}

/// Feeds each series through the feature kernels (resuming a kept state, decoding a pending
/// checkpoint, or warming a new state on the look-back first) and adds its rows to `out`.
/// A state is kept in `out.states` when `keep_all` or `keep(entity, last ts)` says so.
/// Returns the series whose checkpoint could not be used (with why, when it was damaged
/// rather than of other settings): they were read without look-back, so nothing of them
/// was added, and they must be read again with it.
#[allow(clippy::too_many_arguments)]
fn compute(
    metric_type: &str,
    series: &[store::SeriesData],
    params: &FeatureParams,
    kept: &mut HashMap<String, SeriesState>,
    pending: &mut HashMap<String, (Vec<u8>, i64)>,
    keep_all: bool,
    keep: &dyn Fn(&str, i64) -> bool,
    out: &mut Computed,
) -> Result<Vec<(String, Option<String>)>> {
    let mut rows: Vec<FeatureRow> = Vec::new();
    let mut failed = Vec::new();
    for s in series {
        if s.first_out >= s.obs.len() {
            out.read += s.obs.len() as i64;
            continue;
        }
        rows.clear();
        let mut st = match (kept.remove(&s.entity_id), pending.remove(&s.entity_id)) {
            (Some(st), _) => st,
            (None, Some((bytes, until))) => match SeriesState::decode(&bytes, params, owner_tag(metric_type, &s.entity_id)) {
                Ok(st) if st.last_ts() == Some(until) => st,
                Ok(_) => {
                    failed.push((s.entity_id.clone(), Some("its last row is not the stored one".to_string())));
                    continue;
                }
                Err(e) => {
                    // other settings: a normal recompute; anything else is recorded
                    let why = (e.kind == pg_anomaly_core::error::ErrorKind::Corrupt).then(|| e.detail.clone().unwrap_or(e.message.clone()));
                    failed.push((s.entity_id.clone(), why));
                    continue;
                }
            },
            (None, None) => SeriesState::new(params),
        };
        out.read += s.obs.len() as i64;
        st.feed(&s.obs[..s.first_out], false, &mut rows)?;
        st.feed(&s.obs[s.first_out..], true, &mut rows)?;
        for (row, o) in rows.iter().zip(&s.obs[s.first_out..]) {
            out.batch.push(metric_type, &s.entity_id, o.value, row);
        }
        let last = s.obs.last().map(|o| o.ts).unwrap_or(s.obs[s.first_out].ts);
        out.entities.push(s.entity_id.clone());
        out.firsts.push(from_unix_us(s.obs[s.first_out].ts));
        out.lasts.push(from_unix_us(last));
        if keep_all || keep(&s.entity_id, last) {
            out.states.insert(s.entity_id.clone(), st);
        }
    }
    Ok(failed)
}
