-- Heartbeat monitors: an integration of type 'heartbeat' whose sender calls
-- POST /v1/heartbeats/{key} at least every heartbeat_timeout_seconds. A
-- monitor is inactive until its first beat (last_beat_at NULL): it cannot
-- be late for a beat it never promised. Once last_beat_at + timeout has
-- passed, the heartbeat check opens an incident (dedup key 'heartbeat') and
-- sets heartbeat_missed, so one miss is one incident; the next beat clears
-- it and resolves the incident. The timeout is configuration (apply); the
-- other two columns are runtime state that apply keeps while the type stays
-- 'heartbeat' and clears when it changes.
ALTER TABLE integrations
    ADD COLUMN heartbeat_timeout_seconds integer,
    ADD COLUMN last_beat_at timestamptz,
    ADD COLUMN heartbeat_missed boolean NOT NULL DEFAULT false,
    DROP CONSTRAINT integrations_type_check,
    ADD CONSTRAINT integrations_type_check CHECK (type IN ('alertmanager', 'grafana', 'pagerduty', 'generic', 'heartbeat')),
    -- A heartbeat has a timeout from 1 minute to 1000 days; nothing else has one.
    ADD CONSTRAINT integrations_heartbeat_timeout_check CHECK (
        (type = 'heartbeat') = (heartbeat_timeout_seconds IS NOT NULL)
        AND heartbeat_timeout_seconds BETWEEN 60 AND 86400000),
    ADD CONSTRAINT integrations_heartbeat_state_check CHECK (
        type = 'heartbeat' OR (last_beat_at IS NULL AND NOT heartbeat_missed)),
    ADD CONSTRAINT integrations_heartbeat_missed_check CHECK (NOT heartbeat_missed OR last_beat_at IS NOT NULL);

-- The check looks for active monitors not yet flagged; there are few
-- integrations, and fewer heartbeats, so a small partial index is enough.
CREATE INDEX integrations_heartbeat_idx ON integrations (last_beat_at)
    WHERE type = 'heartbeat' AND NOT heartbeat_missed AND last_beat_at IS NOT NULL;
