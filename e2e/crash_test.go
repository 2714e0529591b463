package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/store/storetest"
)

// crashConfig pages alice, then bob, then carol, 3 s apart: every incident
// owes three pages, one per user, each of a different step.
const crashConfig = `
kind: User
name: alice
email: alice@example.com
slack_id: U0ALICE
---
kind: User
name: bob
email: bob@example.com
slack_id: U0BOB
---
kind: User
name: carol
email: carol@example.com
slack_id: U0CAROL
---
kind: Team
name: crash
members: [alice, bob, carol]
admins: [alice]
---
kind: EscalationPolicy
name: crash
team: crash
steps:
  - targets: [{user: alice}]
    escalate_after: 3s
  - targets: [{user: bob}]
    escalate_after: 3s
  - targets: [{user: carol}]
    escalate_after: 3s
---
kind: Service
name: crash-api
team: crash
escalation_policy: crash
integrations:
  - {name: hook, type: generic}
`

const (
	crashIncidents = 100
	// slackDelay holds each page's answer, so that a kill finds sends in
	// flight whose delivery the process never recorded.
	slackDelay = 150 * time.Millisecond
	// settleWithin bounds how long the pages due may take after a kill:
	// River rescues a job left running by a dead process after 20 s, its
	// rescuer looks every 30 s, and a new leader is elected within 15 s.
	settleWithin = 75 * time.Second
	restartDelay = 20 * time.Second
)

var crashUsers = []string{"alice", "bob", "carol"}

type crashRig struct {
	t     *testing.T
	pool  *pgxpool.Pool
	slack *slacktest.Server
	vars  map[string]string
}

func newCrashRig(t *testing.T) *crashRig {
	pool := storetest.New(t)
	sl, apiURL := fakeSlack(t, slackDelay, crashUsers...)
	vars := slackEnv(sl, apiURL)
	vars["DATABASE_URL"] = storetest.URL(pool)
	vars["ONCALL_CONFIG"] = writeConfig(t, crashConfig)
	return &crashRig{t: t, pool: pool, slack: sl, vars: vars}
}

// postIncidents opens n incidents through srv, each with its own dedup
// key, from 8 senders, and returns their ids.
func (r *crashRig) postIncidents(srv *server, key string, n int) []int64 {
	r.t.Helper()
	ids := make([]int64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				res, err := postAlert(context.Background(), http.DefaultClient, srv.url, key, fmt.Sprintf("crash-%d", i))
				if err == nil && res.code != http.StatusAccepted {
					err = fmt.Errorf("alert %d: status %d", i, res.code)
				}
				if err != nil {
					errs <- err
					continue
				}
				ids[i] = res.incidentID
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		r.t.Fatal(err)
	}
	return ids
}

// waitPages waits until the fake has at least n pages to user.
func (r *crashRig) waitPages(user string, n int, within time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	err := r.slack.WaitUntil(ctx, func() bool {
		c := 0
		for _, p := range pages(r.slack) {
			if p.user == slackID(user) {
				c++
			}
		}
		return c >= n
	})
	if err != nil {
		r.t.Fatalf("fewer than %d pages to %s within %s", n, user, within)
	}
}

// inFlight counts the notify jobs left running in the database, read right
// after a kill: the sends a dead process may have made without recording
// them, an upper bound on the duplicates that kill may cause.
func (r *crashRig) inFlight() int {
	r.t.Helper()
	var n int
	if err := r.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'notify' AND state = 'running'`).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// settled reports whether every incident's escalation has run to its end
// and no page or timer is left to do.
func (r *crashRig) settled() bool {
	var done, open, left int
	err := r.pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM incidents WHERE escalation_done),
		(SELECT count(*) FROM incidents),
		(SELECT count(*) FROM river_job WHERE kind IN ('escalate', 'notify') AND state NOT IN ('completed', 'cancelled', 'discarded'))`).
		Scan(&done, &open, &left)
	return err == nil && done == open && left == 0
}

// crashReport is what a crash run delivered, measured at the fake.
type crashReport struct {
	due, delivered, lost, duplicates int
	lastAfterKill                    time.Duration // the last page after the kill
}

