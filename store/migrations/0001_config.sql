-- The configuration of CONTRACT.md §2: one table per kind, child tables for
-- the lists inside an object. Rows are written by store.ApplyConfig (and
-- later by Slack modals); the constraints here keep any writer honest.
--
-- Conventions:
--   * ids are bigint identity; incidents and jobs refer to ids, manifests to
--     names, so updates keep ids stable.
--   * optional strings are NULL when absent, never '' (CHECK <> '').
--   * child rows that belong to one object (members, layers, steps ...) go
--     with it (ON DELETE CASCADE); a reference to another object is
--     RESTRICT: deleting a user that a schedule still names fails instead of
--     silently changing who is on call.
--   * constraint names are explicit: store/errors.go turns them into messages.

CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    full_name text,
    email text,
    slack_id text,
    time_zone text,
    CONSTRAINT users_name_key UNIQUE (name),
    CONSTRAINT users_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100),
    CONSTRAINT users_full_name_check CHECK (full_name <> ''),
    CONSTRAINT users_email_check CHECK (email <> ''),
    CONSTRAINT users_slack_id_key UNIQUE (slack_id),
    CONSTRAINT users_slack_id_check CHECK (slack_id <> ''),
    CONSTRAINT users_time_zone_check CHECK (time_zone <> '')
);

CREATE TABLE contact_methods (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL,
    position integer NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    address text NOT NULL,
    verified_at timestamptz,
    CONSTRAINT contact_methods_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT contact_methods_user_id_name_key UNIQUE (user_id, name),
    CONSTRAINT contact_methods_position_check CHECK (position >= 0),
    CONSTRAINT contact_methods_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100 AND name NOT IN ('slack', 'push')),
    CONSTRAINT contact_methods_type_check CHECK (type IN ('sms', 'voice', 'email')),
    CONSTRAINT contact_methods_address_check CHECK (address <> '')
);

-- notify holds contact method names or the built-in "slack" and "push";
-- store.ApplyConfig checks that each names one of the user's methods.
CREATE TABLE notification_rules (
    user_id bigint NOT NULL,
    position integer NOT NULL,
    after_seconds integer NOT NULL,
    notify text[] NOT NULL,
    CONSTRAINT notification_rules_pkey PRIMARY KEY (user_id, position),
    CONSTRAINT notification_rules_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT notification_rules_position_check CHECK (position >= 0),
    CONSTRAINT notification_rules_after_seconds_check CHECK (after_seconds >= 0),
    CONSTRAINT notification_rules_notify_check CHECK (cardinality(notify) > 0 AND array_position(notify, NULL) IS NULL)
);

CREATE TABLE teams (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    slack_channel text,
    CONSTRAINT teams_name_key UNIQUE (name),
    CONSTRAINT teams_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100),
    CONSTRAINT teams_slack_channel_check CHECK (slack_channel <> '')
);

-- admin_position orders the team's admins as written; admin is derived.
CREATE TABLE team_members (
    team_id bigint NOT NULL,
    user_id bigint NOT NULL,
    position integer NOT NULL,
    admin_position integer,
    admin boolean GENERATED ALWAYS AS (admin_position IS NOT NULL) STORED,
    CONSTRAINT team_members_pkey PRIMARY KEY (team_id, user_id),
    CONSTRAINT team_members_team_id_position_key UNIQUE (team_id, position),
    CONSTRAINT team_members_team_id_admin_position_key UNIQUE (team_id, admin_position),
    CONSTRAINT team_members_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE,
    CONSTRAINT team_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT team_members_position_check CHECK (position >= 0 AND admin_position >= 0)
);
CREATE INDEX team_members_user_id_idx ON team_members (user_id);

CREATE TABLE holiday_sets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    ical_name text,  -- the `ical` file as written in the manifest
    ical_data bytea, -- its contents, so export can write it back
    CONSTRAINT holiday_sets_name_key UNIQUE (name),
    CONSTRAINT holiday_sets_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100),
    CONSTRAINT holiday_sets_ical_name_check CHECK (ical_name <> '')
);

