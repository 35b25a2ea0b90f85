/**
 * SQL that KIS runs in its embedded PostgreSQL before each start, so that FerretDB's look-ups use
 * an index.
 *
 * FerretDB 1.24 stores each document as `_jsonb` and turns an index `{depotId: 1}` into a btree on
 * `(_jsonb -> 'depotId')`, but it pushes an equality filter down as `_jsonb -> 'depotId' @> '"x"'`,
 * which a btree cannot answer: every look-up, even by `_id`, read the whole table (measured: 90 ms
 * per `findOne({_id})` among 200,000 documents). A GIN index with `jsonb_path_ops` on the same
 * expression answers `@>`; with it the same look-up takes 2 ms. So an event trigger gives every
 * such btree a GIN twin of its leading field when FerretDB creates it (as on MongoDB, a compound
 * index serves equality on its prefix), and drops twins that no btree needs any more.
 * Nothing outside this file knows about it: KIS speaks plain MongoDB.
 *
 * Statements end in a semicolon and a blank line: `postgres --single -j` reads them that way.
 */
export const INDEX_TWINS_SQL = `
CREATE OR REPLACE FUNCTION kis_twin_name(tbl text, key text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
  SELECT left(tbl, 40) || '_' || substr(md5(key), 1, 10) || '_kis_gin'
$f$;

CREATE OR REPLACE FUNCTION kis_btree_keys(idx oid) RETURNS SETOF text
LANGUAGE plpgsql STABLE AS $f$
DECLARE
  m text[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = idx
                  AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')) THEN
    RETURN;
  END IF;
  m := regexp_match(pg_get_indexdef(idx, 1, true), '^\\(?_jsonb -> ''([^'']+)''::text\\)?$');
  IF m IS NOT NULL THEN RETURN NEXT m[1]; END IF;
END
$f$;

CREATE OR REPLACE FUNCTION kis_add_twins(idx oid) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
  tbl record;
  key text;
BEGIN
  SELECT n.nspname AS schema, c.relname AS name INTO tbl
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE i.indexrelid = idx;
  IF tbl IS NULL THEN RETURN; END IF;
  FOR key IN SELECT kis_btree_keys(idx) LOOP
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops)',
      kis_twin_name(tbl.name, key), tbl.schema, tbl.name, key);
  END LOOP;
END
$f$;

CREATE OR REPLACE FUNCTION kis_prune_twins(schema_name text) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
  twin record;
BEGIN
  FOR twin IN
    SELECT c.relname AS name, t.oid AS tbl, t.relname AS tblname
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = schema_name AND c.relname LIKE '%\\_kis\\_gin'
  LOOP
    IF NOT EXISTS (
      SELECT 1 FROM pg_index i, LATERAL kis_btree_keys(i.indexrelid) AS key
       WHERE i.indrelid = twin.tbl AND kis_twin_name(twin.tblname, key) = twin.name
    ) THEN
      EXECUTE format('DROP INDEX IF EXISTS %I.%I', schema_name, twin.name);
    END IF;
  END LOOP;
END
$f$;

CREATE OR REPLACE FUNCTION kis_on_create_index() RETURNS event_trigger
LANGUAGE plpgsql AS $f$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'index' LOOP
    PERFORM kis_add_twins(r.objid);
  END LOOP;
END
$f$;

CREATE OR REPLACE FUNCTION kis_on_drop_index() RETURNS event_trigger
LANGUAGE plpgsql AS $f$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT DISTINCT schema_name FROM pg_event_trigger_dropped_objects()
            WHERE object_type = 'index' AND NOT object_name LIKE '%\\_kis\\_gin' LOOP
    PERFORM kis_prune_twins(r.schema_name);
  END LOOP;
END
$f$;

DROP EVENT TRIGGER IF EXISTS kis_index_twins_create;

CREATE EVENT TRIGGER kis_index_twins_create ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION kis_on_create_index();

DROP EVENT TRIGGER IF EXISTS kis_index_twins_drop;

CREATE EVENT TRIGGER kis_index_twins_drop ON sql_drop WHEN TAG IN ('DROP INDEX')
  EXECUTE FUNCTION kis_on_drop_index();

SELECT kis_prune_twins(nspname) FROM pg_namespace
 WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast');

SELECT kis_add_twins(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast');
`;

/**
 * Takes the twins away again: FerretDB's PostgreSQL as it comes. Only for measuring what the twins
 * are worth (scripts/bench/engines.ts).
 */
export const NO_INDEX_TWINS_SQL = `
DROP EVENT TRIGGER IF EXISTS kis_index_twins_create;

DROP EVENT TRIGGER IF EXISTS kis_index_twins_drop;

DO $f$
DECLARE
  twin record;
BEGIN
  FOR twin IN SELECT n.nspname AS schema, c.relname AS name FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind = 'i' AND c.relname LIKE '%\\_kis\\_gin' LOOP
    EXECUTE format('DROP INDEX IF EXISTS %I.%I', twin.schema, twin.name);
  END LOOP;
END
$f$;
`;
