-- Validated ingestion: every bad input fails with its SQLSTATE and changes nothing.
\set VERBOSITY sqlstate
SELECT ml_ingest('tuketim_miktar', 'urun_0001', 5, '2026-03-02 10:00+00');
SELECT ml_ingest('tuketim_miktar', 'urun_0001', 6, '2026-03-02 10:15+00');
CREATE TEMP TABLE before AS SELECT metric_type, entity_id, metric_value, "timestamp" FROM ml_metrics;

-- through ml_ingest
SELECT ml_ingest('tuketim_miktar', 'urun_0001', NULL, '2026-03-02 11:00+00');     -- 22004
SELECT ml_ingest('tuketim_miktar', 'urun_0001', 'NaN', '2026-03-02 11:00+00');    -- 22003
SELECT ml_ingest('tuketim_miktar', 'urun_0001', 'Infinity', '2026-03-02 11:00+00');
SELECT ml_ingest('tuketim_miktar', 'urun_0001', '-Infinity', '2026-03-02 11:00+00');
SELECT ml_ingest('', 'urun_0001', 1, '2026-03-02 11:00+00');                      -- 22026
SELECT ml_ingest('tuketim_miktar', '', 1, '2026-03-02 11:00+00');
SELECT ml_ingest('tuketim_miktar', repeat('x', 10000), 1, '2026-03-02 11:00+00');
SELECT ml_ingest(NULL, 'urun_0001', 1, '2026-03-02 11:00+00');
SELECT ml_ingest('tuketim_miktar', 'urun_0001', 1, 'infinity');                   -- 22023
-- through plain INSERT (what the web application does)
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('tuketim_miktar', 'urun_0001', NULL, now());  -- 23502
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('tuketim_miktar', 'urun_0001', 'NaN', now()); -- 23514
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('tuketim_miktar', 'urun_0001', 'Infinity', now());
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('tuketim_miktar', 'urun_0001', '-Infinity', now());
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('', 'urun_0001', 1, now());
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('tuketim_miktar', '', 1, now());
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES ('tuketim_miktar', 'urun_0001', 9, '2026-03-02 10:00+00'); -- 23505 duplicate
-- a multi-row insert with one bad row stores none of them
INSERT INTO ml_metrics (metric_type, entity_id, metric_value, "timestamp") VALUES
    ('tuketim_miktar', 'urun_0002', 1, '2026-03-02 10:00+00'), ('tuketim_miktar', 'urun_0002', 'NaN', '2026-03-02 10:15+00');
-- COPY gets the same checks
COPY ml_metrics (metric_type, entity_id, metric_value, "timestamp") FROM stdin;
tuketim_miktar	urun_0003	1	2026-03-02 10:00+00
tuketim_miktar	urun_0003	NaN	2026-03-02 10:15+00
\.

-- nothing changed
SELECT count(*) AS changed FROM (
    (SELECT metric_type, entity_id, metric_value, "timestamp" FROM ml_metrics EXCEPT SELECT * FROM before)
    UNION ALL (SELECT * FROM before EXCEPT SELECT metric_type, entity_id, metric_value, "timestamp" FROM ml_metrics)) d;

-- the upsert: identical is a no-op, a different value is a remembered correction
SELECT ml_ingest('tuketim_miktar', 'urun_0001', 5, '2026-03-02 10:00+00');
SELECT ml_ingest('tuketim_miktar', 'urun_0001', 4, '2026-03-02 10:00+00');
SELECT metric_value, previous_value, corrected_at IS NOT NULL AS corrected FROM ml_metrics
WHERE entity_id = 'urun_0001' AND "timestamp" = '2026-03-02 10:00+00';
-- the correction marks the series for recomputation from that timestamp
SELECT metric_type, entity_id, dirty_from FROM ml_series_dirty ORDER BY 1, 2;

-- COPY keeps working and marks its series dirty too
COPY ml_metrics (metric_type, entity_id, metric_value, "timestamp") FROM stdin;
dolum_sure	urun_0009	31.5	2026-03-02 10:00+00
dolum_sure	urun_0009	33	2026-03-02 12:00+00
\.
SELECT metric_type, entity_id, dirty_from FROM ml_series_dirty WHERE metric_type = 'dolum_sure';
SELECT count(*) AS duplicates FROM (SELECT 1 FROM ml_metrics GROUP BY metric_type, entity_id, "timestamp" HAVING count(*) > 1) d;
