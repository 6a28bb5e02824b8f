#!/usr/bin/env bash
# Test tier 9, "Citus": pg_anomaly on a Citus cluster of a coordinator and two workers
# (scripts/citus.sh, ports PGA_FAULT_PORT_BASE+6..+8, default 25440-25442).
#   1. Citus 13.2.2 is built from the vendored source (cached under .local/citus) and a
#      local cluster is started; pg_anomaly is created on the coordinator (Citus creates
#      it on the workers).
#   2. A single-node database with data (demo series, features, marks) is converted with
#      ml_distribute(): the per-series tables are distributed by entity_id and colocated,
#      with every row and day partition; the coordinator keeps no copy.
#   3. The pipeline against the distributed tables: a full feature build equals the one
#      of a single-node database (another database on the coordinator, without Citus) on
#      the same data, row for row, built on the workers shard by shard and (with
#      pg_anomaly.citus_shard_builds off) on the coordinator; new, late, corrected and deleted metrics (ml_ingest,
#      INSERT, UPDATE, DELETE) are found without triggers and the incremental build again
#      equals the single-node one; a new day partition created after distribution is
#      distributed too; training from samples drawn per shard on the workers (models equal
#      to single node, also for a sample the row cap cuts, a z-score model and a training on
#      the coordinator), detection scored per shard on the workers with alerts equal to the
#      single-node ones over two passes, the notification outbox on the coordinator, and the
#      real-time worker's warning (it stays idle on Citus).
#   4. Roles on the distributed tables: a reader reads features and cannot write metrics
#      or run stages, a writer ingests and cannot read features or model bytes.
# Prints "SKIPPED: ..." and exits 0 when the vendored tarball is missing.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
if ! missing=$(bash scripts/citus.sh available 2>&1 >/dev/null); then
    echo "SKIPPED: tier 9 (Citus): the vendored Citus source citus-13.2.2.tar.gz is missing ($missing)"
    exit 0
fi
BASE="${PGA_FAULT_PORT_BASE:-25434}"
export PGA_CITUS_PORT=$((BASE + 6)) PGA_CITUS_WORKERS=2 PGA_CITUS_DIR="$ROOT/.local/citus-test" PGA_DB=pga_citus
unset PGA_CITUS_PRELOAD
OUT="$ROOT/.local/citus-test-out"
passed=0
fail() { echo "FAILED: $*" >&2; exit 1; }
pass() { passed=$((passed + 1)); echo "ok: $*"; }
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
node_sql() { local n=$1 db=$2; shift 2; "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGA_CITUS_DIR/node$n/sock" -p $((PGA_CITUS_PORT + n)) -U postgres -d "$db" -At "$@"; }
c() { node_sql 0 pga_citus "$@"; }      # the Citus database, on the coordinator
s() { node_sql 0 pga_single "$@"; }     # the single-node reference database (no Citus in it)
both() { c "$@" >/dev/null && s "$@" >/dev/null; }

bash scripts/citus.sh build
bash scripts/citus.sh remove >/dev/null 2>&1 || true
rm -rf "$OUT"; mkdir -p "$OUT"
trap 'bash scripts/citus.sh stop >/dev/null 2>&1 || true' EXIT
t0=$SECONDS
bash scripts/citus.sh start
check "two workers registered" "2" "$(c -c "SELECT count(*) FROM pg_dist_node WHERE groupid > 0 AND isactive")"
node_sql 0 postgres -c "CREATE DATABASE pga_single" >/dev/null

# The same single-node installation with data in both databases.
END_AT="2026-11-30 00:00+00"
SETUP="SET client_min_messages = warning;
CREATE EXTENSION pg_anomaly;
SELECT sum(rows) FROM ml_generate_demo_data(8, 12, 7, '$END_AT');
SELECT ml_build_features();"
c -c "SET client_min_messages = warning; CREATE EXTENSION pg_cron" >/dev/null   # pg_cron lives in cron.database_name only
c -c "$SETUP" >/dev/null || fail "installing pg_anomaly with demo data in the Citus database"
s -c "$SETUP" >/dev/null || fail "installing pg_anomaly with demo data in the single-node database"
check "pg_anomaly created on every worker by Citus" "2" \
    "$(c -c "SELECT count(*) FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'pg_anomaly'\$\$) WHERE success AND result <> ''")"
