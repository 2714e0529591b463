package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/oncall/oncall/store"
)

// txn is one engine transaction with its outbox: the timeline entries,
// notifications and River jobs it queues are written together at the end,
// in a few statements whatever their number, so a step that pages five
// people costs no more round trips than one that pages one.
type txn struct {
	pgx.Tx
	log     []store.LogEntry
	notes   []*store.Notification
	updates map[int64]bool // incidents whose messages need an update
	bulk    map[int64]bool // incidents in a storm: their jobs go to QueueBulk
}

// queueFor is the queue of an incident's escalate and notify jobs.
func (t *txn) queueFor(incidentID int64) string {
	if t.bulk[incidentID] {
		return QueueBulk
	}
	return QueuePage
}

func (t *txn) markBulk(incidentID int64) {
	if t.bulk == nil {
		t.bulk = map[int64]bool{}
	}
	t.bulk[incidentID] = true
}

func (t *txn) addLog(e store.LogEntry) { t.log = append(t.log, e) }

// flush writes the outbox.
func (e *Engine) flush(ctx context.Context, t *txn, now time.Time) error {
	if err := store.IncidentLogAdd(ctx, t, t.log...); err != nil {
		return err
	}
	var params []river.InsertManyParams
	if len(t.notes) > 0 {
		if err := store.NotificationsInsert(ctx, t, t.notes, now); err != nil {
			return err
		}
		for _, n := range t.notes {
			opts := &river.InsertOpts{Queue: t.queueFor(n.IncidentID)}
			if n.DueAt.After(now) {
				opts.ScheduledAt = n.DueAt
			}
			args := NotifyArgs{NotificationID: n.ID, Method: n.Method, Key: bundleKey(n.Method, n.Address)}
			params = append(params, river.InsertManyParams{Args: args, InsertOpts: opts})
		}
	}
	for id := range t.updates {
		params = append(params, river.InsertManyParams{Args: UpdateArgs{IncidentID: id}})
	}
	if len(params) == 0 {
		return nil
	}
	res, err := e.river.InsertManyTx(ctx, t.Tx, params)
	if err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	if len(t.notes) == 0 {
		return nil
	}
	ids, jobs := make([]int64, len(t.notes)), make([]int64, len(t.notes))
	for i, n := range t.notes {
		ids[i], jobs[i] = n.ID, res[i].Job.ID
	}
	return store.NotificationsSetJobs(ctx, t, ids, jobs)
}
