//! Shared helpers of the integration tests: connections to the test cluster that
//! scripts/test.sh starts (PGA_TEST_URL), and a fresh extension per test database.

use postgres::{Client, NoTls};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Connection string of the test cluster's database.
pub fn url() -> String {
    std::env::var("PGA_TEST_URL").unwrap_or_else(|_| "host=127.0.0.1 port=25433 user=postgres dbname=pga_test".to_string())
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

/// Runs `sql` as `it_collector`, a LOGIN member of anomaly_admin that may read `schema`:
/// sources and actions run with the rights of the login role that registered them, and a
/// superuser may not own one.
pub fn as_login_admin(c: &mut Client, schema: &str, sql: &str) {
    c.batch_execute(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'it_collector') THEN CREATE ROLE it_collector LOGIN; END IF; END $$;
         GRANT anomaly_admin TO it_collector;
         GRANT USAGE ON SCHEMA {schema} TO it_collector;
         GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {schema} TO it_collector;
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO it_collector;
         SET SESSION AUTHORIZATION it_collector;"
    ))
    .expect("switch to the login admin role");
    let outcome = c.batch_execute(sql);
    c.batch_execute("RESET SESSION AUTHORIZATION").expect("back to the superuser");
    outcome.expect("statements run as it_collector");
}
