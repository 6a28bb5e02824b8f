#!/usr/bin/env bash
# Citus for pg_anomaly: builds Citus 13.2.2 from the vendored source tarball into the
# PostgreSQL 15 installation of $PGA_PG_BIN, and runs a local Citus cluster of a coordinator
# and N workers (default 2) on loopback, each a PostgreSQL cluster of its own with
# shared_preload_libraries = 'citus,pg_cron,pg_anomaly' (Citus must come first).
#
#   scripts/citus.sh available          exit 0 when the vendored tarball is there (prints its path)
#   scripts/citus.sh build              build and install Citus (skipped when the cached build is installed)
#   scripts/citus.sh start | stop | restart | status | remove
#   scripts/citus.sh psql NODE [args]   NODE: 0 = coordinator, 1..N = workers
#
# The tarball is ../shared/vendor/citus-13.2.2.tar.gz beside the checkout (the vendored
# sources of the project's shared folder), or $PGA_CITUS_TARBALL. The build is cached under
# .local/citus/build-<sha256 of the tarball>-<hash of pg_config's paths>; `build` only runs
# `make install` again when the installed citus.so differs from the cached one, and only
# compiles when there is no cached build (66 s on 2 cores: the LLVM bitcode for JIT is not built, with_llvm=no).
#
# Cluster environment: PGA_CITUS_PORT (coordinator port, default 25440; worker i listens on
# PGA_CITUS_PORT + i: 25441, 25442, clear of scripts/test.sh's 25432-25439),
# PGA_CITUS_WORKERS (default 2; 0 = a coordinator alone that stores the shards itself),
# PGA_CITUS_DIR (default .local/citus-cluster), PGA_DB (default pg_anomaly).
# `start` creates the database on every node, CREATE EXTENSION citus in it on every node,
# and registers the workers with citus_set_coordinator_host and citus_add_node.
# pg_anomaly itself is created by the caller, on the coordinator only: Citus propagates
# CREATE EXTENSION to the workers.
source "$(dirname "$0")/common.sh"
CITUS_VERSION=13.2.2
PGA_CITUS_PORT="${PGA_CITUS_PORT:-25440}"
PGA_CITUS_WORKERS="${PGA_CITUS_WORKERS:-2}"
PGA_CITUS_DIR="${PGA_CITUS_DIR:-$ROOT/.local/citus-cluster}"
PGA_DB="${PGA_DB:-pg_anomaly}"

tarball() {
    local c="${PGA_CITUS_TARBALL:-$ROOT/../shared/vendor/citus-$CITUS_VERSION.tar.gz}"
    [ -f "$c" ] || return 1
    echo "$c"
}
# Where the tarball was looked for (for the messages).
WHERE="${PGA_CITUS_TARBALL:-../shared/vendor/citus-$CITUS_VERSION.tar.gz beside the checkout}"

