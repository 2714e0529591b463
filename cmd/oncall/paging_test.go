package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/jobs"
	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// pagingConfig is a small company: alice is on call, bob is the second
// step, carol is on the team but nobody pages her directly.
const pagingConfig = `
kind: User
name: alice
email: alice@example.com
slack_id: U0ALICE
notification_rules:
  - {after: 0s, notify: [slack]}
  - {after: 2m, notify: [work]}
contact_methods:
  - {name: work, type: email, address: alice@example.com}
---
kind: User
name: bob
email: bob@example.com
---
kind: User
name: mallory
email: mallory@example.com
slack_id: U0MALLORY
---
kind: Team
name: payments
members: [alice, bob]
admins: [alice]
slack_channel: C0PAY
---
kind: Schedule
name: primary
team: payments
time_zone: Europe/Berlin
layers:
  - {name: all, members: [alice], start: "2026-01-05T09:00", shift: 1w}
---
kind: EscalationPolicy
name: payments
team: payments
repeat: 1
steps:
  - targets: [{schedule: primary}]
    escalate_after: 5m
  - targets: [{user: bob}]
    escalate_after: 10m
---
kind: Service
name: payments-api
team: payments
escalation_policy: payments
integrations:
  - {name: prom, type: alertmanager}
  - {name: pd, type: pagerduty}
  - {name: hook, type: generic}
---
kind: AlertRule
name: quiet-info
match: {severity: info}
page: false
`