metrics=$(c -c "SELECT count(*) FROM ml_metrics")
features=$(c -c "SELECT count(*) FROM ml_features")
[ "$metrics" -gt 10000 ] || fail "demo data: only $metrics metrics"
# A mark left by the single-node triggers at conversion time (a late row not yet built).
c -c "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
      SELECT metric_type, entity_id, metric_value + 1, \"timestamp\" + interval '1 minute' FROM ml_metrics
       WHERE metric_type = 'tuketim_miktar' ORDER BY entity_id, \"timestamp\" LIMIT 1" >/dev/null
s -c "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
      SELECT metric_type, entity_id, metric_value + 1, \"timestamp\" + interval '1 minute' FROM ml_metrics
       WHERE metric_type = 'tuketim_miktar' ORDER BY entity_id, \"timestamp\" LIMIT 1" >/dev/null
check "the single-node triggers marked the late row" "1" "$(c -c "SELECT count(*) FROM ml_series_dirty")"

# 2. ml_distribute(): an admin-only conversion with the data.
c -c "CREATE ROLE cit_admin LOGIN IN ROLE anomaly_admin; CREATE ROLE cit_reader LOGIN IN ROLE anomaly_reader;
      CREATE ROLE cit_writer LOGIN IN ROLE anomaly_writer" >/dev/null
out=$(c -c "SET SESSION AUTHORIZATION cit_reader; SELECT * FROM ml_distribute()" 2>&1) && fail "a reader ran ml_distribute"
echo "$out" | grep -q "permission denied" || fail "unexpected error for a reader's ml_distribute: $out"
pass "a reader cannot run ml_distribute()"
t1=$SECONDS
c -c "SET SESSION AUTHORIZATION cit_admin; SELECT * FROM ml_distribute()" > "$OUT/distribute.txt" || fail "ml_distribute() as anomaly_admin"
echo "ml_distribute() of $metrics metrics and $features features: $((SECONDS - t1)) s"
grep -qx "ml_metrics|distributed by entity_id, colocation group [0-9]*" "$OUT/distribute.txt" || { cat "$OUT/distribute.txt"; fail "ml_metrics not distributed"; }
check "per-series tables distributed and colocated" "1|4" \
    "$(c -c "SELECT count(DISTINCT colocationid), count(*) FROM pg_dist_partition WHERE logicalrelid::text IN ('ml_metrics', 'ml_features', 'ml_series_state', 'ml_series_dirty')")"
check "the other tables stay on the coordinator" "local on the coordinator" "$(grep '^ml_alerts|' "$OUT/distribute.txt" | cut -d'|' -f2)"
check "every row moved to the shards" "$metrics|$((features))" "$(c -c "SELECT (SELECT count(*) FROM ml_metrics) - 1, (SELECT count(*) FROM ml_features)")"
check "no copy of the rows left on the coordinator" "0" \
    "$(c -c "SELECT sum(pg_relation_size(c.oid)) FROM pg_class c WHERE c.relname ~ '^ml_(metrics|features|series_state|series_dirty)(_p[0-9]{8}|_default)?\$' AND c.relkind = 'r'")"
check "day partitions distributed with their parent" "t" \
    "$(c -c "SELECT bool_and(EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = d.rel)) FROM ml_day_partitions('ml_metrics') d")"
check "dirty-marking triggers replaced" "0" "$(c -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ml_metrics'::regclass AND NOT tgisinternal")"
check "ml_distribute() again changes nothing" "$(cat "$OUT/distribute.txt")" "$(c -c "SELECT * FROM ml_distribute()")"

