#!/usr/bin/env bash
# Citus benchmark: the same demo data (ENTITIES x 4 metric types x DAYS at 15-minute steps)
# on one plain PostgreSQL node, then on a Citus cluster with one worker and with two
# workers (scripts/citus.sh, coordinator port PGA_CITUS_BENCH_PORT, default 55450). For
# each: ml_distribute() of the loaded database, a full feature build on the coordinator and
# (Citus) on the workers shard by shard, an incremental build
# with nothing new (the cost of finding dirty series: trigger marks on one node, the
# ml_metrics / ml_features comparison on Citus), training of the four metric types and a
# detection pass (ml_run_stage('detection'): every series scored from the start, alerts),
# each through the coordinator and (Citus) per shard on the workers.
# Where the feature build's time goes: the stage's per-chunk DEBUG1 timings summed (reading
# the series from the shards, computing on the coordinator, writing the rows back, moving
# the per-series state).
# Usage: bench/citus.sh [entities] [days]     (defaults 100 and 30: 1.15 million metrics)
# Every node runs on this machine: the workers share its cores with the coordinator.
source "$(dirname "$0")/../scripts/common.sh"
cd "$ROOT"
ENTITIES="${1:-100}"
DAYS="${2:-30}"
END_AT="2026-11-30 00:00+00"
export PGA_CITUS_PORT="${PGA_CITUS_BENCH_PORT:-55450}" PGA_DB=pga_bench
bash scripts/citus.sh available >/dev/null || { echo "bench/citus.sh: the vendored Citus source is missing" >&2; exit 1; }
bash scripts/citus.sh build >/dev/null
OUT="$ROOT/.local/citus-bench"
mkdir -p "$OUT"
trap 'bash scripts/citus.sh stop >/dev/null 2>&1 || true' EXIT

# Milliseconds of the last statement psql timed.
ms() { awk '/^Time:/ {v = $2} END {print v}'; }
# Sums the DEBUG1 chunk timings of a feature build: read, compute, insert, state (ms).
chunk_split() {
    # (the parenthesised details of the read, e.g. checkpoint loading, are left out)
    sed 's/ ([^)]*)//g' | { grep -o 'read [^ ]* compute [^ ]* insert [^ ]* state [^ ]*' || true; } | awk '
        function tous(s,   n, u) { n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
            if (u == "s") return n * 1000; if (u == "ms") return n; if (u == "µs") return n / 1000; return n / 1e6 }
        { r += tous($2); c += tous($4); i += tous($6); s += tous($8) }
        END { printf "read %.0f ms, compute %.0f ms, write %.0f ms, state %.0f ms", r, c, i, s }'
}

