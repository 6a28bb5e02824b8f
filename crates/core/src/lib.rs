//! Plain-Rust core of pg_anomaly. Nothing in this crate knows about PostgreSQL:
//! every algorithm here is testable with `cargo test -p pg_anomaly_core` and
//! benchmarkable on its own.
//!
//! Modules follow the pipeline's stages:
//! - `demo`: deterministic labelled demo series (stage 1 test data)
//! - `features`: point-in-time feature kernels (stage 2)
//! - `selection`: variance / correlation / mutual-information selection and interactions (stages 4-5)
//! - `forest`, `zscore`: the models (stage 6)
//! - `detect`: calibration, severity, episodes, explanations (stage 7)
//! - `model`: the two model families (detector, z-score) behind one interface
//! - `row`, `severity`: what detection returns; `time`, `codec`: shared helpers

pub mod error;
pub mod traits;
pub mod demo;
pub mod features;
pub mod selection;
pub mod forest;
pub mod zscore;
pub mod messages;
pub mod quality;
pub mod corpus;
pub mod plot;
pub mod detect;
pub mod model;
pub mod codec;
pub mod row;
pub mod severity;
pub mod stats;
pub mod time;

pub use error::{redact_values, truncate_chars, CoreError, CoreResult, ErrorKind};
pub use row::DetectRow;
pub use severity::Severity;
