#!/usr/bin/env bash
# The linfa-isolation-forest crate's figures: fit and score of 1 M x 25 in f64 and f32
# through linfa's traits. The detector's own scoring (blocked, bench/forest.sh) is faster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --release -p linfa-isolation-forest --example bench "$@"
