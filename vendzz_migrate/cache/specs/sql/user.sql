-- warm-cache "user": user profiles, one hash per user (vendzz:user:{id}).
-- Secret columns (password hash, tokens, 2FA) are removed by `exclude` in vendzz.yaml.
SELECT *
FROM "users"
