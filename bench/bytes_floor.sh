#!/usr/bin/env bash
# Bytes per observation that a storage layout cannot go below, whatever the extension does
# with it: the same observations (N entities x the four metric types x D days at 15-minute
# steps, values with one decimal) stored in a scratch schema under several layouts, each
# packed (VACUUM, REINDEX: the smallest a layout gets; rows written by inserts leave the
# indexes 40-60 % larger). Prints heap and index bytes per observation per layout.
#
#   bench/bytes_floor.sh [entities (1000)] [days (3)]
#
# Layouts:
#   shipped ml_metrics     ml_metrics' columns, constraints and key as installed (LIKE ml_metrics)
#   contract ml_metrics    only the web application's columns (id, metric_type, entity_id,
#                          metric_value, timestamp, extra_data NULL) and the unique key
#   minimal row            an integer series id, timestamp and value, primary key on the first two
#   shipped ml_features    ml_features' columns and key as installed, every feature filled
#   features as arrays     one row per series and day, each of the 27 feature columns a real[]
#                          (the calendar fields left out: they follow from the timestamp)
#   detector inputs arrays one row per series and day: timestamps, metric_value and median_value
#                          as arrays (what training and detection read; the other features not kept)
# Uses the local cluster's database (scripts/cluster.sh; PGA_DIR, PGA_PORT, PGA_DB as there),
# creates pg_anomaly there when it is missing, and drops the scratch schema when done.
source "$(dirname "$0")/../scripts/common.sh"
cd "$ROOT"
N="${1:-1000}"
D="${2:-3}"
case "$N$D" in *[!0-9]*) echo "usage: bench/bytes_floor.sh [entities] [days]" >&2; exit 2 ;; esac
bash scripts/cluster.sh start >/dev/null
bash scripts/cluster.sh psql -v ON_ERROR_STOP=1 -qAt -v n="$N" -v d="$D" <<'SQL'
SET client_min_messages = warning;
-- the shipped layouts are read from the installed extension (created here when missing)
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS pg_anomaly CASCADE;
SELECT pg_catalog.quote_ident(n.nspname) AS ext FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_anomaly' \gset
DROP SCHEMA IF EXISTS bytes_floor CASCADE;
CREATE SCHEMA bytes_floor;
SET search_path = bytes_floor, public;
CREATE TABLE obs AS
  SELECT mt AS metric_type, 'urun_' || lpad(e::text, 5, '0') AS entity_id,
         round((random() * 100)::numeric, 1)::float8 AS metric_value,
         '2026-11-02 00:00+00'::timestamptz + s * interval '15 minutes' AS "timestamp"
    FROM unnest(ARRAY['stok_seviye', 'tuketim_miktar', 'dolum_sure', 'zimmet_kullanim']) mt,
         generate_series(1, :n) e, generate_series(0, :d * 96 - 1) s;
