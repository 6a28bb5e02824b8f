//! Shared helpers of the integration tests: connections to the test cluster that
//! scripts/test.sh starts (PGA_TEST_URL), and a fresh extension per test database.

use postgres::{Client, NoTls};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Connection string of the test cluster's database.
pub fn url() -> String {
    std::env::var("PGA_TEST_URL").unwrap_or_else(|_| "host=127.0.0.1 port=55433 user=postgres dbname=pga_test".to_string())
}

pub fn connect() -> Client {
    Client::connect(&url(), NoTls).expect("connect to the test cluster (run scripts/test.sh)")
}

/// Connects as another role (created LOGIN by the test) to the same database.
pub fn connect_as(role: &str) -> Client {
    let u = url().replace("user=postgres", &format!("user={role}"));
    Client::connect(&u, NoTls).expect("connect as test role")
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A unique name for objects of one test (tests share the database).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

/// Drops and recreates the extension so a test starts from an empty install.
pub fn fresh_extension(c: &mut Client) {
    c.batch_execute(
        "SET client_min_messages = warning;
         DROP EXTENSION IF EXISTS pg_anomaly CASCADE;
         CREATE EXTENSION IF NOT EXISTS pg_cron;
         CREATE EXTENSION pg_anomaly CASCADE;",
    )
    .expect("recreate the extension");
}

/// The SQLSTATE of a failed statement.
pub fn sqlstate(e: &postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_else(|| format!("no sqlstate: {e}"))
}
