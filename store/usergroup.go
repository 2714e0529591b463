package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// UserGroupSync is what a Slack user group was last set to (by the jobs
// that make user groups follow the on-call).
type UserGroupSync struct {
	Group      string     // as the configuration names it: an ID or "@handle"
	SlackUsers []string   // the members' Slack user IDs, sorted; nil before the first sync
	SyncedAt   *time.Time // nil: never synced
}

// UserGroupSyncLock locks the sync row of group in tx, creating it (never
// synced) when missing, and returns it. Two transactions that lock one
// group take turns, so two syncs never call Slack for it at once.
func UserGroupSyncLock(ctx context.Context, tx pgx.Tx, group string) (UserGroupSync, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO slack_user_group_syncs (user_group) VALUES ($1) ON CONFLICT (user_group) DO NOTHING`, group); err != nil {
		return UserGroupSync{}, fmt.Errorf("lock user group %s: %w", group, mapErr(err))
	}
	s := UserGroupSync{Group: group}
	err := tx.QueryRow(ctx, `SELECT slack_users, synced_at FROM slack_user_group_syncs WHERE user_group = $1 FOR UPDATE`, group).
		Scan(&s.SlackUsers, &s.SyncedAt)
	if err != nil {
		return UserGroupSync{}, fmt.Errorf("lock user group %s: %w", group, mapErr(err))
	}
	if len(s.SlackUsers) == 0 {
		s.SlackUsers = nil
	}
	return s, nil
}

// UserGroupSyncSet records that group was set to slackUsers (sorted) at now.
func UserGroupSyncSet(ctx context.Context, q Querier, group string, slackUsers []string, now time.Time) error {
	if slackUsers == nil {
		slackUsers = []string{}
	}
	_, err := q.Exec(ctx, `
INSERT INTO slack_user_group_syncs (user_group, slack_users, synced_at) VALUES ($1, $2, $3)
ON CONFLICT (user_group) DO UPDATE SET slack_users = EXCLUDED.slack_users, synced_at = EXCLUDED.synced_at`,
		group, slackUsers, now)
	if err != nil {
		return fmt.Errorf("record user group %s: %w", group, mapErr(err))
	}
	return nil
}
