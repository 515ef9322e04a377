-- verify: primary keys, unique and foreign keys of the target schema (validated or NOT VALID).
SELECT c.conname, t.relname AS table_name, c.contype, c.convalidated,
       array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS columns,
       r.relname AS ref_table
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_class r ON r.oid = c.confrelid
WHERE n.nspname = %(schema)s AND c.contype IN ('p', 'u', 'f');