build() {
    local tb
    if ! tb=$(tarball); then
        echo "citus.sh: the vendored Citus source is missing: $WHERE" >&2
        exit 3
    fi
    local need=()
    for pkg in libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev autoconf flex bison make gcc; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
    done
    if [ ${#need[@]} -gt 0 ]; then
        log "apt: installing Citus build dependencies ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    local sum key dir pkglib
    sum=$(sha256sum "$tb" | cut -c1-16)
    key=$("$PG_CONFIG" --pkglibdir --sharedir --includedir-server | sha256sum | cut -c1-8)
    dir="$ROOT/.local/citus/build-$sum-$key"
    pkglib=$("$PG_CONFIG" --pkglibdir)
    if [ ! -f "$dir/done" ]; then
        log "building Citus $CITUS_VERSION from $tb against $PG_CONFIG (about a minute on 2 cores)"
        rm -rf "$dir"; mkdir -p "$dir"
        tar xzf "$tb" -C "$dir" --strip-components=1
        (
            cd "$dir"
            ./configure PG_CONFIG="$PG_CONFIG" > "$dir/configure.log" 2>&1 \
                || { tail -n 30 "$dir/configure.log"; exit 1; }
            make -j"$(nproc)" with_llvm=no > "$dir/make.log" 2>&1 || { grep -E 'error' "$dir/make.log" | head -n 30; exit 1; }
        )
        touch "$dir/done"
    fi
    if [ -f "$pkglib/citus.so" ] && cmp -s "$dir/src/backend/distributed/citus.so" "$pkglib/citus.so" \
        && [ -f "$("$PG_CONFIG" --sharedir)/extension/citus.control" ]; then
        log "Citus $CITUS_VERSION is installed in $pkglib (cached build $dir)"
        return 0
    fi
    log "installing Citus $CITUS_VERSION into $pkglib"
    make -C "$dir" with_llvm=no install > "$dir/install.log" 2>&1 || { tail -n 30 "$dir/install.log"; exit 1; }
}

node_dir() { echo "$PGA_CITUS_DIR/node$1"; }
node_port() { echo $((PGA_CITUS_PORT + $1)); }
# psql on node N as postgres, to database PGA_DB unless told otherwise.
nsql() {
    local n=$1; shift
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(node_dir "$n")/sock" -p "$(node_port "$n")" -U postgres "$@"
}

init_node() {
    local n=$1 d port
    d=$(node_dir "$n"); port=$(node_port "$n")
    [ -f "$d/data/PG_VERSION" ] && return 0
    init_cluster "$d" "$port" "$PGA_DB" "${PGA_CITUS_PRELOAD:-citus,pg_cron,pg_anomaly}" off "pg_anomaly Citus node $n"
    cat >> "$d/data/postgresql.conf" <<CONF
max_connections = 200
max_wal_size = 2GB
shared_buffers = 128MB
citus.shard_count = 8
CONF
}

start_node() {
    local n=$1 d
    d=$(node_dir "$n")
    init_node "$n"
    if ! as_pg "$PG_BIN/pg_ctl" -D "$d/data" status >/dev/null 2>&1; then
        as_pg env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 60 start >/dev/null
    fi
    nsql "$n" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PGA_DB'" | grep -q 1 \
        || as_pg "$PG_BIN/createdb" -h "$d/sock" -p "$(node_port "$n")" -U postgres "$PGA_DB"
    nsql "$n" -d "$PGA_DB" -c "CREATE EXTENSION IF NOT EXISTS citus" 2>&1 | grep -v '^NOTICE' || true
    nsql "$n" -d "$PGA_DB" -Atc "SELECT 1 FROM pg_extension WHERE extname = 'citus'" | grep -q 1
}

start() {
    if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
        echo "citus.sh: Citus is not installed in $("$PG_CONFIG" --pkglibdir): run scripts/citus.sh build" >&2
        exit 3
    fi
    log "starting a Citus cluster: coordinator on 127.0.0.1:$PGA_CITUS_PORT, $PGA_CITUS_WORKERS worker(s) after it ($PGA_CITUS_DIR)"
    local i
    for i in $(seq 0 "$PGA_CITUS_WORKERS"); do start_node "$i"; done
    nsql 0 -d "$PGA_DB" -Atc "SELECT citus_set_coordinator_host('127.0.0.1', $PGA_CITUS_PORT)" >/dev/null
    for i in $(seq 1 "$PGA_CITUS_WORKERS"); do
        nsql 0 -d "$PGA_DB" -Atc "SELECT citus_add_node('127.0.0.1', $(node_port "$i"))
                                  WHERE NOT EXISTS (SELECT 1 FROM pg_dist_node WHERE nodeport = $(node_port "$i"))" >/dev/null
    done
}

each_node() {
    local n
    for d in "$PGA_CITUS_DIR"/node*; do
        [ -d "$d" ] || continue
        "$@" "$d"
    done
}
stop_dir() {
    if [ -f "$1/data/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1; then
        as_pg "$PG_BIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null
    fi
}
status_dir() { printf '%s: ' "$1"; as_pg "$PG_BIN/pg_ctl" -D "$1/data" status | head -n 1 || true; }

case "${1:-status}" in
    available) tarball || { echo "not found: $WHERE" >&2; exit 1; } ;;
    build) build ;;
    start) start ;;
    stop) log "stopping the Citus cluster in $PGA_CITUS_DIR"; each_node stop_dir ;;
    restart) each_node stop_dir; start ;;
    status) each_node status_dir ;;
    remove) each_node stop_dir; log "removing $PGA_CITUS_DIR"; rm -rf "$PGA_CITUS_DIR" ;;
    psql) shift; n="${1:-0}"; shift || true
          exec "$PG_BIN/psql" -h "$(node_dir "$n")/sock" -p "$(node_port "$n")" -U postgres -d "$PGA_DB" "$@" ;;
    *) echo "usage: $0 available|build|start|stop|restart|status|remove|psql NODE" >&2; exit 2 ;;
esac
