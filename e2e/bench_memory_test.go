package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// The size of the company of BenchmarkMemory (issue #7).
const (
	memUsers     = 10_000
	memSchedules = 1_000 // one team of ten users each, three layers each
	memIncidents = 10_000
	memSettle    = 15 * time.Second
	memBurst     = 32 // calendar feeds fetched at once
)

// BenchmarkMemory seeds a database with memUsers users, memSchedules
// schedules of three layers (with an escalation policy and a service each)
// and memIncidents open incidents, starts `oncall serve` on it with the
// Slack bot connected, lets it settle (handoffs planned, user groups
// synced, workers idle), asks it what a day asks of it (/readyz, /metrics,
// a calendar feed, /oncall who, /oncall incidents), and reads the process's
// resident set (VmRSS) and its peak (VmHWM). The target is 200 MB. Then
// a burst, memBurst calendar feeds and memBurst/4 /oncall who at once, and
// the peak again: views that each loaded the whole configuration for
// themselves took this past 400 MB.
func BenchmarkMemory(b *testing.B) {
	benchStart(b)
	pool := storetest.New(b)
	seedStart := time.Now()
	seedCompany(b, pool)
	b.Logf("seeded %d users, %d schedules, %d open incidents in %s", memUsers, memSchedules, memIncidents, time.Since(seedStart).Round(time.Millisecond))
	sl := slacktest.New(b)
	sl.AddUser("U00000000", "u00000@example.com", "u00000", "UTC")
	vars := slackEnv(sl, sl.APIURL())
	vars["DATABASE_URL"] = storetest.URL(pool)
	feed := calendarFeed(b, pool)

	var rss, hwm, burstHWM, behind []float64
	run := 0
	for b.Loop() {
		for range benchRuns {
			run++
			srv := startServer(b, fmt.Sprintf("serve-%d", run), vars)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			if err := sl.WaitUntil(ctx, func() bool { return sl.Connections() == 1 }); err != nil {
				cancel()
				b.Fatal(err)
			}
			cancel()
			time.Sleep(memSettle)
			for _, path := range []string{"/readyz", "/metrics", feed} {
				get(b, srv.url+path)
			}
			for _, text := range []string{"who", "incidents", "who"} {
				slash(b, sl, text)
			}
			behind = append(behind, ackBehindModal(b, sl))
			time.Sleep(2 * time.Second)
			m, err := readMem(srv.cmd.Process.Pid)
			if err != nil {
				b.Fatal(err)
			}
			srv.alive()
			b.Logf("run %d: River jobs by kind and state: %s", run, jobSummary(b, pool))
			rss, hwm = append(rss, m.rssMB), append(hwm, m.hwmMB)
			b.Logf("run %d: VmRSS %.1f MB, VmHWM %.1f MB", run, m.rssMB, m.hwmMB)
			// A burst: calendar clients polling at the top of the hour while
			// people ask who is on call.
			t0 := time.Now()
			var wg sync.WaitGroup
			for range memBurst {
				wg.Go(func() { get(b, srv.url+feed) })
			}
			for range memBurst / 4 {
				wg.Go(func() { slash(b, sl, "who") })
			}
			wg.Wait()
			m, err = readMem(srv.cmd.Process.Pid)
			if err != nil {
				b.Fatal(err)
			}
			burstHWM = append(burstHWM, m.hwmMB)
			b.Logf("run %d: after %d feeds and %d /oncall who at once (%s): VmRSS %.1f MB, VmHWM %.1f MB",
				run, memBurst, memBurst/4, time.Since(t0).Round(time.Millisecond), m.rssMB, m.hwmMB)
			_ = srv.cmd.Process.Signal(syscall.SIGTERM)
			<-srv.done
		}
	}
	b.ReportMetric(median(rss), "rss-MB")
	b.ReportMetric(median(hwm), "hwm-MB")
	b.ReportMetric(median(burstHWM), "burst-hwm-MB")
	b.ReportMetric(median(behind), "ack-behind-modal-ms")
}

// get fetches url and fails the benchmark unless it answers 200.
func get(b *testing.B, url string) {
	b.Helper()
	t0 := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	b.Logf("GET %s: %d bytes in %s", url[strings.LastIndex(url, "/"):], n, time.Since(t0).Round(time.Millisecond))
}

// slash sends /oncall text as u00000 and waits for its answer on the
// response_url.
func slash(b *testing.B, sl *slacktest.Server, text string) {
	b.Helper()
	before := len(sl.Calls("response_url"))
	id := sl.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: text, UserID: "U00000000"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sl.WaitForAck(ctx, id); err != nil {
		b.Fatal(err)
	}
	if err := sl.WaitUntil(ctx, func() bool { return len(sl.Calls("response_url")) > before }); err != nil {
		b.Fatalf("/oncall %s: no answer: %v", text, err)
	}
	e, _ := sl.Envelope(id)
	b.Logf("/oncall %s: acked in %s, answered in %s", text, e.Ack.Latency.Round(time.Microsecond), time.Since(e.Deliveries[0].Time).Round(time.Millisecond))
}

