-- Vendzz tables as the service's boot code writes them (raw CREATE TABLE IF NOT EXISTS in
-- server/db-sqlite.ts and storage-sqlite.ts): TEXT primary keys, camelCase core tables, snake_case
-- feature tables, keyword column names, declared but never enforced foreign keys.
-- Loaded by vendzz_migrate.sample before the data; indexes.sql runs after it.

CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  email TEXT UNIQUE NOT NULL,
  password TEXT,
  firstName TEXT,
  lastName TEXT,
  profileImageUrl TEXT,
  stripeCustomerId TEXT,
  stripeSubscriptionId TEXT,
  plan TEXT DEFAULT 'free',
  role TEXT DEFAULT 'user',
  refreshToken TEXT,
  subscriptionStatus TEXT,
  smsCredits INTEGER DEFAULT 0,
  emailCredits INTEGER DEFAULT 0,
  whatsappCredits INTEGER DEFAULT 0,
  aiCredits INTEGER DEFAULT 0,
  twoFactorEnabled INTEGER DEFAULT 0,
  twoFactorSecret TEXT,
  twoFactorBackupCodes TEXT,
  planExpiresAt INTEGER,
  isBlocked INTEGER DEFAULT 0,
  whatsapp TEXT,
  createdAt INTEGER DEFAULT (unixepoch() * 1000),
  updatedAt INTEGER DEFAULT (unixepoch() * 1000)
);

CREATE TABLE IF NOT EXISTS quizzes (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  description TEXT,
  structure TEXT NOT NULL,
  userId TEXT NOT NULL REFERENCES users(id),
  isPublished INTEGER DEFAULT 0,
  settings TEXT,
  design TEXT,
  facebookPixel TEXT,
  ga4Pixel TEXT,
  trackingPixels TEXT,
  redirectDelay INTEGER DEFAULT 0,
  pixelDelay INTEGER DEFAULT 0,
  safeMode INTEGER DEFAULT 1,
  cloakerMode TEXT DEFAULT 'simple',
  createdAt INTEGER DEFAULT (unixepoch() * 1000),
  updatedAt INTEGER DEFAULT (unixepoch() * 1000)
);

CREATE TABLE IF NOT EXISTS quiz_templates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  description TEXT,
  structure TEXT NOT NULL,
  category TEXT,
  createdAt INTEGER,
  updatedAt INTEGER
);

CREATE TABLE IF NOT EXISTS quiz_responses (
  id TEXT PRIMARY KEY,
  quizId TEXT NOT NULL REFERENCES quizzes(id),
  responses TEXT NOT NULL,
  metadata TEXT,
  submittedAt INTEGER,
  country TEXT,
  phoneCountryCode TEXT,
  affiliateId TEXT,
  userId TEXT
);

CREATE TABLE IF NOT EXISTS response_variables (
  id TEXT PRIMARY KEY,
  responseId TEXT NOT NULL REFERENCES quiz_responses(id) ON DELETE CASCADE,
  quizId TEXT NOT NULL REFERENCES quizzes(id) ON DELETE CASCADE,
  variableName TEXT NOT NULL,
  variableValue TEXT NOT NULL,
  elementType TEXT NOT NULL,
  pageId TEXT NOT NULL,
  elementId TEXT NOT NULL,
  pageOrder INTEGER NOT NULL,
  question TEXT,
  createdAt INTEGER
);

CREATE TABLE IF NOT EXISTS quiz_analytics (
  id TEXT PRIMARY KEY,
  quizId TEXT NOT NULL REFERENCES quizzes(id),
  date TEXT NOT NULL,
  views INTEGER DEFAULT 0,
  completions INTEGER DEFAULT 0,
  conversionRate REAL DEFAULT 0,
  metadata TEXT
);

CREATE TABLE IF NOT EXISTS sms_campaigns (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  quizId TEXT NOT NULL REFERENCES quizzes(id),
  userId TEXT NOT NULL REFERENCES users(id),
  message TEXT NOT NULL,
  phones TEXT NOT NULL,
  status TEXT DEFAULT 'pending',
  sent INTEGER DEFAULT 0,
  delivered INTEGER DEFAULT 0,
  replies INTEGER DEFAULT 0,
  scheduledAt INTEGER,
  triggerDelay INTEGER DEFAULT 10,
  triggerUnit TEXT DEFAULT 'minutes',
  targetAudience TEXT DEFAULT 'all',
  createdAt INTEGER NOT NULL,
  updatedAt INTEGER NOT NULL,
  campaignMode TEXT,
  campaignType TEXT DEFAULT "standard",
  conditionalRules TEXT
);

CREATE TABLE IF NOT EXISTS sms_logs (
  id TEXT PRIMARY KEY,
  campaignId TEXT NOT NULL REFERENCES sms_campaigns(id),
  phone TEXT NOT NULL,
  message TEXT NOT NULL,
  status TEXT NOT NULL,
  twilioSid TEXT,
  errorMessage TEXT,
  sentAt INTEGER,
  scheduledAt INTEGER,
  createdAt INTEGER NOT NULL,
  country TEXT,
  countryCode TEXT
);

CREATE TABLE IF NOT EXISTS email_campaigns (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  subject TEXT NOT NULL,
  content TEXT NOT NULL,
  quizId TEXT NOT NULL REFERENCES quizzes(id),
  userId TEXT NOT NULL REFERENCES users(id),
  status TEXT DEFAULT 'draft',
  campaignType TEXT,
  triggerType TEXT,
  triggerDelay INTEGER,
  triggerUnit TEXT DEFAULT 'hours',
  variables TEXT DEFAULT '[]',
  sent INTEGER DEFAULT 0,
  opened INTEGER DEFAULT 0,
  createdAt INTEGER,
  updatedAt INTEGER
);

