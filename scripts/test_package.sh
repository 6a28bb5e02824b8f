#!/usr/bin/env bash
# Test tier "Debian package": builds the .deb (scripts/package.sh), inspects it (dpkg-deb -I
# and -c: name, version, architecture, dependencies, file paths), removes the pg_anomaly files
# scripts/install.sh put into the PostgreSQL installation of PGA_PG_BIN and installs the
# package: with `apt-get install ./<file>.deb` for the system PostgreSQL (CI), with
# `dpkg --root` for a relocated copy under /opt/X; checks the files against the package's
# md5sums, then in a fresh
# cluster (port PGA_FAULT_PORT_BASE+3, default 25437) creates the extension and runs a smoke
# pipeline: demo data, features, training, detection, schedule. Finally it installs the
# package again under the running server (as an upgrade does) and checks that the server
# and its workers kept running.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
BASE="${PGA_FAULT_PORT_BASE:-25434}"
export PGA_DIR="$ROOT/.local/package-cluster" PGA_PORT=$((BASE + 3)) PGA_DB=pga_pkg PGA_REALTIME=on
trap 'bash scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
passed=0
fail() { echo "FAILED: $*" >&2; exit 1; }
pass() { passed=$((passed + 1)); echo "ok: $*"; }
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
sql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGA_DIR/sock" -p "$PGA_PORT" -U postgres -d "$PGA_DB" -At "$@"; }

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
ARCH=$(dpkg --print-architecture)
bash scripts/cluster.sh remove >/dev/null 2>&1 || true
DEB=$(bash scripts/package.sh | tail -n 1)
check "package file name" "postgresql-15-pg-anomaly_${VERSION}_${ARCH}.deb" "$(basename "$DEB")"
echo "package: $(du -k "$DEB" | cut -f1) KiB, installed $(dpkg-deb -f "$DEB" Installed-Size) KiB"

log "inspecting the package (dpkg-deb -I, -c)"
check "Package" "postgresql-15-pg-anomaly" "$(dpkg-deb -f "$DEB" Package)"
check "Version" "$VERSION" "$(dpkg-deb -f "$DEB" Version)"
check "Architecture" "$ARCH" "$(dpkg-deb -f "$DEB" Architecture)"
depends=$(dpkg-deb -f "$DEB" Depends)
echo "Depends: $depends"
for dep in postgresql-15 libc6; do
    echo "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qx "$dep" || fail "Depends lacks $dep"
done
pass "Depends names postgresql-15 and libc6"
check "Recommends" "postgresql-15-cron" "$(dpkg-deb -f "$DEB" Recommends)"
info=$(dpkg-deb -I "$DEB"); grep -q "Description: in-database anomaly detection" <<< "$info" || fail "no description"
dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}' > "$ROOT/.local/package/contents.txt"
files=$(awk '$1 !~ /^d/ {print $3}' "$ROOT/.local/package/contents.txt" | sed 's|^\./|/|' | sort)
for f in /usr/lib/postgresql/15/lib/pg_anomaly.so /usr/share/postgresql/15/extension/pg_anomaly.control \
         "/usr/share/postgresql/15/extension/pg_anomaly--$VERSION.sql" /usr/share/doc/postgresql-15-pg-anomaly/copyright; do
    echo "$files" | grep -qx "$f" || fail "the package lacks $f"
done
for f in sql/pg_anomaly--*--*.sql; do
    echo "$files" | grep -qx "/usr/share/postgresql/15/extension/$(basename "$f")" || fail "the package lacks the upgrade script $(basename "$f")"
done
pass "the .so, control file, install and upgrade scripts are at Debian's pg_config paths"
outside=$(echo "$files" | grep -vE '^/usr/(lib/postgresql/15/lib|share/postgresql/15/extension|share/doc/postgresql-15-pg-anomaly)/' || true)
[ -z "$outside" ] || fail "files outside the PostgreSQL and doc directories: $outside"
awk '$2 != "root/root" {exit 1}' "$ROOT/.local/package/contents.txt" || fail "files not owned by root"
pass "nothing else is installed, every file owned by root"
if [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
    check "pkglibdir is Debian's" "/usr/lib/postgresql/15/lib" "$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)"
    check "sharedir is Debian's" "/usr/share/postgresql/15" "$(/usr/lib/postgresql/15/bin/pg_config --sharedir)"
fi

# The installation the package goes into: PGA_PG_BIN is <root>/usr/lib/postgresql/15/bin.
case "$PG_BIN" in
    */usr/lib/postgresql/15/bin) PG_ROOT="${PG_BIN%/usr/lib/postgresql/15/bin}" ;;
    *) fail "PG_BIN $PG_BIN is not laid out like Debian's postgresql-15" ;;
