-- Incremental collection from registered sources.
\set VERBOSITY terse
CREATE SCHEMA app;
CREATE TABLE app.stock_movements (urun_id text, qty double precision, at timestamptz);
CREATE TABLE app.stock (urun_id text, on_hand double precision);
INSERT INTO app.stock_movements VALUES ('urun_1', 3, '2026-03-01 10:00+00'), ('urun_1', 4, '2026-03-01 10:15+00'), ('urun_2', 1, '2026-03-01 10:00+00');
INSERT INTO app.stock VALUES ('urun_1', 40), ('urun_2', 12);
-- sources run with the rights of the login role that registers them (never a superuser)
CREATE ROLE pga_test_collector LOGIN;
GRANT anomaly_admin TO pga_test_collector;
GRANT USAGE ON SCHEMA app TO pga_test_collector;
GRANT SELECT ON ALL TABLES IN SCHEMA app TO pga_test_collector;
SET SESSION AUTHORIZATION pga_test_collector;

SELECT ml_add_source('movements', 'tuketim_miktar',
    $q$SELECT urun_id AS entity_id, qty AS metric_value, at AS "timestamp" FROM app.stock_movements WHERE at > $1$q$, 'event');
SELECT ml_add_source('on_hand', 'stok_seviye', $q$SELECT urun_id AS entity_id, on_hand AS metric_value FROM app.stock$q$, 'snapshot');
-- a query missing a column is refused
SELECT ml_add_source('bad', 'stok_seviye', $q$SELECT urun_id FROM app.stock$q$, 'snapshot');
SELECT ml_add_source('bad', 'stok_seviye', $q$SELECT urun_id AS entity_id, on_hand AS metric_value FROM app.stock$q$, 'sometimes');
RESET SESSION AUTHORIZATION;

SELECT source, rows_read, rows_inserted, rows_rejected, success FROM ml_collect('movements');
SELECT source, rows_read, rows_inserted, rows_rejected, success FROM ml_collect('movements');  -- nothing new
INSERT INTO app.stock_movements VALUES ('urun_1', 5, '2026-03-01 10:30+00');
SELECT source, rows_read, rows_inserted, success FROM ml_collect('movements');                -- only the new row is read
SELECT entity_id, metric_value, "timestamp", source FROM ml_metrics WHERE metric_type = 'tuketim_miktar' ORDER BY 1, 3;
SELECT name, watermark FROM ml_sources_status WHERE name = 'movements';

-- a collection rolled back midway loses nothing and duplicates nothing
INSERT INTO app.stock_movements VALUES ('urun_2', 2, '2026-03-01 10:45+00');
BEGIN;
SELECT source, rows_inserted FROM ml_collect('movements');
ROLLBACK;
SELECT watermark FROM ml_sources WHERE name = 'movements';
SELECT source, rows_inserted FROM ml_collect('movements');
SELECT count(*) AS rows, count(DISTINCT (entity_id, "timestamp")) AS distinct_rows FROM ml_metrics WHERE metric_type = 'tuketim_miktar';

-- a snapshot source stamps the current state with the collection time
SELECT source, rows_read, rows_inserted, success FROM ml_collect('on_hand');
SELECT entity_id, metric_value, "timestamp" > now() - interval '1 minute' AS fresh FROM ml_metrics WHERE metric_type = 'stok_seviye' ORDER BY 1;

-- a failing source is recorded and does not stop the others
DROP TABLE app.stock;
SELECT source, rows_inserted, success, error IS NOT NULL AS has_error FROM ml_collect() ORDER BY 1;
SELECT stage, source, success, rows_out FROM ml_job_runs WHERE stage = 'collection' ORDER BY id;

-- a source runs with its owner's privileges: a role that cannot read a table cannot collect it
CREATE ROLE pga_test_clerk LOGIN;
GRANT anomaly_admin TO pga_test_clerk;
CREATE TABLE app.secret (urun_id text, v double precision);
INSERT INTO app.secret VALUES ('urun_9', 1);
GRANT USAGE ON SCHEMA app TO pga_test_clerk;
SET SESSION AUTHORIZATION pga_test_clerk;
SELECT ml_add_source('secret', 'stok_seviye', $q$SELECT urun_id AS entity_id, v AS metric_value FROM app.secret$q$, 'snapshot');
RESET SESSION AUTHORIZATION;
-- registered by the collector (who may read it), then handed to the clerk by a superuser:
-- collection still runs as the clerk
GRANT SELECT ON app.secret TO pga_test_collector;
SET SESSION AUTHORIZATION pga_test_collector;
SELECT ml_add_source('secret', 'stok_seviye', $q$SELECT urun_id AS entity_id, v AS metric_value FROM app.secret$q$, 'snapshot');
RESET SESSION AUTHORIZATION;
UPDATE ml_sources SET owner = 'pga_test_clerk'::regrole WHERE name = 'secret';
SELECT source, rows_inserted, success, error FROM ml_collect('secret');
SELECT count(*) FROM ml_metrics WHERE entity_id = 'urun_9';
SELECT ml_remove_source('secret'), ml_remove_source('secret');
SELECT * FROM ml_collect('no_such_source');
DROP SCHEMA app CASCADE;
REVOKE anomaly_admin FROM pga_test_clerk, pga_test_collector;
-- the collector still owns sources: DROP OWNED BY releases its pin (README, "Security")
DROP OWNED BY pga_test_clerk, pga_test_collector;
DROP ROLE pga_test_clerk, pga_test_collector;
