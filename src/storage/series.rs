//! Reading stored feature rows per series for training and scoring, with the aligned value
//! of the cross metric (stock scored against recorded consumption).

use super::{from_unix_us, to_unix_us};
use crate::errors::Result;
use pg_anomaly_core::detect::SeriesRows;
use pg_anomaly_core::features::{col, NUM_FEATURES};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

/// Reads the rows of `entities` of a metric type with ts in [from[i] - lookback, until),
/// one series per entity ordered by entity, each in time order, plus the aux metric's value at the same instant. Only the
/// columns the detector reads are filled (calendar and median); the rest stay None.
pub fn read(
    metric_type: &str,
    aux_metric: Option<&str>,
    entities: &[String],
    from: &[TimestampWithTimeZone],
    lookback_us: i64,
    until: Option<TimestampWithTimeZone>,
) -> Result<Vec<SeriesRows>> {
    read_from(None, metric_type, aux_metric, entities, from, lookback_us, until, false)
}

/// `read` for scoring from each `from`: a series' look-back ends at `lookback_us` before its
/// first row at or after its `from` (the query can only bound it from `from` itself), so the
/// rows the detector would drop first are not kept. The detector then scores the series as
/// read, where it copied it without them before (`Detector::score_series` reads only the last
/// look-back before the first row to score; every row it reads is still here).
pub fn read_scored(
    metric_type: &str,
    aux_metric: Option<&str>,
    entities: &[String],
    from: &[TimestampWithTimeZone],
    lookback_us: i64,
    until: Option<TimestampWithTimeZone>,
) -> Result<Vec<SeriesRows>> {
    read_from(None, metric_type, aux_metric, entities, from, lookback_us, until, true)
}

/// `read` on one shard group of a Citus worker (its own shards of ml_features and
/// ml_metrics, read directly: nothing crosses to another node). The series are those of
/// `entities` that the shard holds.
pub fn read_shard(
    g: &super::citus::ShardGroup,
    metric_type: &str,
    aux_metric: Option<&str>,
    entities: &[String],
    from: &[TimestampWithTimeZone],
    lookback_us: i64,
    until: Option<TimestampWithTimeZone>,
) -> Result<Vec<SeriesRows>> {
    read_from(Some(g), metric_type, aux_metric, entities, from, lookback_us, until, false)
}

/// `read_scored` on one shard group of a Citus worker.
pub fn read_shard_scored(
    g: &super::citus::ShardGroup,
    metric_type: &str,
    aux_metric: Option<&str>,
    entities: &[String],
    from: &[TimestampWithTimeZone],
    lookback_us: i64,
    until: Option<TimestampWithTimeZone>,
) -> Result<Vec<SeriesRows>> {
    read_from(Some(g), metric_type, aux_metric, entities, from, lookback_us, until, true)
}

