package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/oncall/oncall/oncall"
)

// Queues. Pages get their own queue so a backlog of message updates can never
// delay one.
const (
	QueuePage    = "page"    // escalate and notify
	QueueMessage = "message" // updates of messages already shown (Slack)
	// QueueBulk holds the escalate and notify jobs of incidents opened
	// during an alert storm (storm.go): its own workers drain them while
	// QueuePage stays free for every other service's pages.
	QueueBulk    = "bulk"
	QueueDefault = river.QueueDefault
)

// Fetch tuning: River's defaults wake a job ~46 ms after its insert commits
// (p50) and poll every second; these bring it to ~1 ms and bound the wait of
// a promoted scheduled job to FetchPollInterval (DESIGN.md, measured here).
const (
	fetchCooldown     = 10 * time.Millisecond
	fetchPollInterval = 100 * time.Millisecond
)

// NewRiver builds the River client with our queues and tuning. workers may
// be nil for an insert-only client (the CLI). River reads time from clock
// unless it is the system clock, so that in tests River's schedule and the
// engine's timers agree.
func NewRiver(pool *pgxpool.Pool, workers *river.Workers, log *slog.Logger, clock oncall.Clock) (*river.Client[pgx.Tx], error) {
	cfg := &river.Config{
		Logger:            log,
		FetchCooldown:     fetchCooldown,
		FetchPollInterval: fetchPollInterval,
		// A job left running by a process that died (kill -9, a lost
		// machine) is rescued and retried after RescueStuckJobsAfter, found
		// by River's rescuer, which looks every 30 s: a page in flight at a
		// crash is sent at most about 50 s late. JobTimeout bounds a live
		// job (a send has its own 10 s limit).
		JobTimeout:           15 * time.Second,
		RescueStuckJobsAfter: 20 * time.Second,
		// Pages are retried quickly: a page that waits for a long backoff is
		// a page that is late. The delivery policy falls through to the next
		// channel after a few failures instead.
		RetryPolicy: &retryPolicy{},
		MaxAttempts: 8,
	}
	if _, system := clock.(oncall.SystemClock); !system && clock != nil {
		cfg.Test.Time = riverTime{clock}
	}
	if workers != nil {
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{
			QueuePage:    {MaxWorkers: 50},
			QueueBulk:    {MaxWorkers: 10},
			QueueMessage: {MaxWorkers: 10},
			QueueDefault: {MaxWorkers: 10},
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}

// OpenRiverPool returns the pool a working River client and the Promoter
// use: base's settings, at most riverPoolConns connections, and custom plans
// (plan_cache_mode=force_custom_plan). River's scheduling query, run by the
// Promoter every 100 ms, is a prepared statement; a generic plan made while
// river_job was small (a fresh or quiet install) joined it to itself row by
// row, and with 10,000 timers due it ran for 30 s and held every timer back
// that long (River's issue #785 is the same query). A custom plan is made
// for the table as it is, for a fraction of a millisecond. Jobs inserted or
// completed in the engine's transactions use the engine's pool.
func OpenRiverPool(base *pgxpool.Pool) (*pgxpool.Pool, error) {
	cfg := base.Config()
	cfg.MaxConns = min(cfg.MaxConns, riverPoolConns)
	cfg.MinConns = 0
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("river pool: %w", err)
	}
	return pool, nil
}

// riverPoolConns bounds River's own connections: a fetch per queue, the
// completer, the notifier's LISTEN, the leader's maintenance, the Promoter.
const riverPoolConns = 10

// riverTime is a clock as River's TimeGenerator.
type riverTime struct{ c oncall.Clock }

func (t riverTime) Now() time.Time { return t.c.Now() }

func (t riverTime) NowOrNil() *time.Time {
	now := t.c.Now()
	return &now
}

// retryPolicy backs off 1 s, 2 s, 4 s ... capped at 30 s: pages must not wait
// River's default hours-long backoff.
type retryPolicy struct{}

func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := min(time.Second<<min(max(job.Attempt-1, 0), 5), 30*time.Second)
	if job.AttemptedAt == nil {
		return job.ScheduledAt.Add(d)
	}
	return job.AttemptedAt.Add(d)
}

// Promoter moves scheduled jobs that are due (or due within a tick) to
// available. River's own scheduler does the same every 5 s, which would make
// an escalation timer up to 5 s late; with a tick of PromoteInterval and the
// fetch poll above, timers fire within about 200 ms. It calls
// River's own JobSchedule query, so unique-job rules are kept; running it in
// several processes at once is safe (the query locks the rows it moves).
type Promoter struct {
	exec     riverdriver.Executor
	interval time.Duration
	now      func() time.Time
}

// PromoteInterval is the promoter's tick.
const PromoteInterval = 100 * time.Millisecond

func NewPromoter(pool *pgxpool.Pool, now func() time.Time) *Promoter {
	return &Promoter{exec: riverpgxv5.New(pool).GetExecutor(), interval: PromoteInterval, now: now}
}

// Run promotes until ctx ends. Errors (a database outage) are retried on the
// next tick; onErr sees them for logging.
func (p *Promoter) Run(ctx context.Context, onErr func(error)) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := p.PromoteOnce(ctx); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
	}
}

// PromoteOnce moves jobs that are due to available and returns how many it
// moved. Never early: a timer fires at most one tick plus one fetch poll late.
func (p *Promoter) PromoteOnce(ctx context.Context) (int, error) {
	now := p.now()
	res, err := p.exec.JobSchedule(ctx, &riverdriver.JobScheduleParams{Max: 2000, Now: &now})
	if err != nil {
		return 0, fmt.Errorf("promote scheduled jobs: %w", err)
	}
	return len(res), nil
}
