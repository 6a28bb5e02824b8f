#!/usr/bin/env bash
# Isolation-forest figures (fit, single-core scoring throughput, model size, load time).
# Runs the core crate's example in release mode; works from any directory.
# CARGO_TARGET_DIR is honoured if set (useful on shared machines).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --release -p pg_anomaly_core --example bench_forest "$@"
