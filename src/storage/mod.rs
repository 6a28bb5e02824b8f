//! The storage layer: the only code that talks SPI. Every statement is a constant
//! string with `$n` parameters; no user input is ever pasted into SQL text.

pub mod alerts;
pub mod autonomous;
pub mod channels;
pub mod checkpoints;
pub mod citus;
pub mod copy;
pub mod cron;
pub mod features;
pub mod labels;
pub mod locks;
pub mod matrix;
pub mod metrics;
pub mod models;
pub mod outbox;
pub mod owners;
pub mod parallel_results;
pub mod retention;
pub mod rfe;
pub mod runs;
pub mod schema;
pub mod selection;
pub mod series;
pub mod settings;
pub mod sources;
pub mod subxact;
pub mod time;
pub mod tuning;

pub use time::{from_unix_us, to_unix_us};

use crate::errors::Result;
use pgrx::datum::DatumWithOid;
use pgrx::{FromDatum, IntoDatum, Spi};

/// Runs one statement (read or write, no row limit so statement triggers fire) and returns
/// the first column of its first row, or None when it returned no row or a NULL.
pub fn one<T: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> Result<Option<T>> {
    Ok(Spi::connect_mut(|client| {
        let table = client.update(sql, None, args)?;
        match table.into_iter().next() {
            Some(row) => row.get::<T>(1),
            None => Ok(None),
        }
    })?)
}

/// Walks the rows of an SPI result, handing each to `row` with the table positioned on it;
/// read its columns with [`col`].
pub fn each_row(mut t: pgrx::spi::SpiTupleTable<'_>, mut row: impl FnMut(&pgrx::spi::SpiTupleTable<'_>) -> Result<()>) -> Result<()> {
    while t.next().is_some() {
        row(&t)?;
    }
    Ok(())
}

/// The rows of a two-column SPI result whose columns are both non-NULL, as pairs (rows with
/// a NULL are skipped). For small results: each value is read with pgrx's `get` (see [`col`]).
pub fn pairs<A: FromDatum + IntoDatum, B: FromDatum + IntoDatum>(t: pgrx::spi::SpiTupleTable<'_>) -> Result<Vec<(A, B)>> {
    let mut out = Vec::new();
    for r in t {
        if let (Some(a), Some(b)) = (r.get::<A>(1)?, r.get::<B>(2)?) {
            out.push((a, b));
        }
    }
    Ok(out)
}

/// Column `n` (1-based) of the current row of an SPI result, converted where it lies in the
/// result. pgrx's `get` first copies a by-reference value (text, arrays) into the parent of
/// the SPI context, which is TopTransactionContext: read by the million in one statement,
/// those copies pile up until the transaction ends (hundreds of MB for a month of series).
/// Use this for by-reference columns of large reads, inside the connection's closure (an
/// `Array` borrows from the result). The SQL fixes each column's type; `T` must match it.
pub fn col<T: FromDatum>(t: &pgrx::spi::SpiTupleTable<'_>, n: usize) -> Result<Option<T>> {
    let d = t.get_datum_by_ordinal(n)?;
    // SAFETY: the datum comes from the current row of a live SPI result, whose column type
    // the caller's constant SQL fixes to T's; a NULL is None before any conversion.
    Ok(d.and_then(|d| unsafe { T::from_datum(d, false) }))
}

/// Runs one statement for its effect and returns how many rows it processed.
pub fn exec(sql: &str, args: &[DatumWithOid]) -> Result<i64> {
    Ok(Spi::connect_mut(|client| client.update(sql, None, args).map(|t| t.len() as i64))?)
}

/// Deletes the rows of `table` (alias `x` in `condition`) that match, except those another
/// transaction holds: they are skipped, never waited for (a stage locking the same rows in
/// its own order and this scan in another would deadlock); a later run takes them.
pub fn delete_unheld(table: &str, condition: &str, args: &[DatumWithOid]) -> Result<i64> {
    exec(
        &format!(
            "DELETE FROM {table} d WHERE d.ctid = ANY (ARRAY(SELECT x.ctid FROM {table} x WHERE {condition} FOR UPDATE OF x SKIP LOCKED))"
        ),
        args,
    )
}

/// A planner setting changed for this process's statements while the guard lives (restored
/// when it drops; an error that unwinds through it leaves the restoring to the
/// (sub)transaction's abort, as for a function's SET clause).
pub struct PlannerGuard {
    level: i32,
}

impl PlannerGuard {
    /// JIT compilation off. The stages' statements read or write a chunk of series through
    /// index lookups: the planner's estimate for a chunk of 512-1,024 series is above
    /// jit_above_cost, and compiling took 17-26 % of a feature or detection tick (perf on the
    /// backend, 1,000 entities) for statements that run a few milliseconds.
    pub fn jit_off() -> PlannerGuard {
        PlannerGuard { level: set_nested(c"jit", c"off") }
    }

    /// `plan_cache_mode` to `force_generic_plan`: a statement prepared once and run per chunk
    /// is planned once.
    pub(crate) fn generic_plans() -> PlannerGuard {
        PlannerGuard { level: set_nested(c"plan_cache_mode", c"force_generic_plan") }
    }
}

/// Sets a user GUC at a new nest level, as a function's SET clause does; returns the level.
fn set_nested(name: &std::ffi::CStr, value: &std::ffi::CStr) -> i32 {
    // SAFETY: the same calls as a function's SET clause (fmgr_security_definer): a new GUC
    // nest level, a value saved at it, restored by AtEOXact_GUC at that level in drop.
    unsafe {
        let level = pgrx::pg_sys::NewGUCNestLevel();
        pgrx::pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pgrx::pg_sys::GucContext::PGC_USERSET,
            pgrx::pg_sys::GucSource::PGC_S_SESSION,
            pgrx::pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            pgrx::pg_sys::WARNING as i32,
            false,
        );
        level
    }
}

impl Drop for PlannerGuard {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: the nest level this guard opened, closed once, in LIFO order with the
            // guard's scope.
            unsafe { pgrx::pg_sys::AtEOXact_GUC(true, self.level) }
        }
    }
}
