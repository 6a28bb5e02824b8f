//! The SQL functions, one file per pipeline stage. Each converts SQL values, calls the
//! storage layer and the core, and maps errors through `crate::errors::run`.

pub mod cleanup;
pub mod collect;
pub mod demo;
pub mod detect;
pub mod explain;
pub mod features;
pub mod ingest;
pub mod model;
pub mod notify;
pub mod plot;
pub mod schedule;
pub mod selection;
pub mod train;
