-- Feature selection, correlations, the feature matrix and the quality view.
\set VERBOSITY terse
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets;
SELECT sum(rows) FROM ml_generate_demo_data(6, 14, 5, '2026-03-15 00:00+00');
SELECT ml_build_features() > 0 AS built;
CREATE TEMP TABLE sel AS SELECT * FROM ml_select_features('tuketim_miktar');
SELECT count(*) AS features, count(*) FILTER (WHERE kept) > 0 AS some_kept, count(*) FILTER (WHERE NOT kept) > 0 AS some_dropped,
       bool_and(reason <> '') AS all_reasoned FROM sel;
-- lag_30 is NULL everywhere in 14 days of data (dropped); is_weekend varies (kept)
SELECT feature, kept FROM sel WHERE feature IN ('is_weekend', 'lag_30') ORDER BY 1;
-- persisted, and the matrix defaults to the kept set
SELECT count(*) = (SELECT count(*) FROM sel) AS persisted FROM ml_feature_sets WHERE metric_type = 'tuketim_miktar';
SELECT array_length(feature_values, 1) = (SELECT count(*) FROM sel WHERE kept) AS matrix_width
FROM ml_feature_matrix('tuketim_miktar') LIMIT 1;
SELECT entity_id, feature_values FROM ml_feature_matrix('tuketim_miktar', '2026-03-14 12:00+00', '2026-03-14 12:20+00',
       ARRAY['hour_of_day', 'is_weekend', 'lag_1']) ORDER BY 1 LIMIT 2;
SELECT * FROM ml_feature_matrix('tuketim_miktar', features => ARRAY['mean_value', 'no_such_feature']);
SELECT * FROM ml_select_features('tuketim_miktar', 'magic');
SELECT * FROM ml_select_features('no_such_metric');
-- each method alone
SELECT method, count(*) FILTER (WHERE kept) > 0 AS kept_some
FROM (SELECT 'variance' AS method, * FROM ml_select_features('dolum_sure', 'variance')
      UNION ALL SELECT 'correlation', * FROM ml_select_features('dolum_sure', 'correlation')
      UNION ALL SELECT 'mutual_info', * FROM ml_select_features('dolum_sure', 'mutual_info')) s
GROUP BY 1 ORDER BY 1;
-- correlations: rolling_mean_7 and mean_value of a slowly moving series correlate
SELECT count(*) > 0 AS has_pairs, bool_and(correlation BETWEEN -1.000001 AND 1.000001) AS bounded
FROM ml_feature_correlations('stok_seviye');
SELECT feature, null_rate_percent + coverage_percent AS total FROM ml_feature_quality
WHERE metric_type = 'stok_seviye' AND feature IN ('lag_1', 'mean_value') ORDER BY 1;
SELECT coverage_percent < 100 AS lag_7_has_nulls FROM ml_feature_quality WHERE metric_type = 'stok_seviye' AND feature = 'lag_7';
