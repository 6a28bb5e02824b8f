-- Every regression file runs in a fresh extension install.
\set VERBOSITY terse
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pg_anomaly CASCADE;
CREATE EXTENSION IF NOT EXISTS pg_cron;
RESET client_min_messages;
CREATE EXTENSION pg_anomaly CASCADE;
SELECT extname, extversion FROM pg_extension WHERE extname IN ('pg_cron', 'pg_anomaly') ORDER BY 1;
