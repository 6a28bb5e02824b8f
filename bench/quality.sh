#!/usr/bin/env bash
# Detection quality on the robustness corpus (crates/core/src/corpus): per corpus member and
# metric type, event precision, recall, F1, false alerts per series-week and row-score ROC AUC,
# on a TUNE split and a separate REPORT split (other seeds and entities; quote only REPORT).
# The demo's own figures come from bench/detect_quality.sh.
# Arguments: [--entities N (40)] [--split tune|report|both] [--seed N (a fresh split, neither TUNE nor REPORT)] [--member NAME] [--metric NAME] [--verbose] [--oracle (a detectability bound for the count metrics: bench/results/quality_oracle.txt)] [--tails (how often rows far from any label reach each input's calibrated surprise of 6-12 nats, against what the held-out calibration predicts: bench/results/quality_inputth.txt)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --release -p pg_anomaly_core --example eval_quality -- "$@"
