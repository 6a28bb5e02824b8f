#!/usr/bin/env bash
# Test tier "dump and restore": builds a working pipeline in one cluster (a collection
# source owned by an application role, custom settings, demo data, features, feature
# selection, trained models, alerts with notifications and an automatic action, daily
# partitions, watermarks, the pg_cron schedule), takes `pg_dumpall --roles-only` and
# `pg_dump -Fc`, restores both into a freshly initialised cluster and checks there that
#   - every table of the extension holds the same rows, and every sequence the same position,
#   - the settings and the schedule are the same,
#   - detection with the restored models scores the same values as before,
#   - the next collection reads only new rows (watermark), the next feature, detection and
#     training stages run, new alerts and channels get new ids (sequences continued).
# Uses the installed build (scripts/install.sh) and two clusters of its own on ports
# PGA_FAULT_PORT_BASE+1 and +2 (default 25435, 25436). Prints the dump and restore times.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
BASE="${PGA_FAULT_PORT_BASE:-25434}"
SRC_DIR="$ROOT/.local/dump-src" SRC_PORT=$((BASE + 1))
DST_DIR="$ROOT/.local/dump-dst" DST_PORT=$((BASE + 2))
DB=pga_dump
OUT="$ROOT/.local/dump"
src_cluster() { PGA_DIR="$SRC_DIR" PGA_PORT="$SRC_PORT" PGA_DB="$DB" PGA_REALTIME=off bash scripts/cluster.sh "$@"; }
dst_cluster() { PGA_DIR="$DST_DIR" PGA_PORT="$DST_PORT" PGA_DB="$DB" PGA_REALTIME=off bash scripts/cluster.sh "$@"; }
trap 'src_cluster stop >/dev/null 2>&1 || true; dst_cluster stop >/dev/null 2>&1 || true' EXIT
src() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SRC_DIR/sock" -p "$SRC_PORT" -U postgres -d "$DB" -At "$@"; }
dst() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DST_DIR/sock" -p "$DST_PORT" -U postgres -d "$DB" -At "$@"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
passed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}

src_cluster remove >/dev/null 2>&1 || true
dst_cluster remove >/dev/null 2>&1 || true
rm -rf "$OUT"; mkdir -p "$OUT"
src_cluster start >/dev/null

log "building a pipeline in the source cluster (port $SRC_PORT)"
src <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION pg_anomaly;
-- An application role that owns a collection source and an automatic action.
CREATE ROLE dump_app LOGIN;
GRANT anomaly_admin TO dump_app;
CREATE SCHEMA app AUTHORIZATION dump_app;
-- Sources and actions are owned by the session's login role (stamped by the tables' triggers).
SET SESSION AUTHORIZATION dump_app;
CREATE TABLE app.moves (urun_id text, qty float8, at timestamptz);
INSERT INTO app.moves SELECT 'urun_' || (i % 5), 10 + i % 7, now() - interval '3 days' + i * interval '20 minutes'
  FROM generate_series(1, 150) i;
CREATE TABLE app.tasks (alert_id bigint PRIMARY KEY, opened_by text NOT NULL DEFAULT current_user);
CREATE FUNCTION app.open_task(alert bigint) RETURNS void LANGUAGE sql
  AS 'INSERT INTO app.tasks (alert_id) VALUES (alert) ON CONFLICT DO NOTHING';
SELECT ml_add_source('moves', 'tuketim_miktar',
  'SELECT urun_id AS entity_id, qty AS metric_value, at AS "timestamp" FROM app.moves WHERE at > $1', 'event');
