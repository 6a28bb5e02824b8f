-- The bad-input catalog: each case is a hostile or malformed input through a function or a
-- direct table write, with the SQLSTATE it must get ('--': a defined non-error result, a
-- NULL from a STRICT function). Every case runs in a subtransaction that is rolled back
-- whatever happens, and the data tables are compared before and after: nothing stored
-- changes. Failed attempts may add rows to the logs (ml_training_logs, ml_job_runs), which
-- are written autonomously on purpose and are left out of the comparison.
\set VERBOSITY sqlstate
SET client_min_messages = error;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_training_logs, ml_alerts CASCADE;
DELETE FROM ml_models;
DELETE FROM ml_sources;
DELETE FROM ml_action_rules;
DELETE FROM ml_channels;
SELECT sum(rows) > 0 AS demo FROM ml_generate_demo_data(3, 9, 13, '2026-05-10 00:00+00');
SELECT ml_build_features() > 0 AS built;
SELECT ml_train('tuketim_miktar', train_until => '2026-05-06 00:00+00') > 0 AS trained;
SELECT ml_add_channel('hook', 'webhook', '{"url": "http://127.0.0.1:9/hook"}') > 0 AS channel;
CREATE SCHEMA sec_bad;
CREATE FUNCTION sec_bad.act(alert bigint) RETURNS void LANGUAGE sql AS $$ SELECT $$;

CREATE FUNCTION pg_temp.data_snapshot() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_metrics t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_features t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_models t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_alerts t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_settings t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_sources t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_channels t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_notification_rules t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_action_rules t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_labels t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_series_state t),
        (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ml_feature_sets t)))