CREATE TABLE IF NOT EXISTS email_logs (
  id TEXT PRIMARY KEY,
  campaignId TEXT NOT NULL REFERENCES email_campaigns(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  personalizedSubject TEXT NOT NULL,
  personalizedContent TEXT NOT NULL,
  leadData TEXT,
  status TEXT NOT NULL,
  sendgridId TEXT,
  errorMessage TEXT,
  sentAt INTEGER,
  openedAt INTEGER,
  createdAt INTEGER NOT NULL DEFAULT (unixepoch())
);

CREATE TABLE IF NOT EXISTS email_automations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT,
  userId TEXT NOT NULL REFERENCES users(id),
  quizId TEXT NOT NULL REFERENCES quizzes(id),
  "trigger" TEXT NOT NULL,
  conditions TEXT,
  sequence TEXT NOT NULL,
  isActive INTEGER DEFAULT 1,
  createdAt INTEGER,
  updatedAt INTEGER
);

CREATE TABLE IF NOT EXISTS whatsapp_campaigns (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  quiz_id TEXT NOT NULL,
  message TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id),
  phones TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active',
  scheduled_at INTEGER,
  trigger_delay INTEGER,
  trigger_unit TEXT,
  target_audience TEXT NOT NULL,
  extension_settings TEXT,
  created_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now') * 1000),
  updated_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now') * 1000),
  campaign_mode TEXT
);

CREATE TABLE IF NOT EXISTS whatsapp_logs (
  id TEXT PRIMARY KEY,
  campaign_id TEXT NOT NULL REFERENCES whatsapp_campaigns(id) ON DELETE CASCADE,
  phone VARCHAR(20) NOT NULL,
  message TEXT NOT NULL,
  status TEXT NOT NULL,
  scheduled_at INTEGER,
  sent_at INTEGER,
  extension_status TEXT,
  error TEXT,
  created_at INTEGER NOT NULL DEFAULT (unixepoch()),
  updated_at INTEGER NOT NULL DEFAULT (unixepoch()),
  country TEXT,
  country_code TEXT
);

CREATE TABLE IF NOT EXISTS stripe_subscriptions (
  id TEXT PRIMARY KEY,
  userId TEXT NOT NULL REFERENCES users(id),
  stripeSubscriptionId TEXT NOT NULL UNIQUE,
  stripeCustomerId TEXT NOT NULL,
  stripePaymentMethodId TEXT,
  status TEXT NOT NULL DEFAULT 'trialing',
  planName TEXT,
  activationFee REAL NOT NULL,
  monthlyPrice REAL NOT NULL,
  trialDays INTEGER NOT NULL,
  trialStartDate INTEGER,
  trialEndDate INTEGER,
  currentPeriodStart INTEGER,
  currentPeriodEnd INTEGER,
  nextBillingDate INTEGER,
  canceledAt INTEGER,
  cancelAtPeriodEnd INTEGER DEFAULT 0,
  customerEmail TEXT,
  metadata TEXT,
  createdAt INTEGER NOT NULL,
  updatedAt INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS stripe_plans (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT,
  price REAL NOT NULL,
  currency TEXT DEFAULT 'BRL',
  interval TEXT DEFAULT 'month',
  trial_days INTEGER DEFAULT 7,
  trial_price REAL DEFAULT 1.00,
  gateway TEXT DEFAULT 'stripe',
  active INTEGER DEFAULT 1,
  stripe_price_id TEXT,
  stripe_product_id TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS subscription_plans (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  price REAL NOT NULL,
  currency TEXT DEFAULT 'BRL',
  billingInterval TEXT DEFAULT 'monthly',
  features TEXT,
  limits TEXT,
  stripePriceId TEXT,
  isActive INTEGER DEFAULT 1,
  createdAt INTEGER NOT NULL DEFAULT (unixepoch() * 1000),
  updatedAt INTEGER NOT NULL DEFAULT (unixepoch() * 1000)
);

CREATE TABLE IF NOT EXISTS checkout_products (
  id TEXT PRIMARY KEY,
  user_id TEXT,
  name TEXT NOT NULL,
  description TEXT,
  price REAL NOT NULL,
  currency TEXT DEFAULT 'BRL',
  category TEXT,
  features TEXT,
  active INTEGER DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS credit_transactions (
  id TEXT PRIMARY KEY,
  userId TEXT NOT NULL,
  type TEXT NOT NULL,
  amount INTEGER NOT NULL,
  operation TEXT NOT NULL,
  reason TEXT NOT NULL,
  metadata TEXT,
  createdAt INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS push_subscriptions (
  id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(16)))),
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  endpoint TEXT NOT NULL,
  p256dh_key TEXT NOT NULL,
  auth_key TEXT NOT NULL,
  is_active INTEGER DEFAULT 1,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS courses (
  id TEXT PRIMARY KEY,
  userId TEXT NOT NULL REFERENCES users(id),
  title TEXT NOT NULL,
  description TEXT,
  isPublished INTEGER DEFAULT 0,
  createdAt INTEGER,
  updatedAt INTEGER
);

CREATE TABLE IF NOT EXISTS lessons (
  id TEXT PRIMARY KEY,
  courseId TEXT NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  content TEXT,
  videoUrl TEXT,
  "order" INTEGER NOT NULL,
  type TEXT DEFAULT 'video',
  duration INTEGER,
  createdAt INTEGER,
  updatedAt INTEGER
);

CREATE TABLE IF NOT EXISTS extension_pings (
  user_id TEXT,
  version TEXT,
  status TEXT,
  pending_count INTEGER,
  created_at INTEGER
);

CREATE TABLE IF NOT EXISTS __drizzle_migrations (
  id SERIAL PRIMARY KEY,
  hash text NOT NULL,
  created_at numeric
);
