-- A saving detection pass prepares its array reads once (kept plans) and frees them when it
-- ends; a pass that an error unwinds after its reads frees them too, when its transaction
-- ends: no plan is left behind in the session (CacheMemoryContext) per failed run.
\set VERBOSITY terse
SET client_min_messages = warning;
TRUNCATE ml_metrics, ml_features, ml_series_state, ml_series_dirty, ml_labels, ml_feature_sets, ml_training_logs, ml_alerts CASCADE;
DELETE FROM ml_models;
SELECT sum(rows) > 0 AS generated FROM ml_generate_demo_data(3, 14, 21, '2026-03-29 00:00+00');
SELECT ml_build_features() > 0 AS built;
SELECT ml_train('tuketim_miktar') > 0 AS trained;
-- the plans a pass keeps: the prepared statements of the scoring reads
CREATE VIEW kept_read_plans AS
SELECT count(*) AS plans FROM pg_catalog.pg_backend_memory_contexts
 WHERE name = 'CachedPlanSource' AND ident LIKE 'SELECT d.entity_id, d.from_ts, x.t,%';
-- a pass that succeeds frees them as it ends
SELECT count(*) > 0 AS scored FROM ml_detect('tuketim_miktar', until => '2026-03-25 00:00+00', save => true);
SELECT * FROM kept_read_plans;
-- a pass that fails after its reads (here recording its run fails)
CREATE FUNCTION pg_temp.refuse_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER refuse_detection_run BEFORE INSERT ON ml_job_runs
   FOR EACH ROW WHEN (NEW.stage = 'detection' AND NEW.success) EXECUTE FUNCTION pg_temp.refuse_run();
SELECT count(*) FROM ml_detect('tuketim_miktar', until => '2026-03-27 00:00+00', save => true);
SELECT * FROM kept_read_plans;
-- again, in one transaction that goes on after it (a subtransaction caught the error)
BEGIN;
SAVEPOINT s;
SELECT count(*) FROM ml_detect('tuketim_miktar', until => '2026-03-27 00:00+00', save => true);
ROLLBACK TO SAVEPOINT s;
SELECT * FROM kept_read_plans;
COMMIT;
DROP TRIGGER refuse_detection_run ON ml_job_runs;
-- the pipeline goes on: the next pass scores what the failed ones rolled back
SELECT count(*) > 0 AS scored FROM ml_detect('tuketim_miktar', until => '2026-03-27 00:00+00', save => true);
SELECT * FROM kept_read_plans;
DROP VIEW kept_read_plans;