// check judges the pages against what is owed: each incident pages each
// user once. It allows at most maxDup duplicates in all, no page more than
// once per kill beyond the first, and no duplicate whose two sends both
// happened before killedAt (the two processes while both alive).
func (r *crashRig) check(ids []int64, kills, maxDup int, killedAt time.Time) crashReport {
	r.t.Helper()
	ps := pages(r.slack)
	counts := countPages(ps)
	first := map[pageKey]time.Time{}
	var rep crashReport
	for _, p := range ps {
		k := pageKey{p.incident, p.user}
		if t0, ok := first[k]; !ok {
			first[k] = p.at
		} else if p.at.Before(killedAt) && t0.Before(killedAt) {
			r.t.Errorf("incident %d paged %s twice before the kill (%s and %s)", p.incident, p.user, t0.Format(time.StampMilli), p.at.Format(time.StampMilli))
		}
		if d := p.at.Sub(killedAt); d > rep.lastAfterKill {
			rep.lastAfterKill = d
		}
	}
	var lost []string
	for _, id := range ids {
		for _, u := range crashUsers {
			rep.due++
			c := counts[pageKey{id, slackID(u)}]
			switch {
			case c == 0:
				rep.lost++
				lost = append(lost, fmt.Sprintf("%d/%s", id, u))
			case c > 1+kills:
				r.t.Errorf("incident %d paged %s %d times (%d kill(s))", id, u, c, kills)
			}
			if c > 0 {
				rep.delivered++
				rep.duplicates += c - 1
			}
		}
	}
	if len(counts) != rep.due-rep.lost {
		r.t.Errorf("pages for %d incident/user pairs, want %d", len(counts), rep.due-rep.lost)
	}
	if rep.lost > 0 {
		sort.Strings(lost)
		r.t.Errorf("%d of %d pages lost: %s", rep.lost, rep.due, strings.Join(lost[:min(len(lost), 20)], " "))
	}
	if rep.duplicates > maxDup {
		r.t.Errorf("%d duplicate pages, more than %d", rep.duplicates, maxDup)
		r.explainDuplicates(counts)
	}
	// Each step queued each page once: a step that ran twice (a rescued
	// escalate job whose first run had committed) shows here whatever the
	// timing of the sends.
	var twice int
	if err := r.pool.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT 1 FROM notifications WHERE kind = 'page'
		GROUP BY incident_id, user_name, escalation_step, escalation_loop, rule_index, method HAVING count(*) > 1) d`).Scan(&twice); err != nil {
		r.t.Fatal(err)
	}
	if twice > 0 {
		r.t.Errorf("%d pages queued more than once by their step", twice)
	}
	// The database agrees: every page is recorded as sent.
	var unsent int
	if err := r.pool.QueryRow(context.Background(), `SELECT count(*) FROM notifications WHERE kind = 'page' AND state <> 'sent'`).Scan(&unsent); err != nil {
		r.t.Fatal(err)
	}
	if unsent > 0 {
		r.t.Errorf("%d page notifications not sent in the database", unsent)
	}
	return rep
}

// TestCrashRestart kills `oncall serve` with SIGKILL while 100 incidents
// are escalating (half of the second step's pages out), starts a new one on
// the same database, and counts every page at the fake Slack.
func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts real processes (skipped with -short)")
	}
	t.Parallel()
	r := newCrashRig(t)
	first := startServer(t, "serve#1", r.vars)
	key := first.key("hook")
	ids := r.postIncidents(first, key, crashIncidents)

	r.waitPages("bob", crashIncidents/2, 30*time.Second)
	first.kill()
	killedAt := time.Now()
	inFlight := r.inFlight()

	// Restarted after RescueStuckJobsAfter (20 s), the new process's first
	// rescuer pass retries the jobs the dead one left running. Restarted
	// at once, it is leader only when the dead one's lease lapses (up to
	// 15 s), too early for that pass, and the rescue waits for the next
	// one, 30 s later: the same pages, 25 s later, and a longer test.
	time.Sleep(restartDelay)
	second := startServer(t, "serve#2", r.vars)
	if !waitFor(settleWithin, r.settled) {
		second.alive()
		t.Fatalf("escalations did not finish within %s of the restart", settleWithin)
	}
	second.alive()
	// At most one duplicate for the kill: a send the dead process made
	// without recording it is looked for in Slack (by the key in its
	// metadata) before it is made again.
	rep := r.check(ids, 1, min(inFlight, 1), killedAt)
	t.Logf("kill -9 and restart: %d pages due, %d delivered, %d lost, %d duplicated (%d sends in flight at the kill); last page %.1f s after the kill",
		rep.due, rep.delivered, rep.lost, rep.duplicates, inFlight, rep.lastAfterKill.Seconds())
}

// TestCrashOneOfTwo runs two `oncall serve` processes on one database,
// spreads the alerts over both, and kills one while pages go out: the
// survivor delivers every page, and no page went out twice while both
// were alive.
func TestCrashOneOfTwo(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts real processes (skipped with -short)")
	}
	t.Parallel()
	r := newCrashRig(t)
	a := startServer(t, "serve-a", r.vars)
	key := a.key("hook")
	b := startServer(t, "serve-b", r.vars)
	half := crashIncidents / 2
	var ids []int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range []*server{a, b} {
		wg.Go(func() {
			got := r.postIncidentsFrom(s, key, half, s.name)
			mu.Lock()
			ids = append(ids, got...)
			mu.Unlock()
		})
	}
	wg.Wait()

	r.waitPages("bob", crashIncidents/2, 30*time.Second)
	a.kill()
	killedAt := time.Now()
	inFlight := r.inFlight() // the survivor's running sends too: an upper bound

	if !waitFor(settleWithin, r.settled) {
		b.alive()
		t.Fatalf("escalations did not finish within %s of the kill", settleWithin)
	}
	b.alive()
	rep := r.check(ids, 1, min(inFlight, 1), killedAt)
	t.Logf("two processes, one killed: %d pages due, %d delivered, %d lost, %d duplicated (at most %d sends in flight at the kill); last page %.1f s after the kill",
		rep.due, rep.delivered, rep.lost, rep.duplicates, inFlight, rep.lastAfterKill.Seconds())
}

// postIncidentsFrom is postIncidents with dedup keys prefixed by tag.
func (r *crashRig) postIncidentsFrom(srv *server, key string, n int, tag string) []int64 {
	r.t.Helper()
	ids := make([]int64, 0, n)
	for i := range n {
		res, err := postAlert(context.Background(), http.DefaultClient, srv.url, key, fmt.Sprintf("%s-%d", tag, i))
		if err != nil || res.code != http.StatusAccepted {
			r.t.Errorf("alert %s-%d: %+v %v", tag, i, res, err)
			return ids
		}
		ids = append(ids, res.incidentID)
	}
	return ids
}

// explainDuplicates logs, for a few pages sent more than once, the
// notification rows behind them.
func (r *crashRig) explainDuplicates(counts map[pageKey]int) {
	shown := 0
	for k, c := range counts {
		if c < 2 || shown >= 3 {
			continue
		}
		shown++
		rows, err := r.pool.Query(context.Background(), `SELECT n.id, n.escalation_step, n.escalation_loop, n.state, coalesce(n.job_id, 0), coalesce(j.state::text, ''), coalesce(j.attempt, 0), coalesce(j.args::text, '')
			FROM notifications n LEFT JOIN river_job j ON j.id = n.job_id WHERE n.incident_id = $1 ORDER BY n.id`, k.incident)
		if err != nil {
			r.t.Log(err)
			return
		}
		var b strings.Builder
		for rows.Next() {
			var id, job int64
			var step, loop, attempt int
			var st, jst, args string
			if err := rows.Scan(&id, &step, &loop, &st, &job, &jst, &attempt, &args); err != nil {
				r.t.Log(err)
			}
			fmt.Fprintf(&b, "  notification %d step %d loop %d %s, job %d %s attempt %d %s\n", id, step, loop, st, job, jst, attempt, args)
		}
		rows.Close()
		rows, _ = r.pool.Query(context.Background(), `SELECT id, state, attempt, args::text FROM river_job WHERE kind = 'escalate' AND (args->>'incident_id')::bigint = $1 ORDER BY id`, k.incident)
		for rows.Next() {
			var id int64
			var attempt int
			var st, args string
			_ = rows.Scan(&id, &st, &attempt, &args)
			fmt.Fprintf(&b, "  escalate job %d %s attempt %d %s\n", id, st, attempt, args)
		}
		rows.Close()
		r.t.Logf("incident %d, %s paged %d times:\n%s", k.incident, k.user, c, b.String())
	}
}
