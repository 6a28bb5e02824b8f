//! The pipeline: what each stage does, between the SQL surface (`api/`, the background
//! workers in `workers/`) and the storage layer (`storage/`) and the pure core
//! (`pg_anomaly_core`). Stages call each other only through this layer; nothing here
//! imports `api` or `workers`.
//!
//! A stage's run is a [`stage::StageRun`]: its lock, its record in ml_job_runs, and the
//! record of its failure; the trigger (manual, cron, worker) is passed in explicitly.

pub mod alerts;
pub mod autonomous;
pub mod cleanup;
pub mod collect;
pub mod demo;
pub mod detect;
pub mod explain;
pub mod features;
pub mod ingest;
pub mod model;
pub mod notify;
pub mod parallel;
pub mod plot;
pub mod realtime;
pub mod schedule;
pub mod selection;
pub mod session;
pub mod shards;
pub mod stage;
pub mod state_cache;
pub mod train;
pub mod tune;
