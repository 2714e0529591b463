package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The engine writes what a transaction did at its end, in two round trips
// whatever the number of rows: OutboxWrite before its River jobs are
// inserted, OutboxJobs after (the rows name their jobs). An alert that
// opens an incident costs, with the lookup, BEGIN, the jobs and COMMIT, six
// round trips.

// OutboxWrite inserts, in one round trip and in this order, the incidents
// opened in tx (with their ids drawn by IngestLookup), the timeline
// entries and the notifications (setting their IDs).
func OutboxWrite(ctx context.Context, tx pgx.Tx, incidents []*Incident, log []LogEntry, ns []*Notification, now time.Time) error {
	b := &pgx.Batch{}
	for _, in := range incidents {
		in.UpdatedAt = now
		b.Queue(`
INSERT INTO incidents (id, integration_id, service_id, service_name, policy_name, dedup_key, state, summary, severity,
  urgency, paging, rule_name, source, client, client_url, labels, annotations, details, links, images,
  escalation_step, escalation_loop, escalation_seq, escalation_done, last_event_hash, created_at, updated_at)
OVERRIDING SYSTEM VALUE
VALUES ($1, NULLIF($2, 0::bigint), (SELECT id FROM services WHERE name = $3), $3, NULLIF($4, ''), $5, $6, $7, $8,
  $9, $10, NULLIF($11, ''), $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)`,
			in.ID, in.IntegrationID, in.ServiceName, in.PolicyName, in.DedupKey, in.State, in.Summary, in.Severity,
			in.Urgency, in.Paging, in.RuleName, in.Source, in.Client, in.ClientURL, nonNilMap(in.Labels), nonNilMap(in.Annotations),
			in.Details, nonNilSlice(in.Links), nonNilSlice(in.Images),
			in.EscalationStep, in.EscalationLoop, in.EscalationSeq, in.EscalationDone, in.LastEventHash, in.CreatedAt, now,
		).Exec(func(pgconn.CommandTag) error { return nil })
	}
	if len(log) > 0 {
		b.Queue(logInsertSQL, logInsertArgs(log)...).Exec(func(pgconn.CommandTag) error { return nil })
	}
	if len(ns) > 0 {
		b.Queue(notificationsInsertSQL, notificationsInsertArgs(ns, now)...).Query(func(rows pgx.Rows) error {
			return notificationsInserted(rows, ns)
		})
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write incidents, timeline and notifications: %w", mapErr(err))
	}
	return nil
}

// OutboxJobs records, in one round trip, the River job that sends each
// notification and each incident's escalation timer.
func OutboxJobs(ctx context.Context, tx pgx.Tx, notifications, notificationJobs, incidents, escalationJobs []int64) error {
	b := &pgx.Batch{}
	if len(notifications) > 0 {
		b.Queue(`UPDATE notifications n SET job_id = t.job FROM unnest($1::bigint[], $2::bigint[]) AS t(id, job) WHERE n.id = t.id`,
			notifications, notificationJobs).Exec(func(pgconn.CommandTag) error { return nil })
	}
	if len(incidents) > 0 {
		b.Queue(`UPDATE incidents i SET escalation_job_id = t.job FROM unnest($1::bigint[], $2::bigint[]) AS t(id, job) WHERE i.id = t.id`,
			incidents, escalationJobs).Exec(func(pgconn.CommandTag) error { return nil })
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record jobs: %w", mapErr(err))
	}
	return nil
}
