-- Indexes and views of the Vendzz file, created after the sample data is loaded (the service
-- creates them at boot with CREATE INDEX IF NOT EXISTS; the resulting schema is the same).

CREATE INDEX IF NOT EXISTS idx_users_email ON users(email);
CREATE INDEX IF NOT EXISTS idx_users_plan ON users(plan);
CREATE INDEX IF NOT EXISTS idx_users_role ON users(role);
CREATE INDEX IF NOT EXISTS idx_users_refreshToken ON users(refreshToken);
CREATE INDEX IF NOT EXISTS idx_users_email_lower ON users(lower(email));

CREATE INDEX IF NOT EXISTS idx_quizzes_userId ON quizzes(userId);
CREATE INDEX IF NOT EXISTS idx_quizzes_isPublished ON quizzes(isPublished);
CREATE INDEX IF NOT EXISTS idx_quizzes_user_published ON quizzes(userId, isPublished);
CREATE INDEX IF NOT EXISTS idx_quizzes_createdAt ON quizzes(createdAt);

CREATE INDEX IF NOT EXISTS idx_quiz_responses_quizId ON quiz_responses(quizId);
CREATE INDEX IF NOT EXISTS idx_quiz_responses_submittedAt ON quiz_responses(submittedAt);
CREATE INDEX IF NOT EXISTS idx_quiz_responses_quiz_submitted ON quiz_responses(quizId, submittedAt);
CREATE INDEX IF NOT EXISTS idx_quiz_responses_userId ON quiz_responses(userId);
CREATE INDEX IF NOT EXISTS idx_quiz_responses_metadata ON quiz_responses(metadata);

CREATE INDEX IF NOT EXISTS idx_response_variables_responseId ON response_variables(responseId);
CREATE INDEX IF NOT EXISTS idx_response_variables_quiz_name ON response_variables(quizId, variableName);

CREATE INDEX IF NOT EXISTS idx_quiz_analytics_quizId ON quiz_analytics(quizId);
CREATE INDEX IF NOT EXISTS idx_quiz_analytics_quiz_date ON quiz_analytics(quizId, date);

CREATE INDEX IF NOT EXISTS idx_sms_campaigns_user_status ON sms_campaigns(userId, status);
CREATE INDEX IF NOT EXISTS idx_sms_logs_campaignId ON sms_logs(campaignId);
CREATE INDEX IF NOT EXISTS idx_sms_logs_campaign_status ON sms_logs(campaignId, status);
CREATE INDEX IF NOT EXISTS idx_sms_logs_pending ON sms_logs(scheduledAt) WHERE status = 'pending';

CREATE INDEX IF NOT EXISTS idx_stripe_subscriptions_userId ON stripe_subscriptions(userId);
CREATE INDEX IF NOT EXISTS idx_stripe_subscriptions_stripeSubscriptionId
  ON stripe_subscriptions(stripeSubscriptionId);

CREATE VIEW IF NOT EXISTS published_quizzes_per_user AS
  SELECT userId, COUNT(*) AS published, MAX(updatedAt) AS lastUpdatedAt
  FROM quizzes
  WHERE isPublished = 1
  GROUP BY userId;
