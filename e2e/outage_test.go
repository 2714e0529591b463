package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// outageConfig pages alice, then bob 4 s later.
const outageConfig = `
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
kind: Team
name: ops
members: [alice, bob]
admins: [alice]
---
kind: EscalationPolicy
name: ops
team: ops
steps:
  - targets: [{user: alice}]
    escalate_after: 4s
  - targets: [{user: bob}]
    escalate_after: 4s
---
kind: Service
name: ops-api
team: ops
escalation_policy: ops
integrations:
  - {name: hook, type: generic}
`

const (
	outageRate     = 20 // alerts per second
	outageStep     = 4 * time.Second
	outageBefore   = 3 * time.Second
	outageDuration = 10 * time.Second
	outageAfter    = 12 * time.Second // load after the database returns
	steadyAfter    = 6 * time.Second  // when the backlog should be worked off
	maxLate        = 45 * time.Second // the most a step may be late
	// outageSlackDelay keeps pages in flight when the database stops. A
	// send holds its transaction (and a pool connection) while Slack
	// answers, so the delay also caps how fast the backlog drains.
	outageSlackDelay = 50 * time.Millisecond
	// requestTimeout is how long the sender waits for an answer: longer is
	// a hang.
	requestTimeout = 10 * time.Second
)

// answer is one HTTP exchange of the sender.
type answer struct {
	at       time.Time
	took     time.Duration
	res      alertResult
	err      error
	dedupKey string
}

// sender posts alerts at a steady rate and retries each one, as a real
// sender does, until it is accepted.
type sender struct {
	srv, key string
	client   *http.Client

	mu       sync.Mutex
	answers  []answer
	accepted map[string]alertResult // dedup key -> the 202
	gaveUp   []string
	wg       sync.WaitGroup
}

func (s *sender) send(dedup string, deadline time.Time) {
	defer s.wg.Done()
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		t0 := time.Now()
		res, err := postAlert(ctx, s.client, s.srv, s.key, dedup)
		cancel()
		s.mu.Lock()
		s.answers = append(s.answers, answer{at: t0, took: time.Since(t0), res: res, err: err, dedupKey: dedup})
		if err == nil && res.code == http.StatusAccepted {
			s.accepted[dedup] = res
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		wait := time.Second
		if n, err := strconv.Atoi(res.retryAfter); err == nil && n > 0 {
			wait = time.Duration(n) * time.Second
		}
		time.Sleep(wait)
	}
	s.mu.Lock()
	s.gaveUp = append(s.gaveUp, dedup)
	s.mu.Unlock()
}

// readiness polls /readyz every 100 ms and keeps what it answered.
type readiness struct {
	mu  sync.Mutex
	obs []readyObs
}

type readyObs struct {
	at time.Time
	ok bool
}

