#!/usr/bin/env bash
# Shapley explanations and recursive feature elimination on the labelled demo data: time to
# explain one alert (ms), time of the global importance at training, every RFE round (inputs,
# event F1, alerts per series-week) and its duration, per metric type.
# Runs the core crate's example in release mode; works from any directory.
# Arguments: [entities (50)] [days (30)] [seed (42)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --release -p pg_anomaly_core --example bench_explain -- "$@"
