package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/oncall/oncall/jobs"
)

// The benchmarks here run the whole server (HTTP, engine, River, the fake
// Slack) in-process on one machine with Postgres, and report figures as
// custom metrics; scripts/bench.sh prints them against their targets.

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkAlertToPage sends alerts at 20 per second and measures from the
// start of each POST to the fake Slack receiving its page.
func BenchmarkAlertToPage(b *testing.B) {
	s := startStack(b)
	const rate, count = 20, 200
	var lat []time.Duration
	run := 0
	for b.Loop() {
		run++
		starts := map[int64]time.Time{}
		tick := time.NewTicker(time.Second / rate)
		for i := range count {
			<-tick.C
			body := fmt.Sprintf(`{"summary":"latency %d","dedup_key":"lat-%d-%d","severity":"critical"}`, i, run, i)
			t0 := time.Now()
			code, resp := s.post("/v1/alerts/"+s.keys["hook"], []byte(body))
			if code != http.StatusAccepted {
				b.Fatalf("alert: %d %s", code, resp)
			}
			starts[incidentID(b, resp)] = t0
		}
		tick.Stop()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := pageTimes(s, starts)
			if len(got) == len(starts) || time.Now().After(deadline) {
				for id, at := range got {
					lat = append(lat, at.Sub(starts[id]))
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(float64(len(lat)), "pages")
}

func incidentID(b testing.TB, resp string) int64 {
	i := strings.Index(resp, `"incident_id":`)
	if i < 0 {
		b.Fatalf("no incident id in %s", resp)
	}
	rest := resp[i+len(`"incident_id":`):]
	j := strings.IndexAny(rest, ",}")
	id, err := strconv.ParseInt(strings.TrimSpace(rest[:j]), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// pageTimes is when the fake Slack received alice's first page of each
// incident (its own page, or a bundle that lists it).
func pageTimes(s *stack, ids map[int64]time.Time) map[int64]time.Time {
	return pagesIn(s, "U0ALICE", ids)
}

// BenchmarkIngest posts alerts from 32 concurrent senders for 3 s, half of
// them repeats of an open dedup key, and reports accepted alerts per
// second and the p99 of the 202's latency. Every new incident pages (a
// Slack DM, the team channel, a later email and an escalation timer).
func BenchmarkIngest(b *testing.B) { benchIngest(b, "warning") }

// BenchmarkIngestRecordOnly is BenchmarkIngest with alerts that a
// `page: false` rule records without paging: the ingestion path alone.
func BenchmarkIngestRecordOnly(b *testing.B) { benchIngest(b, "info") }

func benchIngest(b *testing.B, severity string, opts ...stackOption) {
	s := startStack(b, opts...)
	warmUp(b, s, severity)
	const senders, window = 32, 3 * time.Second
	var accepted atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var elapsed time.Duration
	for b.Loop() {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range senders {
			wg.Go(func() {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
				var mine []time.Duration
				for i := 0; time.Since(start) < window; i++ {
					key := fmt.Sprintf("ingest-%d-%d", w, i)
					if i%2 == 1 {
						key = fmt.Sprintf("ingest-%d-%d", w, i-1) // a sender's retry
					}
					body := `{"summary":"load","severity":"` + severity + `","dedup_key":"` + key + `"}`
					t0 := time.Now()
					resp, err := client.Post(s.url+"/v1/alerts/"+s.keys["hook"], "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
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
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(accepted.Load())/elapsed.Seconds(), "alerts/s")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
}

// BenchmarkTimerLateness schedules 10,000 escalation timers over the next
// 1 to 6 seconds and measures how late each one starts. Their incidents do
// not exist, so each timer finds nothing to do, as most timers do (their
// incident was acknowledged in time): what is measured is the timer alone,
// at 2,000 timers a second. BenchmarkTimerLatenessPaging has timers that
// page.
func BenchmarkTimerLateness(b *testing.B) {
	s := startStack(b)
	ctx := context.Background()
	const timers = 10_000
	inserter, err := jobs.NewRiver(s.pool, nil, slog.New(slog.DiscardHandler), s.clock)
	if err != nil {
		b.Fatal(err)
	}
	var late []time.Duration
	for b.Loop() {
		now := s.clock.Now()
		params := make([]river.InsertManyParams, timers)
		for i := range params {
			at := now.Add(time.Second + time.Duration(i)*5*time.Second/timers)
			// These incidents do not exist: the worker finds nothing to
			// do, so what is measured is the timer alone.
			params[i] = river.InsertManyParams{Args: jobs.EscalateArgs{IncidentID: -int64(i + 1)},
				InsertOpts: &river.InsertOpts{Queue: jobs.QueuePage, ScheduledAt: at}}
		}
		if _, err := inserter.InsertMany(ctx, params); err != nil {
			b.Fatal(err)
		}
		waitJobs(b, s, `kind = 'escalate' AND state <> 'completed'`)
		late = append(late, lateness(b, s, `kind = 'escalate'`)...)
		if _, err := s.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'escalate'`); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(ms(percentile(late, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(late, 0.99)), "p99-ms")
	b.ReportMetric(float64(len(late)), "timers")
}

// BenchmarkTimerLatenessPaging opens 10,000 incidents whose first step
// paged and whose second step's timer is pending, then brings 3,000 of those
// timers forward to fire over the next 1 to 31 seconds (100 a second, each
// paging bob: a notification, a Slack DM, an update of the incident's
// message) while the other 7,000 stay pending, and measures how late each
// of the 3,000 starts.
func BenchmarkTimerLatenessPaging(b *testing.B) {
	s := startStack(b)
	ctx := context.Background()
	const pending, timers, spread = 10_000, 3_000, 30 * time.Second
	var late []time.Duration
	run := 0
	for b.Loop() {
		run++
		postAlerts(b, s, 32, pending, func(i int64) string {
			return fmt.Sprintf(`{"summary":"pending %d","severity":"critical","dedup_key":"pending-%d-%d"}`, i, run, i)
		})
		if b.Failed() {
			return
		}
		// The first steps' pages go out before the timers are measured.
		waitJobs(b, s, `kind = 'notify' AND state IN ('available', 'running', 'retryable')`)
		now := s.clock.Now()
		tag, err := s.pool.Exec(ctx, `
			UPDATE river_job j SET scheduled_at = $1::timestamptz + make_interval(secs => o.n * $2::float8)
			FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM river_job
				WHERE kind = 'escalate' AND state = 'scheduled' AND (args->>'step')::int = 1) o
			WHERE j.id = o.id AND o.n <= $3`, now.Add(time.Second), spread.Seconds()/timers, timers)
		if err != nil {
			b.Fatal(err)
		}
		if tag.RowsAffected() != timers {
			b.Fatalf("%d second steps brought forward, want %d", tag.RowsAffected(), timers)
		}
		due := fmt.Sprintf(`kind = 'escalate' AND (args->>'step')::int = 1 AND scheduled_at < '%s'`,
			now.Add(time.Minute).UTC().Format(time.RFC3339Nano))
		waitJobs(b, s, due+` AND state <> 'completed'`)
		late = append(late, lateness(b, s, due)...)
		// The next run's incidents are new (their dedup keys name the run).
		if _, err := s.pool.Exec(ctx, `DELETE FROM river_job WHERE kind IN ('escalate', 'notify')`); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(ms(percentile(late, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(late, 0.99)), "p99-ms")
	b.ReportMetric(float64(len(late)), "timers")
}

// waitJobs waits up to two minutes until no River job matches where.
func waitJobs(b *testing.B, s *stack, where string) {
	b.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		var left int
		if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE `+where).Scan(&left); err != nil {
			b.Fatal(err)
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d jobs still %s", left, where)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// warmUp brings a fresh database to the state of one that has been running:
// a few hundred incidents paged, then the statistics autovacuum would have
// gathered by then (it analyzes a table once a tenth of it changed, and
// looks every minute). Without them the planner takes the new, empty tables
// as empty for good: a statement prepared then keeps a sequential scan
// (recording the send jobs of an alert's notifications scanned the whole
// table: a quarter of Postgres's time at 500 alerts/s).
func warmUp(b *testing.B, s *stack, severity string) {
	b.Helper()
	postAlerts(b, s, 16, 500, func(i int64) string {
		return fmt.Sprintf(`{"summary":"warm-up","severity":%q,"dedup_key":"warm-%d"}`, severity, i)
	})
	waitJobs(b, s, `state IN ('available', 'running', 'retryable') AND queue <> 'bulk'`)
	if _, err := s.pool.Exec(context.Background(), `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// postAlerts posts alerts 1 to total to the generic integration from
// senders concurrent clients, body(i) being alert i, and returns when all
// are answered; an alert not accepted fails b.
func postAlerts(b *testing.B, s *stack, senders int, total int64, body func(i int64) string) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			for i := next.Add(1); i <= total; i = next.Add(1) {
				resp, err := client.Post(s.url+"/v1/alerts/"+s.keys["hook"], "application/json", strings.NewReader(body(i)))
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("alert %d: %d", i, resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
}

// lateness is how late each River job matching where started.
func lateness(b *testing.B, s *stack, where string) []time.Duration {
	b.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT attempted_at - scheduled_at FROM river_job WHERE attempted_at IS NOT NULL AND `+where)
	if err != nil {
		b.Fatal(err)
	}
	late, err := pgx.CollectRows(rows, pgx.RowTo[time.Duration])
	if err != nil {
		b.Fatal(err)
	}
	return late
}
