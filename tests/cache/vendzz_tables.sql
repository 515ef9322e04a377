-- Vendzz tables as the sqlite-to-pg copier leaves them in PostgreSQL (SQLite names, quoted),
-- seeded with awkward but realistic values: NULLs, unicode, quotes, newlines, big integers,
-- a jsonb string scalar, numeric money, boolean flags, timestamptz in UTC.
CREATE TABLE "users" (
  "id" text PRIMARY KEY, "email" text NOT NULL, "password" text, "firstName" text, "lastName" text,
  "plan" text, "role" text, "refreshToken" text, "smsCredits" bigint, "emailCredits" bigint,
  "isBlocked" boolean, "twoFactorSecret" text, "twoFactorBackupCodes" jsonb, "telegramBotToken" text,
  "planExpiresAt" timestamptz, "createdAt" timestamptz, "updatedAt" timestamptz
);
CREATE TABLE "quizzes" (
  "id" text PRIMARY KEY, "title" text NOT NULL, "description" text, "userId" text NOT NULL,
  "isPublished" boolean, "structure" jsonb NOT NULL, "settings" jsonb, "design" jsonb,
  "redirectDelay" bigint, "createdAt" timestamptz, "updatedAt" timestamptz
);
CREATE TABLE "quiz_analytics" (
  "id" text PRIMARY KEY, "quizId" text NOT NULL, "date" text NOT NULL, "views" bigint,
  "completions" bigint, "conversionRate" double precision, "metadata" jsonb
);
CREATE TABLE "subscription_plans" (
  "id" text PRIMARY KEY, "name" text NOT NULL, "price" numeric(12,2), "currency" text,
  "billingInterval" text, "features" jsonb, "limits" jsonb, "stripePriceId" text,
  "isActive" boolean, "createdAt" timestamptz, "updatedAt" timestamptz
);

INSERT INTO "users"
SELECT 'u' || lpad(g::text, 5, '0'), 'user' || g || '@example.com', '$2b$10$hash' || g,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'Ana ' || g || ' "Zé" ✓' END, CASE WHEN g % 2 = 0 THEN 'Silva' END,
       (ARRAY['free','premium','enterprise'])[1 + g % 3], 'user', 'jwt.' || g, g::bigint * 1000000007,
       0, g % 11 = 0, 'TOTP' || g, '["a","b"]', 'bot' || g,
       timestamptz '2025-08-01 00:00:00+00' + g * interval '1 hour',
       timestamptz '2025-07-21 12:00:00+00' + g * interval '1 minute',
       timestamptz '2025-07-22 12:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 300) AS g;

INSERT INTO "quizzes"
SELECT 'q' || lpad(g::text, 5, '0'), 'Quiz ' || g || E' \n with ''quotes'' and emoji 🎯', NULL,
       'u' || lpad((1 + g % 300)::text, 5, '0'), g % 5 <> 0,
       CASE WHEN g % 50 = 1 THEN '"invalid"'::jsonb
            ELSE jsonb_build_object('pages', jsonb_build_array(jsonb_build_object(
                 'id', 'page1', 'elements', jsonb_build_array(jsonb_build_object('id', g, 'type', 'text')))))
       END,
       CASE WHEN g % 3 = 0 THEN '{"theme": "dark"}'::jsonb END, NULL, 3,
       timestamptz '2025-07-01 00:00:00+00' + g * interval '1 second',
       timestamptz '2025-07-10 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, 250) AS g;

INSERT INTO "quiz_analytics"
SELECT 'a' || g, 'q' || lpad((1 + g % 250)::text, 5, '0'),
       CASE WHEN g <= 100 THEN to_char((now() AT TIME ZONE 'UTC')::date - (g % 20), 'YYYY-MM-DD')
            ELSE '2020-01-' || lpad((1 + g % 28)::text, 2, '0') END,
       g * 10, g, CASE WHEN g % 4 = 0 THEN NULL ELSE g / 1000.0 END, NULL
FROM generate_series(1, 150) AS g
ON CONFLICT DO NOTHING;

INSERT INTO "subscription_plans" VALUES
  ('free', 'Grátis', 0.00, 'BRL', 'month', '["quiz"]', '{"quizzes": 3, "sms": 0}', NULL, true,
   '2025-01-01 00:00:00+00', '2025-01-01 00:00:00+00'),
  ('premium', 'Premium', 49.90, 'BRL', 'month', '["quiz","sms"]', '{"quizzes": 100, "sms": 1000}',
   'price_123', true, '2025-01-01 00:00:00+00', '2025-06-01 00:00:00+00'),
  ('legacy', 'Legacy', 9.99, 'brl', 'year', '[]', '{}', NULL, false,
   '2024-01-01 00:00:00+00', '2024-01-01 00:00:00+00');
