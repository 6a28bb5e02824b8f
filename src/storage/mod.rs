//! The storage layer: the only code that talks SPI. Every statement is a constant
//! string with `$n` parameters; no user input is ever pasted into SQL text.

pub mod alerts;
pub mod copy;
pub mod features;
pub mod labels;
pub mod locks;
pub mod matrix;
pub mod metrics;
pub mod outbox;
pub mod models;
pub mod runs;
pub mod selection;
pub mod series;
pub mod sources;
pub mod subxact;
pub mod time;

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

/// Runs one statement for its effect and returns how many rows it processed.
pub fn exec(sql: &str, args: &[DatumWithOid]) -> Result<i64> {
    Ok(Spi::connect_mut(|client| client.update(sql, None, args).map(|t| t.len() as i64))?)
}
