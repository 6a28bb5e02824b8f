#!/usr/bin/env bash
# Training per metric type as the nightly job runs it, repeated on one unchanged database:
# each run is ml_train(type) in a fresh session inside a transaction that is rolled back, so
# every run trains on the same rows and leaves the active models as they were. Prints per
# run and type the wall-clock time, the backend process's CPU time (user + system, its
# worker threads included) and the load average before the run: on a machine shared with
# other work the wall clock follows the load, the CPU time much less.
# Needs a database with features built (bench/pipeline.sh, bench/beyond_sample.sh). Where a
# type has no model yet every run is a first training, which runs feature selection too; train
# each type once beforehand to time the nightly retraining.
# Usage: bench/train_time.sh [runs (2)] [train_until (SQL expression; default: none)]
#   e.g. bench/train_time.sh 2 "(SELECT max(\"timestamp\") FROM ml_metrics) - interval '3 days'"
source "$(dirname "$0")/../scripts/common.sh"
cd "$ROOT"
RUNS="${1:-2}"
UNTIL="${2:-}"
case "$RUNS" in '' | *[!0-9]*) echo "usage: bench/train_time.sh [runs] [train_until]" >&2; exit 2 ;; esac
bash scripts/cluster.sh start >/dev/null
P() { bench_psql "$@"; }
bench_realtime_off
ARGS=""
[ -n "$UNTIL" ] && ARGS=", train_until => $UNTIL"
types=$(P -Atc "SELECT DISTINCT metric_type FROM ml_series_state ORDER BY 1")
[ -n "$types" ] || { echo "no series with features in this database: load one first (bench/pipeline.sh)" >&2; exit 2; }
echo "entities per type: $(P -Atc "SELECT string_agg(metric_type || ' ' || n, ', ' ORDER BY metric_type) FROM (SELECT metric_type, count(*) n FROM ml_series_state GROUP BY 1) s")"
for r in $(seq 1 "$RUNS"); do
    for mt in $types; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        out=$(P 2>&1 <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BENCH_PID :pid
BEGIN;
SET LOCAL client_min_messages = warning;
\! awk '{print "CPU", \$14, \$15}' /proc/\$BENCH_PID/stat
\timing on
SELECT ml_train('$mt'$ARGS) IS NOT NULL AS trained;
\timing off
\! awk '{print "CPU", \$14, \$15}' /proc/\$BENCH_PID/stat
ROLLBACK;
SQL
)
        t=$(echo "$out" | awk '/^Time:/ {print $2}' | tail -n 1)
        cpu=$(echo "$out" | bench_cpu_ms)
        [ -n "$t" ] || { echo "$out" >&2; exit 1; }
        printf 'run %s  %-18s training %8.0f ms  backend process CPU %6s ms  (load average before %s)\n' "$r" "$mt" "$t" "$cpu" "$load"
    done
done
