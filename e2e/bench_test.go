package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/store/storetest"
)

// The benchmarks here measure real `oncall serve` processes from outside,
// as the e2e tests judge them: figures of issue #7 that an in-process
// benchmark (cmd/oncall/bench_test.go) cannot give, because they need the
// process itself (its RSS), its Socket Mode connection as Slack sees it, or
// two of them. Each takes benchRuns measurements per iteration and reports
// their median; scripts/bench.sh prints them against their targets.
//
//	go test -run '^$' -bench 'SocketAck|Memory|ScaleOut' -benchtime 1x ./e2e/

// benchRuns is how many measurements each benchmark takes; the median is
// reported, because the machine is shared and single runs are noisy.
var benchRuns = envInt("ONCALL_BENCH_RUNS", 3)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// benchStart skips under -short (no binary is built then).
func benchStart(b *testing.B) {
	b.Helper()
	if testing.Short() || binary == "" {
		b.Skip("e2e benchmarks need the oncall binary; not built with -short")
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchPost posts one generic alert and reports whether it was accepted,
// with the incident id of the answer.
func benchPost(client *http.Client, base, key, dedup string) (int64, bool, error) {
	body := `{"summary":"bench ` + dedup + `","severity":"critical","dedup_key":"` + dedup + `"}`
	resp, err := client.Post(base+"/v1/alerts/"+key, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return 0, false, nil
	}
	var v struct {
		IncidentID int64 `json:"incident_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, true, fmt.Errorf("decode 202: %w", err)
	}
	return v.IncidentID, true, nil
}

// ---- Socket Mode acks under paging load

// ackConfig pages alice at once for every alert (she has no other rule),
// and gives /oncall who a few schedules to resolve.
const ackConfig = `
kind: User
name: alice
email: alice@example.com
slack_id: U0ALICE
notification_rules:
  - {after: 0s, notify: [slack]}
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
name: ops
members: [alice, bob, carol]
admins: [alice]
---
kind: Schedule
name: ops-primary
team: ops
time_zone: Europe/Berlin
layers:
  - {name: week, members: [alice, bob, carol], start: "2026-01-05T09:00", shift: 1w}
  - name: nights
    members: [bob, carol]
    start: "2026-01-05T18:00"
    shift: 1d
    restrict: [{from: "18:00", to: "08:00"}]
---
kind: Schedule
name: ops-secondary
team: ops
time_zone: America/New_York
layers:
  - {name: day, members: [carol, alice, bob], start: "2026-01-05T09:00", shift: 1d}
---
kind: EscalationPolicy
name: ops
team: ops
steps:
  - targets: [{user: alice}]
    escalate_after: 30m
---
kind: Service
name: ops-api
team: ops
escalation_policy: ops
integrations:
  - {name: hook, type: generic}
`

const (
	ackAlertRate    = 30 // alerts per second, each a new incident paging alice
	ackEnvelopeRate = 20 // envelopes per second
	ackWindow       = 10 * time.Second
)

// BenchmarkSocketAck measures, while the server pages at ackAlertRate, the
// time from the fake Slack writing each envelope on the WebSocket to the
// ack arriving back: slash commands (/oncall who, /oncall incidents) and
// Acknowledge clicks on the pages, ackEnvelopeRate a second. Slack shows
// the user an error when the ack takes over 3 s; the target is 50 ms.
func BenchmarkSocketAck(b *testing.B) {
	benchStart(b)
	sl := slacktest.New(b)
	for _, n := range []string{"alice", "bob", "carol"} {
		sl.AddUser(slackID(n), n+"@example.com", n, "UTC")
	}
	vars := slackEnv(sl, sl.APIURL())
	pool := storetest.New(b)
	vars["DATABASE_URL"] = storetest.URL(pool)
	vars["ONCALL_CONFIG"] = writeConfig(b, ackConfig)
	srv := startServer(b, "serve", vars)
	key := srv.key("hook")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sl.WaitConnected(ctx, 1); err != nil {
		b.Fatal(err)
	}

	var p50s, p99s, maxes []float64
	var envelopes, pagesSeen int
	run := 0
	for b.Loop() {
		for range benchRuns {
			run++
			lat, pages := ackRun(b, sl, srv, key, run)
			srv.alive()
			envelopes += len(lat)
			pagesSeen += pages
			p50s = append(p50s, msf(percentile(lat, 0.50)))
			p99s = append(p99s, msf(percentile(lat, 0.99)))
			maxes = append(maxes, msf(percentile(lat, 1)))
			b.Logf("run %d: %d envelopes acked, p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d pages sent meanwhile",
				run, len(lat), p50s[len(p50s)-1], p99s[len(p99s)-1], maxes[len(maxes)-1], pages)
		}
	}
	b.ReportMetric(median(p50s), "p50-ms")
	b.ReportMetric(median(p99s), "p99-ms")
	b.ReportMetric(median(maxes), "max-ms")
	b.ReportMetric(float64(envelopes)/float64(run), "envelopes/run")
	b.ReportMetric(float64(pagesSeen)/float64(run), "pages/run")
}

// ackRun is one window of load: alerts at ackAlertRate and envelopes at
// ackEnvelopeRate. It returns the envelopes' ack latencies and the number of
// pages the fake received in the window.
func ackRun(b *testing.B, sl *slacktest.Server, srv *server, key string, run int) ([]time.Duration, int) {
	cpu0 := sampleCPU([]*server{srv})
	start := time.Now()
	pagesBefore := len(pages(sl))
	answersBefore := len(sl.Calls("response_url"))
	updatesBefore := len(sl.Calls("chat.update"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Alerts: one goroutine per alert, so a slow answer never lowers the rate.
	var alertErrs atomic.Int64
	wg.Go(func() {
		client := &http.Client{Timeout: 10 * time.Second}
		tick := time.NewTicker(time.Second / ackAlertRate)
		defer tick.Stop()
		var posts sync.WaitGroup
		defer posts.Wait()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			posts.Go(func() {
				if _, ok, err := benchPost(client, srv.url, key, fmt.Sprintf("ack-%d-%d", run, i)); err != nil || !ok {
					alertErrs.Add(1)
				}
			})
		}
	})
	// How late this process's own goroutines wake: the fake Slack timing
	// the acks lives here, so a stall of the machine (it is shared) shows
	// in the acks whether or not the bot was slow.
	var stall atomic.Int64
	wg.Go(func() {
		for {
			t0 := time.Now()
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if late := int64(time.Since(t0) - 5*time.Millisecond); late > stall.Load() {
				stall.Store(late)
			}
		}
	})
	// The latest page to alice, for the clicks: refreshed twice a second so
	// the fake's call log is not copied for every click.
	var lastPage atomic.Pointer[pageRef]
	wg.Go(func() {
		for {
			if p, ok := latestPage(sl); ok {
				lastPage.Store(&p)
			}
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	})
	// Envelopes.
	var ids []string
	tick := time.NewTicker(time.Second / ackEnvelopeRate)
	for i := 0; time.Since(start) < ackWindow; i++ {
		<-tick.C
		switch p := lastPage.Load(); {
		case i%3 == 0:
			ids = append(ids, sl.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "who", UserID: "U0BOB"}))
		case i%3 == 1:
			ids = append(ids, sl.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "incidents", UserID: "U0ALICE"}))
		case p != nil:
			ids = append(ids, sl.SendBlockAction(slacktest.BlockAction{UserID: "U0ALICE", ActionID: slackch.ActionAck,
				Value: strconv.FormatInt(p.incident, 10), Text: "Acknowledge", ChannelID: "DU0ALICE", MessageTS: p.ts}))
		}
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("run %d: %s; load average %s; this process's timers woke up to %.1f ms late",
		run, cpuUse(cpu0, sampleCPU([]*server{srv})), strings.Join(strings.Fields(string(load))[:3], " "), msf(time.Duration(stall.Load())))
	if n := alertErrs.Load(); n > 0 {
		b.Errorf("run %d: %d alerts not accepted", run, n)
	}
	// Every envelope is acked (or times out after the fake's 3 s).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lat []time.Duration
	for _, id := range ids {
		e, err := sl.WaitForEnvelope(ctx, id, func(e slacktest.Envelope) bool { return e.Ack != nil || e.TimedOut })
		if err != nil || e.Ack == nil {
			b.Errorf("run %d: envelope %s not acked: %v", run, id, err)
			continue
		}
		lat = append(lat, e.Ack.Latency)
	}
	// The work behind the acks was done, not only the acks: commands are
	// answered on their response_url, clicks update the page.
	b.Logf("run %d: %d envelopes sent; meanwhile %d command answers and %d message updates",
		run, len(ids), len(sl.Calls("response_url"))-answersBefore, len(sl.Calls("chat.update"))-updatesBefore)
	return lat, len(pages(sl)) - pagesBefore
}

type pageRef struct {
	incident int64
	ts       string
}

// latestPage is the newest page DM'd to alice.
func latestPage(sl *slacktest.Server) (pageRef, bool) {
	calls := sl.Calls("chat.postMessage")
	for i := len(calls) - 1; i >= 0; i-- {
		c := calls[i]
		if !c.OK() || c.Params.Get("channel") != "U0ALICE" || c.Params.Get("thread_ts") != "" {
			continue
		}
		m := blockIncident.FindStringSubmatch(c.Params.Get("blocks"))
		if m == nil {
			continue
		}
		var resp struct {
			TS string `json:"ts"`
		}
		if json.Unmarshal(c.Response, &resp) != nil || resp.TS == "" {
			continue
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		return pageRef{incident: id, ts: resp.TS}, true
	}
	return pageRef{}, false
}

// ---- scale-out

// scaleConfig pages alice in Slack for every new incident, then escalates
// half an hour later (never, within the benchmark).
const scaleConfig = `
kind: User
name: alice
email: alice@example.com
slack_id: U0ALICE
notification_rules:
  - {after: 0s, notify: [slack]}
---
kind: Team
name: ops
members: [alice]
admins: [alice]
---
kind: EscalationPolicy
name: ops
team: ops
steps:
  - targets: [{user: alice}]
    escalate_after: 30m
---
kind: Service
name: ops-api
team: ops
escalation_policy: ops
integrations:
  - {name: hook, type: generic}
`

const (
	scaleSenders = 32
	scaleWindow  = 5 * time.Second
)

// BenchmarkScaleOut is BenchmarkIngest's workload (32 senders, half new
// dedup keys that page, half repeats) against one `oncall serve` process,
// then against two sharing the database, the senders split between them.
// It reports the median of each throughput and of their ratio within each
// pair of windows, and the CPU each party used per alert, which says what
// limits it. Between windows the paging backlog is drained, so each window
// starts from idle workers.
func BenchmarkScaleOut(b *testing.B) {
	benchStart(b)
	sl := slacktest.New(b)
	sl.AddUser("U0ALICE", "alice@example.com", "alice", "UTC")
	vars := slackEnv(sl, sl.APIURL())
	pool := storetest.New(b)
	vars["DATABASE_URL"] = storetest.URL(pool)
	// ONCALL_BENCH_POOL_MAX_CONNS sets each process's pool (20 by default),
	// to see whether one process is held back by its connections.
	if n := envInt("ONCALL_BENCH_POOL_MAX_CONNS", 0); n > 0 {
		vars["DATABASE_URL"] += fmt.Sprintf(" pool_max_conns=%d", n)
	}
	vars["ONCALL_CONFIG"] = writeConfig(b, scaleConfig)

	var one, two, ratio, p99one, p99two, pgMS, oncallMS, busy []float64
	round := 0
	for b.Loop() {
		a := startServer(b, "serve-a", vars)
		key := a.key("hook")
		vb := withDefaults(vars, nil)
		delete(vb, "ONCALL_CONFIG") // applied by the first; the second starts as a replica would
		// A window unmeasured, then the statistics autovacuum would have
		// gathered by then: fresh tables' prepared statements keep the
		// sequential scans planned while the tables were empty.
		round++
		scaleRun(b, pool, []*server{a}, key, round)
		if _, err := pool.Exec(context.Background(), `ANALYZE`); err != nil {
			b.Fatal(err)
		}
		// One and two processes take turns, window by window, so that a
		// change of the machine's load (it is shared) falls on both alike;
		// the ratio is taken within each pair.
		for range benchRuns {
			round++
			rate1, p99, use := scaleRun(b, pool, []*server{a}, key, round)
			one, p99one = append(one, rate1), append(p99one, p99)
			pgMS, oncallMS, busy = append(pgMS, use.pgMSPerAlert), append(oncallMS, use.oncallMSPerAlert), append(busy, use.busy)
			b.Logf("one process, run %d: %.0f alerts/s, 202 p99 %.1f ms", round, rate1, p99)
			bsrv := startServer(b, fmt.Sprintf("serve-b%d", round), vb)
			rate2, p99, use := scaleRun(b, pool, []*server{a, bsrv}, key, round)
			two, p99two = append(two, rate2), append(p99two, p99)
			ratio = append(ratio, rate2/rate1)
			pgMS, oncallMS, busy = append(pgMS, use.pgMSPerAlert), append(oncallMS, use.oncallMSPerAlert), append(busy, use.busy)
			b.Logf("two processes, run %d: %.0f alerts/s, 202 p99 %.1f ms (%.2f x one)", round, rate2, p99, rate2/rate1)
			_ = bsrv.cmd.Process.Signal(syscall.SIGTERM)
			<-bsrv.done
		}
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		<-a.done
	}
	b.ReportMetric(median(one), "one-alerts/s")
	b.ReportMetric(median(two), "two-alerts/s")
	b.ReportMetric(median(ratio), "ratio")
	b.ReportMetric(median(p99one), "one-p99-ms")
	b.ReportMetric(median(p99two), "two-p99-ms")
	// What limits it: CPU per accepted alert, and how busy the machine was.
	b.ReportMetric(median(pgMS), "pg-cpu-ms/alert")
	b.ReportMetric(median(oncallMS), "oncall-cpu-ms/alert")
	b.ReportMetric(median(busy), "busy-cores")
	b.ReportMetric(float64(cores()), "cores")
}

// scaleUse is the CPU a scale-out window used.
type scaleUse struct {
	pgMSPerAlert, oncallMSPerAlert float64 // CPU milliseconds per accepted alert
	busy                           float64 // cores busy on the machine, on average
}

// scaleRun sends for scaleWindow from scaleSenders senders spread over
// servers, then waits for the pages queued to be sent. It returns the
// accepted alerts per second and the p99 of the 202s.
func scaleRun(b *testing.B, pool *pgxpool.Pool, servers []*server, key string, round int) (float64, float64, scaleUse) {
	var accepted atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	cpu0 := sampleCPU(servers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range scaleSenders {
		srv := servers[w%len(servers)]
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
			defer client.CloseIdleConnections()
			var mine []time.Duration
			for i := 0; time.Since(start) < scaleWindow; i++ {
				dedup := fmt.Sprintf("scale-%d-%d-%d", round, w, i)
				if i%2 == 1 {
					dedup = fmt.Sprintf("scale-%d-%d-%d", round, w, i-1) // a sender's retry
				}
				t0 := time.Now()
				_, ok, err := benchPost(client, srv.url, key, dedup)
				if err != nil {
					b.Error(err)
					return
				}
				if ok {
					accepted.Add(1)
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1 := sampleCPU(servers)
	b.Logf("run %d: %s", round, cpuUse(cpu0, cpu1))
	for _, s := range servers {
		s.alive()
	}
	drain(b, pool)
	n := float64(max(accepted.Load(), 1))
	use := scaleUse{pgMSPerAlert: (cpu1.pg - cpu0.pg) * 1000 / n, oncallMSPerAlert: (cpu1.oncall - cpu0.oncall) * 1000 / n,
		busy: (cpu1.machine - cpu0.machine) / cpu1.at.Sub(cpu0.at).Seconds()}
	return float64(accepted.Load()) / elapsed.Seconds(), msf(percentile(lat, 0.99)), use
}

// drain waits until River has nothing left to do now (jobs scheduled for
// later, such as the next escalation, stay).
func drain(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	ok := waitFor(120*time.Second, func() bool {
		var n int
		err := pool.QueryRow(context.Background(),
			`SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable')
			    OR (state = 'scheduled' AND scheduled_at < now())`).Scan(&n)
		return err == nil && n == 0
	})
	if !ok {
		b.Fatal("the paging backlog did not drain within 2 minutes")
	}
}

// ---- memory

// memory figures of one process, from /proc/<pid>/status.
type memFigures struct {
	rssMB, hwmMB float64
}

func readMem(pid int) (memFigures, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memFigures{}, fmt.Errorf("read process status: %w", err)
	}
	defer f.Close()
	var m memFigures
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			m.rssMB = kb / 1024
		case "VmHWM:":
			m.hwmMB = kb / 1024
		}
	}
	return m, sc.Err()
}

// ---- where the CPU went

// clockTicks is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuSample is the CPU time used so far, in seconds: by the whole machine
// (busy, of all cores), by the oncall processes, by PostgreSQL's processes
// and by this test process (the senders and the fake Slack).
type cpuSample struct {
	at                         time.Time
	machine, oncall, pg, bench float64
}

func sampleCPU(servers []*server) cpuSample {
	s := cpuSample{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i := 1; i < len(f); i++ {
			if i == 4 || i == 5 { // idle, iowait
				continue
			}
			v, _ := strconv.ParseFloat(f[i], 64)
			s.machine += v / clockTicks
		}
	}
	for _, srv := range servers {
		s.oncall += procCPU(srv.cmd.Process.Pid)
	}
	s.bench = procCPU(os.Getpid())
	if dirs, err := os.ReadDir("/proc"); err == nil {
		for _, d := range dirs {
			pid, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
				s.pg += procCPU(pid)
			}
		}
	}
	return s
}

// procCPU is the user and system time of a process, in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from its closing ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks
}

// cores is the number of CPUs the machine has online.
func cores() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 1
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "cpu") && len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	return max(n, 1)
}

// cpuUse describes the CPU used between two samples, in cores.
func cpuUse(a, z cpuSample) string {
	d := z.at.Sub(a.at).Seconds()
	return fmt.Sprintf("machine %.2f of %d cores busy (oncall %.2f, postgres %.2f, senders+fake Slack %.2f, others %.2f)",
		(z.machine-a.machine)/d, cores(), (z.oncall-a.oncall)/d, (z.pg-a.pg)/d, (z.bench-a.bench)/d,
		((z.machine-a.machine)-(z.oncall-a.oncall)-(z.pg-a.pg)-(z.bench-a.bench))/d)
}
