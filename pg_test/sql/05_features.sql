-- Feature store: point-in-time values checked against SQL, incremental == full, late data, idempotence.
\set VERBOSITY terse
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels;
SELECT sum(rows) FROM ml_generate_demo_data(2, 10, 11, '2026-03-15 00:00+00');
SELECT ml_build_features() AS written;
SELECT ml_build_features() AS written_again;           -- idempotent
SELECT count(*) AS feature_rows, (SELECT count(*) FROM ml_metrics) AS metric_rows FROM ml_features;

-- values against SQL computed independently (a sample of rows, all four metric types).
-- Periods are fixed lengths (1 day = 24 hours, also across daylight-saving changes), hence hours here.
CREATE TEMP TABLE sample AS
SELECT f.* FROM ml_features f WHERE f.id % 37 = 0;
SELECT count(*) > 100 AS enough_sampled FROM sample;
WITH ref AS (
    SELECT s.id,
      (SELECT m.metric_value FROM ml_metrics m WHERE m.metric_type = s.metric_type AND m.entity_id = s.entity_id
          AND m."timestamp" <= s."timestamp" - interval '24 hours' AND m."timestamp" > s."timestamp" - interval '48 hours'
        ORDER BY m."timestamp" DESC LIMIT 1) AS lag_1,
      (SELECT m.metric_value FROM ml_metrics m WHERE m.metric_type = s.metric_type AND m.entity_id = s.entity_id
          AND m."timestamp" <= s."timestamp" - interval '168 hours' AND m."timestamp" > s."timestamp" - interval '192 hours'
        ORDER BY m."timestamp" DESC LIMIT 1) AS lag_7,
      (SELECT avg(m.metric_value) FROM ml_metrics m WHERE m.metric_type = s.metric_type AND m.entity_id = s.entity_id
          AND m."timestamp" <= s."timestamp" AND m."timestamp" > s."timestamp" - interval '168 hours') AS rolling_mean_7,
      (SELECT stddev_samp(m.metric_value) FROM ml_metrics m WHERE m.metric_type = s.metric_type AND m.entity_id = s.entity_id
          AND m."timestamp" <= s."timestamp" AND m."timestamp" > s."timestamp" - interval '168 hours') AS rolling_std_7,
      (SELECT avg(m.metric_value) FROM ml_metrics m WHERE m.metric_type = s.metric_type AND m.entity_id = s.entity_id
          AND m."timestamp" <= s."timestamp" AND m."timestamp" > s."timestamp" - interval '24 hours') AS mean_value,
      (SELECT max(m.metric_value) FROM ml_metrics m WHERE m.metric_type = s.metric_type AND m.entity_id = s.entity_id
          AND m."timestamp" <= s."timestamp" AND m."timestamp" > s."timestamp" - interval '24 hours') AS max_value,
      (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY m.metric_value) FROM ml_metrics m WHERE m.metric_type = s.metric_type
          AND m.entity_id = s.entity_id AND m."timestamp" <= s."timestamp" AND m."timestamp" > s."timestamp" - interval '24 hours') AS median_value,
      extract(hour FROM s."timestamp" AT TIME ZONE 'UTC')::int AS hour_of_day,
      extract(isodow FROM s."timestamp" AT TIME ZONE 'UTC')::int AS day_of_week
    FROM sample s)
-- Features other than median_value are stored as real: a copied value (lag, max) is the
-- reference rounded to real, exactly; a computed one is within one float4 step (2^-23
-- relative). median_value, a detector input, stays double precision.
SELECT
  count(*) FILTER (WHERE s.lag_1 IS DISTINCT FROM r.lag_1::real) AS lag_1_off,
  count(*) FILTER (WHERE s.lag_7 IS DISTINCT FROM r.lag_7::real) AS lag_7_off,
  count(*) FILTER (WHERE abs(s.rolling_mean_7 - r.rolling_mean_7) > 1.2e-7 * greatest(1, abs(r.rolling_mean_7))) AS rolling_mean_7_off,
  count(*) FILTER (WHERE (s.rolling_std_7 IS NULL) <> (r.rolling_std_7 IS NULL)
                      OR abs(s.rolling_std_7 - r.rolling_std_7) > 2e-7 * greatest(1, r.rolling_std_7)) AS rolling_std_7_off,
  count(*) FILTER (WHERE abs(s.mean_value - r.mean_value) > 1.2e-7 * greatest(1, abs(r.mean_value))) AS mean_off,
  count(*) FILTER (WHERE s.max_value IS DISTINCT FROM r.max_value::real) AS max_off,
  count(*) FILTER (WHERE abs(s.median_value - r.median_value) > 1e-9 * greatest(1, abs(r.median_value))) AS median_off,
  count(*) FILTER (WHERE s.hour_of_day <> r.hour_of_day OR s.day_of_week <> r.day_of_week) AS calendar_off,
  count(*) FILTER (WHERE s.lag_7 IS NOT NULL) > 0 AS some_lag_7
