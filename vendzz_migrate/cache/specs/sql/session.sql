-- warm-cache "session": active sessions, value = the session JSON, TTL = time left.
-- Skipped when there is no "sessions" table (the SQLite service keeps none).
SELECT "sid", "sess", ceil(extract(epoch FROM "expire" - now()))::bigint AS "ttl_s"
FROM "sessions"
WHERE "expire" > now()
