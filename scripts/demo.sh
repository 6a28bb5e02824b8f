#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install what is missing, build and install
# pg_anomaly, start a local PostgreSQL 15 with pg_cron (127.0.0.1:25432), create the
# extension, load demo data, run the pipeline and show the result.
#
# Environment: DEMO_ENTITIES (default 50), DEMO_DAYS (default 30), DEMO_SEED (default 42).
source "$(dirname "$0")/common.sh"
cd "$ROOT"
ENTITIES="${DEMO_ENTITIES:-50}"
DAYS="${DEMO_DAYS:-30}"
SEED="${DEMO_SEED:-42}"

bash scripts/setup.sh
bash scripts/install.sh
bash scripts/cluster.sh start
psql_() { bash scripts/cluster.sh psql -X -v ON_ERROR_STOP=1 "$@"; }

# The real-time worker would race this script's stages for the same new data (a second
# feature run skips while one is running): pause it while the pipeline runs once by hand.
for q in "ALTER SYSTEM SET pg_anomaly.realtime = off" "SELECT pg_reload_conf()"; do psql_ -qc "$q" >/dev/null; done

log "creating the extension"
psql_ -q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
DROP EXTENSION IF EXISTS pg_anomaly CASCADE;
CREATE EXTENSION pg_anomaly CASCADE;
SQL

log "generating demo data: $ENTITIES entities x $DAYS days x 4 metric types (seed $SEED)"
psql_ -c "\\timing on" -c "SELECT * FROM ml_generate_demo_data($ENTITIES, $DAYS, $SEED)"

log "scheduling the five pg_cron jobs (ml_schedule)"
psql_ -c "SELECT job_name, schedule FROM ml_schedule()"

# Every stage once, in cron's order, through the schedule's own entry point. Training
# uses the first two thirds of the span so detection has unseen days to score.
log "stage 2-3: features"
psql_ -c "\\timing on" -c "SELECT ml_run_stage('features')->>'rows' AS feature_rows"
log "stage 4-6: selection and training (one model per metric type)"
psql_ -c "\\timing on" -c "SELECT metric_type, (SELECT count(*) FROM ml_select_features(metric_type) WHERE kept) AS kept_features,
             ml_train(metric_type, train_until => (SELECT max(\"timestamp\") - interval '$((DAYS / 3)) days' FROM ml_metrics)) AS model_id
           FROM ml_settings ORDER BY 1"
psql_ -c "SELECT metric_type, model_type, round(accuracy::numeric, 3) AS accuracy, round(\"precision\"::numeric, 3) AS precision,
                 round(recall::numeric, 3) AS recall, data_points FROM ml_model_performance ORDER BY 1"
log "stage 7: detection (saving alerts)"
psql_ -c "\\timing on" -c "SELECT ml_run_stage('detection')"
log "stage 8: cleanup (retention, partitions ahead)"
psql_ -c "SELECT table_name, removed FROM ml_cleanup()"

log "alerts by severity"
psql_ -c "SELECT alert_type, severity, count(*) FROM ml_alerts GROUP BY 1, 2
          ORDER BY 1, array_position(ARRAY['kritik','yuksek','orta','dusuk'], severity)"
log "the five most severe alerts"
psql_ -c "SELECT id, entity_id, severity, round(peak_score::numeric, 4) AS score, message FROM ml_alerts
          ORDER BY array_position(ARRAY['kritik','yuksek','orta','dusuk'], severity), peak_score DESC, id LIMIT 5"
log "alerts against the demo's ground truth (event level)"
psql_ -c "WITH w AS (SELECT * FROM ml_labels WHERE ends_at >= (SELECT max(\"timestamp\") - interval '$((DAYS / 3)) days' FROM ml_metrics)),
               a AS (SELECT * FROM ml_alerts WHERE last_seen >= (SELECT max(\"timestamp\") - interval '$((DAYS / 3)) days' FROM ml_metrics)),
               hit AS (SELECT w.id FROM w WHERE EXISTS (SELECT 1 FROM a WHERE a.metric_type = w.metric_type AND a.entity_id = w.entity_id
                        AND a.\"timestamp\" <= w.ends_at + interval '2 hours' AND a.last_seen >= w.starts_at)),
               fp AS (SELECT a.id FROM a WHERE NOT EXISTS (SELECT 1 FROM ml_labels w WHERE a.metric_type = w.metric_type AND a.entity_id = w.entity_id
                        AND a.\"timestamp\" <= w.ends_at + interval '2 hours' AND a.last_seen >= w.starts_at))
          SELECT (SELECT count(*) FROM w) AS labelled_windows, (SELECT count(*) FROM hit) AS found,
                 (SELECT count(*) FROM a) AS alerts, (SELECT count(*) FROM fp) AS false_alerts,
                 round((SELECT count(*) FROM hit)::numeric / nullif((SELECT count(*) FROM w), 0), 3) AS recall,
                 round(1 - (SELECT count(*) FROM fp)::numeric / nullif((SELECT count(*) FROM a), 0), 3) AS precision"
log "a picture of the most severe alert (ml_plot)"
read -r PLOT_MT PLOT_ENTITY PLOT_FROM PLOT_TO < <(psql_ -qAt -F ' ' -c "SELECT metric_type, entity_id,
    extract(epoch FROM \"timestamp\" - interval '2 days')::bigint, extract(epoch FROM last_seen + interval '2 days')::bigint FROM ml_alerts
    ORDER BY array_position(ARRAY['kritik','yuksek','orta','dusuk'], severity), peak_score DESC, id LIMIT 1")
if [ -n "${PLOT_MT:-}" ]; then
    mkdir -p "$ROOT/.local"
    echo "SELECT ml_plot(:'mt', :'e', to_timestamp(:f), to_timestamp(:t))" \
        | psql_ -qAt -v mt="$PLOT_MT" -v e="$PLOT_ENTITY" -v f="$PLOT_FROM" -v t="$PLOT_TO" > "$ROOT/.local/most_severe_alert.svg"
    command -v rsvg-convert >/dev/null && rsvg-convert -o "$ROOT/.local/most_severe_alert.png" "$ROOT/.local/most_severe_alert.svg"
    echo "plot of $PLOT_MT / $PLOT_ENTITY written to $ROOT/.local/most_severe_alert.svg (and .png)"
fi
log "health (ml_health)"
psql_ -c "SELECT kpi, round(measured::numeric, 3) AS measured, target, goal FROM ml_health WHERE measured IS NOT NULL ORDER BY kpi"

for q in "ALTER SYSTEM RESET pg_anomaly.realtime" "SELECT pg_reload_conf()"; do psql_ -qc "$q" >/dev/null; done

log "what is stored"
psql_ -c "SELECT 'ml_metrics' AS table, count(*) FROM ml_metrics UNION ALL SELECT 'ml_features', count(*) FROM ml_features
          UNION ALL SELECT 'ml_labels', count(*) FROM ml_labels UNION ALL SELECT 'ml_models', count(*) FROM ml_models
          UNION ALL SELECT 'ml_alerts', count(*) FROM ml_alerts"

cat <<EOF

pg_anomaly is running on a local PostgreSQL 15 cluster with pg_cron:
  connect:   bash scripts/cluster.sh psql          (or psql "$(bash scripts/cluster.sh url)")
  stop:      bash scripts/cluster.sh stop
  start:     bash scripts/cluster.sh start
  remove:    bash scripts/cluster.sh remove
EOF
