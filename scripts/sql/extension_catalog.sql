-- Describes every object of the pg_anomaly extension, one fact per line, free of OIDs and of
-- anything that differs between two databases holding the same schema: used by
-- scripts/test_upgrade.sh to compare an upgraded installation with a fresh one. Access lists
-- are sorted (their order is the order of the GRANTs, not a difference in rights).
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_catalog.pg_extension WHERE extname = 'pg_anomaly'),
members AS (
    SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
),
rels AS (
    SELECT c.oid, c.relname, c.relkind FROM pg_catalog.pg_class c JOIN members m ON m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND m.objid = c.oid
),
facts(line) AS (
    -- every member, by its description
    SELECT 'member ' || pg_catalog.pg_describe_object(m.classid, m.objid, 0) FROM members m
    UNION ALL
    -- (the REFERENCES grants on ml_owner_pins are data: one per role owning a source or action)
    SELECT 'relation ' || r.relname || ' kind ' || r.relkind::text || coalesce(' acl ' || (SELECT pg_catalog.string_agg(x::text, ',' ORDER BY x::text) FROM pg_catalog.unnest(c.relacl) x
                                                                                      WHERE r.relname <> 'ml_owner_pins' OR x::text !~ '^[^=]*=x/'), '')
           || coalesce(' options ' || c.reloptions::text, '') || ' persistence ' || c.relpersistence::text
           || coalesce(' bound ' || pg_catalog.pg_get_expr(c.relpartbound, c.oid), '')
           || coalesce(' partitioned by ' || pg_catalog.pg_get_partkeydef(c.oid), '')
           || coalesce(' comment ' || pg_catalog.obj_description(c.oid, 'pg_class'), '')
      FROM rels r JOIN pg_catalog.pg_class c ON c.oid = r.oid
    UNION ALL
    SELECT 'column ' || r.relname || '.' || a.attname || ' #' || a.attnum || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '')
           || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
           || coalesce(' acl ' || (SELECT pg_catalog.string_agg(x::text, ',' ORDER BY x::text) FROM pg_catalog.unnest(a.attacl) x), '')
           || coalesce(' comment ' || pg_catalog.col_description(r.oid, a.attnum), '')
      FROM rels r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT 'constraint ' || r.relname || '.' || co.conname || ' ' || pg_catalog.pg_get_constraintdef(co.oid)
      FROM rels r JOIN pg_catalog.pg_constraint co ON co.conrelid = r.oid
    UNION ALL
    SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
      FROM rels r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(t.oid)
      FROM rels r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT 'view ' || r.relname || ' ' || pg_catalog.pg_get_viewdef(r.oid)
      FROM rels r WHERE r.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'sequence ' || r.relname || ' ' || pg_catalog.format_type(s.seqtypid, NULL) || ' ' || s.seqstart || ' ' || s.seqincrement
           || ' ' || s.seqmax || ' ' || s.seqmin || ' ' || s.seqcache || ' ' || s.seqcycle::text
      FROM rels r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
    UNION ALL
    SELECT 'function ' || p.oid::pg_catalog.regprocedure::text || ' returns ' || pg_catalog.pg_get_function_result(p.oid)
           || ' args ' || pg_catalog.pg_get_function_arguments(p.oid)
           || ' ' || p.provolatile::text || p.proisstrict::text || p.prosecdef::text || p.proparallel::text || ' ' || p.prolang::pg_catalog.regproc::text
           || coalesce(' acl ' || (SELECT pg_catalog.string_agg(x::text, ',' ORDER BY x::text) FROM pg_catalog.unnest(p.proacl) x), '') || coalesce(' config ' || p.proconfig::text, '')
           || ' body ' || pg_catalog.md5(coalesce(p.prosrc, '') || '|' || coalesce(p.probin, ''))
           || coalesce(' comment ' || pg_catalog.obj_description(p.oid, 'pg_proc'), '')
      FROM members m JOIN pg_catalog.pg_proc p ON m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND m.objid = p.oid
    UNION ALL
    SELECT 'dumped with pg_dump ' || c.oid::pg_catalog.regclass::text || coalesce(' where ' || nullif(cond, ''), '')
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond) JOIN pg_catalog.pg_class c ON c.oid = u.cfg
)
SELECT line FROM facts ORDER BY line;
