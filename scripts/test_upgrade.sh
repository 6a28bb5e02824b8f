#!/usr/bin/env bash
# Test tier "upgrade": every released version kept in sql/pg_anomaly--<old>.sql is installed
# next to the current build, then for each one, in a cluster of its own (port
# PGA_FAULT_PORT_BASE+5, default 25439):
#   1. CREATE EXTENSION pg_anomaly VERSION '<old>' and a working pipeline in it (demo data,
#      features, trained models, alerts, a source and an action owned by an application role,
#      a channel and a rule, the schedule);
#   2. ALTER EXTENSION pg_anomaly UPDATE: the version is the current one, every row, partition
#      and sequence is as before (scripts/sql/fingerprint.sql);
#   3. the extension's catalog (scripts/sql/extension_catalog.sql: every member, column,
#      constraint, index, trigger, view, function, privilege, comment) equals that of a fresh
#      install of the current version in another database;
#   4. the pipeline goes on: collection, features, detection with the kept models, training;
#      a model whose bytes this build cannot load (an older format) is refitted on first use
#      with a NOTICE by the scheduled detection, and refused with a hint to a reader.
# Uses the installed build (scripts/install.sh, which also installs sql/pg_anomaly--*--*.sql).
source "$(dirname "$0")/common.sh"
cd "$ROOT"
BASE="${PGA_FAULT_PORT_BASE:-25434}"
export PGA_DIR="$ROOT/.local/upgrade-cluster" PGA_PORT=$((BASE + 5)) PGA_DB=pga_upg PGA_REALTIME=off
OUT="$ROOT/.local/upgrade"
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
EXT_DIR="$("$PG_CONFIG" --sharedir)/extension"
trap 'bash scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
passed=0
fail() { echo "FAILED: $*" >&2; exit 1; }
pass() { passed=$((passed + 1)); echo "ok: $*"; }
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
sql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGA_DIR/sock" -p "$PGA_PORT" -U postgres -At "$@"; }

olds=$(cd sql && ls pg_anomaly--*.sql | grep -vE -- '--.*--' | sed 's/^pg_anomaly--\(.*\)\.sql$/\1/' | grep -vx "$VERSION" || true)
[ -n "$olds" ] || fail "no released version in sql/pg_anomaly--<version>.sql"
for f in sql/pg_anomaly--*.sql; do install -m 0644 "$f" "$EXT_DIR/"; done
[ -f "$EXT_DIR/pg_anomaly--$VERSION.sql" ] || fail "pg_anomaly $VERSION is not installed (run scripts/install.sh)"
rm -rf "$OUT"; mkdir -p "$OUT"

for OLD in $olds; do
    log "upgrade $OLD -> $VERSION (port $PGA_PORT)"
    bash scripts/cluster.sh remove >/dev/null 2>&1 || true
    bash scripts/cluster.sh start >/dev/null
    sql -d postgres -c "CREATE DATABASE pga_fresh" >/dev/null
    sql -d pga_upg <<SQL >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION pg_anomaly VERSION '$OLD';
CREATE ROLE upg_app LOGIN;
GRANT anomaly_admin TO upg_app;
CREATE SCHEMA app AUTHORIZATION upg_app;
SET ROLE upg_app;
CREATE TABLE app.moves (urun_id text, qty float8, at timestamptz);
INSERT INTO app.moves SELECT 'urun_' || (i % 4), 5 + i % 3, now() - interval '2 days' + i * interval '30 minutes' FROM generate_series(1, 90) i;
CREATE TABLE app.tasks (alert_id bigint PRIMARY KEY, opened_by text NOT NULL DEFAULT current_user);
CREATE FUNCTION app.open_task(alert bigint) RETURNS void LANGUAGE sql
  AS 'INSERT INTO app.tasks (alert_id) VALUES (alert) ON CONFLICT DO NOTHING';
RESET ROLE;
-- The rows 0.1.0's ml_add_source and ml_add_action stored (owner: the registering role's
-- OID). The library installed is already the new one, whose registration writes the 0.2.0
-- columns, as on a server where the package was upgraded before ALTER EXTENSION UPDATE.
INSERT INTO ml_sources (name, metric_type, query, kind, owner) VALUES ('moves', 'tuketim_miktar',
  'SELECT urun_id AS entity_id, qty AS metric_value, at AS "timestamp" FROM app.moves WHERE at > \$1', 'event',
  'upg_app'::regrole::oid);
