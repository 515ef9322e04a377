-- warm-cache "plan": active subscription plans with limits and features (vendzz:plan:{id}).
SELECT *
FROM "subscription_plans"
WHERE "isActive"