#[allow(clippy::too_many_arguments)]
fn read_from(
    shard: Option<&super::citus::ShardGroup>,
    metric_type: &str,
    aux_metric: Option<&str>,
    entities: &[String],
    from: &[TimestampWithTimeZone],
    lookback_us: i64,
    until: Option<TimestampWithTimeZone>,
    trim: bool,
) -> Result<Vec<SeriesRows>> {
    let lookback = pgrx::datum::Interval::from_micros(lookback_us);
    // One row per series with its columns as arrays (arrays_sql): per-row SPI costs several
    // times what the scan does, per-element array access almost nothing.
    let columns = ["metric_value", "hour_of_day", "day_of_week", "median_value"];
    let sql = match shard {
        Some(g) => arrays_sql_on(&g.features, &columns, false),
        None => arrays_sql("ml_features", &columns)?,
    };
    let mut out: Vec<SeriesRows> = Spi::connect(|client| -> Result<Vec<SeriesRows>> {
        let args = [metric_type.into(), entities.to_vec().into(), from.to_vec().into(), lookback.into(), earliest(from).into(), until.into()];
        let t = select_arrays(client, &sql, trim && shard.is_none(), &args)?;
        let mut out: Vec<SeriesRows> = Vec::with_capacity(entities.len());
        super::each_row(t, |r| {
            let (Some(e), Some(ts), Some(v), Some(h), Some(d), Some(m)) = (
                super::col::<String>(r, 1)?,
                super::col::<pgrx::Array<TimestampWithTimeZone>>(r, 3)?,
                super::col::<pgrx::Array<f64>>(r, 4)?,
                super::col::<pgrx::Array<i16>>(r, 5)?,
                super::col::<pgrx::Array<i16>>(r, 6)?,
                super::col::<pgrx::Array<f64>>(r, 7)?,
            ) else {
                return Ok(());
            };
            // read_scored: rows at or before `cut` are look-back the detector drops (rows in
            // time order, as they come; otherwise all are kept and sorted below)
            let cut = match (trim, super::col::<TimestampWithTimeZone>(r, 2)?) {
                (true, Some(f)) => {
                    let f = to_unix_us(f);
                    let t: Vec<i64> = ts.iter().flatten().map(to_unix_us).collect();
                    let first = t.partition_point(|x| *x < f);
                    (t.windows(2).all(|w| w[0] <= w[1]) && first < t.len()).then(|| t[first].saturating_sub(lookback_us))
                }
                _ => None,
            };
            let n = ts.len();
            let mut s = SeriesRows {
                entity_id: e,
                ts: Vec::with_capacity(n),
                value: Vec::with_capacity(n),
                features: Vec::with_capacity(n),
                aux: aux_metric.map(|_| Vec::new()),
            };
            for (((t, v), h), (d, m)) in ts.iter().zip(v.iter()).zip(h.iter()).zip(d.iter().zip(m.iter())) {
                let Some(t) = t else { continue };
                if cut.is_some_and(|c| to_unix_us(t) <= c) {
                    continue;
                }
                let mut f = [None; NUM_FEATURES];
                f[col::HOUR_OF_DAY] = h.map(f64::from);
                f[col::DAY_OF_WEEK] = d.map(f64::from);
                f[col::MEDIAN] = m;
                s.ts.push(to_unix_us(t));
                s.value.push(v.unwrap_or(f64::NAN));
                s.features.push(f);
            }
            sort_by_time(&mut s);
            out.push(s);
            Ok(())
        })?;
        out.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
        Ok(out)
    })?;
    if let Some(aux) = aux_metric {
        let sql = match shard {
            Some(g) => arrays_sql_on(&g.metrics, &["metric_value"], false),
            None => arrays_sql("ml_metrics", &["metric_value"])?,
        };
        align_aux(&mut out, &sql, trim && shard.is_none(), aux, entities, from, lookback, until)?;
    }
    Ok(out)
}

/// Puts a series' rows in time order (a no-op when they already are, the usual case).
fn sort_by_time(s: &mut SeriesRows) {
    if s.ts.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut order: Vec<usize> = (0..s.ts.len()).collect();
    order.sort_by_key(|&i| s.ts[i]);
    s.ts = order.iter().map(|&i| s.ts[i]).collect();
    s.value = order.iter().map(|&i| s.value[i]).collect();
    s.features = order.iter().map(|&i| s.features[i]).collect();
}

/// The query every per-series reader uses: for each (entity_id $2[i], from_ts $3[i]) of a
/// metric type $1, one row (entity_id, from_ts, timestamps, then one array per column) of the
/// rows with ts in [from_ts - $4, $6) that are also >= $5 - $4 ($5: the earliest from_ts, a
/// plain bound that prunes day partitions; $6 NULL: no end; the end is written again as
/// `<= COALESCE($6, 'infinity')`, which implies nothing more but is a bound the generic plan
/// prunes the day partitions after it with when it starts, where `$6 IS NULL OR` is not). Each
/// series is aggregated by a LATERAL subquery that the table's covering unique key serves
/// index-only; series without rows give no row. The aggregates of one subquery see its rows
/// in the same order, so the arrays line up (readers restore time order). `table` and `columns` are constants of this
/// crate (column names or expressions over them), never user input.
///
/// On a Citus cluster the table is distributed by entity_id, and Citus cannot push an
/// aggregate in a LATERAL subquery over a table function down to the shards: there the
/// series are grouped by entity_id instead, which every shard aggregates for its own
/// series (one array row per series travels to the coordinator, as here). The entity list
/// also filters the table directly, so Citus sends the query only to the shards that hold
/// those series (on a worker's shard build: its own).
pub(crate) fn arrays_sql(table: &'static str, columns: &[&str]) -> Result<String> {
    Ok(arrays_sql_on(table, columns, super::citus::is_distributed(table)?))
}

