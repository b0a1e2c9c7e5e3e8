-- The demo's better-auth users, as the web application would have created them: $1 is a JSON
-- array of {id, name, email, emailVerified, image, createdAt, updatedAt}. Owners that exist only
-- in ArangoDB (test_user) are left out on purpose, as in the real data.
INSERT INTO "user" (id, name, email, "emailVerified", image, "createdAt", "updatedAt")
SELECT id, name, email, "emailVerified", image, "createdAt", "updatedAt"
  FROM jsonb_to_recordset($1::jsonb) AS u(
    id text, name text, email text, "emailVerified" boolean, image text,
    "createdAt" timestamp, "updatedAt" timestamp)
ON CONFLICT (id) DO NOTHING
