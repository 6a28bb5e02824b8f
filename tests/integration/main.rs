//! Integration tests over a real connection to a PostgreSQL 15 cluster with pg_cron and
//! pg_anomaly preloaded (started by scripts/test.sh). Run with --test-threads=1: they
//! recreate the extension.

mod collection;
mod faults;
mod notifications;
mod pipeline;
mod reinstall;
mod roles;
