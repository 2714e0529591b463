-- The mobile app (api/mobile, CONTRACT.md §4 /v1/mobile/...).
--
-- A user pairs a phone with a one-time pairing code (from Slack's
-- `/oncall mobile`), which the app trades for a long-lived mobile token;
-- with that token the app registers the phone's push token (APNs or FCM).
-- Codes and mobile tokens are secrets: only their SHA-256 is stored. A
-- phone's push token is no secret (it only lets our own APNs key or
-- Firebase project reach the app) and is stored as is, since we send to it.
--
-- Everything hangs off the user (ON DELETE CASCADE): removing a user from
-- the configuration unpairs their phones. Revoking a mobile token deletes
-- its row, and with it the devices registered through it.

CREATE TABLE mobile_pairing_codes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code_hash bytea NOT NULL,
    user_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    CONSTRAINT mobile_pairing_codes_code_hash_key UNIQUE (code_hash),
    CONSTRAINT mobile_pairing_codes_code_hash_check CHECK (octet_length(code_hash) = 32),
    CONSTRAINT mobile_pairing_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT mobile_pairing_codes_expires_at_check CHECK (expires_at > created_at),
    CONSTRAINT mobile_pairing_codes_used_at_check CHECK (used_at >= created_at)
);
CREATE INDEX mobile_pairing_codes_user_id_idx ON mobile_pairing_codes (user_id);
CREATE INDEX mobile_pairing_codes_expires_at_idx ON mobile_pairing_codes (expires_at);

-- (id, user_id) is unique so that a device can name both: the database
-- then guarantees that a device belongs to its token's user.
CREATE TABLE mobile_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash bytea NOT NULL,
    user_id bigint NOT NULL,
    label text NOT NULL,
    created_at timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    CONSTRAINT mobile_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT mobile_tokens_token_hash_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT mobile_tokens_id_user_id_key UNIQUE (id, user_id),
    CONSTRAINT mobile_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT mobile_tokens_label_check CHECK (label <> '' AND length(label) <= 100),
    CONSTRAINT mobile_tokens_last_used_at_check CHECK (last_used_at >= created_at)
);
CREATE INDEX mobile_tokens_user_id_idx ON mobile_tokens (user_id);

-- A push token is unique across users and apps: registering it again
-- (another user signed in on the phone, the app re-installed) moves it.
CREATE TABLE mobile_devices (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform text NOT NULL,
    token text NOT NULL,
    user_id bigint NOT NULL,
    mobile_token_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT mobile_devices_token_key UNIQUE (token),
    CONSTRAINT mobile_devices_platform_check CHECK (platform IN ('apns', 'fcm')),
    CONSTRAINT mobile_devices_token_check CHECK (token <> '' AND length(token) <= 4096),
    CONSTRAINT mobile_devices_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT mobile_devices_mobile_token_id_fkey FOREIGN KEY (mobile_token_id, user_id)
        REFERENCES mobile_tokens (id, user_id) ON DELETE CASCADE,
    CONSTRAINT mobile_devices_updated_at_check CHECK (updated_at >= created_at)
);
CREATE INDEX mobile_devices_user_id_idx ON mobile_devices (user_id);
CREATE INDEX mobile_devices_mobile_token_id_idx ON mobile_devices (mobile_token_id, user_id);
