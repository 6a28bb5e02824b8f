#!/usr/bin/env bash
# Runs every test tier of pg_anomaly against real PostgreSQL 15 clusters with pg_cron:
#   1. pure Rust tests of the core crate (cargo test -p pg_anomaly_core)
#   2. #[pg_test] tests (cargo pgrx test, in a cluster cargo-pgrx starts as postgres)
#   3. pg_regress files in pg_test/sql against a throwaway cluster (port 25433)
#   4. Rust integration tests in tests/ over a real connection to that cluster
#   5. fault injection (tests/integration/faults.rs) against a cluster of its own (port
#      25434, real-time worker on) that the test kills and restarts under load
#   6. dump and restore (scripts/test_dump_restore.sh): pg_dump of a working pipeline
#      restored into a fresh cluster works there (ports 25435, 25436)
#   7. Debian package (scripts/test_package.sh): builds, inspects and installs the .deb,
#      runs a smoke pipeline with it (port 25437)
#   8. upgrade (scripts/test_upgrade.sh): 0.1.0 with data, ALTER EXTENSION UPDATE, the
#      catalog compared with a fresh install, the pipeline after it (port 25439)
#   9. Citus (scripts/test_citus.sh): Citus 13.2.2 built from the vendored source (cached
#      under .local/citus), a coordinator and two workers (ports 25440-25442); ml_distribute()
#      of a database with data, features equal to a single-node build, training, detection,
#      alerts, the notification outbox and the roles on the distributed tables (SKIPPED with
#      a message when the vendored tarball is missing)
# Installs what is missing first (scripts/setup.sh). Exits non-zero on the first failure.
# Prints the time each tier took.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
bash scripts/setup.sh
tier_start=$SECONDS
took() { log "$1 took $((SECONDS - tier_start)) s"; tier_start=$SECONDS; }

mkdir -p "$ROOT/.local"
log "layers: scripts/check_layers.sh"
bash scripts/check_layers.sh

log "tier 1: core and forest-crate unit tests"
if ! cargo test -p pg_anomaly_core -p linfa-isolation-forest --release > "$ROOT/.local/core-tests.log" 2>&1; then
    tail -n 60 "$ROOT/.local/core-tests.log"; exit 1
fi
grep -E '^test result' "$ROOT/.local/core-tests.log"
took "tier 1"

log "tier 2: #[pg_test] (cargo pgrx test)"
PGRX_TEST_DIR="${PGA_PGRX_TEST_DIR:-/tmp/pga-pgrx-test}"
rm -rf "$PGRX_TEST_DIR"; mkdir -p "$PGRX_TEST_DIR"; chown postgres:postgres "$PGRX_TEST_DIR"
# cargo pgrx test listens on a fixed port: checkouts testing side by side name a common lock.
${PGA_TIER2_LOCK:+flock "$PGA_TIER2_LOCK"} cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_TEST_DIR" 2>&1 | grep -E '^test |test result|panicked|error(\[|:)' ; test "${PIPESTATUS[0]}" -eq 0
took "tier 2"

log "installing the release build"
bash scripts/install.sh
took "release build and install"

export PGA_DIR="$ROOT/.local/test-cluster" PGA_PORT="${PGA_TEST_PORT:-25433}" PGA_DB=pga_test PGA_REALTIME=off
bash scripts/cluster.sh remove >/dev/null 2>&1 || true
bash scripts/cluster.sh start
FAULT_DIR="$ROOT/.local/fault-cluster" FAULT_PORT="${PGA_FAULT_PORT_BASE:-25434}" FAULT_DB=pga_fault
fault_cluster() { PGA_DIR="$FAULT_DIR" PGA_PORT="$FAULT_PORT" PGA_DB="$FAULT_DB" PGA_REALTIME=on bash scripts/cluster.sh "$@"; }
trap 'bash scripts/cluster.sh stop >/dev/null 2>&1 || true; fault_cluster stop >/dev/null 2>&1 || fault_cluster crash >/dev/null 2>&1 || true' EXIT

log "tier 3: pg_regress (pg_test/sql)"
REGRESS="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress"
OUT="$ROOT/.local/regress"
rm -rf "$OUT"; mkdir -p "$OUT"; chown postgres:postgres "$OUT"
tests=$(cd pg_test/sql && ls *.sql | sed 's/\.sql$//' | sort)
if ! as_pg "$REGRESS" --inputdir="$ROOT/pg_test" --outputdir="$OUT" --use-existing --dbname="$PGA_DB" \
        --host="$PGA_DIR/sock" --port="$PGA_PORT" --user=postgres $tests; then
    cat "$OUT/regression.diffs" 2>/dev/null | head -n 200
    exit 1
fi
took "tier 3"

log "tier 4: integration tests (tests/)"
export PGA_TEST_URL="host=127.0.0.1 port=$PGA_PORT user=postgres dbname=$PGA_DB"
export PGA_TEST_DIR="$PGA_DIR"
cargo test -p pg_anomaly_it --release -- --test-threads=1 2>&1 | grep -E '^test |test result|panicked|FAILED' ; test "${PIPESTATUS[0]}" -eq 0
took "tier 4"

log "tier 5: fault injection under load (tests/integration/faults.rs, cluster on port $FAULT_PORT)"
# The test SIGKILLs backends and stops this cluster with -m immediate, so it gets a fresh
# cluster of its own; it is #[ignore]d in tier 4 and run here explicitly.
fault_cluster remove >/dev/null 2>&1 || true
fault_cluster start
PGA_FAULT_URL="host=127.0.0.1 port=$FAULT_PORT user=postgres dbname=$FAULT_DB" PGA_FAULT_DIR="$FAULT_DIR" \
PGA_FAULT_PORT="$FAULT_PORT" PGA_FAULT_DB="$FAULT_DB" \
    cargo test -p pg_anomaly_it --release --test integration faults -- --ignored --nocapture --test-threads=1 2>&1 \
    | grep -vE '^\s*(Compiling|Finished|Running|Blocking|Downloaded|Downloading)|^$' ; test "${PIPESTATUS[0]}" -eq 0
fault_cluster stop
took "tier 5"

log "tier 6: dump and restore"
bash scripts/test_dump_restore.sh
took "tier 6"

log "tier 7: Debian package"
bash scripts/test_package.sh
took "tier 7"

log "tier 8: upgrade from the released version"
bash scripts/test_upgrade.sh
took "tier 8"

log "tier 9: Citus"
bash scripts/test_citus.sh
took "tier 9"

log "all tiers passed"