func (r *readiness) poll(ctx context.Context, url string) {
	client := &http.Client{Timeout: 3 * time.Second}
	for ctx.Err() == nil {
		t0 := time.Now()
		ok := false
		if resp, err := client.Get(url + "/readyz"); err == nil {
			ok = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
		r.mu.Lock()
		r.obs = append(r.obs, readyObs{at: t0, ok: ok})
		r.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readyAfter is when /readyz first answered 200 from a request started at
// or after t; ok is false when it never did.
func (r *readiness) readyAfter(t time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.obs {
		if !o.at.Before(t) && o.ok {
			return o.at, true
		}
	}
	return time.Time{}, false
}

func (r *readiness) sawUnready(from, to time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.obs {
		if o.at.After(from) && o.at.Before(to) && !o.ok {
			return true
		}
	}
	return false
}

// TestDatabaseOutage stops PostgreSQL (pg_ctl stop -m fast) for 10 s while
// alerts arrive at 20 per second from a sender that retries, then starts
// it again. During the outage the server answers 503 with Retry-After and
// never 202 for an alert it did not commit; the sender's retries land
// afterwards; /readyz recovers within 10 s of the database's return; and
// every incident's escalation runs to its end.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts real processes (skipped with -short)")
	}
	t.Parallel()
	pg := newPGCluster(t)
	pg.start()
	sl, apiURL := fakeSlack(t, outageSlackDelay, "alice", "bob")
	vars := slackEnv(sl, apiURL)
	vars["DATABASE_URL"] = pg.url("oncall")
	vars["ONCALL_CONFIG"] = writeConfig(t, outageConfig)
	srv := startServer(t, "serve", vars)

	ready := &readiness{}
	pollCtx, stopPoll := context.WithCancel(context.Background())
	var pollWG sync.WaitGroup
	pollWG.Go(func() { ready.poll(pollCtx, srv.url) })
	defer func() { stopPoll(); pollWG.Wait() }()

	snd := &sender{srv: srv.url, key: srv.key("hook"), accepted: map[string]alertResult{},
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	loadDone, stopLoad := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(time.Second / outageRate)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopLoad:
				return
			case <-tick.C:
			}
			snd.wg.Add(1)
			go snd.send(fmt.Sprintf("outage-%d", i), time.Now().Add(60*time.Second))
		}
	}()

	time.Sleep(outageBefore)
	pg.stop()
	stoppedAt := time.Now()
	time.Sleep(outageDuration)
	pg.start()
	startedAt := time.Now()
	srv.alive()
	go func() {
		time.Sleep(outageAfter)
		close(stopLoad)
	}()

	readyAt, ok := ready.readyAfter(startedAt)
	if !waitFor(15*time.Second, func() bool { readyAt, ok = ready.readyAfter(startedAt); return ok }) {
		t.Errorf("/readyz did not answer 200 within 15 s of the database's return")
	}
	recovery := readyAt.Sub(startedAt)
	if ok && recovery > 10*time.Second {
		t.Errorf("/readyz answered 200 %.1f s after the database returned, want within 10 s", recovery.Seconds())
	}
	if !ready.sawUnready(stoppedAt.Add(time.Second), startedAt) {
		t.Error("/readyz never answered 503 while the database was down")
	}

	<-loadDone
	snd.wg.Wait()
	srv.alive()
	// When the last alert first tried during the outage was accepted.
	firstTry, acceptedAt := map[string]time.Time{}, map[string]time.Time{}
	for _, a := range snd.answers {
		if t0, ok := firstTry[a.dedupKey]; !ok || a.at.Before(t0) {
			firstTry[a.dedupKey] = a.at
		}
		if a.err == nil && a.res.code == http.StatusAccepted {
			acceptedAt[a.dedupKey] = a.at.Add(a.took)
		}
	}
	var retriesLanded time.Duration
	for k, t0 := range firstTry {
		if t0.After(stoppedAt) && t0.Before(startedAt) {
			retriesLanded = max(retriesLanded, acceptedAt[k].Sub(startedAt))
		}
	}

	// What the sender saw: only 202 and 503, 503s with Retry-After, no
	// hang, and every alert accepted in the end.
	var n202, n503, nOutage503, other int
	var slowest time.Duration
	for _, a := range snd.answers {
		slowest = max(slowest, a.took)
		switch {
		case a.err != nil:
			other++
			if other <= 5 {
				t.Errorf("alert %s at +%.1fs: %v", a.dedupKey, a.at.Sub(start).Seconds(), a.err)
			}
		case a.res.code == http.StatusAccepted:
			n202++
		case a.res.code == http.StatusServiceUnavailable:
			n503++
			if a.at.After(stoppedAt) && a.at.Before(startedAt) {
				nOutage503++
			}
			if a.res.retryAfter == "" {
				t.Errorf("alert %s: 503 without Retry-After", a.dedupKey)
			}
		default:
			other++
			if other <= 5 {
				t.Errorf("alert %s at +%.1fs: status %d", a.dedupKey, a.at.Sub(start).Seconds(), a.res.code)
			}
		}
	}
	if nOutage503 == 0 {
		t.Error("no 503 while the database was down")
	}
	if len(snd.gaveUp) > 0 {
		t.Errorf("%d alerts never accepted: %v", len(snd.gaveUp), snd.gaveUp[:min(len(snd.gaveUp), 10)])
	}

	// Every 202 is an incident in the database.
	pool, err := pgxpool.New(context.Background(), pg.url("oncall"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	incidents := map[string]int64{}
	created := map[int64]time.Time{}
	rows, err := pool.Query(context.Background(), `SELECT dedup_key, id, created_at FROM incidents`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var id int64
		var at time.Time
		if err := rows.Scan(&k, &id, &at); err != nil {
			t.Fatal(err)
		}
		incidents[k], created[id] = id, at
	}
	rows.Close()
	for k, res := range snd.accepted {
		if id, ok := incidents[k]; !ok || id != res.incidentID {
			t.Errorf("alert %s answered 202 (incident %d) but the database has incident %d", k, res.incidentID, id)
		}
	}

	// Escalations resume: every incident pages alice, then bob.
	settled := func() bool {
		var left, open int
		err := pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM river_job WHERE kind IN ('escalate', 'notify') AND state NOT IN ('completed', 'cancelled', 'discarded')),
			(SELECT count(*) FROM incidents WHERE NOT escalation_done)`).Scan(&left, &open)
		return err == nil && left == 0 && open == 0
	}
	if !waitFor(settleWithin, settled) {
		srv.alive()
		t.Fatalf("escalations did not finish within %s after the load", settleWithin)
	}
	srv.alive()
	counts := countPages(pages(sl))
	firstPage := map[pageKey]time.Time{}
	for _, p := range pages(sl) {
		k := pageKey{p.incident, p.user}
		if _, ok := firstPage[k]; !ok {
			firstPage[k] = p.at
		}
	}
	var lost, dup int
	var late, lateSteady []time.Duration
	var lateID, slowSteady int64
	for id, at := range created {
		for _, u := range []string{"alice", "bob"} {
			c := counts[pageKey{id, slackID(u)}]
			if c == 0 {
				lost++
				if lost <= 5 {
					t.Errorf("incident %d: %s never paged", id, u)
				}
			}
			if c > 2 {
				t.Errorf("incident %d: %s paged %d times", id, u, c)
			}
			dup += max(c-1, 0)
		}
		// How late bob's step was: due outageStep after the incident
		// opened, or when the database came back if it was down then.
		bob, ok := firstPage[pageKey{id, slackID("bob")}]
		if !ok {
			continue
		}
		due := at.Add(outageStep)
		if due.After(stoppedAt) && due.Before(startedAt) {
			due = startedAt
		}
		l := bob.Sub(due)
		late = append(late, l)
		if l > maxLate {
			lateID = id
		}
		// Steady again: opened once the backlog of the outage (the
		// sender's retries, the timers that fell due) has had 6 s.
		if at.After(startedAt.Add(steadyAfter)) {
			lateSteady = append(lateSteady, l)
			if l > 3*time.Second {
				slowSteady = id
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d pages lost", lost, 2*len(created))
	}
	// No job's outcome was lost with the database: River's rescuer, which
	// would retry it 20 to 50 s later, found nothing to do.
	var rescued int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE errors::text LIKE '%Stuck job rescued%'`).Scan(&rescued); err != nil {
		t.Fatal(err)
	}
	if rescued > 0 {
		t.Errorf("%d jobs were left running through the outage and rescued by River", rescued)
	}
	// Escalations resume: timers that fell due in the outage fire when it
	// ends, within the time the backlog takes. How late the steady ones
	// are is reported, not judged: on a shared 2-core machine it measures
	// the machine (and the fake Slack in this process) as much as the
	// server.
	if m := pct(late, 1); m > maxLate {
		t.Errorf("a step 2 page was %.1f s late, want under %s", m.Seconds(), maxLate)
		explainIncident(t, pool, lateID, start)
	}
	if slowSteady != 0 {
		t.Logf("a step 2 page more than 3 s late after the backlog; its jobs (times from the start of the load; stopped +%.2f, started +%.2f):",
			stoppedAt.Sub(start).Seconds(), startedAt.Sub(start).Seconds())
		explainIncident(t, pool, slowSteady, start)
	}
	t.Logf("database down %.1f s; /readyz ready %.2f s after it returned; %d alerts, %d answers (%d × 202, %d × 503, %d × 503 during the outage, %d other), slowest answer %.2f s; the outage's alerts all accepted %.1f s after the database returned",
		startedAt.Sub(stoppedAt).Seconds(), recovery.Seconds(), len(snd.accepted)+len(snd.gaveUp), len(snd.answers), n202, n503, nOutage503, other,
		slowest.Seconds(), retriesLanded.Seconds())
	t.Logf("%d incidents, %d pages due, %d lost, %d duplicated; step 2 lateness p50 %.2f s, p99 %.2f s, max %.2f s; of incidents opened 6 s after the database returned: p50 %.2f s, p99 %.2f s",
		len(created), 2*len(created), lost, dup, pct(late, 0.5).Seconds(), pct(late, 0.99).Seconds(), pct(late, 1).Seconds(),
		pct(lateSteady, 0.5).Seconds(), pct(lateSteady, 0.99).Seconds())
}