// calendarFeed makes a calendar feed of the first schedule and returns its
// path.
func calendarFeed(b *testing.B, pool *pgxpool.Pool) string {
	b.Helper()
	ctx := context.Background()
	owner, err := store.CalendarOwnerByName(ctx, pool, "s0000", "")
	if err != nil {
		b.Fatal(err)
	}
	_, token, err := store.CalendarTokenCreate(ctx, pool, owner, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return "/v1/calendars/" + token + ".ics"
}

// seedCompany writes the company as manifests, applies them with `oncall
// apply` (the path a real company's configuration takes) and inserts the
// open incidents with SQL, without River jobs: they have escalated already.
func seedCompany(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	dir := b.TempDir()
	var m strings.Builder
	// One file per 500 objects: the manifest reader bounds the YAML nodes
	// of one file (200,000, against alias bombs), which a single file of a
	// company this size passes.
	files := 0
	flush := func() {
		files++
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("company-%03d.yaml", files)), []byte(m.String()), 0o600); err != nil {
			b.Fatal(err)
		}
		m.Reset()
	}
	for i := range memUsers {
		if i > 0 && i%500 == 0 {
			flush()
		}
		fmt.Fprintf(&m, "---\nkind: User\nname: u%05d\nemail: u%05d@example.com\nslack_id: U%08d\ntime_zone: Europe/Berlin\n", i, i, i)
		fmt.Fprintf(&m, "contact_methods:\n  - {name: cell, type: sms, address: \"+1415%07d\"}\n", i)
		m.WriteString("notification_rules:\n  - {after: 0s, notify: [slack, push]}\n  - {after: 2m, notify: [cell]}\n")
	}
	flush()
	for s := range memSchedules {
		if s > 0 && s%100 == 0 {
			flush()
		}
		members := make([]string, 10)
		for j := range members {
			members[j] = fmt.Sprintf("u%05d", (s*10+j)%memUsers)
		}
		list := strings.Join(members, ", ")
		fmt.Fprintf(&m, "---\nkind: Team\nname: t%04d\nmembers: [%s]\nadmins: [%s]\n", s, list, members[0])
		fmt.Fprintf(&m, `---
kind: Schedule
name: s%04d
team: t%04d
time_zone: America/New_York
layers:
  - {name: weekly, members: [%s], start: "2026-01-05T09:00", shift: 1w}
  - name: business
    members: [%s]
    start: "2026-01-05T09:00"
    shift: 1d
    restrict: [{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}]
  - name: nights
    members: [%s]
    start: "2026-01-05T21:00"
    shift: 12h
    time_zone: Europe/Berlin
overrides:
  - {user: %s, start: "2026-12-24T00:00", end: "2026-12-27T00:00"}
`, s, s, strings.Join(members[:5], ", "), strings.Join(members[5:], ", "), strings.Join(members[2:8], ", "), members[9])
		fmt.Fprintf(&m, `---
kind: EscalationPolicy
name: p%04d
team: t%04d
steps:
  - targets: [{schedule: s%04d}]
    escalate_after: 10m
  - targets: [{team: t%04d}]
---
kind: Service
name: svc%04d
team: t%04d
escalation_policy: p%04d
integrations:
  - {name: hook%04d, type: generic}
`, s, s, s, s, s, s, s, s)
	}
	flush()
	apply := exec.Command(binary, "apply", "-f", dir)
	apply.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + storetest.URL(pool), "ONCALL_LOG_FORMAT=json"}
	if out, err := apply.CombinedOutput(); err != nil {
		b.Fatalf("oncall apply: %v\n%s", err, tail(string(out), 20))
	}
	_, err := pool.Exec(context.Background(), `
		INSERT INTO incidents (integration_id, service_id, service_name, policy_name, dedup_key, state, summary,
		                       severity, urgency, paging, labels, escalation_step, escalation_done, created_at, updated_at)
		SELECT i.id, s.id, s.name, 'p' || substr(s.name, 4), 'mem-' || n, 'triggered',
		       'Disk almost full on db-' || n || '.example.com (' || (n % 97) || '% used)',
		       'critical', 'high', true, jsonb_build_object('host', 'db-' || n, 'env', 'prod', 'team', s.name),
		       0, true, now() - (n || ' seconds')::interval, now()
		FROM generate_series(1, $1::int) AS n
		JOIN services s ON s.name = 'svc' || lpad(((n - 1) % $2::int)::text, 4, '0')
		JOIN integrations i ON i.service_id = s.id`, memIncidents, memSchedules)
	if err != nil {
		b.Fatalf("insert incidents: %v", err)
	}
}

// jobSummary counts River's jobs by kind and state, to show what the
// server did while it settled.
func jobSummary(b *testing.B, pool *pgxpool.Pool) string {
	b.Helper()
	rows, err := pool.Query(context.Background(), `SELECT kind || '/' || state || '=' || count(*) FROM river_job GROUP BY kind, state ORDER BY 1`)
	if err != nil {
		b.Fatal(err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	return strings.Join(list, " ")
}

// ackBehindModal submits an override modal (validated before its ack,
// against the whole configuration) and 5 ms later sends /oncall help, and
// returns how long help's ack took: an envelope must not wait for another's
// validation.
func ackBehindModal(b *testing.B, sl *slacktest.Server) float64 {
	b.Helper()
	modal := sl.SendViewSubmission(slacktest.ViewSubmission{UserID: "U00000000", CallbackID: "override",
		PrivateMetadata: `{"zone":"UTC"}`, Values: map[string]map[string]slacktest.Value{
			"schedule": {"schedule": {Type: "plain_text_input", Value: "no-such-schedule"}},
			"who":      {"who": {Type: "plain_text_input", Value: "u00001"}},
			"from":     {"from": {Type: "plain_text_input", Value: "now"}},
			"until":    {"until": {Type: "plain_text_input", Value: "4h"}},
		}})
	time.Sleep(5 * time.Millisecond)
	help := sl.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "help", UserID: "U00000000"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := sl.WaitForAck(ctx, modal)
	if err != nil {
		b.Fatal(err)
	}
	h, err := sl.WaitForAck(ctx, help)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("override modal acked in %s (%s); /oncall help sent 5 ms after it acked in %s",
		m.Latency.Round(time.Millisecond), m.Payload, h.Latency.Round(time.Millisecond))
	return msf(h.Latency)
}
