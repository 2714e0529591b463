-- Secrets the server keeps for itself (not per user or integration): the
-- key that signs the action links in emails, for one. Each is 32 random
-- bytes made on first use; every process of one deployment reads the same
-- row, so a link signed by one is accepted by all. Deleting a row revokes
-- everything signed with it (a new one is made on next use).
CREATE TABLE server_secrets (
    name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$'),
    secret bytea NOT NULL CHECK (length(secret) = 32),
    created_at timestamptz NOT NULL
);
