-- verify: the sequence behind every identity / serial column of the target schema.
SELECT c.relname AS table_name, a.attname AS column_name,
       pg_get_serial_sequence(format('%%I.%%I', n.nspname, c.relname), a.attname) AS seq
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND a.attnum > 0
  AND NOT a.attisdropped
  AND pg_get_serial_sequence(format('%%I.%%I', n.nspname, c.relname), a.attname) IS NOT NULL;