CREATE TABLE holiday_dates (
    holiday_set_id bigint NOT NULL,
    day date NOT NULL,
    CONSTRAINT holiday_dates_pkey PRIMARY KEY (holiday_set_id, day),
    CONSTRAINT holiday_dates_holiday_set_id_fkey FOREIGN KEY (holiday_set_id) REFERENCES holiday_sets (id) ON DELETE CASCADE
);

CREATE TABLE schedules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    team_id bigint,
    time_zone text NOT NULL,
    CONSTRAINT schedules_name_key UNIQUE (name),
    CONSTRAINT schedules_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100),
    CONSTRAINT schedules_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE RESTRICT,
    CONSTRAINT schedules_time_zone_check CHECK (time_zone <> '')
);
CREATE INDEX schedules_team_id_idx ON schedules (team_id);

CREATE TABLE schedule_holidays (
    schedule_id bigint NOT NULL,
    holiday_set_id bigint NOT NULL,
    position integer NOT NULL,
    CONSTRAINT schedule_holidays_pkey PRIMARY KEY (schedule_id, holiday_set_id),
    CONSTRAINT schedule_holidays_schedule_id_position_key UNIQUE (schedule_id, position),
    CONSTRAINT schedule_holidays_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES schedules (id) ON DELETE CASCADE,
    CONSTRAINT schedule_holidays_holiday_set_id_fkey FOREIGN KEY (holiday_set_id) REFERENCES holiday_sets (id) ON DELETE RESTRICT,
    CONSTRAINT schedule_holidays_position_check CHECK (position >= 0)
);
CREATE INDEX schedule_holidays_holiday_set_id_idx ON schedule_holidays (holiday_set_id);

-- A layer's start is a civil (zone-less) local time, read in time_zone (the
-- schedule's when NULL). Its shift is either elapsed time or calendar days.
-- on_holidays NULL means "not written" (= include).
CREATE TABLE schedule_layers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id bigint NOT NULL,
    position integer NOT NULL,
    name text NOT NULL,
    start_local timestamp without time zone NOT NULL,
    shift_elapsed interval,
    shift_days integer,
    time_zone text,
    on_holidays text,
    end_at timestamptz,
    CONSTRAINT schedule_layers_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES schedules (id) ON DELETE CASCADE,
    CONSTRAINT schedule_layers_schedule_id_position_key UNIQUE (schedule_id, position),
    CONSTRAINT schedule_layers_schedule_id_name_key UNIQUE (schedule_id, name),
    CONSTRAINT schedule_layers_position_check CHECK (position >= 0),
    CONSTRAINT schedule_layers_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100),
    CONSTRAINT schedule_layers_shift_check CHECK ((shift_elapsed IS NULL) <> (shift_days IS NULL)),
    CONSTRAINT schedule_layers_shift_elapsed_check CHECK (shift_elapsed > interval '0'),
    CONSTRAINT schedule_layers_shift_days_check CHECK (shift_days > 0),
    CONSTRAINT schedule_layers_time_zone_check CHECK (time_zone <> ''),
    CONSTRAINT schedule_layers_on_holidays_check CHECK (on_holidays IN ('include', 'skip', 'only'))
);

-- The same user may appear more than once in a rotation.
CREATE TABLE layer_members (
    layer_id bigint NOT NULL,
    position integer NOT NULL,
    user_id bigint NOT NULL,
    CONSTRAINT layer_members_pkey PRIMARY KEY (layer_id, position),
    CONSTRAINT layer_members_layer_id_fkey FOREIGN KEY (layer_id) REFERENCES schedule_layers (id) ON DELETE CASCADE,
    CONSTRAINT layer_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT layer_members_position_check CHECK (position >= 0)
);
CREATE INDEX layer_members_user_id_idx ON layer_members (user_id);

