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
	prio    map[int64]int  // River priority of incidents' jobs (priority)
	// inserts are incidents opened in this transaction, written at its end
	// with their final state (their ids drawn by store.IngestLookup).
	inserts []*store.Incident
	// escalations are the escalation timers to insert with the other jobs;
	// each incident's escalation_job_id is recorded after.
	escalations []escalation
}

type escalation struct {
	in   *store.Incident
	args EscalateArgs
	at   time.Time // zero: at once
}

// unwritten reports whether in is to be inserted at the end of t.
func (t *txn) unwritten(in *store.Incident) bool {
	for _, x := range t.inserts {
		if x == in {
			return true
		}
	}
	return false
}

// queueFor is the queue of an incident's escalate and notify jobs.
func (t *txn) queueFor(incidentID int64) string {
	if t.bulk[incidentID] {
		return QueueBulk
	}
	return QueuePage
}

// setStorm records the storm state of an incident's service
// (stormDetector.observe): the queue and priority of its jobs.
func (t *txn) setStorm(incidentID int64) func(storm bool, prio int) {
	return func(storm bool, prio int) {
		if t.bulk == nil {
			t.bulk, t.prio = map[int64]bool{}, map[int64]int{}
		}
		t.bulk[incidentID], t.prio[incidentID] = storm, prio
	}
}

// priorityFor is the River priority of an incident's jobs (1 by default).
func (t *txn) priorityFor(incidentID int64) int {
	return max(t.prio[incidentID], 1)
}

func (t *txn) addLog(e store.LogEntry) { t.log = append(t.log, e) }

// flush writes the outbox: the incidents, timeline entries and
// notifications in one round trip, the River jobs (escalation timers,
// notifications, message updates) in one InsertManyTx, and which job is
// whose in one more.
func (e *Engine) flush(ctx context.Context, t *txn, now time.Time) error {
	if err := store.OutboxWrite(ctx, t, t.inserts, t.log, t.notes, now); err != nil {
		return err
	}
	params := make([]river.InsertManyParams, 0, len(t.escalations)+len(t.notes)+len(t.updates))
	for _, x := range t.escalations {
		opts := &river.InsertOpts{Queue: t.queueFor(x.in.ID), Priority: t.priorityFor(x.in.ID)}
		if !x.at.IsZero() {
			opts.ScheduledAt = x.at
		}
		params = append(params, river.InsertManyParams{Args: x.args, InsertOpts: opts})
	}
	for _, n := range t.notes {
		opts := &river.InsertOpts{Queue: t.queueFor(n.IncidentID), Priority: t.priorityFor(n.IncidentID)}
		if n.DueAt.After(now) {
			opts.ScheduledAt = n.DueAt
		}
		args := NotifyArgs{NotificationID: n.ID, Method: n.Method}
		if t.bulk[n.IncidentID] {
			args.Key = bundleKey(n.Method, n.Address) // a storm's page: bundled
		}
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: opts})
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
	incidents, timers := make([]int64, len(t.escalations)), make([]int64, len(t.escalations))
	for i, x := range t.escalations {
		x.in.EscalationJobID = res[i].Job.ID
		incidents[i], timers[i] = x.in.ID, res[i].Job.ID
	}
	res = res[len(t.escalations):]
	ids, jobs := make([]int64, len(t.notes)), make([]int64, len(t.notes))
	for i, n := range t.notes {
		ids[i], jobs[i] = n.ID, res[i].Job.ID
	}
	return store.OutboxJobs(ctx, t, ids, jobs, incidents, timers)
}
