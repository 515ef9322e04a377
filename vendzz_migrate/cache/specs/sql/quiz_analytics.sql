-- warm-cache "quiz-analytics": daily counters of the last 30 days
-- (vendzz:quiz:{quizId}:analytics:{date}, fields views / completions / conversionRate).
SELECT "quizId", "date", "views", "completions", "conversionRate"
FROM "quiz_analytics"
WHERE "date" >= to_char((now() AT TIME ZONE 'UTC')::date - 30, 'YYYY-MM-DD')
