package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/console"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// manualSet: alice and bob on team ops (channel C0OPS); policy ops pages
// carol; service api uses it.
func manualSet() *manifest.Set {
	team := storetest.Team("ops", "alice", "bob")
	team.SlackChannel = "C0OPS"
	svc := storetest.Service("api", "ops", "hook")
	svc.Team = "ops"
	return storetest.NewSet(storetest.User("alice"), storetest.User("bob"), storetest.User("carol"), team,
		storetest.Policy("ops", storetest.UserTarget("carol")), svc)
}

func newManual(t *testing.T) (*jobstest.Bundle, *lockedBuffer) {
	t.Helper()
	var out lockedBuffer
	ch := console.New(&out)
	b := jobstest.New(t, manualSet(), map[string]notify.Channel{notify.MethodSlack: ch, notify.MethodSlackChannel: ch})
	return b, &out
}

func contains(t *testing.T, what string, lines []string, want ...string) {
	t.Helper()
	all := strings.Join(lines, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, all)
		}
	}
}

// Paging a user by hand pages them with their rules, on an incident of no
// integration and no service; with a policy, the policy takes over when
// nobody acknowledges.
func TestManualPageUser(t *testing.T) {
	t.Parallel()
	b, _ := newManual(t)
	ctx := context.Background()
	in, err := b.Engine.ManualPage(ctx, jobs.ManualPageRequest{Actor: "bob", User: "alice", Summary: "  the database is on fire ", Policy: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.IncidentGet(ctx, b.Pool, in.ID, store.LockNone)
	if err != nil {
		t.Fatal(err)
	}
	if got.IntegrationID != 0 || got.ServiceName != "" || got.PolicyName != "ops" || got.Source != jobs.SourceManual ||
		!strings.HasPrefix(got.DedupKey, "manual-") || got.Summary != "the database is on fire" ||
		got.Urgency != "high" || got.State != store.StateTriggered {
		t.Fatalf("incident: %+v", got)
	}
	b.Settle(t)
	contains(t, "timeline", b.Timeline(t, in.ID),
		"triggered: paged by bob: user alice, high urgency",
		"escalated: paged by bob: alice; escalation policy ops starts if nobody acknowledges within 5m",
		"notified alice by slack (paged by bob): delivered")
	b.Advance(t, manifest.DefaultEscalateAfter+time.Second)
	contains(t, "timeline", b.Timeline(t, in.ID), "escalated: step 1 of ops: carol")

	// Without a policy nothing escalates, and Escalate says why.
	in2, err := b.Engine.ManualPage(ctx, jobs.ManualPageRequest{Actor: "bob", User: "alice", Summary: "x", Urgency: "low"})
	if err != nil {
		t.Fatal(err)
	}
	if in2.Severity != oncall.SeverityWarning || in2.Urgency != "low" || in2.DedupKey == in.DedupKey {
		t.Fatalf("low urgency page: %+v", in2)
	}
	var ue *oncall.UserError
	if _, err := b.Engine.Escalate(ctx, in2.ID, "bob"); !errors.As(err, &ue) {
		t.Fatalf("escalate without a policy: %v", err)
	}
}

// Paging a team pages every member and tells the team's channel.
func TestManualPageTeam(t *testing.T) {
	t.Parallel()
	b, out := newManual(t)
	in, err := b.Engine.ManualPage(context.Background(), jobs.ManualPageRequest{Actor: "carol", Team: "ops", Summary: "all hands"})
	if err != nil {
		t.Fatal(err)
	}
	b.Settle(t)
	contains(t, "timeline", b.Timeline(t, in.ID),
		"triggered: paged by carol: team ops, high urgency",
		"escalated: paged by carol: alice (team ops), bob (team ops)",
		"notified alice by slack", "notified bob by slack")
	if !strings.Contains(out.String(), "C0OPS") {
		t.Errorf("the team channel was not told:\n%s", out.String())
	}
}

// Paging a service runs its policy's first step at once, like an alert.
func TestManualPageService(t *testing.T) {
	t.Parallel()
	b, _ := newManual(t)
	in, err := b.Engine.ManualPage(context.Background(), jobs.ManualPageRequest{Actor: "alice", Service: "api", Summary: "checkout is slow"})
	if err != nil {
		t.Fatal(err)
	}
	if in.ServiceName != "api" || in.PolicyName != "ops" || in.EscalationStep != 0 || in.EscalationJobID == 0 {
		t.Fatalf("incident: %+v", in)
	}
	b.Settle(t)
	contains(t, "timeline", b.Timeline(t, in.ID),
		"triggered: paged by alice: service api, paging ops, high urgency",
		"escalated: step 1 of ops: carol",
		"notified carol by slack")
	// The engine's usual transitions work on it.
	if _, err := b.Engine.Ack(context.Background(), in.ID, "carol"); err != nil {
		t.Fatal(err)
	}
}

func TestManualPageMistakes(t *testing.T) {
	t.Parallel()
	b, _ := newManual(t)
	for _, tc := range []struct {
		req  jobs.ManualPageRequest
		want string
	}{
		{jobs.ManualPageRequest{Summary: "x"}, "say whom to page"},
		{jobs.ManualPageRequest{User: "alice", Team: "ops", Summary: "x"}, "say whom to page"},
		{jobs.ManualPageRequest{User: "alice", Summary: " \n"}, "say what the page is about"},
		{jobs.ManualPageRequest{User: "alice", Summary: strings.Repeat("x", jobs.MaxManualSummary+1)}, "longer than"},
		{jobs.ManualPageRequest{User: "alice", Summary: "x", Urgency: "urgent"}, "urgency is high or low"},
		{jobs.ManualPageRequest{User: "zed", Summary: "x"}, `there is no user "zed"`},
		{jobs.ManualPageRequest{Team: "zed", Summary: "x"}, `there is no team "zed"`},
		{jobs.ManualPageRequest{Service: "zed", Summary: "x"}, `there is no service "zed"`},
		{jobs.ManualPageRequest{User: "alice", Summary: "x", Policy: "zed"}, `there is no escalation policy "zed"`},
	} {
		tc.req.Actor = "bob"
		_, err := b.Engine.ManualPage(context.Background(), tc.req)
		var ue *oncall.UserError
		if !errors.As(err, &ue) || !strings.Contains(ue.Msg, tc.want) {
			t.Errorf("%+v: %v, want a UserError with %q", tc.req, err, tc.want)
		}
	}
	open, err := store.IncidentListOpen(context.Background(), b.Pool, 10)
	if err != nil || len(open) != 0 {
		t.Fatalf("mistakes opened incidents: %d %v", len(open), err)
	}
}
