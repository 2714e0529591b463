package manifest_test

import (
	"strings"
	"testing"

	"github.com/oncall/oncall/oncall/manifest"
)

// slack_user_group on teams and schedules: read, checked with positions,
// and written back.

func TestSlackUserGroup(t *testing.T) {
	t.Parallel()
	b := loadFiles(t, map[string]string{"users.yaml": users, "a.yaml": doc(
		"kind: Team",
		"name: payments",
		"members: [alice, bob]",
		"slack_user_group: '@payments-oncall'",
		"---",
		"kind: Schedule",
		"name: primary",
		"team: payments",
		"slack_user_group: S0PRIMARY",
		"time_zone: UTC",
		"layers:",
		"  - {name: weekly, members: [alice, bob], start: 2026-11-02T09:00, shift: 1w}",
	)})
	if errs := b.Check(nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := b.Set.Teams[0].SlackUserGroup; got != "@payments-oncall" {
		t.Errorf("team slack_user_group = %q", got)
	}
	if got := b.Set.Schedules[0].SlackUserGroup; got != "S0PRIMARY" {
		t.Errorf("schedule slack_user_group = %q", got)
	}

	back, files := roundTrip(t, b.Set)
	if got, want := back.Set.Teams[0].SlackUserGroup, "@payments-oncall"; got != want {
		t.Errorf("after a round trip: team slack_user_group = %q, want %q", got, want)
	}
	if got, want := back.Set.Schedules[0].SlackUserGroup, "S0PRIMARY"; got != want {
		t.Errorf("after a round trip: schedule slack_user_group = %q, want %q", got, want)
	}
	// "@" cannot start a plain YAML scalar: the writer quotes it.
	for file, want := range map[string]string{
		"02-teams.yaml":     "slack_user_group: '@payments-oncall'\n",
		"04-schedules.yaml": "team: payments\nslack_user_group: S0PRIMARY\ntime_zone: UTC\n",
	} {
		if !strings.Contains(string(files[file]), want) {
			t.Errorf("%s lacks %q:\n%s", file, want, files[file])
		}
	}
}

func TestSlackUserGroupErrors(t *testing.T) {
	t.Parallel()
	b := loadFiles(t, map[string]string{"users.yaml": users, "bad.yaml": doc(
		"kind: Team",
		"name: payments",
		"slack_user_group: payments-oncall",
		"---",
		"kind: Team",
		"name: ops",
		"slack_user_group: [S0OPS]",
		"---",
		"kind: Schedule",
		"name: primary",
		"slack_user_group: '@Payments'",
		"time_zone: UTC",
		"---",
		"kind: Schedule",
		"name: secondary",
		"slack_usergroup: S0SECOND",
		"time_zone: UTC",
	)})
	diffLines(t, lines(b.Check(nil)), []string{
		`bad.yaml:3:19: slack_user_group: invalid Slack user group "payments-oncall" (use a user group ID like S0123ABCD or @handle)`,
		`bad.yaml:7:19: slack_user_group: expected a string, got a list`,
		`bad.yaml:11:19: slack_user_group: invalid Slack user group "@Payments" (use a user group ID like S0123ABCD or @handle)`,
		`bad.yaml:16:1: unknown key "slack_usergroup" in Schedule (did you mean "slack_user_group"?)`,
	})
}

func TestValidSlackUserGroup(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"S0123ABCD": true, "@payments-oncall": true, "@ops.team_2": true,
		"": false, "S": false, "s0123": false, "payments": false, "@": false, "@Ops": false,
		"@two words": false, "#payments": false, "C0123ABCD": false,
	} {
		if got := manifest.ValidSlackUserGroup(s); got != want {
			t.Errorf("ValidSlackUserGroup(%q) = %v, want %v", s, got, want)
		}
	}
}
