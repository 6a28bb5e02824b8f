#!/usr/bin/env bash
# Generation speed of the demo data in the plain-Rust core (no database), release mode.
# Usage: bench/demo_core.sh [entities] [days] [threads]   (default 1000 30 1)
# Budget: 1000 entities x 30 days (11.52 M values) well under 5 s on one core.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --release -p pg_anomaly_core --example bench_demo -- "$@"
