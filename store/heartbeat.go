package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Heartbeat is a heartbeat monitor: an integration of type heartbeat, with
// its timeout (configuration) and its state (runtime).
//
// A monitor is inactive until its first beat: LastBeatAt is nil and it is
// never overdue (a sender that was never set up should not page the moment
// the manifest is applied). From then on it is overdue once LastBeatAt +
// Timeout has passed without a beat; the check then opens an incident and
// marks it Missed, so one silence is one incident. The next beat clears
// Missed and resolves the incident.
type Heartbeat struct {
	Integration
	Timeout    time.Duration
	LastBeatAt *time.Time // nil: never beaten, inactive
	Missed     bool
}

// DueAt is when the monitor becomes overdue; zero while inactive.
func (h *Heartbeat) DueAt() time.Time {
	if h.LastBeatAt == nil {
		return time.Time{}
	}
	return h.LastBeatAt.Add(h.Timeout)
}

const heartbeatColumns = `
i.id, i.name, i.type, i.service_id, s.name, i.created_at, i.heartbeat_timeout_seconds, i.last_beat_at, i.heartbeat_missed`

func scanHeartbeat(row pgx.Row) (Heartbeat, error) {
	var h Heartbeat
	var seconds int32
	err := row.Scan(&h.ID, &h.Name, &h.Type, &h.ServiceID, &h.ServiceName, &h.CreatedAt, &seconds, &h.LastBeatAt, &h.Missed)
	if err != nil {
		return Heartbeat{}, mapErr(err)
	}
	h.Timeout = time.Duration(seconds) * time.Second
	h.CreatedAt = h.CreatedAt.UTC()
	if h.LastBeatAt != nil {
		t := h.LastBeatAt.UTC()
		h.LastBeatAt = &t
	}
	return h, nil
}

// overdue is the condition of a monitor the check must act on, with now as
// $1. No index serves the sum: heartbeats are a few rows of a small table.
const heartbeatOverdue = `
i.type = 'heartbeat' AND NOT i.heartbeat_missed
AND i.last_beat_at + i.heartbeat_timeout_seconds * interval '1 second' < $1`

// HeartbeatBeat records a beat of the heartbeat monitor integrationID at
// now and reports whether the monitor was marked missed, in which case the
// mark is gone and the caller resolves its incident in the same
// transaction. The row stays locked until q's transaction ends, so a beat
// and the check never cross. A beat never moves LastBeatAt back (two
// servers' clocks may differ a little). oncall.ErrNotFound when there is
// no such integration or it is not a heartbeat.
func HeartbeatBeat(ctx context.Context, q Querier, integrationID int64, now time.Time) (wasMissed bool, err error) {
	err = q.QueryRow(ctx, `
UPDATE integrations i SET last_beat_at = GREATEST(i.last_beat_at, $2), heartbeat_missed = false
FROM (SELECT id, heartbeat_missed FROM integrations WHERE id = $1 AND type = 'heartbeat' FOR UPDATE) AS old
WHERE i.id = old.id
RETURNING old.heartbeat_missed`, integrationID, now).Scan(&wasMissed)
	if err != nil {
		return false, fmt.Errorf("heartbeat %d: beat: %w", integrationID, mapErr(err))
	}
	return wasMissed, nil
}

// HeartbeatsOverdue lists up to limit monitors that are overdue at now and
// not yet marked missed, the longest overdue first. It locks nothing: mark
// each with HeartbeatMarkMissed, which checks again under a row lock.
func HeartbeatsOverdue(ctx context.Context, q Querier, now time.Time, limit int) ([]Heartbeat, error) {
	rows, err := q.Query(ctx, `SELECT `+heartbeatColumns+`
FROM integrations i JOIN services s ON s.id = i.service_id
WHERE `+heartbeatOverdue+`
ORDER BY i.last_beat_at + i.heartbeat_timeout_seconds * interval '1 second', i.id
LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("overdue heartbeats: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Heartbeat, error) { return scanHeartbeat(row) })
	if err != nil {
		return nil, fmt.Errorf("overdue heartbeats: %w", err)
	}
	return out, nil
}

// HeartbeatMarkMissed marks the monitor missed if it is still overdue at
// now and not marked yet, and returns it; the row stays locked until tx
// ends, in which the caller opens the incident. oncall.ErrNotFound when
// there is nothing to do any more (a beat came in, another process marked
// it, the configuration changed).
func HeartbeatMarkMissed(ctx context.Context, tx pgx.Tx, integrationID int64, now time.Time) (Heartbeat, error) {
	h, err := scanHeartbeat(tx.QueryRow(ctx, `
UPDATE integrations i SET heartbeat_missed = true
FROM services s
WHERE s.id = i.service_id AND i.id = $2 AND `+heartbeatOverdue+`
RETURNING `+heartbeatColumns, now, integrationID))
	if err != nil {
		return Heartbeat{}, fmt.Errorf("heartbeat %d: mark missed: %w", integrationID, err)
	}
	return h, nil
}

// HeartbeatList lists every heartbeat monitor by name.
func HeartbeatList(ctx context.Context, q Querier) ([]Heartbeat, error) {
	rows, err := q.Query(ctx, `SELECT `+heartbeatColumns+`
FROM integrations i JOIN services s ON s.id = i.service_id
WHERE i.type = 'heartbeat'
ORDER BY i.name`)
	if err != nil {
		return nil, fmt.Errorf("list heartbeats: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Heartbeat, error) { return scanHeartbeat(row) })
	if err != nil {
		return nil, fmt.Errorf("list heartbeats: %w", err)
	}
	return out, nil
}
