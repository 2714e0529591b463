package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

var t0 = time.Date(2026, time.November, 2, 3, 0, 0, 0, time.UTC)

// heartbeatBundle is a database with a service "backups" (paging alice)
// that has a heartbeat monitor "nightly-backup" (timeout 1h) and an
// Alertmanager integration "backups-prom", and an engine over it whose River
// client is built but not started.
type heartbeatBundle struct {
	pool    *pgxpool.Pool
	engine  *jobs.Engine
	river   *river.Client[pgx.Tx]
	workers *river.Workers
	monitor store.Integration
	prom    store.Integration
}

func setupHeartbeat(t *testing.T, clock oncall.Clock) *heartbeatBundle {
	t.Helper()
	ctx := context.Background()
	pool := storetest.New(t)
	svc := storetest.Service("backups", "ops", "backups-prom")
	svc.Integrations = append(svc.Integrations, manifest.Integration{Name: "nightly-backup", Type: manifest.IntegrationHeartbeat, Timeout: time.Hour})
	set := storetest.NewSet(storetest.User("alice"), storetest.Policy("ops", storetest.UserTarget("alice")), svc)
	var plan *store.Plan
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		plan, err = store.ApplyConfig(ctx, tx, set, store.ApplyOptions{Now: t0, Actor: "test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &heartbeatBundle{pool: pool, workers: river.NewWorkers()}
	for _, k := range plan.NewKeys {
		integ, err := store.IntegrationByKey(ctx, pool, k.Key)
		if err != nil {
			t.Fatal(err)
		}
		if k.Integration == "nightly-backup" {
			b.monitor = integ
		} else {
			b.prom = integ
		}
	}
	b.engine = jobs.NewEngine(pool, clock, nil)
	b.engine.Workers(b.workers)
	b.engine.HeartbeatWorkers(b.workers)
	b.river, err = jobs.NewRiver(pool, b.workers, slog.New(slog.DiscardHandler), clock)
	if err != nil {
		t.Fatal(err)
	}
	b.engine.SetRiver(b.river)
	return b
}

func (b *heartbeatBundle) check(t *testing.T) int {
	t.Helper()
	n, err := b.engine.CheckHeartbeats(context.Background())
	if err != nil {
		t.Fatalf("CheckHeartbeats: %v", err)
	}
	return n
}

func (b *heartbeatBundle) beat(t *testing.T) jobs.Result {
	t.Helper()
	res, err := b.engine.Beat(context.Background(), b.monitor)
	if err != nil {
		t.Fatalf("Beat: %v", err)
	}
	return res
}

// incidents lists the heartbeat's incidents, oldest first.
func (b *heartbeatBundle) incidents(t *testing.T) []*store.Incident {
	t.Helper()
	ctx := context.Background()
	rows, err := b.pool.Query(ctx, `SELECT id FROM incidents WHERE integration_id = $1 ORDER BY id`, b.monitor.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.Incident
	for _, id := range ids {
		in, err := store.IncidentGet(ctx, b.pool, id, store.LockNone)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, in)
	}
	return out
}

func TestHeartbeatMissAndRecover(t *testing.T) {
	t.Parallel()
	clock := oncall.NewManualClock(t0)
	b := setupHeartbeat(t, clock)

	// Never beaten: inactive, however long we wait.
	clock.Advance(100 * time.Hour)
	if n := b.check(t); n != 0 {
		t.Fatalf("check before the first beat opened %d", n)
	}
	first := clock.Now()
	if res := b.beat(t); res.IncidentID != 0 || res.Changed {
		t.Fatalf("first beat = %+v", res)
	}

	// On time: nothing. Then one second late: one incident, once.
	clock.Advance(time.Hour)
	if n := b.check(t); n != 0 {
		t.Fatalf("check at the timeout opened %d", n)
	}
	clock.Advance(time.Second)
	if n := b.check(t); n != 1 {
		t.Fatalf("check after the timeout opened %d; want 1", n)
	}
	clock.Advance(time.Hour)
	if n := b.check(t); n != 0 {
		t.Fatalf("second check opened %d more", n)
	}
	ins := b.incidents(t)
	if len(ins) != 1 {
		t.Fatalf("incidents = %d", len(ins))
	}
	in := ins[0]
	if in.State != store.StateTriggered || in.DedupKey != jobs.HeartbeatDedupKey || in.Summary != "Heartbeat nightly-backup missed: no beat for 1h" ||
		in.Severity != oncall.SeverityCritical || in.Source != "nightly-backup" || in.ServiceName != "backups" || in.PolicyName != "ops" || !in.Paging {
		t.Errorf("incident = %+v", in)
	}
	var details map[string]string
	if err := json.Unmarshal(in.Details, &details); err != nil || details["timeout"] != "1h" ||
		details["last_beat_at"] != first.Format(time.RFC3339) || details["due_at"] != first.Add(time.Hour).Format(time.RFC3339) {
		t.Errorf("details = %s (%v)", in.Details, err)
	}
	// It pages like any alert: its first escalation is queued.
	var escalations int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'escalate' AND (args->>'incident_id')::bigint = $1`, in.ID).Scan(&escalations); err != nil || escalations != 1 {
		t.Errorf("escalate jobs = %d, %v; want 1", escalations, err)
	}

	// The next beat resolves it.
	clock.Advance(time.Minute)
	if res := b.beat(t); res.IncidentID != in.ID || !res.Changed {
		t.Errorf("beat after the miss = %+v; want incident %d resolved", res, in.ID)
	}
	in = b.incidents(t)[0]
	if in.State != store.StateResolved || in.ResolvedBy != "source (nightly-backup)" || !in.ResolvedAt.Equal(clock.Now()) {
		t.Errorf("after the beat: state %s by %q at %v", in.State, in.ResolvedBy, in.ResolvedAt)
	}
	if res := b.beat(t); res.IncidentID != 0 || res.Changed {
		t.Errorf("another beat = %+v; want nothing to resolve", res)
	}

	// A second silence is a second incident.
	clock.Advance(90 * time.Minute)
	if n := b.check(t); n != 1 {
		t.Fatalf("second silence opened %d", n)
	}
	if ins := b.incidents(t); len(ins) != 2 || ins[1].State != store.StateTriggered {
		t.Fatalf("incidents after the second silence: %d", len(ins))
	}
}

func TestHeartbeatResolvedByHand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := oncall.NewManualClock(t0)
	b := setupHeartbeat(t, clock)
	b.beat(t)
	clock.Advance(2 * time.Hour)
	if n := b.check(t); n != 1 {
		t.Fatalf("opened %d", n)
	}
	in := b.incidents(t)[0]
	if _, err := b.engine.Resolve(ctx, in.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	// Still silent: resolved by hand, it stays resolved until the monitor
	// beats and misses again.
	clock.Advance(time.Hour)
	if n := b.check(t); n != 0 {
		t.Errorf("check after a resolve by hand opened %d", n)
	}
	if res := b.beat(t); res.Changed {
		t.Errorf("beat = %+v; want nothing to resolve", res)
	}
	clock.Advance(time.Hour + time.Second)
	if n := b.check(t); n != 1 {
		t.Errorf("the next silence opened %d", n)
	}
}

func TestBeatOfOtherIntegration(t *testing.T) {
	t.Parallel()
	b := setupHeartbeat(t, oncall.NewManualClock(t0))
	if _, err := b.engine.Beat(context.Background(), b.prom); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("Beat of an Alertmanager integration: %v; want ErrNotFound", err)
	}
}

// The periodic job, run by River: a monitor already late when River starts
// gets its incident from the first check (RunOnStart).
func TestHeartbeatPeriodicJob(t *testing.T) {
	t.Parallel()
	clock := &oncall.OffsetClock{}
	b := setupHeartbeat(t, clock)
	b.beat(t)
	clock.Advance(time.Hour + time.Second)

	b.river.PeriodicJobs().AddMany(jobs.HeartbeatPeriodicJobs())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.river.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.river.Stop(stopCtx)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for len(b.incidents(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no incident from the periodic check")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var checks int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND queue = $2`,
		jobs.HeartbeatCheckArgs{}.Kind(), jobs.QueuePage).Scan(&checks); err != nil || checks == 0 {
		t.Errorf("heartbeat check jobs = %d, %v", checks, err)
	}
}