esac
install_package() {
    if [ -z "$PG_ROOT" ]; then
        # The system's PostgreSQL (CI): the package manager itself, as a DBA would.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall "$DEB" >/dev/null 2>"$ROOT/.local/package/apt.log" \
            || { cat "$ROOT/.local/package/apt.log"; fail "apt-get install $DEB failed"; }
        check "dpkg knows the package" "install ok installed $VERSION" "$(dpkg-query -W -f='${Status} ${Version}' postgresql-15-pg-anomaly)"
    else
        # A relocated copy of PostgreSQL 15 under $PG_ROOT: dpkg installs into that root with
        # a package database of its own there (the copy's dependencies are not registered in
        # it, hence --force-depends). dpkg unpacks each file under a temporary name and renames
        # it over the old one, so a running server keeps the .so it has mapped.
        mkdir -p "$PG_ROOT/var/lib/dpkg/info" "$PG_ROOT/var/lib/dpkg/updates"
        touch "$PG_ROOT/var/lib/dpkg/status"
        dpkg --root="$PG_ROOT" --force-depends --force-script-chrootless -i "$DEB" >/dev/null 2>"$ROOT/.local/package/dpkg.log" \
            || { cat "$ROOT/.local/package/dpkg.log"; fail "dpkg -i $DEB failed"; }
        check "dpkg knows the package" "install ok installed $VERSION" \
            "$(dpkg-query --admindir="$PG_ROOT/var/lib/dpkg" -W -f='${Status} ${Version}' postgresql-15-pg-anomaly)"
    fi
    (cd "${PG_ROOT:-/}" && dpkg-deb -e "$DEB" "$ROOT/.local/package/control" && md5sum --quiet -c "$ROOT/.local/package/control/md5sums") \
        || fail "installed files differ from the package"
}
# What scripts/install.sh put in place goes first: the package's files are the only ones.
rm -f "$PG_ROOT/usr/lib/postgresql/15/lib/pg_anomaly.so" "$PG_ROOT/usr/share/postgresql/15/extension/pg_anomaly"*
log "installing the package into ${PG_ROOT:-/}"
install_package
[ -f "$PG_ROOT/usr/lib/postgresql/15/lib/pg_anomaly.so" ] || fail "pg_anomaly.so not installed"
pass "installed files match the package's md5sums"

log "smoke pipeline with the packaged build (port $PGA_PORT)"
bash scripts/cluster.sh start >/dev/null
sql <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION pg_anomaly;
SQL
check "extension version" "$VERSION" "$(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_anomaly'")"
# The workers started before the database existed retry after a few seconds.
workers() { sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('pg_anomaly realtime', 'pg_anomaly notifier')"; }
for _ in $(seq 30); do [ "$(workers)" = 2 ] && break; sleep 1; done
check "workers running" "2" "$(workers)"
sql -c "SELECT ml_generate_demo_data(4, 12, 11)" >/dev/null
# The real-time worker may be building the same features: whoever runs first writes them.
sql -c "SELECT ml_run_stage('features')" >/dev/null 2>&1
for _ in $(seq 60); do [ "$(sql -c "SELECT count(*) FROM ml_series_dirty")" = 0 ] && break; sleep 1; done
feat=$(sql -c "SELECT count(*) FROM ml_features")
[ "${feat:-0}" -gt 0 ] || fail "no features were built"
pass "features: $feat rows"
models=$(sql -c "SELECT count(ml_train(metric_type, train_until => (SELECT max(\"timestamp\") - interval '3 days' FROM ml_metrics))) FROM ml_settings")
check "one model per metric type" "4" "$models"
# The real-time worker may be scoring the same rows: this run then skips (NOTICE), and the
# alerts come with the worker's commit.
sql -c "SELECT ml_run_stage('detection')" >/dev/null 2>&1
for _ in $(seq 60); do [ "$(sql -c "SELECT count(*) FROM ml_alerts")" -gt 0 ] && break; sleep 1; done
alerts=$(sql -c "SELECT count(*) FROM ml_alerts")
[ "$alerts" -gt 0 ] || fail "detection wrote no alert"
pass "detection: $alerts alerts"
check "schedule" "5" "$(sql -c "SELECT count(*) FROM ml_schedule()")"

log "installing the package again under the running server"
started=$(sql -c "SELECT pg_postmaster_start_time()")
exits_before=$(grep -c 'terminated by signal\|exited with exit code' "$PGA_DIR/server.log" || true)
install_package
sleep 3
check "server not restarted" "$started" "$(sql -c "SELECT pg_postmaster_start_time()")"
check "workers still running" "2" "$(workers)"
check "no worker restarted" "0" "$(grep -c 'terminated by signal\|exited with exit code' "$PGA_DIR/server.log" | awk -v before="$exits_before" '{print $1 - before}')"
check "a new session loads the new file" "t" "$(sql -c "SELECT count(*) > 0 FROM ml_detect('stok_seviye', now() - interval '1 day')")"
bash scripts/cluster.sh stop >/dev/null
echo "package: $passed passed, 0 failed"
