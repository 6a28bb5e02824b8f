#!/usr/bin/env bash
# Nightly retraining replayed over a month of one robustness-corpus member (REPORT split by
# default): recall over the last two weeks when every alert was reviewed, when nobody read
# them (alerts count as anomalies until marked false positive: what ml_train does), and when
# unread alerts were learned as normal (the earlier rule).
# Arguments: [--member NAME (other15)] [--entities N (20)] [--split tune|report] [--every N (1)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --release -p pg_anomaly_core --example replay_retrain -- "$@"
