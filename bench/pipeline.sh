#!/usr/bin/env bash
# Database-path benchmark at 1,000 entities x 4 metric types x 30 days (11.5 million metrics)
# against the local cluster (scripts/cluster.sh, port 25432): demo generation, full feature
# build vs PostgreSQL writing the same rows, incremental build after 30 more minutes of data,
# the backend's peak memory, training, one scheduled detection run over one hour of new
# data, and ml_detect throughput over 30 days of one metric type.
# Usage: bench/pipeline.sh [entities] [days]     (prints figures; takes a few minutes)
# PIPELINE_REFERENCE=0 skips the parallel rebuild and the INSERT ... SELECT reference copies.
# Prints the database's size per table and index, in bytes per observation, after the build.
source "$(dirname "$0")/../scripts/common.sh"
cd "$ROOT"
ENTITIES="${1:-1000}"
DAYS="${2:-30}"
REFERENCE="${PIPELINE_REFERENCE:-1}"
bash scripts/cluster.sh start >/dev/null
P() { bench_psql "$@"; }
ms() { awk '/^Time:/ {print $2}' | tail -n 1; }
# Runs one statement in a fresh session; prints "<ms> ms, backend peak <VmHWM>".
fresh() {
    local out
    out=$(P <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv BENCH_PID :pid
\timing on
$1;
\timing off
\! grep VmHWM /proc/\$BENCH_PID/status
SQL
)
    echo "$(echo "$out" | ms) ms, backend peak $(echo "$out" | awk '/VmHWM/ {print $2 " " $3}')"
}

bench_fresh_extension
END="date_trunc('hour', now()) - interval '1 hour'"

t=$(P -c '\timing on' -c "SELECT sum(rows) FROM ml_generate_demo_data($ENTITIES, $DAYS, 42, $END, parallel => 2)" | ms)
rows=$(P -Atc "SELECT count(*) FROM ml_metrics")
echo "demo data (2 workers): $rows metrics in $t ms ($(awk "BEGIN {printf \"%.0f\", $rows / ($t / 1000)}") rows/s)"

# One session: full build, then the backend's peak resident memory.
out=$(P <<SQL
\timing on
SELECT pg_backend_pid() AS pid \gset
\setenv BENCH_PID :pid
SELECT ml_build_features(full_rebuild => true);
\timing off
\! grep VmHWM /proc/\$BENCH_PID/status
SQL
)
fb=$(echo "$out" | ms)
hwm=$(echo "$out" | awk '/VmHWM/ {print $2 " " $3}')
frows=$(P -Atc "SELECT count(*) FROM ml_features")
echo "full feature build: $frows rows in $fb ms; backend VmHWM $hwm (includes the shared buffers it touched)"
if [ "$REFERENCE" = 1 ]; then
    fp=$(P -c '\timing on' -c "SELECT ml_build_features(full_rebuild => true, parallel => 2)" | ms)
    echo "full feature build with 2 workers: $fp ms (speed-up $(awk "BEGIN {printf \"%.2f\", $fb / $fp}"))"

    P -c "DROP TABLE IF EXISTS a_copy_flat, a_copy_part" >/dev/null
    P -c "CREATE TABLE a_copy_flat (LIKE ml_features INCLUDING ALL)" >/dev/null
    cf=$(P -c '\timing on' -c "INSERT INTO a_copy_flat SELECT * FROM ml_features" | ms)
    P -c "CREATE TABLE a_copy_part (LIKE ml_features INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES) PARTITION BY RANGE (\"timestamp\")" >/dev/null 2>&1 || true
    P -Atc "SELECT format('CREATE TABLE %I PARTITION OF a_copy_part FOR VALUES FROM (%L) TO (%L);', 'a_copy_part_' || (i + 10), d, d + interval '1 day')
            FROM (SELECT i, (date_trunc('day', now() AT TIME ZONE 'UTC') - i * interval '1 day') AT TIME ZONE 'UTC' AS d
                  FROM generate_series(-2, $DAYS + 2) i) s" | P >/dev/null
    P -c "CREATE TABLE a_copy_part_default PARTITION OF a_copy_part DEFAULT" >/dev/null
    cp=$(P -c '\timing on' -c "INSERT INTO a_copy_part SELECT * FROM ml_features" | ms)
    echo "PostgreSQL writing the same rows: INSERT ... SELECT into a plain table $cf ms, into a day-partitioned table $cp ms"
    echo "ratio full build / plain copy: $(awk "BEGIN {printf \"%.2f\", $fb / $cf}"), / partitioned copy: $(awk "BEGIN {printf \"%.2f\", $fb / $cp}")"
    P -c "DROP TABLE a_copy_flat, a_copy_part" >/dev/null