SELECT ml_add_action('app.open_task(bigint)', 'yuksek');
RESET SESSION AUTHORIZATION;
-- Settings differing from the defaults, including a changed default row.
UPDATE ml_settings SET episode_gap = '3 hours', params = '{"trees": 64}' WHERE metric_type = 'dolum_sure';
-- (disabled: no data of it here, and an enabled type without data is reported by each stage)
INSERT INTO ml_settings (metric_type, alert_type, period, enabled) VALUES ('oda_sicaklik', 'oda_anomali', '12 hours', false);
-- A channel on the discard port of loopback (deliveries fail and are retried: fine here).
SELECT ml_add_channel('ops', 'webhook', '{"url": "http://127.0.0.1:9/alerts"}');
SELECT ml_add_notification_rule('ops', 'orta');
INSERT INTO ml_labels (metric_type, entity_id, starts_at, ends_at, kind, note)
  VALUES ('stok_seviye', 'urun_1', now() - interval '2 days', now() - interval '47 hours', 'incident', 'kept by the dump');
SELECT count(*) FROM ml_schedule();
SQL
src -c "SELECT ml_generate_demo_data(6, 12, 7)" >/dev/null
src -c "SELECT * FROM ml_collect('moves')" >/dev/null
src -c "SELECT ml_run_stage('features')" >/dev/null
src <<'SQL' >/dev/null
SELECT metric_type, (SELECT count(*) FROM ml_select_features(metric_type) WHERE kept),
       ml_train(metric_type, train_until => (SELECT max("timestamp") - interval '4 days' FROM ml_metrics))
  FROM ml_settings WHERE metric_type IN ('stok_seviye', 'tuketim_miktar', 'dolum_sure', 'zimmet_kullanim');
SELECT ml_train('stok_seviye', 'z_score');
SELECT ml_run_stage('detection');
SELECT * FROM ml_cleanup();
UPDATE ml_alerts SET is_false_positive = true, is_read = true WHERE id = (SELECT min(id) FROM ml_alerts);
SQL

