-- The application's own tables that the target tables reference: better-auth's "user"
-- (atspro/shapes.md §5.1, as created by 2edc6d8) and the API's tasks (§5.2, migration 001). In a
-- deployment they already exist and arango-pg-sync's migrations never create them; the demo, the
-- test harness's template database and docker-compose's PostgreSQL create them from this file.

CREATE TABLE "user" (
    id text PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL UNIQUE,
    "emailVerified" boolean NOT NULL,
    image text,
    "createdAt" timestamp NOT NULL,
    "updatedAt" timestamp NOT NULL
);

CREATE TABLE tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id text NOT NULL,
    task_type varchar(50) NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    priority int DEFAULT 2 CHECK (priority BETWEEN 1 AND 3),
    payload jsonb NOT NULL,
    result_id text,
    error_message text,
    retry_count int DEFAULT 0,
    max_retries int DEFAULT 3,
    progress int DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    estimated_duration_ms int,
    created_at timestamptz DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    expires_at timestamptz DEFAULT (now() + interval '7 days'),
    CHECK (retry_count >= 0 AND retry_count <= max_retries)
);