fi

# What autovacuum does to a table that has stopped changing (ml_metrics and ml_features
# are insert-mostly): set the visibility map, so look-back reads are index-only.
vac=$(P -c '\timing on' -c "VACUUM (ANALYZE) ml_metrics, ml_features" | ms)
echo "VACUUM (ANALYZE) of ml_metrics and ml_features after the load: $vac ms"

# Sizes after the build: heap (with TOAST, free space and visibility maps) per table and
# each index, summed over the day partitions, in bytes per observation of ml_metrics.
echo "database size after the build ($rows observations):"
P -A -F '|' -t <<SQL | awk -F '|' -v n="$rows" '{printf "  %-48s %10.1f MB %8.1f B/obs\n", $1, $2 / 1048576, $2 / n}'
WITH parent(rel) AS (VALUES ('ml_metrics'::regclass), ('ml_features'::regclass)),
parts AS (
    SELECT p.rel, t.relid FROM parent p, pg_catalog.pg_partition_tree(p.rel) t WHERE t.isleaf
),
idx AS (
    SELECT i.indexrelid::regclass AS idx FROM pg_catalog.pg_index i JOIN parent p ON i.indrelid = p.rel
)
SELECT rel::text || ' (table)', sum(pg_catalog.pg_table_size(relid)) FROM parts GROUP BY rel
UNION ALL
SELECT idx::text || ' (index)', sum(pg_catalog.pg_relation_size(t.relid))
  FROM idx, pg_catalog.pg_partition_tree(idx.idx) t WHERE t.isleaf GROUP BY idx
UNION ALL
SELECT 'ml_metrics+ml_features (tables+indexes)', sum(pg_catalog.pg_total_relation_size(relid)) FROM parts
UNION ALL
SELECT 'ml_series_checkpoint (kernel checkpoints, table+TOAST+key)', pg_catalog.pg_total_relation_size(c)
  FROM pg_catalog.to_regclass('ml_series_checkpoint') c WHERE c IS NOT NULL
UNION ALL
SELECT 'database', pg_catalog.pg_database_size(pg_catalog.current_database());
SQL

# 30 more minutes of data: 2 new points per series.
P -c "INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
      SELECT m.metric_type, m.entity_id, m.metric_value, m.\"timestamp\" + k * interval '15 minutes'
        FROM ml_metrics m CROSS JOIN generate_series(1, 2) k
       WHERE m.\"timestamp\" = (SELECT max(\"timestamp\") FROM ml_metrics)" >/dev/null
inc=$(fresh "SELECT ml_build_features()")
echo "incremental feature build after 30 minutes of new data ($((ENTITIES * 8)) metrics), fresh session: $inc"
# The same in a process that built the previous increment and kept the kernels' state
# (what the real-time worker does every few seconds): one session, two increments, the
# second one timed.
more="INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
      SELECT m.metric_type, m.entity_id, m.metric_value, m.\"timestamp\" + k * interval '15 minutes'
        FROM ml_metrics m CROSS JOIN generate_series(1, 2) k
       WHERE m.\"timestamp\" = (SELECT max(\"timestamp\") FROM ml_metrics)"
warm=$(P -c "$more" -c "SELECT ml_build_features()" -c "$more" -c '\timing on' -c "SELECT ml_build_features()" | ms)
echo "incremental feature build after 30 minutes of new data ($((ENTITIES * 8)) metrics), resumed from kept kernel state: $warm ms"
# A fresh session when the checkpoints are half a day old (their average age in steady state:
# a series' checkpoint is rewritten half a period to one and a half after it): the rows since
# the checkpoint are read and fed before the new ones.
half="INSERT INTO ml_metrics (metric_type, entity_id, metric_value, \"timestamp\")
      SELECT m.metric_type, m.entity_id, m.metric_value, m.\"timestamp\" + k * interval '15 minutes'
        FROM ml_metrics m CROSS JOIN generate_series(1, 46) k
       WHERE m.\"timestamp\" = (SELECT max(\"timestamp\") FROM ml_metrics)"
