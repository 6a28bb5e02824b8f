# Shared settings of the project's scripts. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# PGA_PG_BIN points at another (relocated) PostgreSQL 15 installation, so several checkouts
# can install and test side by side without overwriting each other's pg_anomaly.so.
PG_BIN="${PGA_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_CONFIG="$PG_BIN/pg_config"
PGRX_VERSION=0.18.1
# runuser and initdb helpers live in the sbin directories, which a non-login root shell may lack.
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Runs a command as the postgres user (PostgreSQL refuses to run as root).
as_pg() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

# Creates a throwaway cluster: DIR/data with its socket directory DIR/sock, listening on
# 127.0.0.1:PORT only, PRELOAD in shared_preload_libraries, pg_cron and pg_anomaly pointed at
# database DB, the real-time worker REALTIME (on/off), and durability off for speed. The
# caller appends the settings of its own kind of cluster (later lines win).
# Usage: init_cluster DIR PORT DB PRELOAD REALTIME TITLE
init_cluster() {
    local dir=$1 port=$2 db=$3 preload=$4 realtime=$5 title=$6
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    as_pg mkdir -p "$dir/data" "$dir/sock"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$dir/data/postgresql.conf" <<CONF
# $title
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
shared_preload_libraries = '$preload'
cron.database_name = '$db'
cron.host = '$dir/sock'
cron.use_background_workers = on
max_worker_processes = 32
pg_anomaly.database = '$db'
pg_anomaly.realtime = $realtime
logging_collector = off
log_min_messages = warning
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
}

# psql on the local cluster's database (scripts/cluster.sh: PGA_DIR, PGA_PORT, PGA_DB), for the benches.
bench_psql() { bash scripts/cluster.sh psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# A bench's backend CPU time (user + system, its threads included) between the last two
# "CPU utime stime" lines on stdin (fields 14 and 15 of /proc/PID/stat), in ms: on a machine
# shared with other work it moves much less than the wall-clock time.
bench_cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '/^CPU/ {c[n++] = $2 + $3} END {if (n >= 2) printf "%.0f", (c[n-1] - c[n-2]) * 1000 / hz}'; }

# The real-time worker would race a bench for the stage locks: off while it runs, reset
# when the script exits (this sets the script's EXIT trap).
bench_realtime_off() {
    local q
    for q in "ALTER SYSTEM SET pg_anomaly.realtime = off" "SELECT pg_reload_conf()"; do bench_psql -c "$q" >/dev/null; done
    trap 'for q in "ALTER SYSTEM RESET pg_anomaly.realtime" "SELECT pg_reload_conf()"; do bench_psql -c "$q" >/dev/null; done' EXIT
}

# The benches that start from an empty extension (bench/pipeline.sh, bench/beyond_sample.sh)
# drop pg_anomaly, and every row it holds, in the local cluster's database, with the
# real-time worker off (bench_realtime_off). Stops first when that database holds metrics,
# unless BENCH_RESET=yes.
bench_fresh_extension() {
    local held
    held=$(bash scripts/cluster.sh psql -X -Atq -c "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_anomaly')" 2>/dev/null || echo f)
    if [ "$held" = t ]; then
        held=$(bash scripts/cluster.sh psql -X -Atq -c "SELECT EXISTS (SELECT 1 FROM ml_metrics)" 2>/dev/null || echo f)
    fi
    if [ "$held" = t ] && [ "${BENCH_RESET:-}" != yes ]; then
        echo "$(basename "$0"): the database ${PGA_DB:-pg_anomaly} of the cluster in ${PGA_DIR:-$ROOT/.local/cluster} holds metrics, and this bench drops pg_anomaly there with all its data." >&2
        echo "Run it with BENCH_RESET=yes to go on, or point PGA_DIR, PGA_PORT and PGA_DB at a cluster for benchmarks." >&2
        exit 2
    fi
    bench_realtime_off
    bench_psql -c "SET client_min_messages = warning; DROP EXTENSION IF EXISTS pg_anomaly CASCADE; CREATE EXTENSION IF NOT EXISTS pg_cron; CREATE EXTENSION pg_anomaly CASCADE;"
}