-- days NULL: every day. Minutes after local midnight; to_minute may be 1440.
CREATE TABLE layer_windows (
    layer_id bigint NOT NULL,
    position integer NOT NULL,
    days text[],
    from_minute smallint NOT NULL,
    to_minute smallint NOT NULL,
    CONSTRAINT layer_windows_pkey PRIMARY KEY (layer_id, position),
    CONSTRAINT layer_windows_layer_id_fkey FOREIGN KEY (layer_id) REFERENCES schedule_layers (id) ON DELETE CASCADE,
    CONSTRAINT layer_windows_position_check CHECK (position >= 0),
    CONSTRAINT layer_windows_days_check CHECK (cardinality(days) > 0 AND days <@ ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']),
    CONSTRAINT layer_windows_from_minute_check CHECK (from_minute BETWEEN 0 AND 1439),
    CONSTRAINT layer_windows_to_minute_check CHECK (to_minute BETWEEN 0 AND 1440)
);

CREATE TABLE schedule_overrides (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id bigint NOT NULL,
    position integer NOT NULL,
    user_id bigint NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    CONSTRAINT schedule_overrides_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES schedules (id) ON DELETE CASCADE,
    CONSTRAINT schedule_overrides_schedule_id_position_key UNIQUE (schedule_id, position),
    CONSTRAINT schedule_overrides_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT schedule_overrides_position_check CHECK (position >= 0),
    CONSTRAINT schedule_overrides_check CHECK (start_at < end_at)
);
CREATE INDEX schedule_overrides_user_id_idx ON schedule_overrides (user_id);

CREATE TABLE escalation_policies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    team_id bigint,
    repeat smallint NOT NULL DEFAULT 0,
    CONSTRAINT escalation_policies_name_key UNIQUE (name),
    CONSTRAINT escalation_policies_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100),
    CONSTRAINT escalation_policies_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE RESTRICT,
    CONSTRAINT escalation_policies_repeat_check CHECK (repeat BETWEEN 0 AND 5)
);
CREATE INDEX escalation_policies_team_id_idx ON escalation_policies (team_id);

CREATE TABLE escalation_steps (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy_id bigint NOT NULL,
    position integer NOT NULL,
    escalate_after_seconds integer NOT NULL,
    CONSTRAINT escalation_steps_policy_id_fkey FOREIGN KEY (policy_id) REFERENCES escalation_policies (id) ON DELETE CASCADE,
    CONSTRAINT escalation_steps_policy_id_position_key UNIQUE (policy_id, position),
    CONSTRAINT escalation_steps_position_check CHECK (position >= 0),
    CONSTRAINT escalation_steps_escalate_after_seconds_check CHECK (escalate_after_seconds > 0)
);

-- Exactly the column that matches type is set.
CREATE TABLE escalation_targets (
    step_id bigint NOT NULL,
    position integer NOT NULL,
    type text NOT NULL,
    user_id bigint,
    schedule_id bigint,
    team_id bigint,
    slack_channel text,
    CONSTRAINT escalation_targets_pkey PRIMARY KEY (step_id, position),
    CONSTRAINT escalation_targets_step_id_fkey FOREIGN KEY (step_id) REFERENCES escalation_steps (id) ON DELETE CASCADE,
    CONSTRAINT escalation_targets_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT escalation_targets_schedule_id_fkey FOREIGN KEY (schedule_id) REFERENCES schedules (id) ON DELETE RESTRICT,
    CONSTRAINT escalation_targets_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE RESTRICT,
    CONSTRAINT escalation_targets_position_check CHECK (position >= 0),
    CONSTRAINT escalation_targets_type_check CHECK (type IN ('user', 'schedule', 'team', 'slack_channel')),
    CONSTRAINT escalation_targets_slack_channel_check CHECK (slack_channel <> ''),
    CONSTRAINT escalation_targets_target_check CHECK (
        num_nonnulls(user_id, schedule_id, team_id, slack_channel) = 1
        AND (type = 'user') = (user_id IS NOT NULL)
        AND (type = 'schedule') = (schedule_id IS NOT NULL)
        AND (type = 'team') = (team_id IS NOT NULL)
        AND (type = 'slack_channel') = (slack_channel IS NOT NULL)
    )
);
CREATE INDEX escalation_targets_user_id_idx ON escalation_targets (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX escalation_targets_schedule_id_idx ON escalation_targets (schedule_id) WHERE schedule_id IS NOT NULL;
CREATE INDEX escalation_targets_team_id_idx ON escalation_targets (team_id) WHERE team_id IS NOT NULL;

CREATE TABLE services (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    description text,
    team_id bigint,
    escalation_policy_id bigint NOT NULL,
    CONSTRAINT services_name_key UNIQUE (name),
    CONSTRAINT services_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100),
    CONSTRAINT services_description_check CHECK (description <> ''),
    CONSTRAINT services_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE RESTRICT,
    CONSTRAINT services_escalation_policy_id_fkey FOREIGN KEY (escalation_policy_id) REFERENCES escalation_policies (id) ON DELETE RESTRICT
);
CREATE INDEX services_team_id_idx ON services (team_id);
CREATE INDEX services_escalation_policy_id_idx ON services (escalation_policy_id);