// stack is `oncall serve` running in-process against a fresh database and
// a fake Slack, with a clock the test moves forward.
type stack struct {
	t      testing.TB
	engine *jobs.Engine
	url    string
	slack  *slacktest.Server
	pool   *pgxpool.Pool
	clock  *oncall.OffsetClock
	keys   map[string]string // integration name -> key
	out    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stackOption changes what startStack starts: the configuration applied
// at start (keep the integrations prom, pd and hook) or the environment
// (e.g. a provider's URL).
type stackOption func(config *string, vars map[string]string)

// withEnv adds or replaces environment variables of the server.
func withEnv(kv map[string]string) stackOption {
	return func(_ *string, vars map[string]string) {
		for k, v := range kv {
			vars[k] = v
		}
	}
}

// withConfig replaces pagingConfig.
func withConfig(yaml string) stackOption {
	return func(config *string, _ map[string]string) { *config = yaml }
}

func startStack(t testing.TB, opts ...stackOption) *stack {
	t.Helper()
	sl := slacktest.New(t)
	sl.AddUser("U0ALICE", "alice@example.com", "alice", "Europe/Berlin")
	sl.AddUser("U0BOB", "bob@example.com", "bob", "America/New_York")
	sl.AddUser("U0MALLORY", "mallory@example.com", "mallory", "UTC")
	sl.AddUser("U0STRANGER", "stranger@elsewhere.com", "stranger", "UTC")
	sl.AddChannel("C0PAY", "payments")

	dir := t.TempDir()
	pool := storetest.NewEmpty(t)
	vars := map[string]string{
		"DATABASE_URL":      storetest.URL(pool),
		"ONCALL_HTTP_ADDR":  "127.0.0.1:0",
		"ONCALL_PUBLIC_URL": "http://oncall.test",
		"ONCALL_CONFIG":     dir,
		"ONCALL_LOG_FORMAT": "json",
		"ONCALL_LOG_LEVEL":  "warn",
		"SLACK_APP_TOKEN":   sl.AppToken(),
		"SLACK_BOT_TOKEN":   sl.BotToken(),
		"SLACK_API_URL":     sl.APIURL(),
	}
	config := pagingConfig
	for _, o := range opts {
		o(&config, vars)
	}
	if err := os.WriteFile(filepath.Join(dir, "company.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] }, false)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, slack: sl, pool: pool, clock: &oncall.OffsetClock{}, out: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	e := &env{stdout: s.out, stderr: io.Discard, getenv: func(k string) string { return vars[k] }}
	go func() {
		done <- serve(ctx, e, cfg, serveOptions{migrate: true, clock: s.clock,
			listening: func(a string) { addr <- a }, engine: func(e *jobs.Engine) { s.engine = e }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	s.keys = map[string]string{}
	re := regexp.MustCompile(`(?m)^\s+(\S+) \((\w+), service [^)]*\): (?:routing_key (\S+),|http://oncall\.test/v1/alerts/(\S+))`)
	for _, m := range re.FindAllStringSubmatch(s.out.String(), -1) {
		s.keys[m[1]] = m[3] + m[4]
	}
	if len(s.keys) != 3 {
		t.Fatalf("keys printed at start: %v\n%s", s.keys, s.out.String())
	}
	if err := sl.WaitConnected(s.ctx(), 1); err != nil {
		t.Fatalf("bot did not connect: %v", err)
	}
	return s
}

func (s *stack) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	s.t.Cleanup(cancel)
	return ctx
}

func (s *stack) post(path string, body []byte, header ...string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sample is a captured request body from testdata/samples, as it arrived.
func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ JSON json.RawMessage }
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.JSON
}

// alert posts an Alertmanager payload and returns the incident id.
func (s *stack) alert(body []byte) int64 {
	s.t.Helper()
	code, resp := s.post("/v1/alerts/"+s.keys["prom"], body)
	if code != http.StatusAccepted {
		s.t.Fatalf("alert: %d %s", code, resp)
	}
	var r struct {
		IncidentID int64 `json:"incident_id"`
	}
	if err := json.Unmarshal([]byte(resp), &r); err != nil {
		s.t.Fatal(err)
	}
	return r.IncidentID
}

func (s *stack) incident(id int64) *store.Incident {
	s.t.Helper()
	in, err := store.IncidentGet(context.Background(), s.pool, id, store.LockNone)
	if err != nil {
		s.t.Fatal(err)
	}
	return in
}

// pageFor waits for the page of incident id in channel (a DM's channel is
// D + the user id in the fake).
func (s *stack) pageFor(channel string, id int64) slacktest.Message {
	s.t.Helper()
	m, err := s.slack.WaitForMessage(s.ctx(), channel, func(m slacktest.Message) bool {
		return strings.Contains(string(m.Blocks), slackch.BlockID(id))
	})
	if err != nil {
		s.t.Fatalf("no page for incident %d in %s: %v", id, channel, err)
	}
	return m
}

func (s *stack) click(user, action string, m slacktest.Message, id int64) {
	s.t.Helper()
	env := s.slack.SendBlockAction(slacktest.BlockAction{UserID: user, ActionID: action, Value: strconv.FormatInt(id, 10),
		ChannelID: m.Channel, MessageTS: m.TS})
	if _, err := s.slack.WaitForAck(s.ctx(), env); err != nil {
		s.t.Fatalf("click not acknowledged: %v", err)
	}
}

// advance moves the clock and lets the timer promoter and workers catch up.
func (s *stack) advance(d time.Duration) {
	s.clock.Advance(d)
	time.Sleep(3 * jobs.PromoteInterval)
}

func (s *stack) waitState(id int64, state string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s.incident(id).State == state {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("incident %d: state %s, want %s", id, s.incident(id).State, state)
}

// settle waits until the incident has no job left that is due now.
func (s *stack) settle() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable')
			OR (state = 'scheduled' AND scheduled_at <= $1)`, s.clock.Now()).Scan(&n)
		if err != nil {
			s.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatal("jobs did not settle")
}

func (s *stack) timeline(id int64) string {
	s.t.Helper()
	log, err := store.IncidentLog(context.Background(), s.pool, id, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range log {
		fmt.Fprintf(&b, "%s: %s\n", e.Event, e.Message)
	}
	return b.String()
}

func TestAlertmanagerPageAndAckOverSocketMode(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))

	page := s.pageFor("DU0ALICE", id)
	if !strings.Contains(string(page.Blocks), slackch.ActionAck) || !strings.Contains(page.Text, "Disk") {
		t.Fatalf("page: %s\n%s", page.Text, page.Blocks)
	}
	s.pageFor("C0PAY", id) // the team channel's copy

	s.click("U0ALICE", slackch.ActionAck, page, id)
	s.waitState(id, store.StateAcknowledged)
	if by := s.incident(id).AcknowledgedBy; by != "alice" {
		t.Fatalf("acknowledged by %q", by)
	}
	// The message is updated in place: no Acknowledge button, who acked,
	// and still why it went out.
	if _, err := s.slack.WaitForMessage(s.ctx(), page.Channel, func(m slacktest.Message) bool {
		return m.TS == page.TS && m.Updates > 0 && !strings.Contains(string(m.Blocks), slackch.ActionAck) &&
			strings.Contains(string(m.Blocks), "alice") && strings.Contains(string(m.Blocks), "step 1 of payments")
	}); err != nil {
		m, _ := s.slack.Message(page.Channel, page.TS)
		t.Fatalf("page not updated after the ack, keeping its reason: %v\n%s", err, m.Blocks)
	}

	// Nothing fires later: not alice's email rule, not bob's step.
	s.advance(30 * time.Minute)
	s.settle()
	if msgs := s.slack.Messages("DU0BOB"); len(msgs) != 0 {
		t.Fatalf("bob was paged after the ack: %+v", msgs)
	}
	ns, err := store.Notifications(context.Background(), s.pool, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Method == "email" && n.State != store.NotificationCancelled {
			t.Fatalf("alice's email rule is %s after the ack", n.State)
		}
	}
	tl := s.timeline(id)
	for _, want := range []string{"triggered by prom", "step 1 of payments: alice", "acknowledged by alice"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
}

func TestEscalationWhenNobodyAcks(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id)

	// alice's second rule (email, at 2m) is due, but email is off: the
	// attempt fails and is on the timeline.
	s.advance(2*time.Minute + time.Second)
	s.settle()
	if tl := s.timeline(id); !strings.Contains(tl, "notifying alice by email work (a•••@example.com) failed") {
		t.Fatalf("email attempt not on the timeline:\n%s", tl)
	}

	// Step 2 after 5 minutes: bob, found in Slack by his email.
	s.advance(3 * time.Minute)
	s.pageFor("DU0BOB", id)
	if got := s.incident(id).EscalationStep; got != 1 {
		t.Fatalf("escalation step %d, want 1", got)
	}

	// repeat: 1 — after bob's 10 minutes, alice again (round 2), then bob,
	// then the final notice in the team channel.
	s.advance(10 * time.Minute)
	s.settle()
	if n := len(s.slack.Messages("DU0ALICE")); n != 2 {
		t.Fatalf("alice has %d pages, want 2 (round 2)", n)
	}
	s.advance(5 * time.Minute)
	s.settle()
	s.advance(10 * time.Minute)
	s.settle()
	if _, err := s.slack.WaitForMessage(s.ctx(), "C0PAY", func(m slacktest.Message) bool {
		return strings.Contains(m.Text+string(m.Blocks), "final notice")
	}); err != nil {
		t.Fatalf("no final notice in the team channel: %v\n%s", err, s.timeline(id))
	}
	in := s.incident(id)
	if in.State != store.StateTriggered || !in.EscalationDone {
		t.Fatalf("after the policy: state %s, done %v", in.State, in.EscalationDone)
	}
	if n := len(s.slack.Messages("DU0BOB")); n != 2 {
		t.Fatalf("bob has %d pages, want 2", n)
	}
}

func TestResolveFromSourceAndDuplicates(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	firing := sample(t, "am-webhook-firing.json")
	id := s.alert(firing)
	page := s.pageFor("DU0ALICE", id)

	// The same payload again (Alertmanager resends every group_interval).
	if again := s.alert(firing); again != id {
		t.Fatalf("duplicate opened incident %d, want %d", again, id)
	}
	var logLen int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM incident_log WHERE incident_id = $1 AND event = 'alerts'`, id).Scan(&logLen); err != nil {
		t.Fatal(err)
	}
	if logLen != 0 {
		t.Fatalf("the duplicate changed the incident (%d alert entries)", logLen)
	}

	// One alert of the two resolved, the group still firing (as
	// Alertmanager sends it): the incident stays open.
	var body map[string]any
	if err := json.Unmarshal(firing, &body); err != nil {
		t.Fatal(err)
	}
	body["alerts"].([]any)[1].(map[string]any)["status"] = "resolved"
	partial, _ := json.Marshal(body)
	s.alert(partial)
	if st := s.incident(id).State; st != store.StateTriggered {
		t.Fatalf("one of two alerts resolved: state %s\n%s", st, s.timeline(id))
	}
	// The captured "resolved" payload: the group's last alert resolved.
	s.alert(sample(t, "am-webhook-resolved.json"))
	s.waitState(id, store.StateResolved)
	if _, err := s.slack.WaitForMessage(s.ctx(), page.Channel, func(m slacktest.Message) bool {
		return m.TS == page.TS && m.Updates > 0 && !strings.Contains(string(m.Blocks), slackch.ActionResolve)
	}); err != nil {
		t.Fatalf("page not updated after the resolve: %v", err)
	}
	s.advance(20 * time.Minute)
	s.settle()
	if msgs := s.slack.Messages("DU0BOB"); len(msgs) != 0 {
		t.Fatal("bob was paged after the resolve")
	}
	// Firing again after the resolve opens a new incident.
	if again := s.alert(firing); again == id || again == 0 {
		t.Fatalf("re-trigger after resolve: incident %d (old %d)", again, id)
	}
}

func TestButtonsRefuseStrangers(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	page := s.pageFor("DU0ALICE", id)
	s.click("U0STRANGER", slackch.ActionAck, page, id)
	deadline := time.Now().Add(10 * time.Second)
	for len(s.slack.Ephemerals(page.Channel)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if eph := s.slack.Ephemerals(page.Channel); len(eph) == 0 || !strings.Contains(eph[0].Text, "not a user of oncall") {
		t.Fatalf("stranger got no explanation: %+v", eph)
	}
	if st := s.incident(id).State; st != store.StateTriggered {
		t.Fatalf("a stranger changed the incident to %s", st)
	}
	// mallory is ours (by slack_id) though not on the team: she may act.
	s.click("U0MALLORY", slackch.ActionEscalate, page, id)
	s.pageFor("DU0BOB", id)
}

func TestPageFalseAndUnknownKeys(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	code, resp := s.post("/v1/alerts/"+s.keys["hook"], []byte(`{"summary":"fyi: nightly backup took long","severity":"info","dedup_key":"backup"}`))
	if code != http.StatusAccepted {
		t.Fatalf("generic: %d %s", code, resp)
	}
	var r struct {
		IncidentID int64 `json:"incident_id"`
	}
	_ = json.Unmarshal([]byte(resp), &r)
	in := s.incident(r.IncidentID)
	if in.Paging || in.RuleName != "quiet-info" {
		t.Fatalf("page: false rule not applied: %+v", in)
	}
	s.settle()
	if msgs := s.slack.Messages("DU0ALICE"); len(msgs) != 0 {
		t.Fatal("a page: false alert paged alice")
	}

	// Unknown keys: the same answer whatever the key.
	c1, b1 := s.post("/v1/alerts/nope", []byte(`{}`))
	c2, b2 := s.post("/v1/alerts/"+strings.Repeat("x", 43), []byte(`{}`))
	c3, b3 := s.post("/v1/alerts", []byte(`{}`), "Authorization", "Bearer wrong")
	if c1 != 404 || c1 != c2 || b1 != b2 || c3 != 404 || b3 != b1 {
		t.Fatalf("unknown keys: %d %s / %d %s / %d %s", c1, b1, c2, b2, c3, b3)
	}
	// The key as a Bearer token works like the path.
	if code, resp := s.post("/v1/alerts", []byte(`{"summary":"x","dedup_key":"y"}`), "Authorization", "Bearer "+s.keys["hook"]); code != 202 {
		t.Fatalf("bearer key: %d %s", code, resp)
	}
	// Bad input: 400 saying what is wrong; over 1 MiB: 413.
	if code, resp := s.post("/v1/alerts/"+s.keys["prom"], []byte(`{"version":"4","alerts":"no"}`)); code != 400 || !strings.Contains(resp, "alerts") {
		t.Fatalf("bad alertmanager body: %d %s", code, resp)
	}
	if code, _ := s.post("/v1/alerts/"+s.keys["prom"], bytes.Repeat([]byte("x"), 1<<20+1)); code != 413 {
		t.Fatalf("huge body: %d", code)
	}
	if code, resp := s.post("/v2/enqueue", []byte(`{"routing_key":"`+s.keys["pd"]+`","event_action":"trigger","payload":{"summary":"x","source":"y","severity":"bad"}}`)); code != 400 ||
		!strings.Contains(resp, `"status":"invalid event"`) {
		t.Fatalf("bad PD event: %d %s", code, resp)
	}
}

// TestAckRacesPage acks incidents while their first pages are going out:
// every page that reached Slack arrived before the ack returned (a send
// under way holds the incident's row, so the ack waits for it), and no
// page arrives after.
func TestAckRacesPage(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	const n = 20
	acked := make(map[int64]time.Time)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		body := fmt.Sprintf(`{"summary":"race %d","dedup_key":"race-%d","severity":"critical"}`, i, i)
		code, resp := s.post("/v1/alerts/"+s.keys["hook"], []byte(body))
		if code != http.StatusAccepted {
			t.Fatalf("alert: %d %s", code, resp)
		}
		var r struct {
			IncidentID int64 `json:"incident_id"`
		}
		_ = json.Unmarshal([]byte(resp), &r)
		wg.Add(1)
		go func(id int64, delay time.Duration) {
			defer wg.Done()
			time.Sleep(delay) // spread the acks over the window in which pages go out
			if _, err := s.engine.Ack(context.Background(), id, "alice"); err != nil {
				t.Errorf("ack %d: %v", id, err)
			}
			mu.Lock()
			acked[id] = time.Now()
			mu.Unlock()
		}(r.IncidentID, time.Duration(i%10)*3*time.Millisecond)
	}
	wg.Wait()
	s.advance(time.Hour)
	s.settle()
	sent := 0
	for _, c := range s.slack.Calls("chat.postMessage") {
		ch := c.Params.Get("channel")
		if ch != "U0ALICE" && ch != "DU0ALICE" || c.Params.Get("thread_ts") != "" || c.Status != http.StatusOK {
			continue // not a page to alice (timeline notes go in threads)
		}
		for id, at := range acked {
			if strings.Contains(c.Params.Get("blocks"), strconv.Quote(slackch.BlockID(id))) {
				sent++
				if c.Time.After(at) {
					t.Errorf("incident %d paged at %s, after its ack returned at %s", id, c.Time.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
				}
			}
		}
	}
	t.Logf("%d of %d incidents paged before their ack", sent, n)
}

// TestPagerDutyClientUnchanged drives the server with go-pagerduty itself,
// pointed at our /v2/enqueue: trigger pages, acknowledge and resolve by
// dedup_key act on the incident, a change event is recorded and pages
// nobody.
func TestPagerDutyClientUnchanged(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	ctx := s.ctx()
	client := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(s.url))
	resp, err := client.ManageEventWithContext(ctx, &pagerduty.V2Event{
		RoutingKey: s.keys["pd"], Action: "trigger", DedupKey: "db/primary",
		Payload: &pagerduty.V2Payload{Summary: "Primary DB unreachable", Source: "db1", Severity: "critical",
			Details: map[string]any{"region": "eu-west-1"}},
		Links: []any{map[string]string{"href": "https://grafana.example/d/db", "text": "dashboard"}},
	})
	if err != nil || resp.Status != "success" || resp.DedupKey != "db/primary" {
		t.Fatalf("trigger: %+v, %v", resp, err)
	}
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM incidents WHERE dedup_key = 'db/primary'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	page := s.pageFor("DU0ALICE", id)
	if !strings.Contains(string(page.Blocks), "grafana.example") {
		t.Errorf("the page lacks the event's link: %s", page.Blocks)
	}

	if _, err := client.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: s.keys["pd"], Action: "acknowledge", DedupKey: "db/primary"}); err != nil {
		t.Fatal(err)
	}
	s.waitState(id, store.StateAcknowledged)
	if _, err := client.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: s.keys["pd"], Action: "resolve", DedupKey: "db/primary"}); err != nil {
		t.Fatal(err)
	}
	s.waitState(id, store.StateResolved)

	// An unknown routing key is refused, and go-pagerduty reports it.
	if _, err := client.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: "nope", Action: "trigger",
		Payload: &pagerduty.V2Payload{Summary: "x", Source: "y", Severity: "info"}}); err == nil {
		t.Fatal("unknown routing key accepted")
	}

	cresp, err := client.CreateChangeEventWithContext(ctx, pagerduty.ChangeEvent{RoutingKey: s.keys["pd"],
		Payload: pagerduty.ChangeEventPayload{Summary: "deploy checkout v2.3.1", Source: "ci"}})
	if err != nil || cresp.Status != "success" {
		t.Fatalf("change event: %+v, %v", cresp, err)
	}
	var changes int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM change_events WHERE service_name = 'payments-api'`).Scan(&changes); err != nil || changes != 1 {
		t.Fatalf("change events recorded: %d, %v", changes, err)
	}
}

// TestSlackRateLimitIsHonoured: Slack answers the first page with 429 and
// Retry-After; the page goes out after the wait, and the timeline says so.
func TestSlackRateLimitIsHonoured(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.slack.FailNext("chat.postMessage", 2, http.StatusTooManyRequests, time.Second)
	start := time.Now()
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id)
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("paged %s after a 429 asking for 1 s", waited)
	}
	if tl := s.timeline(id); !strings.Contains(tl, "asked to wait 1s") {
		t.Errorf("the rate limit is not on the timeline:\n%s", tl)
	}
}

func TestReassign(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id)
	if _, err := s.engine.Ack(context.Background(), id, "alice"); err != nil {
		t.Fatal(err)
	}
	in, err := s.engine.Reassign(context.Background(), id, "bob", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if in.State != store.StateTriggered {
		t.Fatalf("state after reassign: %s", in.State)
	}
	s.pageFor("DU0BOB", id)
	if _, err := s.engine.Reassign(context.Background(), id, "nobody", "alice"); err == nil {
		t.Fatal("reassigned to a user who does not exist")
	}
	// Unanswered, the policy starts over (alice, step 1) after 5 minutes.
	s.advance(5*time.Minute + time.Second)
	s.settle()
	if n := len(s.slack.Messages("DU0ALICE")); n != 2 {
		t.Fatalf("alice has %d pages after the reassignment timed out, want 2\n%s", n, s.timeline(id))
	}
}