SELECT pg_catalog.count(*) AS n_obs FROM obs \gset
CREATE TABLE shipped_metrics (LIKE :ext.ml_metrics INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
INSERT INTO shipped_metrics (metric_type, entity_id, metric_value, "timestamp")
  SELECT metric_type, entity_id, metric_value, "timestamp" FROM obs ORDER BY 1, 2, 4;
CREATE TABLE contract_metrics (id bigint, metric_type text NOT NULL, entity_id text NOT NULL,
  metric_value float8 NOT NULL, "timestamp" timestamptz NOT NULL, extra_data jsonb,
  UNIQUE (metric_type, entity_id, "timestamp"));
INSERT INTO contract_metrics SELECT row_number() OVER (), metric_type, entity_id, metric_value, "timestamp", NULL
  FROM obs ORDER BY 2, 3, 5;
CREATE TABLE minimal_row (series int NOT NULL, "timestamp" timestamptz NOT NULL, metric_value float8 NOT NULL,
  PRIMARY KEY (series, "timestamp"));
INSERT INTO minimal_row SELECT dense_rank() OVER (ORDER BY metric_type, entity_id), "timestamp", metric_value FROM obs;
CREATE TABLE shipped_features (LIKE :ext.ml_features INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
INSERT INTO shipped_features (metric_type, entity_id, "timestamp", metric_value, mean_value, std_value,
  min_value, max_value, median_value, q25_value, q75_value, trend_slope, trend_direction, volatility,
  momentum, hour_of_day, day_of_week, is_weekend, day_of_month, days_since_change, change_frequency,
  run_length, hours_since_jump, drop_rate, lag_1, lag_7, lag_30, rolling_mean_7, rolling_std_7,
  rolling_mean_30, rolling_std_30, zscore_7, diff_lag_1, seasonal_zscore)
  SELECT metric_type, entity_id, "timestamp", metric_value, random(), random(), random(), random(),
         random(), random(), random(), random(), 1, random(), random(), 1, 1, false, 1, random(),
         random(), random(), random(), random(), random(), random(), random(), random(), random(),
         random(), random(), random(), random(), random()
    FROM obs ORDER BY 1, 2, 3;
CREATE TABLE features_arrays (metric_type text NOT NULL, entity_id text NOT NULL, day date NOT NULL,
  ts timestamptz[], metric_value float8[], f1 real[], f2 real[], f3 real[], f4 real[], f5 real[], f6 real[],
  f7 real[], f8 real[], f9 real[], f10 real[], f11 real[], f12 real[], f13 real[], f14 real[], f15 real[],
  f16 real[], f17 real[], f18 real[], f19 real[], f20 real[], f21 real[], f22 real[], f23 real[],
  f24 real[], f25 real[], f26 real[], f27 real[], PRIMARY KEY (metric_type, entity_id, day));
INSERT INTO features_arrays
  SELECT metric_type, entity_id, "timestamp"::date, array_agg("timestamp"), array_agg(metric_value),
         array_agg(random()::real), array_agg(random()::real), array_agg(random()::real), array_agg(random()::real),
         array_agg(random()::real), array_agg(random()::real), array_agg(random()::real), array_agg(random()::real),
         array_agg(random()::real), array_agg(random()::real), array_agg(random()::real), array_agg(random()::real),
         array_agg(random()::real), array_agg(random()::real), array_agg(random()::real), array_agg(random()::real),
         array_agg(random()::real), array_agg(random()::real), array_agg(random()::real), array_agg(random()::real),
         array_agg(random()::real), array_agg(random()::real), array_agg(random()::real), array_agg(random()::real),
         array_agg(random()::real), array_agg(random()::real), array_agg(random()::real)
    FROM obs GROUP BY 1, 2, 3;
CREATE TABLE inputs_arrays (metric_type text NOT NULL, entity_id text NOT NULL, day date NOT NULL,
  ts timestamptz[], metric_value float8[], median_value float8[], PRIMARY KEY (metric_type, entity_id, day));
INSERT INTO inputs_arrays
  SELECT metric_type, entity_id, "timestamp"::date, array_agg("timestamp"), array_agg(metric_value),
         array_agg(round((random() * 100)::numeric, 1)::float8)
    FROM obs GROUP BY 1, 2, 3;
VACUUM ANALYZE;
REINDEX SCHEMA bytes_floor;
VACUUM ANALYZE;
\pset format aligned
\pset tuples_only off
SELECT l.layout, :n_obs AS observations,
       pg_catalog.round(pg_catalog.pg_table_size(l.rel)::numeric / :n_obs, 1) AS heap_b_per_obs,
       pg_catalog.round(pg_catalog.pg_indexes_size(l.rel)::numeric / :n_obs, 1) AS index_b_per_obs,
       pg_catalog.round(pg_catalog.pg_total_relation_size(l.rel)::numeric / :n_obs, 1) AS total_b_per_obs
  FROM (VALUES (1, 'shipped ml_metrics', 'shipped_metrics'::regclass), (2, 'contract ml_metrics', 'contract_metrics'),
               (3, 'minimal row', 'minimal_row'), (4, 'shipped ml_features', 'shipped_features'),
               (5, 'features as arrays', 'features_arrays'), (6, 'detector inputs arrays', 'inputs_arrays')) l(k, layout, rel)
 ORDER BY l.k;
DROP SCHEMA bytes_floor CASCADE;
SQL
