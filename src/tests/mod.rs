//! `#[pg_test]` tests: SQL functions inside a real PostgreSQL started by cargo pgrx test.

mod ingest;