# 3. Features: the same rows as the single-node build.
fingerprint="SELECT count(*) || ' ' || md5(string_agg((to_jsonb(f) - 'id' - 'computed_at')::text, E'\n' ORDER BY metric_type, entity_id, \"timestamp\")) FROM ml_features f"
same_features() {
    local a b
    a=$(c -c "$fingerprint"); b=$(s -c "$fingerprint")
    [ "$a" = "$b" ] || fail "$1: Citus features [$a] differ from the single-node ones [$b]"
    pass "$1 (${a%% *} rows equal)"
}
both -c "SELECT ml_build_features()"
same_features "incremental build of the row marked before the conversion equals single node"
t1=$SECONDS
c -c "SET citus.log_remote_commands = on; SELECT ml_build_features(full_rebuild => true)" > "$OUT/full.log" 2>&1 || { cat "$OUT/full.log"; fail "full rebuild on Citus"; }
echo "full feature rebuild on Citus, shard by shard on the workers: $((SECONDS - t1)) s"
check "the full build ran on the workers, once per shard" "8" "$(grep -c 'ml_build_features_shard(.*ml_metrics_[0-9]*' "$OUT/full.log")"
s -c "SELECT ml_build_features(full_rebuild => true)" >/dev/null
same_features "full rebuild on Citus equals single node"
check "nothing dirty after a build" "0" "$(c -c "SELECT ml_build_features()")"
t1=$SECONDS
c -c "SET pg_anomaly.citus_shard_builds = off; SELECT ml_build_features(full_rebuild => true)" >/dev/null
echo "full feature rebuild on Citus, on the coordinator (pg_anomaly.citus_shard_builds = off): $((SECONDS - t1)) s"
same_features "full rebuild on the coordinator equals single node"
check "nothing dirty after it (shard builds compare)" "0" "$(c -c "SELECT ml_build_features()")"
c -c "SELECT ml_build_features(full_rebuild => true, parallel => 2)" >/dev/null || fail "parallel => 2 on Citus"
same_features "a parallel full rebuild (shard builds) equals single node"
out=$(c -c "SELECT ml_build_features_shard('ml_metrics', NULL, false, 'UTC')" 2>&1) && fail "a shard build of a non-shard"
echo "$out" | grep -q "not a shard of ml_metrics on this node" || fail "unexpected error for a non-shard: $out"
pass "a shard build refuses a relation that is not a local shard of ml_metrics"
# the coordinator's settings reach the shard builds (the workers' ml_settings keep the defaults)
both -c "UPDATE ml_settings SET stat_window = '6 hours' WHERE metric_type = 'dolum_sure'"
both -c "SELECT ml_build_features('dolum_sure', full_rebuild => true)"
same_features "a coordinator setting changed: shard builds use it like single node"

# New, late, corrected and deleted metrics, by each path, in both databases.
# (ml_ingest is called over a temporary table: in a SELECT over a distributed table Citus
# would run the call on the workers, where it refuses the nested distributed query)
CHANGES="CREATE TEMP TABLE lasts AS SELECT entity_id AS e, max(\"timestamp\") AS last FROM ml_metrics WHERE metric_type = 'stok_seviye' GROUP BY 1;
SELECT ml_ingest('stok_seviye', e, 40 + i, last + i * interval '15 minutes') FROM lasts, generate_series(1, 4) i;
CREATE TEMP TABLE corr AS SELECT \"timestamp\" AS t FROM ml_metrics WHERE metric_type = 'tuketim_miktar' AND entity_id = 'urun_2' ORDER BY 1 OFFSET 300 LIMIT 1;
SELECT ml_ingest('tuketim_miktar', 'urun_2', 999, t) FROM corr;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
SELECT 'dolum_sure', entity_id, 3, min(\"timestamp\") + interval '7 minutes' FROM ml_metrics WHERE metric_type = 'dolum_sure' GROUP BY entity_id;
UPDATE ml_metrics SET metric_value = metric_value * 2 WHERE metric_type = 'zimmet_kullanim' AND entity_id = 'oda_3' AND \"timestamp\" > '$END_AT'::timestamptz - interval '2 days';
DELETE FROM ml_metrics WHERE metric_type = 'stok_seviye' AND entity_id = 'urun_4' AND \"timestamp\" > '$END_AT'::timestamptz - interval '3 days';"
c -c "$CHANGES" >/dev/null || fail "changes on Citus"
s -c "$CHANGES" >/dev/null || fail "changes on single node"
t1=$SECONDS
built=$(c -c "SELECT ml_run_stage('features')->>'rows'")
echo "incremental feature stage on Citus after the changes: $((SECONDS - t1)) s, $built rows"
s -c "SELECT ml_run_stage('features')" >/dev/null
same_features "incremental build after new, late, corrected and deleted metrics equals single node"

# A day after the last partition: ml_ensure_partitions creates it and Citus distributes it.
both -c "SELECT ml_ensure_partitions('$END_AT'::timestamptz + interval '2 days', '$END_AT'::timestamptz + interval '2 days')"
check "a partition created after distribution is distributed" "t" \
    "$(c -c "SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = ('ml_metrics_p' || to_char(('$END_AT'::timestamptz + interval '2 days') AT TIME ZONE 'UTC', 'YYYYMMDD'))::regclass)")"