/// `arrays_sql` on a named relation: a constant of this crate or a shard's quoted name read
/// from Citus's catalog (`citus::shard_group`); `distributed` picks the grouped form.
pub(crate) fn arrays_sql_on(table: &str, columns: &[&str], distributed: bool) -> String {
    if distributed {
        let aggs: Vec<String> = columns.iter().map(|c| format!("pg_catalog.array_agg({c})")).collect();
        return format!(
            "SELECT m.entity_id, d.from_ts, pg_catalog.array_agg(m.\"timestamp\"), {}
               FROM {table} m
               JOIN ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::timestamptz[])) AS d(entity_id, from_ts)
                 ON m.entity_id = d.entity_id
              WHERE m.metric_type = $1 AND m.entity_id = ANY($2::text[])
                AND m.\"timestamp\" >= d.from_ts - $4::interval
                AND m.\"timestamp\" >= $5::timestamptz - $4::interval
                AND ($6::timestamptz IS NULL OR m.\"timestamp\" < $6)
              GROUP BY m.entity_id, d.from_ts",
            aggs.join(", ")
        );
    }
    let aggs: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("pg_catalog.array_agg({c}) AS c{i}")).collect();
    let outs: Vec<String> = (0..columns.len()).map(|i| format!("x.c{i}")).collect();
    format!(
        "SELECT d.entity_id, d.from_ts, x.t, {}
           FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::timestamptz[])) AS d(entity_id, from_ts)
           CROSS JOIN LATERAL (
                SELECT pg_catalog.array_agg(\"timestamp\") AS t, {}
                  FROM {table}
                 WHERE metric_type = $1 AND entity_id = d.entity_id
                   AND \"timestamp\" >= d.from_ts - $4::interval
                   AND \"timestamp\" >= $5::timestamptz - $4::interval
                   AND ($6::timestamptz IS NULL OR \"timestamp\" < $6)
                   AND \"timestamp\" <= COALESCE($6::timestamptz, 'infinity')) x
          WHERE x.t IS NOT NULL",
        outs.join(", "),
        aggs.join(", ")
    )
}

thread_local! {
    /// The prepared array reads of a scoring pass, by statement, while a [`ReadPlans`] lives.
    static PLANS: std::cell::RefCell<Option<std::collections::HashMap<String, pgrx::spi::OwnedPreparedStatement>>> = const { std::cell::RefCell::new(None) };
    /// Kept plans of a pass that an error unwound: freed when the (sub)transaction the pass
    /// started in ends ([`free_orphans`]), once the error has been dealt with.
    static ORPHANS: std::cell::RefCell<Vec<pgrx::spi::OwnedPreparedStatement>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// While it lives, the array reads of `read_scored` (on a single node; not the other
/// readers', e.g. a first training's inside the pass) prepare each statement once and run its generic plan for every chunk: a scheduled detection run read 8
/// chunks per metric type at 1,000 entities, each planned afresh over the day partitions
/// (7.5 % of the run's backend time in the planner, perf). The plan prunes the partitions
/// when it starts, from the same parameters. Plans are kept (SPI_keepplan) for the guard's
/// life only and freed when it drops. When an error unwinds through it, freeing them there
/// could raise a second error while the first one unwinds; they are set aside instead and
/// freed when the (sub)transaction the guard was made in ends (a reset callback on its
/// memory context), which the error ends: a failed run leaves no plan behind.
/// Not nested: an inner guard would end the outer one's cache early.
pub struct ReadPlans(());

impl ReadPlans {
    pub fn new() -> ReadPlans {
        let fresh = PLANS.with(|p| {
            let mut p = p.borrow_mut();
            let fresh = p.is_none();
            if fresh {
                *p = Some(Default::default());
            }
            fresh
        });
        if fresh {
            // SAFETY: the callback record lives in the memory context it is registered on,
            // which calls it once, when it is reset or deleted.
            unsafe {
                let cx = pgrx::pg_sys::CurTransactionContext;
                if !cx.is_null() {
                    let cb = pgrx::pg_sys::MemoryContextAllocZero(cx, std::mem::size_of::<pgrx::pg_sys::MemoryContextCallback>())
                        as *mut pgrx::pg_sys::MemoryContextCallback;
                    (*cb).func = Some(free_orphans);
                    pgrx::pg_sys::MemoryContextRegisterResetCallback(cx, cb);
                }
            }
        }
        ReadPlans(())
    }
}

impl Default for ReadPlans {
    fn default() -> Self {
        ReadPlans::new()
    }
}

impl Drop for ReadPlans {
    fn drop(&mut self) {
        let plans = PLANS.with(|p| p.borrow_mut().take());
        if std::thread::panicking() {
            set_aside(plans.into_iter().flat_map(|m| m.into_values()));
        }
        // else: dropping them here frees them (SPI_freeplan)
    }
}

/// Keeps plans an error unwound for [`free_orphans`] (no call into PostgreSQL here).
fn set_aside(plans: impl Iterator<Item = pgrx::spi::OwnedPreparedStatement>) {
    let _ = ORPHANS.try_with(|o| match o.try_borrow_mut() {
        Ok(mut o) => o.extend(plans),
        Err(_) => plans.for_each(std::mem::forget),
    });
}

/// The memory context callback of a [`ReadPlans`]: frees the plans an error set aside. It
/// runs when the (sub)transaction context is reset or deleted, after the aborted
/// transaction released its resources (the executor's hold on a plan among them).
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn free_orphans(_arg: *mut core::ffi::c_void) {
    let plans = ORPHANS.try_with(|o| o.try_borrow_mut().map(|mut o| std::mem::take(&mut *o)).unwrap_or_default()).unwrap_or_default();
    drop(plans);
}

/// A prepared read taken out of the live [`ReadPlans`] while it runs: put back after it,
/// or set aside when an error unwinds through the read.
struct InUse(Option<(String, pgrx::spi::OwnedPreparedStatement)>);

impl Drop for InUse {
    fn drop(&mut self) {
        let Some((sql, stmt)) = self.0.take() else { return };
        if std::thread::panicking() {
            set_aside(std::iter::once(stmt));
            return;
        }
        let back = PLANS.with(|p| match p.borrow_mut().as_mut() {
            Some(m) => {
                m.insert(sql, stmt);
                None
            }
            None => Some(stmt),
        });
        drop(back);
    }
}

/// Runs a statement that writes (or reads in a writing pass), handing its result to `f`:
/// through a prepared statement the live [`ReadPlans`] keeps for the pass when there is one,
/// else parsed and planned for this call. A saving detection pass writes its alerts one
/// statement per action (three per extended alert): at 1,000 entities a tick extended 222
/// open alerts and inserted 31, and parsing and planning those statements afresh was 6 % of
/// its backend time (perf). The statement is prepared with the types of the first call's
/// arguments (the types an unprepared call passes), so every call of one SQL text must pass
/// arguments of the same types.
fn kept<R>(sql: &str, args: &[pgrx::datum::DatumWithOid], f: impl FnOnce(pgrx::spi::SpiTupleTable<'_>) -> Result<R>) -> Result<R> {
    Spi::connect_mut(|client| -> Result<R> {
        if PLANS.with(|p| p.borrow().is_none()) {
            return f(client.update(sql, None, args)?);
        }
        let stmt = match PLANS.with(|p| p.borrow_mut().as_mut().and_then(|m| m.remove(sql))) {
            Some(s) => s,
            None => {
                let types: Vec<pgrx::PgOid> = args.iter().map(|a| pgrx::PgOid::from(a.oid())).collect();
                client.prepare_mut(sql, &types)?.keep()
            }
        };
        let held = InUse(Some((sql.to_string(), stmt)));
        let t = match held.0.as_ref() {
            Some((_, stmt)) => client.update(stmt, None, args),
            None => client.update(sql, None, args),
        };
        drop(held);
        f(t?)
    })
}

/// [`super::one`] through [`kept`] plans: the first column of the first row.
pub(crate) fn one_kept<T: pgrx::datum::FromDatum + pgrx::datum::IntoDatum>(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Result<Option<T>> {
    kept(sql, args, |t| {
        Ok(match t.into_iter().next() {
            Some(row) => row.get::<T>(1)?,
            None => None,
        })
    })
}

/// [`super::exec`] through [`kept`] plans: the rows processed.
pub(crate) fn exec_kept(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Result<i64> {
    kept(sql, args, |t| Ok(t.len() as i64))
}

/// Runs one of the array reads (`arrays_sql`, parameters as its doc says): through the
/// prepared statement of the live [`ReadPlans`] when there is one and `cacheable`, else
/// planned for this call.
fn select_arrays<'conn>(
    client: &pgrx::spi::SpiClient<'conn>,
    sql: &str,
    cacheable: bool,
    args: &[pgrx::datum::DatumWithOid],
) -> Result<pgrx::spi::SpiTupleTable<'conn>> {
    let cached = cacheable && PLANS.with(|p| p.borrow().is_some());
    if !cached {
        return Ok(client.select(sql, None, args)?);
    }
    use pgrx::pg_sys::BuiltinOid::*;
    use pgrx::PgOid::BuiltIn;
    let stmt = match PLANS.with(|p| p.borrow_mut().as_mut().and_then(|m| m.remove(sql))) {
        Some(s) => s,
        None => client
            .prepare(sql, &[BuiltIn(TEXTOID), BuiltIn(TEXTARRAYOID), BuiltIn(TIMESTAMPTZARRAYOID), BuiltIn(INTERVALOID), BuiltIn(TIMESTAMPTZOID), BuiltIn(TIMESTAMPTZOID)])?
            .keep(),
    };
    let held = InUse(Some((sql.to_string(), stmt)));
    let t = {
        let _generic = super::PlannerGuard::generic_plans();
        match held.0.as_ref() {
            Some((_, stmt)) => client.select(stmt, None, args),
            None => client.select(sql, None, args),
        }
    };
    drop(held);
    Ok(t?)
}

/// The earliest start of a chunk, as a plain parameter: with it the planner prunes the
/// day partitions before the join (a bound that only comes through the join scans them all).
pub(crate) fn earliest(from: &[TimestampWithTimeZone]) -> TimestampWithTimeZone {
    from.iter().copied().min_by_key(|t| to_unix_us(*t)).unwrap_or_else(TimestampWithTimeZone::negative_infinity)
}

/// Fills each series' aux values: the aux metric's value at the same instant (None where
/// it has none). One range scan, matched here by time, instead of a lookup per row.
#[allow(clippy::too_many_arguments)]
fn align_aux(
    out: &mut [SeriesRows],
    sql: &str,
    cacheable: bool,
    aux_metric: &str,
    entities: &[String],
    from: &[TimestampWithTimeZone],
    lookback: pgrx::datum::Interval,
    until: Option<TimestampWithTimeZone>,
) -> Result<()> {
    let mut by_entity: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, s) in out.iter_mut().enumerate() {
        s.aux = Some(vec![None; s.ts.len()]);
        by_entity.insert(s.entity_id.clone(), i);
    }
    Spi::connect(|client| -> Result<()> {
        let args = [aux_metric.into(), entities.to_vec().into(), from.to_vec().into(), lookback.into(), earliest(from).into(), until.into()];
        let t = select_arrays(client, sql, cacheable, &args)?;
        super::each_row(t, |r| {
            let (Some(e), Some(ts), Some(v)) = (
                super::col::<String>(r, 1)?,
                super::col::<pgrx::Array<TimestampWithTimeZone>>(r, 3)?,
                super::col::<pgrx::Array<f64>>(r, 4)?,
            ) else {
                return Ok(());
            };
            let Some(&i) = by_entity.get(&e) else { return Ok(()) };
            let s = &mut out[i];
            let Some(aux) = s.aux.as_mut() else { return Ok(()) };
            // Rows arrive mostly in time order: try the slot after the last match first.
            let mut c = 0usize;
            for (t, v) in ts.iter().zip(v.iter()) {
                let Some(t) = t else { continue };
                let t = to_unix_us(t);
                let at = if c < s.ts.len() && s.ts[c] == t { Ok(c) } else { s.ts.binary_search(&t) };
                if let Ok(k) = at {
                    aux[k] = v;
                    c = k + 1;
                }
            }
            Ok(())
        })?;
        Ok(())
    })
}

/// Whether a metric type holds observations or stored features of one entity (an
/// analyst's ml_detect(entity_id => ...) skips the types that do not).
pub fn has_series(metric_type: &str, entity_id: &str) -> Result<bool> {
    Ok(super::one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM ml_series_state WHERE metric_type = $1 AND entity_id = $2)
             OR EXISTS (SELECT 1 FROM ml_metrics WHERE metric_type = $1 AND entity_id = $2)",
        &[metric_type.into(), entity_id.into()],
    )?
    .unwrap_or(false))
}