FROM sample s JOIN ref r USING (id);
-- the stored types: the observed value and the detector's median in double precision, the
-- other features in real, calendar fields in smallint
SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, count(*) AS columns,
       string_agg(a.attname, ', ' ORDER BY a.attnum) FILTER (WHERE a.atttypid <> 'real'::regtype) AS named
  FROM pg_attribute a WHERE a.attrelid = 'ml_features'::regclass AND a.attnum > 0 AND NOT a.attisdropped
 GROUP BY 1 ORDER BY 1;
-- the first day has no lag_1 (NULL, never a made-up 0)
SELECT count(*) FILTER (WHERE lag_1 IS NULL) > 0 AS early_nulls, count(*) FILTER (WHERE lag_1 = 0 AND metric_type = 'dolum_sure') AS zero_lags
FROM ml_features WHERE "timestamp" < (SELECT min("timestamp") + interval '1 day' FROM ml_metrics);
-- the time features follow pg_anomaly.timezone
SET pg_anomaly.timezone = 'Europe/Istanbul';
SELECT ml_build_features(full_rebuild => true) > 0 AS rebuilt;
SELECT count(*) FILTER (WHERE hour_of_day <> extract(hour FROM "timestamp" AT TIME ZONE 'Europe/Istanbul')) AS tz_off FROM ml_features;
RESET pg_anomaly.timezone;

-- building in several increments gives exactly the result of one full rebuild
SELECT ml_build_features(full_rebuild => true) > 0 AS rebuilt;
CREATE TEMP TABLE full_build AS SELECT * FROM ml_features;
CREATE TEMP TABLE staged AS SELECT metric_type, entity_id, metric_value, "timestamp" FROM ml_metrics;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM staged WHERE "timestamp" < '2026-03-08 00:00+00';
SELECT ml_build_features() > 0 AS step_1;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM staged WHERE "timestamp" >= '2026-03-08 00:00+00' AND "timestamp" < '2026-03-08 00:30+00';
SELECT ml_build_features() AS step_2;
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp")
SELECT * FROM staged WHERE "timestamp" >= '2026-03-08 00:30+00';
SELECT ml_build_features() > 0 AS step_3;
CREATE TEMP VIEW cmp_cols AS SELECT metric_type, entity_id, "timestamp", metric_value, mean_value, std_value, min_value, max_value,
  median_value, q25_value, q75_value, trend_slope, trend_direction, volatility, momentum, hour_of_day, day_of_week, is_weekend,
  day_of_month, days_since_change, change_frequency, run_length, hours_since_jump, drop_rate, lag_1, lag_7, lag_30,
  rolling_mean_7, rolling_std_7, rolling_mean_30, rolling_std_30, zscore_7, diff_lag_1, seasonal_zscore FROM ml_features;
CREATE TEMP VIEW full_cols AS SELECT metric_type, entity_id, "timestamp", metric_value, mean_value, std_value, min_value, max_value,
  median_value, q25_value, q75_value, trend_slope, trend_direction, volatility, momentum, hour_of_day, day_of_week, is_weekend,
  day_of_month, days_since_change, change_frequency, run_length, hours_since_jump, drop_rate, lag_1, lag_7, lag_30,
  rolling_mean_7, rolling_std_7, rolling_mean_30, rolling_std_30, zscore_7, diff_lag_1, seasonal_zscore FROM full_build;
SELECT (SELECT count(*) FROM (SELECT * FROM cmp_cols EXCEPT SELECT * FROM full_cols) a) AS only_incremental,
       (SELECT count(*) FROM (SELECT * FROM full_cols EXCEPT SELECT * FROM cmp_cols) b) AS only_full;

-- late and corrected data recompute their series from that point, and only that series
SELECT ml_ingest('tuketim_miktar', 'urun_0001', 999, '2026-03-10 12:00+00') AS corrected;
SELECT ml_ingest('tuketim_miktar', 'urun_0002', 1, '2026-03-10 12:07+00') AS late;
SELECT metric_type, entity_id, dirty_from FROM ml_series_dirty ORDER BY 1, 2;
SELECT ml_build_features() AS recomputed;
CREATE TEMP TABLE after_late AS SELECT * FROM cmp_cols;
SELECT ml_build_features(full_rebuild => true) > 0 AS rebuilt;
SELECT (SELECT count(*) FROM (SELECT * FROM after_late EXCEPT SELECT * FROM cmp_cols) a) AS only_incremental,
       (SELECT count(*) FROM (SELECT * FROM cmp_cols EXCEPT SELECT * FROM after_late) b) AS only_full;
SELECT max_value FROM ml_features WHERE entity_id = 'urun_0001' AND metric_type = 'tuketim_miktar' AND "timestamp" = '2026-03-10 12:15+00';
SELECT stage, rows_out > 0 AS wrote FROM ml_job_runs WHERE stage = 'features' ORDER BY id DESC LIMIT 1;
