#!/usr/bin/env bash
# Builds pg_anomaly in release mode and installs it into the system PostgreSQL 15.
# Running clusters that have the library loaded are stopped first (overwriting a loaded
# .so crashes their workers) and started again afterwards.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
running=()
for dir in "$ROOT"/.local/*/; do
    [ -f "$dir/data/PG_VERSION" ] || continue
    if as_pg "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        running+=("$dir")
        as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
done
log "cargo pgrx install --release"
cargo pgrx install --release --pg-config "$PG_CONFIG" 2>&1 | grep -vE '^\s*(Compiling|Checking)' | tail -n 5
for dir in "${running[@]}"; do
    as_pg env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
done
