#!/usr/bin/env bash
# Cost of new entities in the hourly detection run (core part: scoring one hour of every
# series from its look-back), at N entities x four metric types: no new entity, 10 % new that
# joined two days ago (warm-up models fitted on their look-back), 10 % new that joined three
# hours ago (count types: models borrowed from the type). Prints milliseconds (fastest of 9 runs).
# Usage: bench/new_entities.sh [entities (1000)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --quiet --release -p pg_anomaly_core --example bench_new_entities -- "$@"