run() {
    local workers=$1 label=$2 db q
    export PGA_CITUS_WORKERS=$workers PGA_CITUS_DIR="$ROOT/.local/citus-bench-$workers"
    bash scripts/citus.sh remove >/dev/null 2>&1 || true
    bash scripts/citus.sh start >/dev/null
    db=pga_bench
    if [ "$workers" = 0 ]; then
        db=pga_plain
        "$PG_BIN/psql" -X -q -h "$PGA_CITUS_DIR/node0/sock" -p "$PGA_CITUS_PORT" -U postgres -d postgres -c "CREATE DATABASE pga_plain"
    fi
    P() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGA_CITUS_DIR/node0/sock" -p "$PGA_CITUS_PORT" -U postgres -d "$db" "$@"; }
    [ "$workers" = 0 ] || P -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
    P -c "SET client_min_messages = warning; CREATE EXTENSION pg_anomaly" >/dev/null
    local gen dist full split dirty train detect scored rows
    gen=$(P -c '\timing on' -c "SELECT sum(rows) FROM ml_generate_demo_data($ENTITIES, $DAYS, 42, '$END_AT')" | ms)
    rows=$(P -Atc "SELECT count(*) FROM ml_metrics")
    dist="-"
    if [ "$workers" != 0 ]; then
        dist=$(P -c '\timing on' -c "SELECT count(*) FROM ml_distribute()" | ms)
    fi
    # on the coordinator (one node: the only way; Citus: pg_anomaly.citus_shard_builds off),
    # with the split of its time
    full=$(P -c '\timing on' -c "SET pg_anomaly.citus_shard_builds = off" -c "SET client_min_messages = debug1" \
             -c "SELECT ml_build_features(full_rebuild => true)" 2> "$OUT/full-$workers.log" | ms)
    split=$(chunk_split < "$OUT/full-$workers.log")
    dirty=$(P -c '\timing on' -c "SET pg_anomaly.citus_shard_builds = off" -c "SELECT ml_build_features()" | ms)
    shard="-" shard_dirty="-"
    if [ "$workers" != 0 ]; then
        shard=$(P -c '\timing on' -c "SELECT ml_build_features(full_rebuild => true)" | ms)
        shard_dirty=$(P -c '\timing on' -c "SELECT ml_build_features()" | ms)
    fi
    # training and a detection pass (every series from the start) with the series read
    # through the coordinator (one node: the only way; Citus: pg_anomaly.citus_shard_builds
    # off, as before per-worker samples and shard-local scoring), then (Citus) per shard on
    # the workers; the detection state is reset in between. Training's split: the read and
    # fit seconds of its log rows.
    TRAIN="SELECT count(ml_train(metric_type, train_until => '$END_AT'::timestamptz - interval '4 days')) FROM ml_settings"
    SPLIT="SELECT 'read ' || round(sum((metrics->>'read_seconds')::numeric), 1) || ' s, fit ' || round(sum((metrics->>'fit_seconds')::numeric), 1) || ' s, evaluate ' || round(sum((metrics->>'evaluate_seconds')::numeric), 1) || ' s'
             FROM (SELECT metrics FROM ml_training_logs WHERE success ORDER BY id DESC LIMIT 4) l"
    RESET="SET client_min_messages = warning; TRUNCATE ml_alerts CASCADE; UPDATE ml_series_state SET scored_until = NULL"
    local train_c train_c_split detect_c alerts_c train_w="-" train_w_split="-" detect_w="-" alerts_w="-"
    train_c=$(P -c '\timing on' -c "SET pg_anomaly.citus_shard_builds = off" -c "$TRAIN" | ms)
    train_c_split=$(P -Atc "$SPLIT")
    detect_c=$(P -c '\timing on' -c "SET pg_anomaly.citus_shard_builds = off" -c "SELECT ml_run_stage('detection')" | ms)
    alerts_c=$(P -Atc "SELECT count(*) FROM ml_alerts")
    if [ "$workers" != 0 ]; then
        P -c "$RESET" >/dev/null
        train_w=$(P -c '\timing on' -c "$TRAIN" | ms)
        train_w_split=$(P -Atc "$SPLIT")
        detect_w=$(P -c '\timing on' -c "SELECT ml_run_stage('detection')" | ms)
        alerts_w=$(P -Atc "SELECT count(*) FROM ml_alerts")
    fi
    printf '%-12s %9s metrics | generate %7.0f ms | distribute %7s ms | full feature build on the coordinator %8.0f ms (%s), nothing new %6.0f ms | on the workers, shard by shard: full %8s ms, nothing new %6s ms\n' \
        "$label" "$rows" "$gen" "$dist" "$full" "$split" "$dirty" "$shard" "$shard_dirty"
    printf '%-12s train (4 types) through the coordinator %6.0f ms (%s), samples from the workers %6s ms (%s) | detection pass through the coordinator %7.0f ms (%s alerts), scored on the workers %7s ms (%s alerts)\n' \
        "" "$train_c" "$train_c_split" "$train_w" "$train_w_split" "$detect_c" "$alerts_c" "$detect_w" "$alerts_w"
    bash scripts/citus.sh stop >/dev/null
}

echo "bench/citus.sh: $ENTITIES entities x 4 metric types x $DAYS days, $(nproc) cores shared by every node"
run 0 "one node"
run 1 "one worker"
run 2 "two workers"
