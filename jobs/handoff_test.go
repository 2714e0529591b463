package jobs_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	notifyslack "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// Handoffs, through the fake Slack: alice (U0ALICE), bob (U0BOB) and carol
// (found by email) of team payments (channel C0PAY); schedule primary names
// the user group @payments-oncall.

type handoffEnv struct {
	*jobstest.Bundle
	srv *slacktest.Server
}

const groupID = "S0PAY"

func handoffSet(sched *manifest.Schedule) *manifest.Set {
	alice, bob, carol := storetest.User("alice"), storetest.User("bob"), storetest.User("carol")
	alice.SlackID, bob.SlackID = "U0ALICE", "U0BOB"
	alice.TimeZone, bob.TimeZone = "UTC", "America/New_York"
	team := storetest.Team("payments", "alice", "bob", "carol")
	team.SlackChannel = "C0PAY"
	sched.Team, sched.SlackUserGroup = "payments", "@payments-oncall"
	svc := storetest.Service("checkout", "payments", "hook")
	svc.Team = "payments"
	return storetest.NewSet(alice, bob, carol, team, sched, svc,
		storetest.Policy("payments", storetest.UserTarget("carol")))
}

// hourly is schedule primary in UTC: alice and bob take turns by the hour,
// alice from base (a whole hour).
func hourly(base time.Time) *manifest.Schedule {
	s := storetest.Schedule("primary")
	s.TimeZone = "UTC"
	s.Layers[0].Members = []string{"alice", "bob"}
	s.Layers[0].Start = schedule.CivilOf(base, time.UTC)
	s.Layers[0].Shift = schedule.Length{Elapsed: time.Hour}
	return s
}

// hourBase is a whole hour in the past; tests start at hourBase+2h20m
// (alice on call), far from the handoffs.
func hourBase() time.Time { return time.Now().UTC().Truncate(time.Hour).Add(-time.Hour) }

// newHandoffEnv starts the engine with set and the clock moved to at.
func newHandoffEnv(t *testing.T, set *manifest.Set, at time.Time) *handoffEnv {
	t.Helper()
	srv := slacktest.New(t)
	srv.AddUser("U0ALICE", "alice@example.com", "Alice", "UTC")
	srv.AddUser("U0BOB", "bob@example.com", "Bob", "America/New_York")
	srv.AddUser("U0CAROL", "carol@example.com", "Carol", "Europe/Berlin")
	srv.AddChannel("C0PAY", "payments")
	srv.AddUserGroup(groupID, "payments-oncall", "Payments on call", "U0CAROL")
	ch := notifyslack.New(notifyslack.Config{BotToken: srv.BotToken(), APIURL: srv.APIURL()})
	b := jobstest.New(t, set, map[string]notify.Channel{notify.MethodSlack: ch, notify.MethodSlackChannel: ch})
	b.Clock.Advance(at.Sub(b.Clock.Now()))
	return &handoffEnv{Bundle: b, srv: srv}
}

func (env *handoffEnv) group(t *testing.T) slacktest.UserGroup {
	t.Helper()
	g, ok := env.srv.UserGroup(groupID)
	if !ok {
		t.Fatal("no user group")
	}
	return g
}

// texts is the text of every message in a channel ("DU0ALICE" for a DM).
func (env *handoffEnv) texts(channel string) []string {
	var out []string
	for _, m := range env.srv.Messages(channel) {
		out = append(out, m.Text)
	}
	return out
}