NEWDAY="SELECT ml_ingest('tuketim_miktar', 'urun_' || i, 5, '$END_AT'::timestamptz + interval '2 days 1 hour') FROM generate_series(1, 8) i"
both -c "$NEWDAY"
both -c "SELECT ml_build_features()"
same_features "rows in the new partition built like single node"

# Training, detection, alerts and the outbox.
TRAIN="SET client_min_messages = warning;
SELECT ml_add_channel('ops', 'webhook', '{\"url\": \"http://127.0.0.1:9/alerts\"}');
SELECT ml_add_notification_rule('ops', 'dusuk');
SELECT metric_type, ml_train(metric_type, train_until => '$END_AT'::timestamptz - interval '4 days') FROM ml_settings ORDER BY 1;"
t1=$SECONDS
c -c "SET citus.log_remote_commands = on" -c "${TRAIN/warning/notice}" > "$OUT/train.txt" 2> "$OUT/train.log" || { cat "$OUT/train.log"; fail "training on Citus"; }
echo "training (4 metric types) on Citus, samples drawn on the workers: $((SECONDS - t1)) s"
s -c "$TRAIN" >/dev/null || fail "training on single node"
check "a model per metric type" "4" "$(c -c "SELECT count(*) FROM ml_models WHERE is_active")"
check "each training drew its sample on the workers, once per shard" "32" "$(grep -c 'ml_train_sample_shard(.*ml_metrics_[0-9]*' "$OUT/train.log")"
check "no training read series through the coordinator" "0" "$(grep -c 'm.hour_of_day' "$OUT/train.log")"
models="SELECT string_agg(metric_type || ':' || model_type || ':' || threshold::text || ':' || data_points || ':' || md5(model_data), ',' ORDER BY metric_type, model_type) FROM ml_models WHERE is_active"
check "models from per-worker samples equal to single node (bytes, threshold, rows)" "$(s -c "$models")" "$(c -c "$models")"
# A sample that the row cap cuts: 12 series of 1,000 rows, at most 10,000 rows read. The
# cut is planned on the coordinator from the shards' row counts; the entities read, their
# order and so the model must be those of single node.
# (separate statements: on Citus the shard work runs in its own transactions on the
# workers, which do not see rows the calling transaction has not committed)
CAPPED_ROWS="INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
SELECT 'sicaklik', 'sensor_' || e, 20 + 3 * sin(i / 16.0 + e) + (i % 7) * 0.1 + CASE WHEN e = 5 AND i BETWEEN 900 AND 910 THEN 25 ELSE 0 END,
       '$END_AT'::timestamptz - interval '12 days' + i * interval '15 minutes'
  FROM generate_series(1, 12) e, generate_series(0, 999) i"
for db in c s; do
    $db -c "SET client_min_messages = warning" -c "$CAPPED_ROWS" -c "SELECT ml_build_features('sicaklik')" \
        -c "SELECT ml_train('sicaklik', params => '{\"max_train_rows\": 10000}')" \
        -c "SELECT ml_train('tuketim_miktar', 'z_score', train_until => '$END_AT'::timestamptz - interval '4 days')" >/dev/null \
        || fail "capped and z-score training ($db)"
done
check "the row cap cut the sample (entities read of 12)" "t" \
    "$(c -c "SELECT (parameters->'sample'->>'entities_read')::int < 12 FROM ml_models WHERE metric_type = 'sicaklik' AND is_active")"
