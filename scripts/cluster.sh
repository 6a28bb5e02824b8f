#!/usr/bin/env bash
# A local PostgreSQL 15 cluster for pg_anomaly, run as the postgres user, listening on
# 127.0.0.1 and a socket directory of its own, with pg_cron and pg_anomaly preloaded.
#
#   scripts/cluster.sh start | stop | restart | crash | status | remove | psql [args] | url
#
# crash: `pg_ctl -m immediate stop` (every process quits at once, no checkpoint; the next
# start runs crash recovery), for the fault tests.
# Environment: PGA_PORT (default 25432), PGA_DIR (default .local/cluster),
# PGA_DB (default pg_anomaly), PGA_REALTIME (on/off, default on).
# The project's ports (25432-25442) sit below Linux's ephemeral range (32768-60999): a port
# in that range can be held by a closing client connection (TIME_WAIT) when a cluster starts.
source "$(dirname "$0")/common.sh"
PGA_PORT="${PGA_PORT:-25432}"
PGA_DIR="${PGA_DIR:-$ROOT/.local/cluster}"
PGA_DB="${PGA_DB:-pg_anomaly}"
PGA_REALTIME="${PGA_REALTIME:-on}"
DATA="$PGA_DIR/data"
SOCK="$PGA_DIR/sock"

init() {
    [ -f "$DATA/PG_VERSION" ] && return 0
    log "initdb $DATA"
    init_cluster "$PGA_DIR" "$PGA_PORT" "$PGA_DB" pg_cron,pg_anomaly "$PGA_REALTIME" "pg_anomaly local cluster"
    cat >> "$DATA/postgresql.conf" <<CONF
pg_anomaly.realtime_interval = 2
max_wal_size = 4GB
shared_buffers = 512MB
maintenance_work_mem = 256MB
CONF
}

start() {
    init
    if as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then return 0; fi
    log "starting PostgreSQL 15 on 127.0.0.1:$PGA_PORT (socket $SOCK)"
    # Without RUST_BACKTRACE in the server's environment, errors carry no Rust backtrace
    # in their DETAIL (pgrx captures one when the variable asks for it).
    as_pg env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PG_BIN/pg_ctl" -D "$DATA" -l "$PGA_DIR/server.log" -w -t 60 start >/dev/null
    as_pg "$PG_BIN/psql" -h "$SOCK" -p "$PGA_PORT" -U postgres -d postgres -qAtc \
        "SELECT 1 FROM pg_database WHERE datname = '$PGA_DB'" | grep -q 1 \
        || as_pg "$PG_BIN/createdb" -h "$SOCK" -p "$PGA_PORT" -U postgres "$PGA_DB"
}

stop() {
    if [ -f "$DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        log "stopping the cluster in $DATA"
        as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
}

crash() {
    if [ -f "$DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        log "immediate shutdown of the cluster in $DATA"
        as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null
    fi
}

case "${1:-status}" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    crash) crash ;;
    status) as_pg "$PG_BIN/pg_ctl" -D "$DATA" status || true ;;
    remove) stop; log "removing $PGA_DIR"; rm -rf "$PGA_DIR" ;;
    psql) shift; exec "$PG_BIN/psql" -h "$SOCK" -p "$PGA_PORT" -U postgres -d "$PGA_DB" "$@" ;;
    url) echo "postgresql://postgres@127.0.0.1:$PGA_PORT/$PGA_DB" ;;
    *) echo "usage: $0 start|stop|restart|crash|status|remove|psql|url" >&2; exit 2 ;;
esac
