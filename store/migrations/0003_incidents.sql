-- Incidents and everything that happened to them. River's tables hold what
-- is still to happen (escalation timers, notifications to send); these hold
-- what happened, and are the truth a worker re-checks under a row lock.

-- One incident per open dedup key per integration. Names are kept beside
-- the ids: an incident outlives a renamed or deleted service.
CREATE TABLE incidents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id bigint,
    service_id bigint,
    service_name text NOT NULL,
    policy_name text,
    dedup_key text NOT NULL,
    state text NOT NULL,
    summary text NOT NULL,
    severity text NOT NULL,
    urgency text NOT NULL,
    paging boolean NOT NULL,
    rule_name text,
    source text NOT NULL DEFAULT '',
    client text NOT NULL DEFAULT '',
    client_url text NOT NULL DEFAULT '',
    labels jsonb NOT NULL DEFAULT '{}',
    annotations jsonb NOT NULL DEFAULT '{}',
    details jsonb,
    links jsonb NOT NULL DEFAULT '[]',
    images jsonb NOT NULL DEFAULT '[]',
    -- Escalation: the step and loop that ran last (-1: none yet), and a
    -- sequence number that every escalate job carries; a job whose number
    -- is not the incident's is stale (an ack, a manual escalate or a
    -- reassign came in between) and does nothing.
    escalation_step integer NOT NULL DEFAULT -1,
    escalation_loop integer NOT NULL DEFAULT 0,
    escalation_seq integer NOT NULL DEFAULT 0,
    escalation_job_id bigint,
    escalation_done boolean NOT NULL DEFAULT false,
    last_event_hash bytea,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at timestamptz,
    resolved_by text,
    CONSTRAINT incidents_integration_id_fkey FOREIGN KEY (integration_id) REFERENCES integrations (id) ON DELETE SET NULL,
    CONSTRAINT incidents_service_id_fkey FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE SET NULL,
    CONSTRAINT incidents_state_check CHECK (state IN ('triggered', 'acknowledged', 'resolved')),
    CONSTRAINT incidents_urgency_check CHECK (urgency IN ('high', 'low')),
    CONSTRAINT incidents_severity_check CHECK (severity IN ('critical', 'error', 'warning', 'info')),
    CONSTRAINT incidents_dedup_key_check CHECK (dedup_key <> '' AND length(dedup_key) <= 1024),
    CONSTRAINT incidents_resolved_check CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX incidents_open_dedup_key_idx ON incidents (integration_id, dedup_key) WHERE state <> 'resolved';
CREATE INDEX incidents_open_idx ON incidents (created_at) WHERE state <> 'resolved';
CREATE INDEX incidents_service_id_idx ON incidents (service_id, created_at);

-- The member alerts of a grouped incident (Alertmanager, Grafana), by
-- fingerprint: the incident resolves when all of them have.
CREATE TABLE incident_alerts (
    incident_id bigint NOT NULL,
    fingerprint text NOT NULL,
    summary text NOT NULL,
    labels jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    resolved_at timestamptz,
    CONSTRAINT incident_alerts_pkey PRIMARY KEY (incident_id, fingerprint),
    CONSTRAINT incident_alerts_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE
);

-- The timeline: every change and every notification attempt.
CREATE TABLE incident_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL,
    at timestamptz NOT NULL,
    event text NOT NULL,
    actor text NOT NULL DEFAULT '',
    user_name text,
    method text,
    message text NOT NULL,
    CONSTRAINT incident_log_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE,
    CONSTRAINT incident_log_event_check CHECK (event <> '')
);
CREATE INDEX incident_log_incident_id_idx ON incident_log (incident_id, id);

-- One row per notification to send: the row's state is the truth, the
-- River job that sends it only a trigger. user_name is NULL for a post in a
-- channel.
CREATE TABLE notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL,
    user_name text,
    method text NOT NULL,
    contact_name text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    kind text NOT NULL DEFAULT 'page',
    escalation_step integer NOT NULL,
    escalation_loop integer NOT NULL,
    rule_index integer NOT NULL DEFAULT 0,
    reason text NOT NULL DEFAULT '',
    due_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    sent_at timestamptz,
    receipt text,
    job_id bigint,
    created_at timestamptz NOT NULL,
    CONSTRAINT notifications_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE,
    CONSTRAINT notifications_state_check CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
    CONSTRAINT notifications_kind_check CHECK (kind IN ('page', 'notice'))
);
CREATE INDEX notifications_pending_idx ON notifications (incident_id, user_name, rule_index) WHERE state = 'pending';
CREATE INDEX notifications_incident_id_idx ON notifications (incident_id);

-- Where an incident is shown (a Slack message), so every copy is updated
-- in place; noted_log_id is the last timeline entry posted to its thread.
CREATE TABLE incident_messages (
    incident_id bigint NOT NULL,
    method text NOT NULL,
    ref text NOT NULL,
    noted_log_id bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    CONSTRAINT incident_messages_pkey PRIMARY KEY (incident_id, method, ref),
    CONSTRAINT incident_messages_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE CASCADE
);

-- PagerDuty change events: on the service's timeline, never paging.
CREATE TABLE change_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id bigint,
    service_id bigint,
    service_name text NOT NULL,
    summary text NOT NULL,
    source text NOT NULL DEFAULT '',
    at timestamptz NOT NULL,
    details jsonb,
    links jsonb NOT NULL DEFAULT '[]',
    received_at timestamptz NOT NULL,
    CONSTRAINT change_events_integration_id_fkey FOREIGN KEY (integration_id) REFERENCES integrations (id) ON DELETE SET NULL,
    CONSTRAINT change_events_service_id_fkey FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE SET NULL
);
CREATE INDEX change_events_service_id_idx ON change_events (service_id, at);