-- key_hash is SHA-256 of the secret key; the key itself is never stored.
CREATE TABLE integrations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id bigint NOT NULL,
    position integer NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    key_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT integrations_service_id_fkey FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE CASCADE,
    CONSTRAINT integrations_name_key UNIQUE (name),
    CONSTRAINT integrations_key_hash_key UNIQUE (key_hash),
    CONSTRAINT integrations_position_check CHECK (position >= 0),
    CONSTRAINT integrations_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100),
    CONSTRAINT integrations_type_check CHECK (type IN ('alertmanager', 'grafana', 'pagerduty', 'generic')),
    CONSTRAINT integrations_key_hash_check CHECK (octet_length(key_hash) = 32)
);
CREATE INDEX integrations_service_id_idx ON integrations (service_id);

-- Rules are evaluated by position, first match wins. The uniqueness of
-- position is checked at the end of each statement, so one UPDATE can
-- renumber them all.
CREATE TABLE alert_rules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    position integer NOT NULL,
    page boolean NOT NULL DEFAULT true,
    urgency text NOT NULL DEFAULT 'high',
    service_from text,
    service_id bigint,
    match jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT alert_rules_name_key UNIQUE (name),
    CONSTRAINT alert_rules_position_key UNIQUE (position) DEFERRABLE INITIALLY IMMEDIATE,
    CONSTRAINT alert_rules_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]*$' AND length(name) <= 100),
    CONSTRAINT alert_rules_position_check CHECK (position >= 0),
    CONSTRAINT alert_rules_urgency_check CHECK (urgency IN ('high', 'low')),
    CONSTRAINT alert_rules_service_from_check CHECK (service_from <> ''),
    CONSTRAINT alert_rules_service_id_fkey FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE RESTRICT,
    CONSTRAINT alert_rules_match_check CHECK (jsonb_typeof(match) = 'object')
);
CREATE INDEX alert_rules_service_id_idx ON alert_rules (service_id);

-- No rows: the rule looks at every integration. Deleting an integration a
-- rule names is refused (it would widen the rule to all integrations).
CREATE TABLE alert_rule_integrations (
    alert_rule_id bigint NOT NULL,
    integration_id bigint NOT NULL,
    position integer NOT NULL,
    CONSTRAINT alert_rule_integrations_pkey PRIMARY KEY (alert_rule_id, integration_id),
    CONSTRAINT alert_rule_integrations_alert_rule_id_position_key UNIQUE (alert_rule_id, position),
    CONSTRAINT alert_rule_integrations_alert_rule_id_fkey FOREIGN KEY (alert_rule_id) REFERENCES alert_rules (id) ON DELETE CASCADE,
    CONSTRAINT alert_rule_integrations_integration_id_fkey FOREIGN KEY (integration_id) REFERENCES integrations (id) ON DELETE RESTRICT,
    CONSTRAINT alert_rule_integrations_position_check CHECK (position >= 0)
);
CREATE INDEX alert_rule_integrations_integration_id_idx ON alert_rule_integrations (integration_id);
