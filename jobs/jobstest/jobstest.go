// Package jobstest runs the paging engine for tests: a fresh database with
// a configuration applied, the engine with the given channels, River with
// its workers and the timer promoter, all stopped when the test ends.
package jobstest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// Bundle is a running engine.
type Bundle struct {
	Pool   *pgxpool.Pool
	Engine *jobs.Engine
	River  *river.Client[pgx.Tx]
	Clock  *oncall.OffsetClock
	// Integrations by name, as IntegrationByKey finds them, and their keys.
	Integrations map[string]store.Integration
	Keys         map[string]string
}

// New applies set to a fresh database and starts the engine with channels
// (methods without a channel are off).
func New(tb testing.TB, set *manifest.Set, channels map[string]notify.Channel) *Bundle {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bundle{Pool: storetest.New(tb), Clock: &oncall.OffsetClock{}, Integrations: map[string]store.Integration{}, Keys: map[string]string{}}
	var plan *store.Plan
	err := pgx.BeginFunc(ctx, b.Pool, func(tx pgx.Tx) error {
		var err error
		plan, err = store.ApplyConfig(ctx, tx, set, store.ApplyOptions{Now: b.Clock.Now(), Actor: "test"})
		return err
	})
	if err != nil {
		tb.Fatalf("apply: %v", err)
	}
	for _, k := range plan.NewKeys {
		integ, err := store.IntegrationByKey(ctx, b.Pool, k.Key)
		if err != nil {
			tb.Fatal(err)
		}
		b.Integrations[k.Integration], b.Keys[k.Integration] = integ, k.Key
	}
	b.Engine = jobs.NewEngine(b.Pool, b.Clock, channels)
	workers := river.NewWorkers()
	b.Engine.Workers(workers)
	b.Engine.HeartbeatWorkers(workers)
	b.Engine.HandoffWorkers(workers) // handoff jobs exist only when a test plans them
	rpool, err := jobs.OpenRiverPool(b.Pool)
	if err != nil {
		tb.Fatal(err)
	}
	b.River, err = jobs.NewRiver(rpool, workers, slog.New(slog.DiscardHandler), b.Clock)
	if err != nil {
		rpool.Close()
		tb.Fatal(err)
	}
	b.Engine.SetRiver(b.River)
	if err := b.River.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	go jobs.NewPromoter(rpool, b.Clock.Now).Run(ctx, nil)
	tb.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if b.River.Stop(sctx) == nil {
			rpool.Close()
		}
	})
	return b
}

// Advance moves the clock forward by d and waits for the jobs that became
// due to finish.
func (b *Bundle) Advance(tb testing.TB, d time.Duration) {
	tb.Helper()
	b.Clock.Advance(d)
	time.Sleep(2 * jobs.PromoteInterval)
	b.Settle(tb)
}

// Settle waits until no job is due or running.
func (b *Bundle) Settle(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := b.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind <> 'heartbeat_check' AND
			(state IN ('available', 'running', 'retryable') OR (state = 'scheduled' AND scheduled_at <= $1))`, b.Clock.Now()).Scan(&n)
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatal("jobs did not settle")
}

// Trigger ingests a generic alert through integration and returns the
// incident's id.
func (b *Bundle) Trigger(tb testing.TB, integration, dedupKey, summary string) int64 {
	tb.Helper()
	res, err := b.Engine.Ingest(context.Background(), b.Integrations[integration], oncall.AlertEvent{
		DedupKey: dedupKey, Action: oncall.ActionTrigger, Summary: summary, Severity: oncall.SeverityCritical,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return res.IncidentID
}

// Timeline is the incident's timeline, one "event: message" line each.
func (b *Bundle) Timeline(tb testing.TB, id int64) []string {
	tb.Helper()
	log, err := store.IncidentLog(context.Background(), b.Pool, id, 0)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, len(log))
	for i, e := range log {
		out[i] = e.Event + ": " + e.Message
	}
	return out
}