/// Every entity of a metric type with stored features.
pub fn entities(metric_type: &str) -> Result<Vec<String>> {
    entities_since(metric_type, None)
}

/// `entities` with a feature row at or after `since` (all of them when None): the series an
/// analyst's pass from `since` has rows to score in. A series whose newest feature row is older
/// would only have its look-back read.
pub fn entities_since(metric_type: &str, since: Option<TimestampWithTimeZone>) -> Result<Vec<String>> {
    Spi::connect(|client| -> Result<Vec<String>> {
        let t = client.select(
            "SELECT entity_id FROM ml_series_state WHERE metric_type = $1 AND features_until IS NOT NULL
                AND ($2::timestamptz IS NULL OR features_until >= $2) ORDER BY 1",
            None,
            &[metric_type.into(), since.into()],
        )?;
        let mut out = Vec::new();
        for r in t {
            if let Some(e) = r.get::<String>(1)? {
                out.push(e);
            }
        }
        Ok(out)
    })
}

/// A span of one entity's series, in microseconds since the Unix epoch.
pub struct LabelledSpan {
    pub entity_id: String,
    pub from_us: i64,
    pub to_us: i64,
}

/// The known windows of a metric type: anomalies (ml_labels, and alerts someone read
/// without marking them false positives: confirmed anomalies), false positives marked
/// on alerts (their span counts as normal), and alerts nobody reviewed yet.
pub struct KnownWindows {
    pub labels: Vec<LabelledSpan>,
    pub normal: Vec<LabelledSpan>,
    /// Alerts neither read nor marked false positive. An alert counts as an anomaly until it
    /// is marked false positive: training leaves these spans out like the labels (otherwise
    /// a retraining nobody reviewed learns the anomalies as normal), but quality is measured
    /// on reviewed windows only (a model must not be graded on its own unconfirmed alerts).
    pub unreviewed: Vec<LabelledSpan>,
}

