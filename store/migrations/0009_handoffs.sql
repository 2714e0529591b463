-- Slack user groups that follow the on-call, and handoff notices (jobs/handoff.go).
--
-- A team or a schedule may name a Slack user group (manifest key
-- slack_user_group: an ID "S…" or "@handle"). At every handoff its members
-- are replaced by whoever is on call: the schedule's on-call user, or for a
-- team everyone on call in its schedules.

ALTER TABLE teams ADD COLUMN slack_user_group text,
    ADD CONSTRAINT teams_slack_user_group_check CHECK (slack_user_group <> '');
ALTER TABLE schedules ADD COLUMN slack_user_group text,
    ADD CONSTRAINT schedules_slack_user_group_check CHECK (slack_user_group <> '');

-- What we last set each user group to, so a sync that would change nothing
-- calls Slack not at all, whichever process runs it. The row is locked while
-- Slack is called, so two syncs of one group take turns. user_group is the
-- group as the configuration names it (an ID or "@handle"); slack_users the
-- members' Slack user IDs, sorted; synced_at is NULL until a first sync.
CREATE TABLE slack_user_group_syncs (
    user_group text PRIMARY KEY,
    slack_users text[] NOT NULL DEFAULT '{}',
    synced_at timestamptz,
    CONSTRAINT slack_user_group_syncs_user_group_check CHECK (user_group <> '')
);