$$;
-- Runs one case and returns its SQLSTATE ('--' when it completed); always rolled back.
CREATE FUNCTION pg_temp.try_case(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE stmt;
        RAISE EXCEPTION 'case completed' USING ERRCODE = 'ZX999';
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'ZX999' THEN
            RETURN '--';
        END IF;
        RETURN SQLSTATE;
    END;
END
$$;
CREATE TEMP TABLE before AS SELECT pg_temp.data_snapshot() AS digest;
CREATE TEMP TABLE cases (n integer, input text, expected text, stmt text);
INSERT INTO cases VALUES
    (1, $c$ml_ingest: NULL metric_type$c$, '22004', $c$SELECT ml_ingest(NULL, 'e1', 1, '2026-05-01')$c$),
    (2, $c$ml_ingest: NULL entity_id$c$, '22004', $c$SELECT ml_ingest('m', NULL, 1, '2026-05-01')$c$),
    (3, $c$ml_ingest: NULL value$c$, '22004', $c$SELECT ml_ingest('m', 'e1', NULL, '2026-05-01')$c$),
    (4, $c$ml_ingest: NULL timestamp$c$, '22004', $c$SELECT ml_ingest('m', 'e1', 1, NULL)$c$),
    (5, $c$ml_ingest: empty metric_type$c$, '22026', $c$SELECT ml_ingest('', 'e1', 1, '2026-05-01')$c$),
    (6, $c$ml_ingest: empty entity_id$c$, '22026', $c$SELECT ml_ingest('m', '', 1, '2026-05-01')$c$),
    (7, $c$ml_ingest: metric_type of 201 characters$c$, '22026', $c$SELECT ml_ingest(repeat('m', 201), 'e1', 1, '2026-05-01')$c$),
    (8, $c$ml_ingest: entity_id of 201 characters$c$, '22026', $c$SELECT ml_ingest('m', repeat('e', 201), 1, '2026-05-01')$c$),
    (9, $c$ml_ingest: metric_type of 100,000 characters$c$, '22026', $c$SELECT ml_ingest(repeat('m', 100000), 'e1', 1, '2026-05-01')$c$),
    (10, $c$ml_ingest: NaN$c$, '22003', $c$SELECT ml_ingest('m', 'e1', 'NaN', '2026-05-01')$c$),
    (11, $c$ml_ingest: +Infinity$c$, '22003', $c$SELECT ml_ingest('m', 'e1', 'Infinity', '2026-05-01')$c$),
    (12, $c$ml_ingest: -Infinity$c$, '22003', $c$SELECT ml_ingest('m', 'e1', '-Infinity', '2026-05-01')$c$),
    (13, $c$ml_ingest: timestamp infinity$c$, '22023', $c$SELECT ml_ingest('m', 'e1', 1, 'infinity')$c$),
    (14, $c$ml_ingest: timestamp -infinity$c$, '22023', $c$SELECT ml_ingest('m', 'e1', 1, '-infinity')$c$),
    (15, $c$ml_ingest: timestamp year 1800$c$, '22023', $c$SELECT ml_ingest('m', 'e1', 1, '1800-01-01')$c$),
    (16, $c$ml_ingest: timestamp year 2600$c$, '22023', $c$SELECT ml_ingest('m', 'e1', 1, '2600-01-01')$c$),
    (17, $c$ml_ingest: timestamp year 294276$c$, '22023', $c$SELECT ml_ingest('m', 'e1', 1, '294276-01-01 00:00+00')$c$),
    (18, $c$ml_ingest: text value$c$, '22P02', $c$SELECT ml_ingest('m', 'e1', 'many', '2026-05-01')$c$),
    (19, $c$ml_ingest: bad timestamp text$c$, '22007', $c$SELECT ml_ingest('m', 'e1', 1, 'yesterday-ish')$c$),
    (20, $c$ml_metrics INSERT: metric_type of 201 characters$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES (repeat('m', 201), 'e1', 1, '2026-05-01')$c$),
    (21, $c$ml_metrics INSERT: metric_type of 100,000 characters$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES (repeat('m', 100000), 'e1', 1, '2026-05-01')$c$),
    (22, $c$ml_metrics INSERT: empty metric_type$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('', 'e1', 1, '2026-05-01')$c$),
    (23, $c$ml_metrics INSERT: empty entity_id$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', '', 1, '2026-05-01')$c$),
    (24, $c$ml_metrics INSERT: entity_id of 201 characters$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', repeat('e', 201), 1, '2026-05-01')$c$),
    (25, $c$ml_metrics INSERT: NaN$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', 'NaN', '2026-05-01')$c$),
    (26, $c$ml_metrics INSERT: Infinity$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', 'Infinity', '2026-05-01')$c$),
    (27, $c$ml_metrics INSERT: timestamp infinity$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', 1, 'infinity')$c$),
    (28, $c$ml_metrics INSERT: timestamp -infinity$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', 1, '-infinity')$c$),
    (29, $c$ml_metrics INSERT: timestamp 1899$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', 1, '1899-12-31 23:59+00')$c$),
    (30, $c$ml_metrics INSERT: timestamp 2500$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', 1, '2500-01-01 00:00+00')$c$),
    (31, $c$ml_metrics INSERT: timestamp year 294276$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', 1, '294276-01-01 00:00+00')$c$),
    (32, $c$ml_metrics INSERT: NULL metric_type$c$, '23502', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES (NULL, 'e1', 1, '2026-05-01')$c$),
    (33, $c$ml_metrics INSERT: NULL entity_id$c$, '23502', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', NULL, 1, '2026-05-01')$c$),
    (34, $c$ml_metrics INSERT: NULL value$c$, '23502', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', NULL, '2026-05-01')$c$),
    (35, $c$ml_metrics INSERT: NULL timestamp$c$, '23502', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', 1, NULL)$c$),
    (36, $c$ml_metrics INSERT: duplicate key$c$, '23505', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") SELECT metric_type, entity_id, 1, "timestamp" FROM ml_metrics LIMIT 1$c$),
    (37, $c$ml_metrics INSERT: batch with one bad row$c$, '23514', $c$INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('m', 'e1', 1, '2026-05-01'), ('m', 'e2', 'NaN', '2026-05-01')$c$),
    (38, $c$ml_metrics UPDATE: value to NaN$c$, '23514', $c$UPDATE ml_metrics SET metric_value = 'NaN' WHERE id = (SELECT min(id) FROM ml_metrics)$c$),
    (39, $c$ml_metrics UPDATE: timestamp to infinity$c$, '23514', $c$UPDATE ml_metrics SET "timestamp" = 'infinity' WHERE id = (SELECT min(id) FROM ml_metrics)$c$),
    (40, $c$ml_settings: period 0$c$, '23514', $c$INSERT INTO ml_settings (metric_type, alert_type, period) VALUES ('m', 'a', '0')$c$),
    (41, $c$ml_settings: period 400 days$c$, '23514', $c$INSERT INTO ml_settings (metric_type, alert_type, period) VALUES ('m', 'a', '400 days')$c$),
    (42, $c$ml_settings: stat_window 30 seconds$c$, '23514', $c$INSERT INTO ml_settings (metric_type, alert_type, stat_window) VALUES ('m', 'a', '30 seconds')$c$),
    (43, $c$ml_settings: negative episode_gap$c$, '23514', $c$INSERT INTO ml_settings (metric_type, alert_type, episode_gap) VALUES ('m', 'a', '-1 hour')$c$),
    (44, $c$ml_settings: params an array$c$, '23514', $c$INSERT INTO ml_settings (metric_type, alert_type, params) VALUES ('m', 'a', '[1]')$c$),
    (45, $c$ml_settings: empty metric_type$c$, '23514', $c$INSERT INTO ml_settings (metric_type, alert_type) VALUES ('', 'a')$c$),
    (46, $c$ml_settings: empty alert_type$c$, '23514', $c$INSERT INTO ml_settings (metric_type, alert_type) VALUES ('m', '')$c$),
    (47, $c$ml_settings: duplicate of a configured row$c$, '23505', $c$DO $d$ BEGIN UPDATE ml_settings SET episode_gap = '3 hours' WHERE metric_type = 'stok_seviye'; INSERT INTO ml_settings (metric_type, alert_type) VALUES ('stok_seviye', 'a'); END $d$$c$),
    (48, $c$ml_train: NULL metric_type$c$, '22004', $c$SELECT ml_train(NULL)$c$),
    (49, $c$ml_train: NULL model_type$c$, '22004', $c$SELECT ml_train('tuketim_miktar', NULL)$c$),
    (50, $c$ml_train: NULL params$c$, '22004', $c$SELECT ml_train('tuketim_miktar', params => NULL)$c$),
    (51, $c$ml_train: unknown model type$c$, '22023', $c$SELECT ml_train('tuketim_miktar', 'deep_learning')$c$),
    (52, $c$ml_train: unknown metric type$c$, '22000', $c$SELECT ml_train('no_such_type')$c$),
    (53, $c$ml_train: n_trees 0$c$, '22023', $c$SELECT ml_train('tuketim_miktar', params => '{"n_trees": 0}')$c$),
    (54, $c$ml_train: n_trees 1e9$c$, '22023', $c$SELECT ml_train('tuketim_miktar', params => '{"n_trees": 1000000000}')$c$),
    (55, $c$ml_train: n_trees text$c$, '22023', $c$SELECT ml_train('tuketim_miktar', params => '{"n_trees": "many"}')$c$),
    (56, $c$ml_train: unknown key$c$, '22023', $c$SELECT ml_train('tuketim_miktar', params => '{"bogus": 1}')$c$),
    (57, $c$ml_train: params an array$c$, '22023', $c$SELECT ml_train('tuketim_miktar', params => '[1, 2]')$c$),
    (58, $c$ml_train: params of 1 MB$c$, '22023', $c$SELECT ml_train('tuketim_miktar', params => jsonb_build_object('seed', repeat('x', 1000000)))$c$),
    (59, $c$ml_train: train_until before train_from$c$, '22000', $c$SELECT ml_train('tuketim_miktar', train_from => '2026-05-05', train_until => '2026-05-01')$c$),
    (60, $c$ml_train: a window without data$c$, '22000', $c$SELECT ml_train('tuketim_miktar', train_from => '2000-01-01', train_until => '2000-01-02')$c$),
    (61, $c$ml_detect: NULL save$c$, '22004', $c$SELECT count(*) FROM ml_detect('tuketim_miktar', save => NULL)$c$),
    (62, $c$ml_detect: NULL parallel$c$, '22004', $c$SELECT count(*) FROM ml_detect('tuketim_miktar', parallel => NULL)$c$),
    (63, $c$ml_detect: unknown metric type$c$, '22000', $c$SELECT count(*) FROM ml_detect('no_such_type')$c$),
    (64, $c$ml_detect: type without a model (an admin's call trains one)$c$, '--', $c$SELECT count(*) FROM ml_detect('stok_seviye')$c$),
    (65, $c$ml_detect: since after until (no rows)$c$, '--', $c$SELECT count(*) FROM ml_detect('tuketim_miktar', since => '2026-05-09', until => '2026-05-01')$c$),
    (66, $c$ml_detect: parallel 0 (serial)$c$, '--', $c$SELECT count(*) FROM ml_detect('tuketim_miktar', save => true, parallel => 0)$c$),
    (67, $c$ml_build_features: NULL full_rebuild$c$, '22004', $c$SELECT ml_build_features('tuketim_miktar', NULL)$c$),
    (68, $c$ml_build_features: NULL parallel$c$, '22004', $c$SELECT ml_build_features('tuketim_miktar', false, NULL)$c$),
    (69, $c$ml_build_features: parallel -1 (serial)$c$, '--', $c$SELECT ml_build_features('tuketim_miktar', true, -1)$c$),
    (70, $c$ml_select_features: unknown method$c$, '22023', $c$SELECT count(*) FROM ml_select_features('tuketim_miktar', 'astrology')$c$),
    (71, $c$ml_select_features: unknown metric type$c$, '22000', $c$SELECT count(*) FROM ml_select_features('no_such_type')$c$),
    (72, $c$ml_select_features: empty metric type$c$, '22000', $c$SELECT count(*) FROM ml_select_features('')$c$),
    (73, $c$ml_feature_correlations: unknown metric type$c$, '22000', $c$SELECT count(*) FROM ml_feature_correlations('no_such_type')$c$),
    (74, $c$ml_feature_matrix: NULL metric type$c$, '22004', $c$SELECT count(*) FROM ml_feature_matrix(NULL)$c$),
    (75, $c$ml_feature_matrix: unknown feature$c$, '22023', $c$SELECT count(*) FROM ml_feature_matrix('tuketim_miktar', features => ARRAY['no_such_feature'])$c$),
    (76, $c$ml_feature_matrix: SQL in a feature name$c$, '22023', $c$SELECT count(*) FROM ml_feature_matrix('tuketim_miktar', features => ARRAY['lag_1); DROP TABLE ml_alerts; --'])$c$),
    (77, $c$ml_feature_matrix: NULL feature$c$, '22023', $c$SELECT count(*) FROM ml_feature_matrix('tuketim_miktar', features => ARRAY[NULL]::text[])$c$),
    (78, $c$ml_feature_matrix: metric_value as a feature$c$, '22023', $c$SELECT count(*) FROM ml_feature_matrix('tuketim_miktar', features => ARRAY['metric_value'])$c$),
    (79, $c$ml_feature_matrix: 201 features$c$, '54000', $c$SELECT count(*) FROM ml_feature_matrix('tuketim_miktar', features => array_fill('lag_1'::text, ARRAY[201]))$c$),
    (80, $c$ml_feature_matrix: 100,000 features$c$, '54000', $c$SELECT count(*) FROM ml_feature_matrix('tuketim_miktar', features => array_fill('lag_1'::text, ARRAY[100000]))$c$),
    (81, $c$ml_activate_model: unknown id$c$, '42704', $c$SELECT ml_activate_model(-1)$c$),
    (82, $c$ml_activate_model: NULL$c$, '--', $c$SELECT ml_activate_model(NULL) IS NULL$c$),
    (83, $c$ml_plot: NULL metric type$c$, '22004', $c$SELECT ml_plot(NULL, 'urun_0001')$c$),
    (84, $c$ml_plot: NULL entity$c$, '22004', $c$SELECT ml_plot('tuketim_miktar', NULL)$c$),
    (85, $c$ml_plot: unknown entity$c$, '42704', $c$SELECT ml_plot('tuketim_miktar', 'no_such_entity')$c$),
    (86, $c$ml_plot: since after until (an empty picture)$c$, '--', $c$SELECT ml_plot('tuketim_miktar', 'urun_0001', '2026-05-09', '2026-05-01')$c$),
    (87, $c$ml_collect: unknown source$c$, '42704', $c$SELECT * FROM ml_collect('no_such_source')$c$),
    (88, $c$ml_add_source: NULL name$c$, '22004', $c$SELECT ml_add_source(NULL, 'm', 'SELECT 1', 'snapshot')$c$),
    (89, $c$ml_add_source: NULL query$c$, '22004', $c$SELECT ml_add_source('s', 'm', NULL, 'snapshot')$c$),
    (90, $c$ml_add_source: NULL kind$c$, '22004', $c$SELECT ml_add_source('s', 'm', 'SELECT 1', NULL)$c$),
    (91, $c$ml_add_source: empty name$c$, '22023', $c$SELECT ml_add_source('', 'm', 'SELECT 1', 'snapshot')$c$),
    (92, $c$ml_add_source: unknown kind$c$, '22023', $c$SELECT ml_add_source('s', 'm', 'SELECT 1', 'sometimes')$c$),
    (93, $c$ml_add_source: as a superuser$c$, '42501', $c$SELECT ml_add_source('s', 'm', $q$SELECT 'a' AS entity_id, 1::float8 AS metric_value$q$, 'snapshot')$c$),
    (94, $c$ml_remove_source: NULL$c$, '--', $c$SELECT ml_remove_source(NULL) IS NULL$c$),
    (95, $c$ml_sources INSERT: bad kind$c$, '23514', $c$INSERT INTO ml_sources (name, metric_type, query, kind) VALUES ('s', 'm', 'SELECT 1', 'sometimes')$c$),
    (96, $c$ml_sources INSERT: empty query$c$, '23514', $c$INSERT INTO ml_sources (name, metric_type, query, kind) VALUES ('s', 'm', '', 'snapshot')$c$),
    (97, $c$ml_sources INSERT: query of 200,000 characters$c$, '54000', $c$INSERT INTO ml_sources (name, metric_type, query, kind) VALUES ('s', 'm', repeat(' ', 200000) || 'SELECT 1', 'snapshot')$c$),
    (98, $c$ml_add_channel: NULL name$c$, '22004', $c$SELECT ml_add_channel(NULL, 'webhook', '{"url": "http://127.0.0.1:9/x"}')$c$),
    (99, $c$ml_add_channel: NULL kind$c$, '22004', $c$SELECT ml_add_channel('c', NULL, '{"url": "http://127.0.0.1:9/x"}')$c$),
    (100, $c$ml_add_channel: NULL config$c$, '22004', $c$SELECT ml_add_channel('c', 'webhook', NULL)$c$),
    (101, $c$ml_add_channel: unknown kind$c$, '22023', $c$SELECT ml_add_channel('c', 'pigeon', '{}')$c$),
    (102, $c$ml_add_channel: webhook without url$c$, '22023', $c$SELECT ml_add_channel('c', 'webhook', '{}')$c$),
    (103, $c$ml_add_channel: webhook url not http$c$, '22023', $c$SELECT ml_add_channel('c', 'webhook', '{"url": "file:///etc/passwd"}')$c$),
    (104, $c$ml_add_channel: email without host$c$, '22023', $c$SELECT ml_add_channel('c', 'email', '{"from": "a@b.c", "to": ["d@e.f"]}')$c$),
    (105, $c$ml_add_channel: config an array$c$, '22023', $c$SELECT ml_add_channel('c', 'webhook', '[1]')$c$),
    (106, $c$ml_add_channel: config of 1 MB$c$, '22023', $c$SELECT ml_add_channel('c', 'webhook', jsonb_build_object('url', 'http://127.0.0.1:9/x', 'headers', jsonb_build_object('X', repeat('x', 1000000))))$c$),
    (107, $c$ml_channels INSERT: bad kind$c$, '23514', $c$INSERT INTO ml_channels (name, kind, config) VALUES ('c', 'pigeon', '{}')$c$),
    (108, $c$ml_channels INSERT: config an array$c$, '23514', $c$INSERT INTO ml_channels (name, kind, config) VALUES ('c', 'webhook', '[]')$c$),
    (109, $c$ml_add_notification_rule: NULL channel$c$, '22004', $c$SELECT ml_add_notification_rule(NULL)$c$),
    (110, $c$ml_add_notification_rule: NULL severity$c$, '22004', $c$SELECT ml_add_notification_rule('hook', NULL)$c$),
    (111, $c$ml_add_notification_rule: unknown channel$c$, '42704', $c$SELECT ml_add_notification_rule('no_such_channel')$c$),
    (112, $c$ml_add_notification_rule: unknown severity$c$, '22023', $c$SELECT ml_add_notification_rule('hook', 'apocalyptic')$c$),
    (113, $c$ml_add_notification_rule: dangling escape$c$, '22025', $c$SELECT ml_add_notification_rule('hook', 'dusuk', entity_pattern => E'urun\\')$c$),
    (114, $c$ml_add_notification_rule: three backslashes$c$, '22025', $c$SELECT ml_add_notification_rule('hook', 'dusuk', entity_pattern => E'urun\\\\\\')$c$),
    (115, $c$ml_add_notification_rule: pattern of 201 characters$c$, '22001', $c$SELECT ml_add_notification_rule('hook', 'dusuk', entity_pattern => repeat('u', 201))$c$),
    (116, $c$ml_notification_rules INSERT: dangling escape$c$, '22025', $c$INSERT INTO ml_notification_rules (channel_id, entity_pattern) SELECT id, E'x\\' FROM ml_channels LIMIT 1$c$),
    (117, $c$ml_notification_rules INSERT: bad severity$c$, '23514', $c$INSERT INTO ml_notification_rules (channel_id, min_severity) SELECT id, 'apocalyptic' FROM ml_channels LIMIT 1$c$),
    (118, $c$ml_notification_rules INSERT: unknown channel$c$, '23503', $c$INSERT INTO ml_notification_rules (channel_id) VALUES (-1)$c$),
    (119, $c$ml_notification_rules UPDATE: dangling escape$c$, '22025', $c$DO $d$ BEGIN INSERT INTO ml_notification_rules (channel_id) SELECT id FROM ml_channels LIMIT 1; UPDATE ml_notification_rules SET entity_pattern = E'urun_\\'; END $d$$c$),
    (120, $c$ml_add_action: NULL action$c$, '22004', $c$SELECT ml_add_action(NULL)$c$),
    (121, $c$ml_add_action: NULL severity$c$, '22004', $c$SELECT ml_add_action('sec_bad.act(bigint)', NULL)$c$),
    (122, $c$ml_action_rules INSERT: unknown function$c$, '42883', $c$INSERT INTO ml_action_rules (action) VALUES ('no_such_function(bigint)')$c$),
    (123, $c$ml_action_rules INSERT: SQL in the name$c$, '22P02', $c$INSERT INTO ml_action_rules (action) VALUES ('pg_catalog.abs(bigint); DROP TABLE ml_alerts')$c$),
    (124, $c$ml_add_action: as a superuser$c$, '42501', $c$SELECT ml_add_action('sec_bad.act(bigint)', 'dusuk')$c$),
    (125, $c$ml_action_rules INSERT: upper(text)$c$, '42883', $c$INSERT INTO ml_action_rules (action, min_severity) VALUES ('pg_catalog.upper(text)', 'dusuk')$c$),
    (126, $c$ml_action_rules INSERT: two arguments$c$, '42883', $c$INSERT INTO ml_action_rules (action) VALUES ('pg_catalog.int8pl(bigint, bigint)')$c$),
    (127, $c$ml_action_rules INSERT: no argument$c$, '42883', $c$INSERT INTO ml_action_rules (action) VALUES ('pg_catalog.now()')$c$),
    (128, $c$ml_action_rules INSERT: an integer argument$c$, '42883', $c$INSERT INTO ml_action_rules (action) VALUES ('pg_catalog.abs(integer)')$c$),
    (129, $c$ml_action_rules INSERT: an aggregate$c$, '42883', $c$INSERT INTO ml_action_rules (action) VALUES ('pg_catalog.sum(bigint)')$c$),
    (130, $c$ml_action_rules INSERT: dangling escape$c$, '22025', $c$INSERT INTO ml_action_rules (action, entity_pattern) VALUES ('sec_bad.act(bigint)', E'a\\')$c$),
    (131, $c$ml_action_rules INSERT: bad severity$c$, '23514', $c$INSERT INTO ml_action_rules (action, min_severity) VALUES ('sec_bad.act(bigint)', 'apocalyptic')$c$),
    (132, $c$ml_alerts INSERT: bad severity$c$, '23514', $c$INSERT INTO ml_alerts (alert_type, severity, entity_id, message, metric_type, "timestamp", last_seen) VALUES ('a', 'apocalyptic', 'e', 'm', 'm', now(), now())$c$),
    (133, $c$ml_alerts INSERT: NULL message$c$, '23502', $c$INSERT INTO ml_alerts (alert_type, severity, entity_id, message, metric_type, "timestamp", last_seen) VALUES ('a', 'orta', 'e', NULL, 'm', now(), now())$c$),
    (134, $c$ml_labels INSERT: ends before starts$c$, '23514', $c$INSERT INTO ml_labels (metric_type, entity_id, starts_at, ends_at) VALUES ('m', 'e', '2026-05-02', '2026-05-01')$c$),
    (135, $c$ml_labels INSERT: empty entity$c$, '23514', $c$INSERT INTO ml_labels (metric_type, entity_id, starts_at, ends_at) VALUES ('m', '', '2026-05-01', '2026-05-02')$c$),
    (136, $c$ml_models INSERT: unknown model type$c$, '23514', $c$INSERT INTO ml_models (model_type, metric_type, version) VALUES ('deep', 'm', 1)$c$),
    (137, $c$ml_models INSERT: accuracy 2$c$, '23514', $c$INSERT INTO ml_models (model_type, metric_type, version, accuracy) VALUES ('z_score', 'm', 1, 2)$c$),
    (138, $c$ml_settings INSERT: NULL alert_type$c$, '23502', $c$INSERT INTO ml_settings (metric_type, alert_type) VALUES ('m', NULL)$c$),
    (139, $c$ml_alerts UPDATE: unknown severity$c$, '23514', $c$DO $d$ BEGIN INSERT INTO ml_alerts (alert_type, severity, entity_id, message, metric_type, "timestamp", last_seen) VALUES ('a', 'orta', 'e', 'm', 'm', now(), now()); UPDATE ml_alerts SET severity = 'apocalyptic'; END $d$$c$),
    (140, $c$ml_run_stage: unknown stage$c$, '22023', $c$SELECT ml_run_stage('nightly')$c$),
    (141, $c$ml_run_stage: unknown trigger$c$, '22023', $c$SELECT ml_run_stage('cleanup', 'robot')$c$),
    (142, $c$ml_run_stage: NULL stage$c$, '--', $c$SELECT ml_run_stage(NULL) IS NULL$c$),
    (143, $c$ml_schedule: bad cron expression$c$, '22023', $c$SELECT * FROM ml_schedule('every minute')$c$),
    (144, $c$ml_ensure_partitions: 20 years at once$c$, '22023', $c$SELECT ml_ensure_partitions('2000-01-01', '2030-01-01')$c$),
    (145, $c$ml_generate_demo_data: NULL entities$c$, '22004', $c$SELECT * FROM ml_generate_demo_data(NULL)$c$),
    (146, $c$ml_generate_demo_data: NULL days$c$, '22004', $c$SELECT * FROM ml_generate_demo_data(1, NULL)$c$),
    (147, $c$ml_generate_demo_data: NULL parallel$c$, '22004', $c$SELECT * FROM ml_generate_demo_data(1, 1, 1, '2026-05-01', NULL)$c$),
    (148, $c$ml_generate_demo_data: 0 entities$c$, '22023', $c$SELECT * FROM ml_generate_demo_data(0)$c$),
    (149, $c$ml_generate_demo_data: -5 days$c$, '22023', $c$SELECT * FROM ml_generate_demo_data(1, -5)$c$),
    (150, $c$ml_generate_demo_data: 10 million entities$c$, '22023', $c$SELECT * FROM ml_generate_demo_data(10000000, 1)$c$),
    (151, $c$ml_deliver_notifications: NULL$c$, '--', $c$SELECT count(*) FROM ml_deliver_notifications(NULL)$c$),
    (152, $c$ml_build_features: parallel 1000 (more than the worker slots)$c$, '22023', $c$SELECT ml_build_features('tuketim_miktar', true, 1000)$c$),
    (153, $c$ml_detect: parallel 1000 (more than the worker slots)$c$, '22023', $c$SELECT count(*) FROM ml_detect('tuketim_miktar', save => true, parallel => 1000)$c$),
    (154, $c$ml_drop_expired_partitions: another table$c$, '22023', $c$SELECT ml_drop_expired_partitions('ml_alerts', now())$c$),
    (155, $c$ml_tune: unknown metric type$c$, '42704', $c$SELECT ml_tune('no_such_type', 10)$c$),
    (156, $c$ml_tune: negative budget$c$, '22023', $c$SELECT ml_tune('tuketim_miktar', -1)$c$),
    (157, $c$ml_tune: NaN budget$c$, '22023', $c$SELECT ml_tune('tuketim_miktar', 'NaN')$c$),
    (158, $c$ml_tune: 0 trials$c$, '22023', $c$SELECT ml_tune('tuketim_miktar', 10, 0)$c$),
    (159, $c$ml_tune: NULL metric_type$c$, '22004', $c$SELECT ml_tune(NULL)$c$),
    (160, $c$ml_train: a family that needs another metric$c$, '22023', $c$SELECT ml_train('tuketim_miktar', params => '{"family": "level"}')$c$);
CREATE TEMP TABLE results AS SELECT n, input, expected, pg_temp.try_case(stmt) AS got FROM cases ORDER BY n;
SELECT n, input, got, got = expected AS ok FROM results ORDER BY n;
SELECT count(*) AS cases, count(*) FILTER (WHERE got = expected) AS as_expected,
       count(*) FILTER (WHERE got = 'XX000') AS internal_errors FROM results;
-- the backend is alive and nothing stored changed
SELECT (SELECT digest FROM before) = pg_temp.data_snapshot() AS data_unchanged;
DROP SCHEMA sec_bad CASCADE;