check "capped sample and z-score model equal to single node" "$(s -c "$models")" "$(c -c "$models")"
t1=$SECONDS
c -c "SET citus.log_remote_commands = on" -c "SELECT ml_run_stage('detection')" > "$OUT/detect.txt" 2> "$OUT/detect.log" || { cat "$OUT/detect.log"; fail "detection stage on Citus"; }
echo "detection stage on Citus, scored on the workers: $((SECONDS - t1)) s"
s -c "SELECT ml_run_stage('detection')" >/dev/null
check "detection scored on the workers, once per shard and metric type" "40" "$(grep -c 'ml_detect_shard(.*ml_metrics_[0-9]*' "$OUT/detect.log")"
check "no series read through the coordinator by detection" "0" "$(grep -c 'm.hour_of_day' "$OUT/detect.log")"
stage_counts="SELECT string_agg((r->>'metric_type') || ':' || (r->>'scored') || ':' || (r->>'anomalous'), ',' ORDER BY r->>'metric_type') FROM jsonb_array_elements(ml_run_stage('detection')->'metric_types') r"
alerts="SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', metric_type, entity_id, \"timestamp\", last_seen, severity, observation_count, is_open, round(score::numeric, 6), round(peak_score::numeric, 6), metric_value, message), ',' ORDER BY metric_type, entity_id, \"timestamp\")) FROM ml_alerts"
a=$(c -c "$alerts")
[ "${a%% *}" -gt 0 ] || fail "no alert on Citus"
check "alerts from the workers' scoring equal to single node" "$(s -c "$alerts")" "$a"
# A second pass after new anomalous rows: the known (open) alerts travel to the workers,
# which continue, extend or close them as single node does.
MORE="SELECT ml_ingest('tuketim_miktar', 'urun_' || e, 400 + 10 * i, '$END_AT'::timestamptz + interval '2 days 4 hours' + i * interval '15 minutes')
        FROM generate_series(1, 8) e, generate_series(0, 3) i;
      SELECT ml_ingest('sicaklik', 'sensor_' || e, 90, '$END_AT'::timestamptz - interval '12 days' + 1000 * interval '15 minutes') FROM generate_series(1, 12) e"
c -c "$MORE" >/dev/null && s -c "$MORE" >/dev/null || fail "new anomalous rows"
check "the second detection pass scores the same rows as single node" "$(s -c "$stage_counts")" "$(c -c "$stage_counts")"
check "alerts after a second pass (known alerts continued on the workers) equal to single node" "$(s -c "$alerts")" "$(c -c "$alerts")"
# (the notifier may already be retrying them against the closed port: any status counts)
n=$(c -c "SELECT count(*) FROM ml_alerts")
[ "$n" -gt "${a%% *}" ] || fail "the second detection pass added no alert ($n)"
check "outbox on the coordinator: one notification per alert" "$n|$n" \
    "$(c -c "SELECT count(*) FROM ml_notifications")|$(s -c "SELECT count(*) FROM ml_notifications")"
check "no failed run" "0" "$(c -c "SELECT count(*) FROM ml_job_runs WHERE NOT success")"
# With pg_anomaly.citus_shard_builds off the coordinator reads the sample itself: the same
# model, and its series reads show in the log (so the "no series read through the
# coordinator" checks above look for what such reads do issue: Citus renames the
# aggregated columns in what it sends, but names the series columns, m.hour_of_day).
active=$(c -c "SELECT md5(model_data) FROM ml_models WHERE metric_type = 'stok_seviye' AND is_active AND model_type = 'isolation_forest'")
c -c "SET pg_anomaly.citus_shard_builds = off" -c "SET citus.log_remote_commands = on" \
  -c "SELECT ml_train('stok_seviye', train_until => '$END_AT'::timestamptz - interval '4 days')" >/dev/null 2> "$OUT/train-off.log" \
    || { cat "$OUT/train-off.log"; fail "training on the coordinator (shard work off)"; }
[ "$(grep -c 'm.hour_of_day' "$OUT/train-off.log")" -gt 0 ] || fail "the coordinator's own series reads left no trace in the log"
check "with the shard work off the coordinator reads the series, and no sample call goes out" "0" "$(grep -c 'ml_train_sample_shard(' "$OUT/train-off.log")"
check "a model trained on the coordinator (shard work off) equals the per-worker one" "$active" \
    "$(c -c "SELECT md5(model_data) FROM ml_models WHERE metric_type = 'stok_seviye' AND model_type = 'isolation_forest' ORDER BY id DESC LIMIT 1")"