// explainIncident logs the River jobs of an incident, times relative to start.
func explainIncident(t *testing.T, pool *pgxpool.Pool, id int64, start time.Time) {
	rows, err := pool.Query(context.Background(), `SELECT id, kind, state::text, attempt, created_at, scheduled_at, attempted_at, finalized_at FROM river_job
		WHERE args->>'incident_id' = $1 OR (kind = 'notify' AND (args->>'notification_id')::bigint IN (SELECT id FROM notifications WHERE incident_id = $2))
		ORDER BY id`, strconv.FormatInt(id, 10), id)
	if err != nil {
		t.Log(err)
		return
	}
	defer rows.Close()
	rel := func(at *time.Time) string {
		if at == nil {
			return "-"
		}
		return fmt.Sprintf("+%.2f", at.Sub(start).Seconds())
	}
	for rows.Next() {
		var jid int64
		var kind, st string
		var attempt int
		var c, sch time.Time
		var a, f *time.Time
		if err := rows.Scan(&jid, &kind, &st, &attempt, &c, &sch, &a, &f); err != nil {
			t.Log(err)
			return
		}
		t.Logf("incident %d: job %d %s %s attempt %d created %s scheduled %s attempted %s finalized %s", id, jid, kind, st, attempt, rel(&c), rel(&sch), rel(a), rel(f))
	}
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