P -c "$half" -c "SELECT ml_build_features()" >/dev/null
P -c "$more" >/dev/null
aged=$(fresh "SELECT ml_build_features()")
echo "incremental feature build after 30 minutes of new data ($((ENTITIES * 8)) metrics), fresh session, checkpoints 12 hours old: $aged"
echo "kernel checkpoints: $(P -Atc "SELECT count(*) || ' series, ' || round(avg(pg_catalog.length(state))) || ' bytes each on average' FROM ml_series_checkpoint" 2>/dev/null || echo none)"

if P -Atc "SELECT count(*) FROM pg_proc WHERE proname = 'ml_train'" | grep -q '^[1-9]'; then
    # the bound is computed once, outside the timed statements
    until=$(P -Atc "SELECT max(\"timestamp\") - interval '1 hour' FROM ml_metrics")
    for m in tuketim_miktar stok_seviye dolum_sure zimmet_kullanim; do
        t=$(P -c '\timing on' -c "SELECT ml_train('$m', train_until => '$until')" | ms)
        log=$(P -Atc "SELECT round(extract(epoch FROM training_end - training_start)::numeric, 2) || ' s in ml_train (read ' ||
                             round((metrics->>'read_seconds')::numeric, 2) || ', fit ' || round((metrics->>'fit_seconds')::numeric, 2) ||
                             ', evaluate ' || round((metrics->>'evaluate_seconds')::numeric, 2) || ')'
                        FROM ml_training_logs WHERE metric_type = '$m' ORDER BY id DESC LIMIT 1")
        echo "training $m (first, runs selection too): $t ms; $log"
    done
    t=$(P -c '\timing on' -c "SELECT ml_train('tuketim_miktar', train_until => '$until')" | ms)
    echo "retraining tuketim_miktar (selection kept): $t ms"
    # Everything but the last hour counts as scored (as after earlier hourly runs).
    P -c "UPDATE ml_series_state SET scored_until = (SELECT max(\"timestamp\") - interval '1 hour' FROM ml_metrics)" >/dev/null
    d=$(fresh "SELECT count(*) FROM ml_detect(save => true)")
    n=$(P -Atc "SELECT sum(rows_in) FROM (SELECT rows_in FROM ml_job_runs WHERE stage = 'detection' ORDER BY id DESC LIMIT 4) s")
    echo "scheduled detection over the last hour, fresh session: $n observations in $d"
    t=$(P -c '\timing on' -c "SELECT count(*) FROM ml_detect('tuketim_miktar')" | ms)
    echo "ml_detect over $DAYS days of tuketim_miktar: $((ENTITIES * DAYS * 96)) rows in $t ms"
fi

if P -Atc "SELECT count(*) FROM pg_proc WHERE proname = 'ml_train'" | grep -q '^[1-9]'; then
    # Model cache: the first scoring in a new session decodes the model, the second reuses it.
    since=$(P -Atc "SELECT max(\"timestamp\") - interval '15 minutes' FROM ml_metrics")
    out=$(P <<SQL
\timing on
SELECT count(*) FROM ml_detect('tuketim_miktar', since => '$since');
SELECT count(*) FROM ml_detect('tuketim_miktar', since => '$since');
SQL
)
    first=$(echo "$out" | awk '/^Time:/ {print $2}' | sed -n 1p)
    second=$(echo "$out" | awk '/^Time:/ {print $2}' | sed -n 2p)
    echo "model cache: first ml_detect in a session $first ms (loads the model), second $second ms (cached)"
fi

# Retention: one day's expiry at this size (the oldest day's partitions are dropped).
out=$(P <<SQL
SET pg_anomaly.metrics_retention_days = $((DAYS - 1));
SET pg_anomaly.features_retention_days = $((DAYS - 1));
\timing on
SELECT table_name, removed FROM ml_cleanup() WHERE table_name IN ('ml_metrics', 'ml_features');
SQL
)
echo "cleanup of one day's expiry: $(echo "$out" | awk '/ml_metrics|ml_features/ {printf "%s %s rows; ", $1, $3}')in $(echo "$out" | ms) ms"