pub fn known_windows(metric_type: &str) -> Result<KnownWindows> {
    Spi::connect(|client| -> Result<_> {
        let read = |sql: &str| -> Result<Vec<LabelledSpan>> {
            let mut out = Vec::new();
            for r in client.select(sql, None, &[metric_type.into()])? {
                if let (Some(e), Some(a), Some(b)) =
                    (r.get::<String>(1)?, r.get::<TimestampWithTimeZone>(2)?, r.get::<TimestampWithTimeZone>(3)?)
                {
                    out.push(LabelledSpan { entity_id: e, from_us: to_unix_us(a), to_us: to_unix_us(b) });
                }
            }
            Ok(out)
        };
        let labels = read(
            "SELECT entity_id, starts_at, ends_at FROM ml_labels WHERE metric_type = $1
             UNION ALL
             SELECT entity_id, \"timestamp\", last_seen FROM ml_alerts
              WHERE metric_type = $1 AND is_read AND NOT is_false_positive",
        )?;
        let normal = read("SELECT entity_id, \"timestamp\", last_seen FROM ml_alerts WHERE metric_type = $1 AND is_false_positive")?;
        let unreviewed = read(
            "SELECT entity_id, \"timestamp\", last_seen FROM ml_alerts
              WHERE metric_type = $1 AND NOT is_read AND NOT is_false_positive",
        )?;
        Ok(KnownWindows { labels, normal, unreviewed })
    })
}


pub fn ts(us: i64) -> TimestampWithTimeZone {
    from_unix_us(us)
}

/// Whether the real-time worker has anything to do: dirty series, or series of a metric
/// type with an active model whose scored watermark lags their features.
pub fn realtime_pending() -> Result<bool> {
    Ok(super::one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM ml_series_dirty)
             OR EXISTS (SELECT 1 FROM ml_series_state s JOIN ml_models m ON m.metric_type = s.metric_type AND m.is_active
                         WHERE s.scored_until IS DISTINCT FROM s.features_until)",
        &[],
    )?
    .unwrap_or(false))
}

/// The last timestamp with features of one series; None when it has none.
pub fn features_until(metric_type: &str, entity_id: &str) -> Result<Option<TimestampWithTimeZone>> {
    super::one::<TimestampWithTimeZone>(
        "SELECT features_until FROM ml_series_state WHERE metric_type = $1 AND entity_id = $2",
        &[metric_type.into(), entity_id.into()],
    )
}