INSERT INTO ml_action_rules (action, owner, min_severity) VALUES ('app.open_task(bigint)', 'upg_app'::regrole::oid, 'yuksek');
UPDATE ml_settings SET episode_gap = '3 hours' WHERE metric_type = 'dolum_sure';
SELECT ml_add_channel('ops', 'webhook', '{"url": "http://127.0.0.1:9/alerts", "headers": {"X-Env": "test"}}');
SELECT ml_add_notification_rule('ops', 'orta');
SELECT count(*) FROM ml_schedule();
SELECT ml_generate_demo_data(5, 12, 5);
SELECT * FROM ml_collect('moves');
SELECT ml_run_stage('features');
SELECT metric_type, ml_train(metric_type, train_until => (SELECT max("timestamp") - interval '4 days' FROM ml_metrics))
  FROM ml_settings ORDER BY 1;
SELECT ml_run_stage('detection');
-- (no ml_cleanup here: the new library's cleanup calls the 0.2.0 partition functions; it is
-- refused below with what to do)
UPDATE ml_channels SET enabled = false;
SQL
    refused=$(sql -d pga_upg -v ON_ERROR_STOP=0 -c "\\set VERBOSITY verbose" -c "SELECT ml_cleanup()" 2>&1 || true)
    case "$refused" in
        *55000*"ALTER EXTENSION pg_anomaly UPDATE"*) pass "cleanup before the update refused with SQLSTATE 55000 and the hint to update" ;;
        *) fail "cleanup before the update: expected SQLSTATE 55000 and a hint to update, got [$refused]" ;;
    esac
    check "installed version" "$OLD" "$(sql -d pga_upg -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_anomaly'")"
    alerts=$(sql -d pga_upg -c "SELECT count(*) FROM ml_alerts")
    [ "$alerts" -gt 0 ] || fail "no alert before the upgrade"
    sql -d pga_upg -f scripts/sql/fingerprint.sql > "$OUT/$OLD.before"

    t0=$(date +%s.%N)
    sql -d pga_upg -c "ALTER EXTENSION pg_anomaly UPDATE" || fail "ALTER EXTENSION pg_anomaly UPDATE failed"
    t1=$(date +%s.%N)
    check "updated version" "$VERSION" "$(sql -d pga_upg -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_anomaly'")"
    printf 'ALTER EXTENSION UPDATE %s -> %s: %.2f s (%s alerts, %s metrics)\n' "$OLD" "$VERSION" "$(echo "$t1 - $t0" | bc)" \
        "$alerts" "$(sql -d pga_upg -c "SELECT count(*) FROM ml_metrics")"
    sql -d pga_upg -f scripts/sql/fingerprint.sql > "$OUT/$OLD.after"
    diff -u "$OUT/$OLD.before" "$OUT/$OLD.after" || fail "rows changed by the upgrade"
    pass "$(wc -l < "$OUT/$OLD.after") tables and sequences unchanged by the upgrade"

    sql -d pga_fresh -c "SET client_min_messages = warning; CREATE EXTENSION pg_anomaly" >/dev/null
    sql -d pga_upg -f scripts/sql/extension_catalog.sql > "$OUT/$OLD.catalog.upgraded"
    sql -d pga_fresh -f scripts/sql/extension_catalog.sql > "$OUT/$OLD.catalog.fresh"
    if ! diff -u "$OUT/$OLD.catalog.fresh" "$OUT/$OLD.catalog.upgraded"; then
        fail "the upgraded catalog differs from a fresh $VERSION install (- fresh, + upgraded)"
    fi
    pass "catalog after the upgrade equals a fresh install ($(wc -l < "$OUT/$OLD.catalog.fresh") facts)"

    # The pipeline after the upgrade.
    old_max=$(sql -d pga_upg -c "SELECT max(id) FROM ml_alerts")
    since=$(sql -d pga_upg -c "SELECT now()")
    sql -d pga_upg <<'SQL' >/dev/null
