package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// companyWithGroups is the example company whose team payments and schedule
// payments-primary name Slack user groups.
func companyWithGroups() *manifest.Set {
	s := storetest.Company()
	s.Teams[0].SlackUserGroup = "@payments-oncall"
	s.Schedules[0].SlackUserGroup = "S0PRIMARY"
	return s
}

func TestApplySlackUserGroups(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	set := companyWithGroups()
	if set.Teams[0].Name != "payments" || set.Schedules[0].Name != "payments-primary" {
		t.Fatalf("the company changed: %s, %s", set.Teams[0].Name, set.Schedules[0].Name)
	}
	apply(t, pool, set, false)
	requireSet(t, load(t, pool), set)
	requireChanges(t, apply(t, pool, set, false)) // re-apply: nothing

	// Export round trip.
	exported := exportAndReload(t, load(t, pool))
	requireSet(t, exported, set)
	requireChanges(t, apply(t, pool, exported, true))

	// Changing and removing them are updates of that key alone.
	set.Teams[0].SlackUserGroup = "S0PAYMENTS"
	set.Schedules[0].SlackUserGroup = ""
	requireChanges(t, apply(t, pool, set, false),
		"update Team payments (slack_user_group)",
		"update Schedule payments-primary (slack_user_group)")
	requireSet(t, load(t, pool), set)
	if n := count(t, pool, `SELECT count(*) FROM schedules WHERE slack_user_group IS NULL AND name = 'payments-primary'`); n != 1 {
		t.Errorf("an absent user group is not stored as NULL")
	}
}

func TestApplyRejectsBadSlackUserGroups(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	for _, c := range []struct {
		set       func(*manifest.Set)
		kind, obj string
	}{
		{func(s *manifest.Set) { s.Teams[0].SlackUserGroup = "payments-oncall" }, manifest.KindTeam, "payments"},
		{func(s *manifest.Set) { s.Schedules[0].SlackUserGroup = "#payments" }, manifest.KindSchedule, "payments-primary"},
	} {
		set := storetest.Company()
		c.set(set)
		_, err := tryApply(t, pool, set, false, false)
		var oe *store.ObjectError
		if !errors.Is(err, oncall.ErrInvalid) || !errors.As(err, &oe) || oe.Kind != c.kind || oe.Name != c.obj ||
			!strings.Contains(fmt.Sprint(err), "slack_user_group: invalid Slack user group") {
			t.Errorf("err = %v; want an invalid slack_user_group of %s %s", err, c.kind, c.obj)
		}
	}
}

func TestUserGroupSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)

	lock := func(group string) store.UserGroupSync {
		t.Helper()
		var s store.UserGroupSync
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			s, err = store.UserGroupSyncLock(ctx, tx, group)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	if s := lock("@payments-oncall"); s.SlackUsers != nil || s.SyncedAt != nil || s.Group != "@payments-oncall" {
		t.Errorf("a new group = %+v; want never synced", s)
	}
	if err := store.UserGroupSyncSet(ctx, pool, "@payments-oncall", []string{"U1", "U2"}, now); err != nil {
		t.Fatal(err)
	}
	s := lock("@payments-oncall")
	if !slices.Equal(s.SlackUsers, []string{"U1", "U2"}) || s.SyncedAt == nil || !s.SyncedAt.Equal(now) {
		t.Errorf("after a sync = %+v", s)
	}
	if err := store.UserGroupSyncSet(ctx, pool, "S0NEW", nil, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s := lock("S0NEW"); s.SlackUsers != nil || s.SyncedAt == nil {
		t.Errorf("a group set to nobody = %+v", s)
	}

	// The lock holds off a second transaction until the first ends.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := store.UserGroupSyncLock(ctx, tx, "@payments-oncall"); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err = pgx.BeginFunc(tctx, pool, func(tx2 pgx.Tx) error {
		_, err := store.UserGroupSyncLock(tctx, tx2, "@payments-oncall")
		return err
	})
	if err == nil {
		t.Error("a second lock of the group did not wait for the first")
	}
}
