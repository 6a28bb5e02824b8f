//! The SQL functions, one file per pipeline stage: `#[pg_extern]` shells only. Each
//! converts SQL values, calls `crate::pipeline`, converts the result and maps errors
//! through `crate::errors::run`. Their `#[pg_test]`s sit beside them.

pub mod cleanup;
pub mod collect;
pub mod demo;
pub mod detect;
pub mod explain;
pub mod features;
pub mod ingest;
pub mod notify;
pub mod plot;
pub mod schedule;
pub mod selection;
pub mod train;
pub mod tune;
