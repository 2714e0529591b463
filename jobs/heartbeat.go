package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// Heartbeat monitors (manifest type "heartbeat"): the sender calls
// POST /v1/heartbeats/{key} (Engine.Beat) at least every timeout. A
// periodic job (HeartbeatCheckArgs, every HeartbeatCheckInterval) finds the
// monitors whose last beat is older than their timeout and opens one
// incident each, with dedup key HeartbeatDedupKey, through the same path as
// an inbound alert (alert rules, escalation); the next beat resolves it. A
// monitor that never beat is inactive and never missed (see store.Heartbeat).
// An incident acknowledged or resolved by hand while the silence goes on is
// not opened again: the monitor stays missed until it beats.

// HeartbeatCheckInterval is how often the check runs: a missed beat opens
// its incident at most about this long after the timeout has passed.
const HeartbeatCheckInterval = 10 * time.Second

// HeartbeatDedupKey is the dedup key of every heartbeat incident: one open
// incident per monitor.
const HeartbeatDedupKey = "heartbeat"

// heartbeatBatch is how many overdue monitors the check reads at a time.
const heartbeatBatch = 100

// HeartbeatCheckArgs is the periodic heartbeat check.
type HeartbeatCheckArgs struct{}

func (HeartbeatCheckArgs) Kind() string { return "heartbeat_check" }

// InsertOpts: on the page queue (a miss is a page); one attempt, since the
// next run comes in HeartbeatCheckInterval anyway; and unique while one is
// waiting or running, so a slow check (a database in trouble) never piles
// up runs behind it.
func (HeartbeatCheckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueuePage,
		MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

type heartbeatCheckWorker struct {
	river.WorkerDefaults[HeartbeatCheckArgs]
	e *Engine
}

func (w *heartbeatCheckWorker) Work(ctx context.Context, _ *river.Job[HeartbeatCheckArgs]) error {
	_, err := w.e.CheckHeartbeats(ctx)
	return err
}

// HeartbeatWorkers registers the heartbeat check's worker.
func (e *Engine) HeartbeatWorkers(w *river.Workers) {
	river.AddWorker(w, &heartbeatCheckWorker{e: e})
}

// HeartbeatPeriodicJobs are the periodic jobs of heartbeat monitors, for
// river.Config.PeriodicJobs (or Client.PeriodicJobs().AddMany). River
// inserts them on its elected leader only, so one check runs at a time
// across processes; the check is safe to run concurrently anyway.
func HeartbeatPeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(HeartbeatCheckInterval),
			func() (river.JobArgs, *river.InsertOpts) { return HeartbeatCheckArgs{}, nil },
			&river.PeriodicJobOpts{ID: HeartbeatCheckArgs{}.Kind(), RunOnStart: true}),
	}
}

// CheckHeartbeats opens an incident for every monitor overdue now and not
// yet marked missed, each in a transaction of its own that also marks it,
// and returns how many it opened (or updated, when an incident with the
// dedup key was open already). A monitor that fails is left for the next
// run; the others go on.
func (e *Engine) CheckHeartbeats(ctx context.Context) (missed int, err error) {
	now := e.clock.Now().UTC()
	var errs []error
	for {
		due, err := store.HeartbeatsOverdue(ctx, e.pool, now, heartbeatBatch)
		if err != nil {
			return missed, err
		}
		progress := false
		for _, h := range due {
			ok, err := e.heartbeatMissed(ctx, h.ID, now)
			if err != nil {
				errs = append(errs, fmt.Errorf("heartbeat %s: %w", h.Name, err))
				continue
			}
			if ok {
				missed++
				progress = true
			}
		}
		// Marked monitors drop out of the next read; stop when this one was
		// the last, or when it marked nothing (failures, races).
		if len(due) < heartbeatBatch || !progress {
			return missed, errors.Join(errs...)
		}
	}
}

// heartbeatMissed marks monitor id missed, if it still is overdue at now,
// and triggers its incident in the same transaction.
func (e *Engine) heartbeatMissed(ctx context.Context, id int64, now time.Time) (ok bool, err error) {
	err = e.inTx(ctx, func(tx *txn) error {
		h, err := store.HeartbeatMarkMissed(ctx, tx, id, now)
		if errors.Is(err, oncall.ErrNotFound) {
			return nil // a beat came in, or another check got there first
		}
		if err != nil {
			return err
		}
		cfg, err := e.config.get(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := e.ingestTx(ctx, tx, cfg, h.Integration, heartbeatTrigger(h)); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return ok, err
}

// Beat records a beat of the heartbeat monitor integ and, when the monitor
// was marked missed, resolves its incident, in one transaction. The Result
// names the incident resolved (IncidentID 0 when there was none to
// resolve). An integration that is not a heartbeat is oncall.ErrNotFound.
func (e *Engine) Beat(ctx context.Context, integ store.Integration) (Result, error) {
	res := Result{DedupKey: HeartbeatDedupKey}
	if integ.Type != manifest.IntegrationHeartbeat {
		return res, fmt.Errorf("integration %s is not a heartbeat: %w", integ.Name, oncall.ErrNotFound)
	}
	err := e.inTx(ctx, func(tx *txn) error {
		missed, err := store.HeartbeatBeat(ctx, tx, integ.ID, e.clock.Now().UTC())
		if err != nil || !missed {
			return err
		}
		cfg, err := e.config.get(ctx, tx)
		if err != nil {
			return err
		}
		res, err = e.ingestTx(ctx, tx, cfg, integ, oncall.AlertEvent{
			DedupKey: HeartbeatDedupKey, Action: oncall.ActionResolve, Source: integ.Name, Client: heartbeatClient,
		})
		return err
	})
	return res, err
}

const heartbeatClient = "oncall heartbeat"

// heartbeatTrigger is the event of a missed beat.
func heartbeatTrigger(h store.Heartbeat) oncall.AlertEvent {
	timeout := manifest.FormatTimeout(h.Timeout)
	details := map[string]string{"timeout": timeout}
	if h.LastBeatAt != nil {
		details["last_beat_at"] = h.LastBeatAt.UTC().Format(time.RFC3339)
		details["due_at"] = h.DueAt().UTC().Format(time.RFC3339)
	}
	raw, _ := json.Marshal(details) // a map of strings always marshals
	return oncall.AlertEvent{
		DedupKey: HeartbeatDedupKey,
		Action:   oncall.ActionTrigger,
		Summary:  fmt.Sprintf("Heartbeat %s missed: no beat for %s", h.Name, timeout),
		Severity: oncall.SeverityCritical,
		Source:   h.Name,
		Client:   heartbeatClient,
		Details:  raw,
	}
}
