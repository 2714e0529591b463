package jobs

import (
	"context"
	"time"
)

// dbWaitPoll is how often awaitDB checks whether the database is back.
const dbWaitPoll = 250 * time.Millisecond

// awaitDB is for a worker whose transaction failed: when the database is
// unreachable, it waits (within the job's timeout) until the database
// answers again before the worker returns err. River records a job's
// outcome after the worker returns, from its completer, which gives up
// after about 7 s of failures; the job then stays "running" until River's
// rescuer retries it 20 to 50 s later. Waiting here lets the outcome be
// recorded as soon as the database is back, so the page is retried at once
// (e2e.TestDatabaseOutage). It returns err unchanged.
func (e *Engine) awaitDB(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		perr := e.pool.Ping(pctx)
		cancel()
		if perr == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(dbWaitPoll):
		}
	}
}
