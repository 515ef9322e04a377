-- The server settings preflight reads (run it in psql to see what preflight sees).
SELECT name, setting, unit
FROM pg_settings
WHERE name IN (
    'server_version_num', 'server_encoding', 'max_connections',
    'superuser_reserved_connections', 'reserved_connections',
    'shared_buffers', 'effective_cache_size', 'work_mem', 'data_directory'
);
