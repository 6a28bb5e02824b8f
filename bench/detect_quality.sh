#!/usr/bin/env bash
# Detector quality and speed: event-level precision / recall / F1 per metric type and anomaly
# kind on the labelled demo data (two seeds), robustness on synthetic shapes, and with
# --speed the 2.9-million-row fit and a 16,000-row scoring run.
# Runs the core crate's example in release mode; works from any directory.
# CARGO_TARGET_DIR is honoured if set (useful on shared machines).
# Arguments: [entities (200)] [days (30)] [seeds (42,7)] [--speed] [--no-forest]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --release -p pg_anomaly_core --example eval_detect -- "$@"
