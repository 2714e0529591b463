package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/slack/slacktest"
)

// handoffConfig is pagingConfig with primary a daily rotation of alice and
// bob (found by email) that names the user group @payments-oncall.
var handoffConfig = strings.Replace(pagingConfig,
	`  - {name: all, members: [alice], start: "2026-01-05T09:00", shift: 1w}`,
	`  - {name: all, members: [alice, bob], start: "2026-01-05T09:00", shift: 1d}
slack_user_group: "@payments-oncall"`, 1)

// With Slack on, `oncall serve` runs the handoffs: the user group follows
// the on-call from the start, and at the next 09:00 in Berlin it changes
// hands and the team channel hears of it.
func TestServeHandoff(t *testing.T) {
	t.Parallel()
	if !strings.Contains(handoffConfig, "slack_user_group") {
		t.Fatal("handoffConfig: the schedule layer to replace moved")
	}
	s := startStack(t, withConfig(handoffConfig))
	s.slack.AddUserGroup("S0PAY", "payments-oncall", "Payments on call", "U0MALLORY")
	// The plan check ran at start, perhaps before the group existed: plan
	// again, as a configuration change would.
	if _, err := s.engine.PlanHandoffs(s.ctx()); err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := s.clock.Now().In(berlin)
	next := time.Date(now.Year(), now.Month(), now.Day(), 9, 0, 0, 0, berlin)
	if !next.After(now) {
		next = next.AddDate(0, 0, 1)
	}
	// Days since 2026-01-05 (alice's first day), counted in Berlin.
	day := int(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).
		Sub(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	if now.Hour() < 9 {
		day--
	}
	who, after := "U0ALICE", "U0BOB"
	if day%2 == 1 {
		who, after = after, who
	}
	waitGroup(t, s, who)

	s.advance(next.Sub(s.clock.Now()) + time.Second)
	waitGroup(t, s, after)
	if _, err := s.slack.WaitForMessage(s.ctx(), "C0PAY", func(m slacktest.Message) bool {
		return strings.Contains(m.Text, "Handoff in *primary*")
	}); err != nil {
		t.Errorf("no handoff post in the team channel: %v", err)
	}
}

func waitGroup(t *testing.T, s *stack, want string) {
	t.Helper()
	err := s.slack.WaitUntil(s.ctx(), func() bool {
		g, _ := s.slack.UserGroup("S0PAY")
		return slices.Equal(g.Users, []string{want})
	})
	if err != nil {
		g, _ := s.slack.UserGroup("S0PAY")
		t.Fatalf("group = %v, want %s: %v", g.Users, want, err)
	}
}
