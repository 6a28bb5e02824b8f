-- pg_anomaly install script, last part: comments on the generated functions and privileges.

COMMENT ON FUNCTION ml_ingest(text, text, double precision, timestamptz, jsonb) IS
    'Stores one observation: inserts it, replaces a different value at the same timestamp (a correction) or ignores an identical one; returns inserted, corrected or unchanged';
COMMENT ON FUNCTION ml_add_source(text, text, text, text) IS
    'Registers a metric source: an application query (kind event: newer rows than $1; snapshot: current state) run with the privileges of the registering role';
COMMENT ON FUNCTION ml_remove_source(text) IS 'Removes a metric source';
COMMENT ON FUNCTION ml_collect(text) IS
    'Runs one source or all enabled ones: reads only rows newer than the watermark, stores them and advances the watermark in one subtransaction';
COMMENT ON FUNCTION ml_generate_demo_data(integer, integer, integer, timestamptz) IS
    'Writes deterministic labelled demo series of the four metric types (15-minute steps) with injected anomalies labelled in ml_labels';

-- Privileges. PUBLIC gets nothing: the data describes a business, and the functions
-- write. Each role gets what its users need (README, "Roles").
DO $grants$
DECLARE
    s text := '@extschema@';
BEGIN
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM PUBLIC', s);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM PUBLIC', s);
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM PUBLIC', s);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO anomaly_reader, anomaly_writer, anomaly_admin', s);
END
$grants$;

-- The reader (analysts): read everything but the model bytes (they encode training data
-- and are of no use outside the extension), run ml_detect without saving.
GRANT SELECT ON ml_metrics, ml_features, ml_labels, ml_alerts, ml_training_logs, ml_settings,
      ml_feature_sets, ml_job_runs, ml_sources_status, ml_series_state TO anomaly_reader;
GRANT SELECT (id, model_type, metric_type, version, parameters, threshold, accuracy, "precision", recall, f1,
              data_points, trained_from, trained_until, is_active, created_at, activated_at)
      ON ml_models TO anomaly_reader;

-- The writer (the web application): insert metrics, read alerts, mark them read or false positive.
GRANT SELECT, INSERT ON ml_metrics TO anomaly_writer;
GRANT USAGE ON SEQUENCE ml_metrics_id_seq TO anomaly_writer;
GRANT SELECT ON ml_alerts TO anomaly_writer;
GRANT UPDATE (is_read, is_false_positive) ON ml_alerts TO anomaly_writer;
GRANT EXECUTE ON FUNCTION ml_ingest(text, text, double precision, timestamptz, jsonb) TO anomaly_writer;

-- The admin: everything the others can, and configure, collect, train, schedule.
GRANT anomaly_reader TO anomaly_admin;
GRANT anomaly_writer TO anomaly_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA @extschema@ TO anomaly_admin;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA @extschema@ TO anomaly_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA @extschema@ TO anomaly_admin;
COMMENT ON FUNCTION ml_build_features(text, boolean) IS
    'Computes point-in-time features into ml_features: incremental by default (new, late and corrected metrics), or everything with full_rebuild; returns rows written';
