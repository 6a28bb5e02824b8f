-- pg_anomaly 0.1.0 -> 0.2.0
--
-- Why: 0.1.0 databases could not be restored from pg_dump into a new cluster:
--   * CREATE EXTENSION inserts the default ml_settings rows, and restoring the dumped rows
--     failed on the primary key: a trigger now lets a dumped row replace an untouched default;
--   * the owners of collection sources and automatic actions were stored as role OIDs, which
--     point at no role (or the wrong one) in another cluster: they are now regrole, dumped
--     and restored by role name;
--   * six sequences (channel, rule, notification and action ids, feature versions) were not
--     dumped, so a restored database handed out ids its restored rows already had.
-- A fresh 0.2.0 install and 0.1.0 + this script give the same catalog
-- (scripts/test_upgrade.sh compares them).
\echo Use "ALTER EXTENSION pg_anomaly UPDATE TO '0.2.0'" to load this file. \quit

CREATE FUNCTION @extschema@.ml_settings_replace_default() RETURNS trigger
LANGUAGE plpgsql SET search_path = @extschema@, pg_temp AS $fn$
BEGIN
    DELETE FROM ml_settings s
     WHERE s.metric_type = NEW.metric_type
       AND (s.metric_type, s.alert_type) IN (('stok_seviye', 'stok_anomali'), ('tuketim_miktar', 'tuketim_anomali'),
                                             ('dolum_sure', 'dolum_gecikme'), ('zimmet_kullanim', 'zimmet_anomali'))
       AND s.period = interval '1 day' AND s.stat_window = interval '1 day' AND s.episode_gap = interval '2 hours'
       AND s.enabled AND s.params = '{}'::jsonb;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION @extschema@.ml_settings_replace_default() IS 'Trigger: an inserted row replaces the untouched shipped default of its metric type (so restoring a dump works)';
CREATE TRIGGER ml_settings_replace_default BEFORE INSERT ON @extschema@.ml_settings
    FOR EACH ROW EXECUTE FUNCTION @extschema@.ml_settings_replace_default();
REVOKE ALL ON FUNCTION @extschema@.ml_settings_replace_default() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.ml_settings_replace_default() TO anomaly_admin;

-- Owners by role name. The view reads the column, so it is rebuilt around the change.
DROP VIEW @extschema@.ml_sources_status;
-- A source or action whose owner role no longer exists cannot be kept (its privileges
-- would come from nowhere): the upgrade stops and names it.
DO $owners$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(x, ', ') INTO bad FROM (
        SELECT 'source ' || name AS x FROM @extschema@.ml_sources WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = owner)
        UNION ALL
        SELECT 'action rule ' || id FROM @extschema@.ml_action_rules WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = owner)) s;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'pg_anomaly: owners of % no longer exist', bad USING ERRCODE = '42704',
            HINT = 'Remove them (ml_remove_source, DELETE FROM ml_action_rules) or give them an existing owner, then update again.';
    END IF;
END
$owners$;
ALTER TABLE @extschema@.ml_sources ALTER COLUMN owner TYPE regrole USING owner::regrole;
ALTER TABLE @extschema@.ml_action_rules ALTER COLUMN owner TYPE regrole USING owner::regrole;
CREATE VIEW @extschema@.ml_sources_status AS
SELECT s.name, s.metric_type, s.kind, s.owner, s.enabled, s.watermark,
       r.started AS last_run_started, r.finished AS last_run_finished,
       r.rows_out AS last_run_rows, r.success AS last_run_success, r.error AS last_run_error
FROM @extschema@.ml_sources s
LEFT JOIN LATERAL (
    SELECT * FROM @extschema@.ml_job_runs j WHERE j.stage = 'collection' AND j.source = s.name
    ORDER BY j.started DESC LIMIT 1
) r ON true;
COMMENT ON VIEW @extschema@.ml_sources_status IS 'Registered sources with their watermark and last collection run';
REVOKE ALL ON @extschema@.ml_sources_status FROM PUBLIC;
GRANT SELECT ON @extschema@.ml_sources_status TO anomaly_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.ml_sources_status TO anomaly_admin;

DO $dump_seq$
DECLARE
    rel text;
BEGIN
    FOREACH rel IN ARRAY ARRAY['ml_features_version_seq', 'ml_channels_id_seq', 'ml_notification_rules_id_seq',
                               'ml_notifications_id_seq', 'ml_action_rules_id_seq', 'ml_action_runs_id_seq'] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.format('%I.%I', '@extschema@', rel)::regclass, '');
    END LOOP;
END
$dump_seq$;
