#!/usr/bin/env bash
# Detection quality on the Numenta Anomaly Benchmark (NAB: 58 labelled real and artificial
# series), with the alerts ml_detect(save => true) would write as detections, scored on NAB's
# standard profile (null detector 0, perfect 100). TUNE and REPORT halves of the files (by a
# hash of the file name): choose on TUNE, quote REPORT.
# The benchmark is not part of this repository (and must not be committed to it): get it with
#   git clone https://github.com/numenta/NAB /tmp/NAB
#   mkdir -p DIR && cp -r /tmp/NAB/data /tmp/NAB/labels DIR/
# Usage: bench/nab.sh DIR [--params JSON] [--split tune|report|all] [--probation-cap N (750; 0 = none)]
#        [--verbose] [--retrain-daily] [--speed N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir="${1:-}"
if [[ -z "$dir" || ! -f "$dir/labels/combined_windows.json" || ! -d "$dir/data" ]]; then
    echo "bench/nab.sh: NAB data not found${dir:+ in $dir} (need DIR/data/**/*.csv and DIR/labels/combined_windows.json)." >&2
    echo "Get it (outside this repository): git clone https://github.com/numenta/NAB /tmp/NAB && mkdir -p DIR && cp -r /tmp/NAB/data /tmp/NAB/labels DIR/" >&2
    echo "then run: bench/nab.sh DIR" >&2
    exit 2
fi
shift
exec cargo run --release -p pg_anomaly_core --example eval_nab -- "$dir" "$@"
