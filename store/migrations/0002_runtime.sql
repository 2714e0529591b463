-- Runtime odds and ends that are not configuration.

-- A calendar feed URL carries a random token; only its SHA-256 is stored.
-- A token shows one schedule's shifts or one user's.
CREATE TABLE calendar_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash bytea NOT NULL,
    schedule_id bigint,
    user_id bigint,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT calendar_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT calendar_tokens_token_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT calendar_tokens_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES schedules (id) ON DELETE CASCADE,
    CONSTRAINT calendar_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT calendar_tokens_owner_check CHECK (num_nonnulls(schedule_id, user_id) = 1),
    CONSTRAINT calendar_tokens_revoked_at_check CHECK (revoked_at >= created_at)
);
CREATE INDEX calendar_tokens_schedule_id_idx ON calendar_tokens (schedule_id) WHERE schedule_id IS NOT NULL;
CREATE INDEX calendar_tokens_user_id_idx ON calendar_tokens (user_id) WHERE user_id IS NOT NULL;

-- One row per configuration change: who (actor), what (action on kind/name)
-- and the object before and after, as JSON. Names, not ids: the log outlives
-- the rows it describes.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    before jsonb,
    after jsonb,
    CONSTRAINT audit_log_action_check CHECK (action <> ''),
    CONSTRAINT audit_log_kind_check CHECK (kind <> '')
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_kind_name_idx ON audit_log (kind, name, at);