out=$(c -c "SELECT ml_detect_shard('ml_metrics', '\\x00', '\\x00')" 2>&1) && fail "a detection of a non-shard"
echo "$out" | grep -q "not a shard of ml_metrics on this node" || fail "unexpected error for a non-shard detection: $out"
out=$(c -c "SELECT ml_train_sample_shard('ml_metrics', '\\x00')" 2>&1) && fail "a sample of a non-shard"
echo "$out" | grep -q "not a shard of ml_metrics on this node" || fail "unexpected error for a non-shard sample: $out"
pass "the shard functions refuse a relation that is not a local shard of ml_metrics"
c -c "SELECT count(*) FROM ml_cleanup()" >/dev/null || fail "ml_cleanup() on Citus"
pass "cleanup (retention, partition maintenance) on the distributed tables"
scored=$(c -c "SELECT count(*) FROM ml_detect('stok_seviye')")
[ "$scored" -gt 0 ] || fail "ml_detect returned nothing"
pass "ml_detect scores distributed features ($scored rows)"

# 4. Roles on the distributed tables.
check "a reader reads distributed features" "$(c -c "SELECT count(*) FROM ml_features")" \
    "$(c -c "SET SESSION AUTHORIZATION cit_reader; SELECT count(*) FROM ml_features")"
denied() {
    local what=$1 q=$2 out
    out=$(c -c "$q" 2>&1) && fail "$what"
    echo "$out" | grep -q "permission denied" || fail "$what: unexpected error: $out"
    pass "$what: refused"
}
denied "a reader inserting metrics" "SET SESSION AUTHORIZATION cit_reader; INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\") VALUES ('stok_seviye', 'x', 1, now())"
denied "a reader deleting features" "SET SESSION AUTHORIZATION cit_reader; DELETE FROM ml_features"
denied "a reader running the feature stage" "SET SESSION AUTHORIZATION cit_reader; SELECT ml_build_features()"
denied "a writer reading features" "SET SESSION AUTHORIZATION cit_writer; SELECT count(*) FROM ml_features"
denied "a writer reading model bytes" "SET SESSION AUTHORIZATION cit_writer; SELECT model_data FROM ml_models"
denied "a writer updating series state" "SET SESSION AUTHORIZATION cit_writer; UPDATE ml_series_state SET scored_until = NULL"
check "a writer ingests into the distributed table" "inserted" \
    "$(c -c "SET SESSION AUTHORIZATION cit_writer; SELECT ml_ingest('stok_seviye', 'urun_9', 7, '$END_AT'::timestamptz + interval '2 days 2 hours')")"
c -c "SET SESSION AUTHORIZATION cit_writer; INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\") VALUES ('stok_seviye', 'urun_9', 8, '$END_AT'::timestamptz + interval '2 days 3 hours')" >/dev/null \
    || fail "a writer's INSERT into ml_metrics"
check "the writer's rows reach the feature stage" "2" "$(c -c "SET SESSION AUTHORIZATION cit_admin; SELECT ml_build_features()")"
# The real-time worker on Citus: a distributed ml_metrics has no dirty marks to wait for; it
# says so once in the server log and stays idle (no failing micro-batches).
RT_WARNING="real-time worker does not run on a Citus cluster"
c -c "ALTER SYSTEM SET pg_anomaly.realtime = on" -c "ALTER SYSTEM SET pg_anomaly.realtime_interval = 1" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 40); do grep -q "$RT_WARNING" "$PGA_CITUS_DIR/node0/server.log" && break; sleep 1; done
sleep 3
check "the real-time worker warns once on Citus and stays idle" "1|0" \
    "$(grep -c "$RT_WARNING" "$PGA_CITUS_DIR/node0/server.log")|$(grep -c 'micro-batch failed' "$PGA_CITUS_DIR/node0/server.log")"
c -c "ALTER SYSTEM RESET pg_anomaly.realtime" -c "ALTER SYSTEM RESET pg_anomaly.realtime_interval" -c "SELECT pg_reload_conf()" >/dev/null
echo "tier 9 (Citus) cluster and pipeline: $((SECONDS - t0)) s"
echo "citus: $passed passed, 0 failed"
