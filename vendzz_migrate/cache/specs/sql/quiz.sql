-- warm-cache "quiz": published quizzes, one JSON value per quiz (vendzz:quiz:{id}).
SELECT *
FROM "quizzes"
WHERE "isPublished"
