#!/usr/bin/env bash
# Throughput of the plain-Rust feature kernels (release mode, one thread).
# Usage: bench/features_core.sh [series] [points] [resumable series]
#   (defaults: 100 series x 2880 points; 4000 resumable states of 31 days, fed 2 rows each)
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --release -p pg_anomaly_core --example bench_features -- "$@"