UPDATE ml_channels SET enabled = true;
INSERT INTO app.moves SELECT 'urun_' || (i % 4), 6, now() - interval '1 hour' + i * interval '1 minute' FROM generate_series(1, 20) i;
SELECT ml_ingest('stok_seviye', e, v, t)
  FROM (SELECT entity_id AS e, max("timestamp") AS last FROM ml_metrics WHERE metric_type = 'stok_seviye' GROUP BY 1) s,
       LATERAL (SELECT s.last + i * interval '15 minutes' AS t, CASE WHEN i > 4 THEN 100000.0 ELSE 50 END AS v FROM generate_series(1, 8) i) n;
SQL
    check "collection after the upgrade" "20" "$(sql -d pga_upg -c "SELECT sum(rows_inserted) FROM ml_collect('moves')")"
    [ "$(sql -d pga_upg -c "SELECT ml_run_stage('features')->>'rows'")" -gt 0 ] || fail "feature stage wrote nothing"
    # A model in a format this build cannot read (as after an upgrade that changed it).
    sql -d pga_upg -c "UPDATE ml_models SET model_data = set_byte(model_data, 4, 1) WHERE is_active AND metric_type = 'tuketim_miktar'" >/dev/null
    sql -d pga_upg -c "SET ROLE anomaly_reader; SELECT count(*) FROM ml_detect('tuketim_miktar')" > "$OUT/reader.log" 2>&1 \
        && fail "a reader scored with an unreadable model"
    grep -q "format version 1" "$OUT/reader.log" && grep -q "HINT" "$OUT/reader.log" || { cat "$OUT/reader.log"; fail "no clear error for an unreadable model"; }
    pass "a reader gets a clear error with a hint for a model in an old format"
    sql -d pga_upg -c "SELECT ml_run_stage('detection')" > "$OUT/detection.log" 2>&1 || { cat "$OUT/detection.log"; fail "detection stage"; }
    grep -q "cannot be loaded" "$OUT/detection.log" || { cat "$OUT/detection.log"; fail "no NOTICE about refitting the old model"; }
    grep -q '"error"' "$OUT/detection.log" && { cat "$OUT/detection.log"; fail "a metric type failed in the detection stage"; }
    check "old model refitted and active" "t" "$(sql -d pga_upg -c "SELECT count(*) = 1 AND bool_and(created_at >= '$since') FROM ml_models WHERE is_active AND metric_type = 'tuketim_miktar' AND model_type = 'isolation_forest'")"
    new_alerts=$(sql -d pga_upg -c "SELECT count(*) FROM ml_alerts WHERE id > $old_max AND metric_type = 'stok_seviye'")
    [ "$new_alerts" -gt 0 ] || fail "no new alert after the upgrade"
    pass "detection after the upgrade: $new_alerts new alerts"
    check "action ran as its owner after the upgrade" "upg_app" "$(sql -d pga_upg -c "SELECT DISTINCT opened_by FROM app.tasks WHERE alert_id > $old_max")"
    check "no failed run after the upgrade" "0" "$(sql -d pga_upg -c "SELECT count(*) FROM ml_job_runs WHERE NOT success AND started >= '$since'")"
    out=$(sql -d pga_upg -c "SET SESSION AUTHORIZATION upg_app; UPDATE ml_sources SET owner = 'anomaly_admin'::regrole" 2>&1) \
        && fail "an admin wrote an owner after the upgrade"
    grep -q "permission denied" <<< "$out" || fail "unexpected error writing an owner: $out"
    pass "an admin cannot write the owner column after the upgrade"
    check "owners kept by the upgrade, stamped by the trigger from now on" "upg_app" \
        "$(sql -d pga_upg -c "SET SESSION AUTHORIZATION upg_app; UPDATE ml_sources SET query = query || ' ' RETURNING owner")"
    out=$(sql -d pga_upg -c "DROP ROLE upg_app" 2>&1) && fail "the owner of a 0.1.0 source could be dropped after the upgrade"
    grep -q "ml_owner_pins" <<< "$out" || fail "unexpected error dropping an owner: $out"
    pass "the owners of 0.1.0's sources and actions are pinned (DROP ROLE refused)"
    sql -d pga_upg -c "SELECT count(*) FROM ml_cleanup()" >/dev/null || fail "cleanup after the upgrade"
    pass "cleanup after the upgrade"
    new_model=$(sql -d pga_upg -c "SELECT ml_train('stok_seviye')")
    check "training after the upgrade" "t" "$(sql -d pga_upg -c "SELECT version > 1 FROM ml_models WHERE id = $new_model")"

    # 5. pg_upgrade, what a PostgreSQL major upgrade runs (into a new cluster of the same
    # version here: no other major version is installed). It refuses a cluster whose tables
    # hold OIDs it cannot carry over (reg* columns such as regprocedure); the extension's
    # workers stay out of its binary-upgrade servers; every row comes through, and the
    # pipeline goes on, the automatic action included (its function has a new OID).
    sql -d pga_upg -c "UPDATE ml_channels SET enabled = false" >/dev/null
    sql -d pga_upg -f scripts/sql/fingerprint.sql > "$OUT/$OLD.before_pg_upgrade"
    bash scripts/cluster.sh stop >/dev/null
    NEXT="$PGA_DIR/next"
    rm -rf "$NEXT"
    init_cluster "$NEXT" "$PGA_PORT" pga_upg pg_cron,pg_anomaly off "pg_upgrade target"
    as_pg mkdir -p "$NEXT/work"
    t0=$(date +%s.%N)
    if ! (cd "$NEXT/work" && as_pg "$PG_BIN/pg_upgrade" -b "$PG_BIN" -B "$PG_BIN" -d "$PGA_DIR/data" -D "$NEXT/data" \
            -p "$PGA_PORT" -P "$PGA_PORT" -s "$NEXT/work" > "$OUT/pg_upgrade.log" 2>&1); then
        cat "$OUT/pg_upgrade.log"
        find "$NEXT/data" -path '*pg_upgrade_output.d*' -name '*.txt' -exec cat {} + 2>/dev/null || true
        fail "pg_upgrade refused or failed (log above)"
    fi
    printf 'pg_upgrade: %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
    pass "pg_upgrade of a cluster with the extension, its rules and data"
    rm -rf "$PGA_DIR/data"
    mv "$NEXT/data" "$PGA_DIR/data"
    cat >> "$PGA_DIR/data/postgresql.conf" <<CONF