alerts=$(src -c "SELECT count(*) FROM ml_alerts")
models=$(src -c "SELECT count(*) FROM ml_models WHERE is_active")
parts=$(src -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'ml_metrics'::regclass")
tasks=$(src -c "SELECT count(*) FROM app.tasks")
notes=$(src -c "SELECT count(*) FROM ml_notifications")
echo "source: $alerts alerts, $models active models, $parts ml_metrics partitions, $notes notifications, $tasks tasks"
[ "$alerts" -gt 0 ] && [ "$models" -ge 5 ] && [ "$parts" -gt 10 ] && [ "$tasks" -gt 0 ] && [ "$notes" -gt 0 ] \
    || fail "the source pipeline is incomplete"

# What must come back: every row, partition and sequence position (scripts/sql/fingerprint.sql).
FINGERPRINT_SQL=$(cat scripts/sql/fingerprint.sql)
# Detection of the last two days with the active models, not saved: the same scores after the restore.
DETECT_SQL="SELECT metric_type || ' ' || count(*) || ' ' || md5(string_agg(d::text, '|' ORDER BY d::text))
  FROM (SELECT m.metric_type, d FROM ml_settings m, LATERAL ml_detect(m.metric_type, (SELECT max(\"timestamp\") - interval '2 days' FROM ml_metrics), NULL, false) d
        WHERE m.metric_type IN ('stok_seviye', 'tuketim_miktar', 'dolum_sure', 'zimmet_kullanim')) x(metric_type, d)
  GROUP BY metric_type ORDER BY 1"

log "pg_dumpall --roles-only and pg_dump -Fc"
src -c "$DETECT_SQL" > "$OUT/detect.before"
# The notifier keeps retrying the unreachable channel: stop it touching the outbox while dumping.
src -c "UPDATE ml_channels SET enabled = false" >/dev/null
src -c "$FINGERPRINT_SQL" > "$OUT/fingerprint.before"
t0=$(date +%s.%N)
"$PG_BIN/pg_dumpall" -h "$SRC_DIR/sock" -p "$SRC_PORT" -U postgres --roles-only > "$OUT/roles.sql"
"$PG_BIN/pg_dump" -h "$SRC_DIR/sock" -p "$SRC_PORT" -U postgres -Fc -f "$OUT/$DB.dump" "$DB"
t1=$(date +%s.%N)
src_cluster stop >/dev/null

log "restoring into a fresh cluster (port $DST_PORT)"
dst_cluster start >/dev/null
t2=$(date +%s.%N)
# The cluster's own superuser exists already; every other role comes from the dump.
grep -vE '^(CREATE|ALTER) ROLE postgres[ ;]' "$OUT/roles.sql" | dst >/dev/null
# The daily partitions' unique keys come with ATTACH PARTITION (the parent tables, made by
# CREATE EXTENSION, already have theirs): leave out the dump's own copies (README, "Backups").
"$PG_BIN/pg_restore" -l "$OUT/$DB.dump" \
    | grep -vE '^[0-9]+; [0-9]+ [0-9]+ (CONSTRAINT|INDEX ATTACH) [^ ]+ ml_(metrics|features)_p[0-9]{8}' > "$OUT/restore.list"
"$PG_BIN/pg_restore" -h "$DST_DIR/sock" -p "$DST_PORT" -U postgres -d "$DB" --exit-on-error -L "$OUT/restore.list" "$OUT/$DB.dump" 2> "$OUT/restore.log" \
    || { cat "$OUT/restore.log"; fail "pg_restore failed"; }
t3=$(date +%s.%N)
dump_size=$(stat -c %s "$OUT/$DB.dump")
rows=$(dst -c "SELECT count(*) FROM ml_metrics")
printf 'dump: %.2f s (%d KiB, %s metrics), restore: %.2f s\n' "$(echo "$t1 - $t0" | bc)" $((dump_size / 1024)) "$rows" "$(echo "$t3 - $t2" | bc)"

log "checking the restored pipeline"
dst -c "$FINGERPRINT_SQL" > "$OUT/fingerprint.after"
if ! diff -u "$OUT/fingerprint.before" "$OUT/fingerprint.after"; then fail "restored data differs"; fi
pass "$(wc -l < "$OUT/fingerprint.after") tables and sequences identical after the restore"
dst -c "UPDATE ml_channels SET enabled = true" >/dev/null
check "settings" "$(printf 'dolum_sure 1 day 03:00:00 {"trees": 64} \noda_sicaklik 12:00:00 02:00:00 {} f')" \
    "$(dst -c "SELECT metric_type, period, episode_gap, params, CASE WHEN metric_type = 'oda_sicaklik' THEN enabled END FROM ml_settings WHERE metric_type IN ('dolum_sure', 'oda_sicaklik') ORDER BY 1" -F ' ')"
check "source owner" "dump_app" "$(dst -c "SELECT owner::regrole FROM ml_sources WHERE name = 'moves'")"
check "action owner" "dump_app" "$(dst -c "SELECT owner::regrole FROM ml_action_rules")"
check "schedule" "5" "$(dst -c "SELECT count(*) FROM cron.job WHERE jobname LIKE 'pg_anomaly_%' AND database = '$DB' AND active")"
dst -c "$DETECT_SQL" > "$OUT/detect.after"
diff -u "$OUT/detect.before" "$OUT/detect.after" || fail "detection with the restored models scores differently"
pass "detection with the restored models: $(wc -l < "$OUT/detect.after") metric types, same scores"

# The next stages: new application rows, new observations with a spike, then collection,
# features, detection and training as the schedule runs them.
old_max_alert=$(dst -c "SELECT max(id) FROM ml_alerts")
restored_at=$(dst -c "SELECT now()")
old_metrics=$(dst -c "SELECT count(*) FROM ml_metrics")
dst <<'SQL' >/dev/null
INSERT INTO app.moves SELECT 'urun_' || (i % 5), 12, now() - interval '1 hour' + i * interval '1 minute' FROM generate_series(1, 30) i;
SELECT ml_ingest('stok_seviye', e, v, t)
  FROM (SELECT entity_id AS e, max("timestamp") AS last FROM ml_metrics WHERE metric_type = 'stok_seviye' GROUP BY 1) s,
       LATERAL (SELECT s.last + i * interval '15 minutes' AS t, CASE WHEN i > 4 THEN 100000.0 ELSE 50 END AS v FROM generate_series(1, 8) i) n;
SQL
check "collection reads only new rows" "30" "$(dst -c "SELECT sum(rows_inserted) FROM ml_collect('moves')")"
feat=$(dst -c "SELECT ml_run_stage('features')->>'rows'")
[ "${feat:-0}" -gt 0 ] || fail "the feature stage wrote no rows after the restore"
pass "feature stage after the restore: $feat rows"
dst -c "SELECT ml_run_stage('detection')" > "$OUT/detection.json"
grep -q '"error"' "$OUT/detection.json" && { cat "$OUT/detection.json"; fail "detection stage failed after the restore"; }
new_alerts=$(dst -c "SELECT count(*) FROM ml_alerts WHERE id > $old_max_alert AND metric_type = 'stok_seviye'")
[ "$new_alerts" -gt 0 ] || fail "no new alert for the injected spike after the restore"
pass "detection stage after the restore: $new_alerts new stok_seviye alerts with new ids"
check "automatic action ran as its owner" "dump_app" \
    "$(dst -c "SELECT DISTINCT opened_by FROM app.tasks WHERE alert_id > $old_max_alert" | head -n 1)"
check "notifications queued for new alerts" "t" \
    "$(dst -c "SELECT count(*) > 0 FROM ml_notifications WHERE alert_id > $old_max_alert")"
dst -c "SELECT ml_add_channel('ops2', 'webhook', '{\"url\": \"http://127.0.0.1:9/b\"}')" >/dev/null
pass "a new channel after the restore (identity sequence continued)"
new_model=$(dst -c "SELECT ml_train('tuketim_miktar')")
check "training after the restore makes the next version" "t" \
    "$(dst -c "SELECT version > 1 FROM ml_models WHERE id = $new_model")"
check "no failed stage run after the restore" "0" "$(dst -c "SELECT count(*) FROM ml_job_runs WHERE NOT success AND started >= '$restored_at'")"
[ "$(dst -c "SELECT count(*) FROM ml_metrics")" -gt "$old_metrics" ] || fail "no new metrics stored"
check "importance stored with a restored model" "t" "$(dst -c "SELECT count(*) > 0 FROM ml_feature_importance('stok_seviye')")"
# The restore (a superuser's COPY) kept the dumped owners; the owner triggers and column
# privileges came back with CREATE EXTENSION and still refuse everyone else.
check "owner triggers enabled after the restore" "3" \
    "$(dst -c "SELECT count(*) FROM pg_trigger WHERE tgname IN ('ml_sources_stamp_owner', 'ml_action_rules_check', 'ml_settings_replace_default') AND tgenabled = 'O'")"
dst -c "CREATE ROLE dump_other LOGIN; GRANT anomaly_admin TO dump_other" >/dev/null
for stmt in "UPDATE ml_sources SET owner = 'dump_other'::regrole WHERE name = 'moves'" \
            "INSERT INTO ml_action_rules (action, owner) VALUES ('app.open_task(bigint)', 'dump_other'::regrole)"; do
    out=$(dst -c "SET SESSION AUTHORIZATION dump_other; $stmt" 2>&1) && fail "an admin wrote an owner after the restore: $stmt"
    grep -q "permission denied" <<< "$out" || fail "unexpected error for [$stmt]: $out"
done
pass "an admin cannot write the owner columns after the restore"
dst -c "SET SESSION AUTHORIZATION dump_other; UPDATE ml_sources SET query = query || ' ' WHERE name = 'moves'" >/dev/null
check "a changed query is stamped with the login role that changed it" "dump_other" "$(dst -c "SELECT owner FROM ml_sources WHERE name = 'moves'")"
dst_cluster stop >/dev/null
echo "dump and restore: $passed passed, 0 failed"
