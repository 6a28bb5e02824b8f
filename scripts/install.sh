#!/usr/bin/env bash
# Builds pg_anomaly in release mode and installs it into PostgreSQL 15 ($PGA_PG_BIN).
#
# Every file is written under a temporary name in its destination directory and renamed
# over the old one (scripts/install_files.sh; what install(1) and dpkg do). Writing the .so
# in place, as `cargo pgrx install` does, crashed the workers of a running cluster with
# SIGSEGV. Running servers keep the old code in processes already started: restart them to
# run the new build everywhere (README, "Upgrading a running server").
source "$(dirname "$0")/common.sh"
cd "$ROOT"
stage="$ROOT/.local/package"
rm -rf "$stage"
log "cargo pgrx package (release)"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$stage" 2>&1 | grep -vE '^\s*(Compiling|Checking)' | tail -n 5
bash "$ROOT/scripts/install_files.sh" "$stage"