// handoffJobs is the planned handoff jobs, "schedule@RFC3339" each.
func (env *handoffEnv) handoffJobs(t *testing.T) []string {
	t.Helper()
	rows, err := env.Pool.Query(context.Background(),
		`SELECT args->>'schedule', scheduled_at FROM river_job WHERE kind = 'handoff' AND state = 'scheduled' ORDER BY scheduled_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		var at time.Time
		if err := rows.Scan(&s, &at); err != nil {
			t.Fatal(err)
		}
		out = append(out, s+"@"+at.UTC().Format(time.RFC3339))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (env *handoffEnv) plan(t *testing.T) int {
	t.Helper()
	n, err := env.Engine.PlanHandoffs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	env.Settle(t)
	return n
}

// At a handoff the group's members become the new on-call (one
// usergroups.users.update), the outgoing and incoming person get DMs with
// the open incidents, the team channel gets a post, and the next handoff
// is planned. Planning again changes nothing, and calls Slack not at all.
func TestHandoff(t *testing.T) {
	t.Parallel()
	base := hourBase()
	env := newHandoffEnv(t, handoffSet(hourly(base)), base.Add(140*time.Minute))
	next := base.Add(3 * time.Hour)

	if n := env.plan(t); n != 1 {
		t.Fatalf("planned %d handoffs, want 1", n)
	}
	if g := env.group(t); !slices.Equal(g.Users, []string{"U0ALICE"}) || g.Updates != 1 {
		t.Fatalf("after planning, group = %+v, want alice after one update", g)
	}
	if got, want := env.handoffJobs(t), []string{"primary@" + next.Format(time.RFC3339)}; !slices.Equal(got, want) {
		t.Fatalf("handoff jobs = %v, want %v", got, want)
	}
	id := env.Trigger(t, "hook", "k1", "Checkout error rate above 5%")
	env.Settle(t)

	// Not yet. The clock keeps flowing while the test runs (OffsetClock): "before"
	// is a minute before, so a slow machine cannot cross the instant.
	env.Advance(t, next.Sub(env.Clock.Now())-time.Minute)
	if g := env.group(t); g.Updates != 1 || len(env.texts("DU0BOB")) != 0 {
		t.Fatalf("before the handoff: group %+v, bob's DMs %q", g, env.texts("DU0BOB"))
	}
	env.Advance(t, time.Minute+time.Second)

	if g := env.group(t); !slices.Equal(g.Users, []string{"U0BOB"}) || g.Updates != 2 {
		t.Errorf("after the handoff, group = %+v, want bob after two updates", g)
	}
	in := strings.Join(env.texts("DU0BOB"), "\n")
	for _, want := range []string{"You are now on call for *primary*", "taking over from <@U0ALICE>", "EST", // bob reads New York time
		"Open incidents handed over to you", "#" + itoa(id), "Checkout error rate above 5%"} {
		if !strings.Contains(in, want) {
			t.Errorf("bob's DM lacks %q:\n%s", want, in)
		}
	}
	var out string
	for _, m := range env.texts("DU0ALICE") {
		if strings.Contains(m, "shift for") {
			out = m
		}
	}
	for _, want := range []string{"Your on-call shift for *primary* has ended", "<@U0BOB> is on call now until", "UTC", "#" + itoa(id)} {
		if !strings.Contains(out, want) {
			t.Errorf("alice's DM lacks %q:\n%s", want, out)
		}
	}
	var post string
	for _, m := range env.texts("C0PAY") {
		if strings.Contains(m, "Handoff in") {
			post = m
		}
	}
	if !strings.Contains(post, "Handoff in *primary*: <@U0ALICE> → <@U0BOB>, on call until") || !strings.Contains(post, "Open incidents: 1") {
		t.Errorf("channel post = %q", post)
	}
	if got, want := env.handoffJobs(t), []string{"primary@" + next.Add(time.Hour).Format(time.RFC3339)}; !slices.Equal(got, want) {
		t.Errorf("after the handoff, jobs = %v, want %v", got, want)
	}

	// Planning again adds nothing; the sync it queues finds nothing to change.
	calls := len(env.srv.Calls("usergroups.users.update"))
	if n := env.plan(t); n != 0 {
		t.Errorf("planning again added %d handoffs", n)
	}
	if c := len(env.srv.Calls("usergroups.users.update")); c != calls {
		t.Errorf("an unchanged group was updated (%d calls, was %d)", c, calls)
	}
	if got := env.handoffJobs(t); len(got) != 1 {
		t.Errorf("jobs after planning again = %v", got)
	}
}

// A daily 09:00 handoff in New York across the start of daylight saving
// time (2027-03-14) happens at 09:00 EDT, 13:00 UTC: 22 hours after 10:00
// EST the day before, not 24.
func TestHandoffAcrossDST(t *testing.T) {
	t.Parallel()
	start := time.Date(2027, time.March, 13, 15, 0, 0, 0, time.UTC) // 10:00 EST
	s := storetest.Schedule("primary")
	s.Layers[0].Members = []string{"alice", "bob"}
	s.Layers[0].Start = schedule.Civil{Date: storetest.Date(2027, time.March, 10), Hour: 9}
	s.Layers[0].Shift = schedule.Length{Days: 1}
	env := newHandoffEnv(t, handoffSet(s), start)
	env.plan(t)
	if g := env.group(t); !slices.Equal(g.Users, []string{"U0BOB"}) { // Mar 10 alice, 11 bob, 12 alice, 13 bob
		t.Fatalf("group = %+v, want bob", g)
	}
	handoff := time.Date(2027, time.March, 14, 13, 0, 0, 0, time.UTC)
	if got, want := env.handoffJobs(t), []string{"primary@" + handoff.Format(time.RFC3339)}; !slices.Equal(got, want) {
		t.Fatalf("handoff jobs = %v, want %v", got, want)
	}
	env.Advance(t, handoff.Sub(env.Clock.Now())-time.Minute)
	if g := env.group(t); !slices.Equal(g.Users, []string{"U0BOB"}) {
		t.Fatalf("a minute before 09:00 EDT, group = %+v, want bob still", g)
	}
	env.Advance(t, time.Minute+time.Second)
	if g := env.group(t); !slices.Equal(g.Users, []string{"U0ALICE"}) {
		t.Errorf("at 09:00 EDT, group = %+v, want alice", g)
	}
	if got := strings.Join(env.texts("C0PAY"), "\n"); !strings.Contains(got, "on call until Mon 15 Mar 09:00 EDT") {
		t.Errorf("channel post = %q", got)
	}
	next := time.Date(2027, time.March, 15, 13, 0, 0, 0, time.UTC)
	if got, want := env.handoffJobs(t), []string{"primary@" + next.Format(time.RFC3339)}; !slices.Equal(got, want) {
		t.Errorf("next handoff jobs = %v, want %v", got, want)
	}
}

// A configuration change re-plans: the plan check sees the version move;
// an override for carol from in 10 minutes gets its own handoff, which
// puts carol (found by email) in the group and tells her.
func TestHandoffReplansOnConfigChange(t *testing.T) {
	t.Parallel()
	base := hourBase()
	set := handoffSet(hourly(base))
	env := newHandoffEnv(t, set, base.Add(140*time.Minute))
	runPlanCheck(t, env)
	top, start := base.Add(3*time.Hour), base.Add(150*time.Minute)
	if got := env.handoffJobs(t); len(got) != 1 {
		t.Fatalf("handoff jobs = %v", got)
	}
	set.Schedules[0].Overrides = []manifest.Override{{User: "carol", Start: start, End: start.Add(2 * time.Hour)}}
	err := pgx.BeginFunc(context.Background(), env.Pool, func(tx pgx.Tx) error {
		_, err := store.ApplyConfig(context.Background(), tx, set, store.ApplyOptions{Now: env.Clock.Now(), Actor: "test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	runPlanCheck(t, env)
	got := env.handoffJobs(t)
	if !slices.Contains(got, "primary@"+start.UTC().Format(time.RFC3339)) {
		t.Fatalf("after the change, handoff jobs = %v, want one at %s", got, start.UTC().Format(time.RFC3339))
	}
	env.Advance(t, start.Sub(env.Clock.Now())+time.Second)
	if g := env.group(t); !slices.Equal(g.Users, []string{"U0CAROL"}) {
		t.Errorf("group = %+v, want carol", g)
	}
	if got := strings.Join(env.texts("DU0CAROL"), "\n"); !strings.Contains(got, "You are now on call for *primary*") {
		t.Errorf("carol's DMs = %q", got)
	}
	// The job planned before the change, at the top of the hour, is no
	// handoff any more (carol is on call either side): it tells nobody.
	posts := len(env.texts("C0PAY"))
	env.Advance(t, top.Sub(env.Clock.Now())+time.Second)
	if n := len(env.texts("C0PAY")); n != posts {
		t.Errorf("a stale handoff posted: %q", env.texts("C0PAY"))
	}
	if got := env.handoffJobs(t); !slices.Equal(got, []string{"primary@" + start.Add(2*time.Hour).UTC().Format(time.RFC3339)}) {
		t.Errorf("handoff jobs after the stale one = %v", got)
	}
}

func runPlanCheck(t *testing.T, env *handoffEnv) {
	t.Helper()
	if _, err := env.River.Insert(context.Background(), jobs.HandoffPlanArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	env.Settle(t)
}

// Nobody on call: the group keeps its members (Slack refuses an empty
// group), and nothing is called.
func TestSyncUserGroupNobody(t *testing.T) {
	t.Parallel()
	base := hourBase()
	s := hourly(base)
	end := base.Add(time.Hour)
	s.Layers[0].End = &end
	env := newHandoffEnv(t, handoffSet(s), base.Add(140*time.Minute))
	changed, err := env.Engine.SyncUserGroup(context.Background(), "@payments-oncall")
	if err != nil || changed {
		t.Fatalf("SyncUserGroup = %v, %v; want no change", changed, err)
	}
	if g := env.group(t); g.Updates != 0 || !slices.Equal(g.Users, []string{"U0CAROL"}) {
		t.Errorf("group = %+v", g)
	}
}

// The weekly report lists the coming week's gaps in the team channel, in
// the schedule's zone.
func TestGapReport(t *testing.T) {
	t.Parallel()
	base := hourBase()
	s := hourly(base)
	s.Layers[0].Restrict = []manifest.Window{{From: "09:00", To: "17:00"}}
	env := newHandoffEnv(t, handoffSet(s), base.Add(140*time.Minute))
	if _, err := env.River.Insert(context.Background(), jobs.GapReportArgs{Date: "2026-12-07"}, nil); err != nil {
		t.Fatal(err)
	}
	env.Settle(t)
	posts := env.texts("C0PAY")
	if len(posts) != 1 {
		t.Fatalf("posts = %q, want one", posts)
	}
	for _, want := range []string{"Gaps in the coming week", "*primary*:", "17:00 UTC – ", "09:00 UTC (16h)"} {
		if !strings.Contains(posts[0], want) {
			t.Errorf("report lacks %q:\n%s", want, posts[0])
		}
	}
	// The same day's report is not made twice.
	if res, err := env.River.Insert(context.Background(), jobs.GapReportArgs{Date: "2026-12-07"}, nil); err != nil || !res.UniqueSkippedAsDuplicate {
		t.Errorf("second report: %+v, %v", res, err)
	}
}

// The report runs Mondays at 09:00 UTC.
func TestGapReportAt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ now, want string }{
		{"2027-03-10T12:00:00Z", "2027-03-15T09:00:00Z"},      // Wednesday
		{"2027-03-15T08:59:00Z", "2027-03-15T09:00:00Z"},      // Monday, before
		{"2027-03-15T09:00:00Z", "2027-03-22T09:00:00Z"},      // Monday, on the dot
		{"2027-03-14T23:00:00-05:00", "2027-03-15T09:00:00Z"}, // Monday 04:00 UTC
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		if got := jobs.GapReportAt.Next(now).Format(time.RFC3339); got != tc.want {
			t.Errorf("Next(%s) = %s, want %s", tc.now, got, tc.want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Two syncs of one group at once (two processes at a handoff) take turns
// on the group's row: one calls Slack, the other finds nothing to change.
func TestSyncUserGroupTakesTurns(t *testing.T) {
	t.Parallel()
	base := hourBase()
	env := newHandoffEnv(t, handoffSet(hourly(base)), base.Add(140*time.Minute))
	const n = 4
	changed := make(chan bool, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			c, err := env.Engine.SyncUserGroup(context.Background(), "@payments-oncall")
			changed <- c
			errs <- err
		}()
	}
	calls := 0
	for range n {
		if <-changed {
			calls++
		}
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if g := env.group(t); calls != 1 || g.Updates != 1 || !slices.Equal(g.Users, []string{"U0ALICE"}) {
		t.Errorf("%d syncs changed the group, %d updates, members %v; want one, alice", calls, g.Updates, g.Users)
	}
}
