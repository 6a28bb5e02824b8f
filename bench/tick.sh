#!/usr/bin/env bash
# The scheduled ticks in a fresh session, repeated on one unchanged database: each run
# inserts 30 more minutes of data (2 points per series) in a transaction, builds the
# features incrementally (resuming the kernel checkpoints) and, when models exist, runs
# the scheduled detection over the last hour, then rolls everything back. So every run
# measures the same state, and two builds can be compared alternately on one database.
# Needs a database loaded by bench/pipeline.sh (features built; models for detection).
# Usage: bench/tick.sh [runs] [detect|detect-only]   (detect: also time the detection tick;
# detect-only: time only the detection tick, the feature build before it untimed)
# Prints per run: the build as pg_cron runs it (ml_run_stage('features', 'cron'): a process
# that ends with its job keeps no kernel state in memory) with its chunks' split (debug
# lines) and the backend's peak, then the same build by hand (ml_build_features(), which
# keeps the states in the session's cache). Each timing comes with the backend's CPU time.
source "$(dirname "$0")/../scripts/common.sh"
cd "$ROOT"
RUNS="${1:-3}"
DETECT="${2:-}"
bash scripts/cluster.sh start >/dev/null
P() { bench_psql "$@"; }
bench_realtime_off
# the real-time worker may still be building: wait until it has finished (it holds the stage locks meanwhile)
for _ in $(seq 1 60); do
    [ "$(P -Atc "SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory'")" = 0 ] && break
    sleep 2
done
more="INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
      SELECT m.metric_type, m.entity_id, m.metric_value, m.\"timestamp\" + k * interval '15 minutes'
        FROM ml_metrics m CROSS JOIN generate_series(1, 2) k
       WHERE m.\"timestamp\" = (SELECT max(\"timestamp\") FROM ml_metrics)"
# A series without a kernel checkpoint is recomputed from its look-back, which is what a tick
# costs right after ml_cleanup forgot the checkpoints (bench/pipeline.sh at a few days: its
# one-day expiry drops rows every checkpoint holds); the first committed build with new rows
# writes them again. Say so, since such a database measures that tick, not the usual one.
missing=$(P -Atc "SELECT count(*) FROM ml_series_state s WHERE NOT EXISTS (SELECT 1 FROM ml_series_checkpoint c WHERE c.metric_type = s.metric_type AND c.entity_id = s.entity_id)")
[ "$missing" = 0 ] || echo "note: $missing series have no kernel checkpoint: their builds below recompute from the look-back (commit one build with new rows first to measure the usual tick)"
CALLS=("ml_run_stage('features', 'cron')" "ml_build_features()")
[ "$DETECT" = detect-only ] && CALLS=()
for r in $(seq 1 "$RUNS"); do
  for call in "${CALLS[@]}"; do
    out=$(P 2>&1 <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BENCH_PID :pid
BEGIN;
$more;
SET LOCAL client_min_messages = debug1;
\! awk '{print "CPU", \$14, \$15}' /proc/\$BENCH_PID/stat
\timing on
SELECT $call;
\timing off
\! awk '{print "CPU", \$14, \$15}' /proc/\$BENCH_PID/stat
RESET client_min_messages;
\! grep VmHWM /proc/\$BENCH_PID/status
ROLLBACK;
SQL
)
    t=$(echo "$out" | awk '/^Time:/ {print $2}' | tail -n 1)
    echo "run $r: fresh incremental build, $call: $t ms (backend CPU $(echo "$out" | bench_cpu_ms) ms), backend peak $(echo "$out" | awk '/VmHWM/ {print $2 " " $3}')"
    # each chunk's debug line: read (checkpoints, decoding) compute insert state, as durations
    echo "$out" | grep -o 'features chunk: .*' | sed -E 's/.*; read (.*)/\1/; s/[(),]//g; s/checkpoints |decoding |compute |insert |state //g' |
      awk 'function ms(d) { if (d ~ /ms$/) return d + 0; if (d ~ /µs$/) return d / 1000; if (d ~ /ns$/) return d / 1e6; return d * 1000 }
           { read += ms($1); cp += ms($2); dec += ms($3); comp += ms($4); ins += ms($5); st += ms($6); n++ }
           END { if (n) printf "   %d chunks: checkpoint load %.0f ms, decode %.0f ms, read new rows %.0f ms, compute %.0f ms, insert %.0f ms, state+checkpoints %.0f ms\n", n, cp, dec, read - cp - dec, comp, ins, st }'
  done
    if [ -n "$DETECT" ]; then
        out=$(P 2>&1 <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BENCH_PID :pid
BEGIN;
$more;
SELECT ml_run_stage('features', 'cron');
UPDATE ml_series_state SET scored_until = (SELECT max("timestamp") - interval '1 hour' FROM ml_metrics);
\! awk '{print "CPU", \$14, \$15}' /proc/\$BENCH_PID/stat
\timing on
SELECT count(*) FROM ml_detect(save => true);
\timing off
\! awk '{print "CPU", \$14, \$15}' /proc/\$BENCH_PID/stat
\pset tuples_only on
\pset format unaligned
SELECT 'digest alerts ' || count(*) || ' ' || md5(coalesce(string_agg(concat_ws('|', metric_type, entity_id, "timestamp", last_seen, severity, score, peak_score, metric_value, expected_value, deviation_percent, observation_count, is_open, model_id, message, suggested_action, explanation::text), ',' ORDER BY metric_type, entity_id, "timestamp", id), '')) FROM ml_alerts;
SELECT 'digest scores ' || count(*) || ' ' || md5(string_agg(d::text, ',' ORDER BY d.metric_type, d.entity_id, d."timestamp"))
  FROM ml_detect(since => (SELECT max("timestamp") - interval '1 hour' + interval '1 microsecond' FROM ml_metrics)) d;
SELECT 'digest watermarks ' || md5(string_agg(concat_ws('|', metric_type, entity_id, scored_until, features_until), ',' ORDER BY metric_type, entity_id)) FROM ml_series_state;
\! grep VmHWM /proc/\$BENCH_PID/status
ROLLBACK;
SQL
)
        echo "run $r: scheduled detection over the last hour $(echo "$out" | awk '/^Time:/ {print $2}' | tail -n 1) ms (backend CPU $(echo "$out" | bench_cpu_ms) ms), backend peak $(echo "$out" | awk '/VmHWM/ {print $2 " " $3}')"
        # what the run wrote (alerts, watermarks) and an analyst's pass over the same hour
        # (every scored row: score, expected value, explanation), untimed, to compare builds:
        # equal digests, equal results
        echo "$out" | grep '^digest ' | sed 's/^/   /'
    fi
done
