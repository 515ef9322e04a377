-- verify: the triggers of the target schema's tables (not the internal ones of constraints).
SELECT g.tgname AS trigger_name, t.relname AS table_name
FROM pg_trigger g
JOIN pg_class t ON t.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = %(schema)s AND NOT g.tgisinternal;
