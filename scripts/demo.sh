#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install what is missing, build and install
# pg_anomaly, start a local PostgreSQL 15 with pg_cron (127.0.0.1:55432), create the
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

log "creating the extension"
psql_ -q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
DROP EXTENSION IF EXISTS pg_anomaly CASCADE;
CREATE EXTENSION pg_anomaly CASCADE;
SQL

log "generating demo data: $ENTITIES entities x $DAYS days x 4 metric types (seed $SEED)"
psql_ -c "\\timing on" -c "SELECT * FROM ml_generate_demo_data($ENTITIES, $DAYS, $SEED)"

log "stage 2-3: features"
psql_ -c "\\timing on" -c "SELECT ml_build_features() AS feature_rows"

if psql_ -qAtc "SELECT count(*) FROM pg_proc WHERE proname = 'ml_train'" | grep -q '^[1-9]'; then
    log "stage 4-6: selection and training"
    psql_ -c "\\timing on" -c "SELECT metric_type, ml_train(metric_type) AS model_id FROM ml_settings ORDER BY 1"
fi
if psql_ -qAtc "SELECT count(*) FROM pg_proc WHERE proname = 'ml_detect'" | grep -q '^[1-9]'; then
    log "stage 7: detection"
    psql_ -c "\\timing on" -c "SELECT count(*) AS scored, count(*) FILTER (WHERE is_anomaly) AS anomalous FROM ml_detect(save => true)"
    log "alerts by severity"
    psql_ -c "SELECT alert_type, severity, count(*) FROM ml_alerts GROUP BY 1, 2 ORDER BY 1, 2"
    log "the five most severe alerts"
    psql_ -c "SELECT id, entity_id, severity, round(peak_score::numeric, 3) AS score, message FROM ml_alerts
              ORDER BY array_position(ARRAY['kritik','yuksek','orta','dusuk'], severity), peak_score DESC LIMIT 5"
fi

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
