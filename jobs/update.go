package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// UpdateArgs brings every message that shows an incident up to date: the
// message itself (state, who acted, buttons) and its thread (the timeline
// entries it has not shown yet).
type UpdateArgs struct {
	IncidentID int64 `json:"incident_id"`
}

func (UpdateArgs) Kind() string { return "update_messages" }

// InsertOpts: not unique, since River's unique jobs count a running job as
// a duplicate and an update must not be dropped while one is running. The
// worker is idempotent: it reads the latest state and posts each timeline
// entry once.
func (UpdateArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueMessage} }

type updateWorker struct {
	river.WorkerDefaults[UpdateArgs]
	e *Engine
}

func (w *updateWorker) Work(ctx context.Context, job *river.Job[UpdateArgs]) error {
	var failed error
	err := pgx.BeginFunc(ctx, w.e.pool, func(tx pgx.Tx) error {
		var err error
		failed, err = w.e.updateMessages(ctx, tx, job.Args.IncidentID)
		return err
	})
	if err != nil {
		return err
	}
	if d, ok := notify.RateLimited(failed); ok {
		return river.JobSnooze(max(d, time.Second))
	}
	return failed // what was done is committed; River retries the rest
}

// updateMessages locks the incident's messages (so two updates never post
// the same timeline entry twice) and rewrites each. failed is what the
// providers refused; err is a database error (nothing is kept).
func (e *Engine) updateMessages(ctx context.Context, tx pgx.Tx, incidentID int64) (failed, err error) {
	msgs, err := store.MessagesLock(ctx, tx, incidentID)
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	in, err := store.IncidentGet(ctx, tx, incidentID, store.LockNone)
	if errors.Is(err, oncall.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cfg, err := e.config.get(ctx, tx)
	if err != nil {
		return nil, err
	}
	alerts, err := store.IncidentAlertCount(ctx, tx, incidentID)
	if err != nil {
		return nil, err
	}
	page := e.page(cfg, in, alerts, "")
	for _, m := range msgs {
		up, ok := e.channels[m.Method].(notify.Updater)
		if !ok {
			continue
		}
		page.Escalation = m.Reason // each copy keeps why it went out
		if err := up.Update(ctx, m.Ref, page); err != nil {
			failed = errors.Join(failed, fmt.Errorf("update %s message: %w", m.Method, err))
			continue
		}
		log, err := store.IncidentLog(ctx, tx, incidentID, m.NotedLogID)
		if err != nil {
			return nil, err
		}
		noted := m.NotedLogID
		for _, entry := range log {
			if entry.Event == "notified" || entry.Event == "retry" {
				continue // delivery chatter stays off the thread; failures are shown
			}
			if err := up.Note(ctx, m.Ref, entry.At.Format("15:04:05Z")+" "+entry.Message); err != nil {
				failed = errors.Join(failed, fmt.Errorf("note on %s message: %w", m.Method, err))
				break
			}
			noted = entry.ID
		}
		if noted != m.NotedLogID {
			if err := store.MessageNoted(ctx, tx, m, noted); err != nil {
				return nil, err
			}
		}
	}
	return failed, nil
}