unix_socket_directories = '$PGA_DIR/sock'
cron.host = '$PGA_DIR/sock'
CONF
    bash scripts/cluster.sh start >/dev/null
    sql -d pga_upg -f scripts/sql/fingerprint.sql > "$OUT/$OLD.after_pg_upgrade"
    diff -u "$OUT/$OLD.before_pg_upgrade" "$OUT/$OLD.after_pg_upgrade" || fail "rows changed by pg_upgrade"
    pass "every row and sequence unchanged by pg_upgrade"
    old_max=$(sql -d pga_upg -c "SELECT max(id) FROM ml_alerts")
    sql -d pga_upg <<'SQL' >/dev/null
-- a consumption spike (the stock series are still in the episode of the spike above)
SELECT ml_ingest('tuketim_miktar', e, v, t)
  FROM (SELECT entity_id AS e, max("timestamp") AS last FROM ml_metrics
         WHERE metric_type = 'tuketim_miktar' AND entity_id LIKE 'urun\_00%' GROUP BY 1) s,
       LATERAL (SELECT s.last + i * interval '15 minutes' AS t, CASE WHEN i > 4 THEN 1000000.0 ELSE 1 END AS v FROM generate_series(1, 8) i) n;
SELECT ml_run_stage('features');
SELECT ml_run_stage('detection');
SQL
    [ "$(sql -d pga_upg -c "SELECT count(*) FROM ml_alerts WHERE id > $old_max")" -gt 0 ] || fail "no new alert after pg_upgrade"
    check "action after pg_upgrade: resolved from its stored signature, ran as its owner" "upg_app" \
        "$(sql -d pga_upg -c "SELECT DISTINCT opened_by FROM app.tasks WHERE alert_id > $old_max")"
    check "no failed action run after pg_upgrade" "0" \
        "$(sql -d pga_upg -c "SELECT count(*) FROM ml_action_runs WHERE alert_id > $old_max AND NOT success")"
    bash scripts/cluster.sh stop >/dev/null
done
echo "upgrade: $passed passed, 0 failed"
