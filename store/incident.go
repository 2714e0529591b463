package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/oncall"
)

// Incident states.
const (
	StateTriggered    = "triggered"
	StateAcknowledged = "acknowledged"
	StateResolved     = "resolved"
)

// Incident is an incident row.
type Incident struct {
	ID              int64
	IntegrationID   int64 // 0 when the integration is gone or it was opened by hand
	ServiceID       int64
	ServiceName     string
	PolicyName      string
	DedupKey        string
	State           string
	Summary         string
	Severity        string
	Urgency         string
	Paging          bool
	RuleName        string
	Source          string
	Client          string
	ClientURL       string
	Labels          map[string]string
	Annotations     map[string]string
	Details         json.RawMessage
	Links           []oncall.Link
	Images          []oncall.Image
	EscalationStep  int
	EscalationLoop  int
	EscalationSeq   int
	EscalationJobID int64
	EscalationDone  bool
	LastEventHash   []byte
	CreatedAt       time.Time
	UpdatedAt       time.Time
	AcknowledgedAt  *time.Time
	AcknowledgedBy  string
	ResolvedAt      *time.Time
	ResolvedBy      string
}

// Open reports whether the incident is not resolved.
func (i *Incident) Open() bool { return i.State != StateResolved }

const incidentColumns = `
id, COALESCE(integration_id, 0), COALESCE(service_id, 0), service_name, COALESCE(policy_name, ''), dedup_key,
state, summary, severity, urgency, paging, COALESCE(rule_name, ''), source, client, client_url,
labels, annotations, details, links, images,
escalation_step, escalation_loop, escalation_seq, COALESCE(escalation_job_id, 0), escalation_done, last_event_hash,
created_at, updated_at, acknowledged_at, COALESCE(acknowledged_by, ''), resolved_at, COALESCE(resolved_by, '')`

func scanIncident(row pgx.Row) (*Incident, error) {
	var in Incident
	err := row.Scan(&in.ID, &in.IntegrationID, &in.ServiceID, &in.ServiceName, &in.PolicyName, &in.DedupKey,
		&in.State, &in.Summary, &in.Severity, &in.Urgency, &in.Paging, &in.RuleName, &in.Source, &in.Client, &in.ClientURL,
		&in.Labels, &in.Annotations, &in.Details, &in.Links, &in.Images,
		&in.EscalationStep, &in.EscalationLoop, &in.EscalationSeq, &in.EscalationJobID, &in.EscalationDone, &in.LastEventHash,
		&in.CreatedAt, &in.UpdatedAt, &in.AcknowledgedAt, &in.AcknowledgedBy, &in.ResolvedAt, &in.ResolvedBy)
	if err != nil {
		return nil, mapErr(err)
	}
	in.CreatedAt, in.UpdatedAt = in.CreatedAt.UTC(), in.UpdatedAt.UTC()
	return &in, nil
}

// Row locks for IncidentGet.
const (
	LockNone   = ""
	LockUpdate = " FOR UPDATE"
	LockShare  = " FOR SHARE"
)

// IncidentGet reads incident id, locking it as lock says (inside a
// transaction).
func IncidentGet(ctx context.Context, q Querier, id int64, lock string) (*Incident, error) {
	in, err := scanIncident(q.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`+lock, id))
	if err != nil {
		return nil, fmt.Errorf("incident %d: %w", id, err)
	}
	return in, nil
}

// IncidentOpenByDedupKey finds and locks the open incident of an
// integration with dedupKey, or returns oncall.ErrNotFound.
func IncidentOpenByDedupKey(ctx context.Context, tx pgx.Tx, integrationID int64, dedupKey string) (*Incident, error) {
	in, err := scanIncident(tx.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents
WHERE integration_id = $1 AND dedup_key = $2 AND state <> 'resolved' FOR UPDATE`, integrationID, dedupKey))
	if err != nil {
		return nil, fmt.Errorf("open incident by dedup key: %w", err)
	}
	return in, nil
}

// IngestLookup is what an inbound event needs first, in one round trip:
// the configuration's version and the open incident of the integration
// with dedupKey, locked (nil when there is none); and when there is none,
// newID, an id drawn for the incident the event may open, so that the
// incident can be written with everything else at the end of the
// transaction (OutboxWrite) instead of in a round trip of its own.
func IngestLookup(ctx context.Context, tx pgx.Tx, integrationID int64, dedupKey string) (version int64, in *Incident, newID int64, err error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT COALESCE(max(id), 0) FROM audit_log`).QueryRow(func(row pgx.Row) error { return row.Scan(&version) })
	b.Queue(`SELECT `+incidentColumns+` FROM incidents
WHERE integration_id = $1 AND dedup_key = $2 AND state <> 'resolved' FOR UPDATE`, integrationID, dedupKey).QueryRow(func(row pgx.Row) error {
		var err error
		in, err = scanIncident(row)
		if errors.Is(err, oncall.ErrNotFound) {
			in, err = nil, nil
		}
		return err
	})
	// Drawn only when no open incident holds the key (a retry or an update
	// of an open incident draws none); an unused id is a gap, no harm.
	b.Queue(`SELECT nextval(pg_get_serial_sequence('incidents', 'id')) WHERE NOT EXISTS (
  SELECT 1 FROM incidents WHERE integration_id = $1 AND dedup_key = $2 AND state <> 'resolved')`,
		integrationID, dedupKey).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			if err := rows.Scan(&newID); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, nil, 0, fmt.Errorf("look up open incident: %w", mapErr(err))
	}
	return version, in, newID, nil
}

// IncidentInsert creates in (ID, Created/UpdatedAt set from in) and returns
// its id. A concurrent insert of the same open dedup key fails with
// oncall.ErrConflict.
func IncidentInsert(ctx context.Context, tx pgx.Tx, in *Incident) (int64, error) {
	err := tx.QueryRow(ctx, `
INSERT INTO incidents (integration_id, service_id, service_name, policy_name, dedup_key, state, summary, severity,
  urgency, paging, rule_name, source, client, client_url, labels, annotations, details, links, images,
  last_event_hash, created_at, updated_at)
VALUES (NULLIF($1, 0::bigint), (SELECT id FROM services WHERE name = $2), $2, NULLIF($3, ''), $4, $5, $6, $7,
  $8, $9, NULLIF($10, ''), $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20)
RETURNING id, COALESCE(service_id, 0)`,
		in.IntegrationID, in.ServiceName, in.PolicyName, in.DedupKey, in.State, in.Summary, in.Severity,
		in.Urgency, in.Paging, in.RuleName, in.Source, in.Client, in.ClientURL, nonNilMap(in.Labels), nonNilMap(in.Annotations),
		in.Details, nonNilSlice(in.Links), nonNilSlice(in.Images), in.LastEventHash, in.CreatedAt,
	).Scan(&in.ID, &in.ServiceID)
	if err != nil {
		return 0, fmt.Errorf("insert incident: %w", mapErr(err))
	}
	return in.ID, nil
}

// IncidentUpdate writes the mutable fields of in back (state, alert data,
// escalation), with updated_at = now.
func IncidentUpdate(ctx context.Context, tx pgx.Tx, in *Incident, now time.Time) error {
	in.UpdatedAt = now
	_, err := tx.Exec(ctx, `
UPDATE incidents SET state = $2, summary = $3, severity = $4, labels = $5, annotations = $6, details = $7,
  links = $8, images = $9, escalation_step = $10, escalation_loop = $11, escalation_seq = $12,
  escalation_job_id = NULLIF($13, 0::bigint), escalation_done = $14, last_event_hash = $15, updated_at = $16,
  acknowledged_at = $17, acknowledged_by = NULLIF($18, ''), resolved_at = $19, resolved_by = NULLIF($20, '')
WHERE id = $1`,
		in.ID, in.State, in.Summary, in.Severity, nonNilMap(in.Labels), nonNilMap(in.Annotations), in.Details,
		nonNilSlice(in.Links), nonNilSlice(in.Images), in.EscalationStep, in.EscalationLoop, in.EscalationSeq,
		in.EscalationJobID, in.EscalationDone, in.LastEventHash, now,
		in.AcknowledgedAt, in.AcknowledgedBy, in.ResolvedAt, in.ResolvedBy)
	if err != nil {
		return fmt.Errorf("update incident %d: %w", in.ID, mapErr(err))
	}
	return nil
}

// IncidentListOpen lists open incidents, newest first, at most limit.
func IncidentListOpen(ctx context.Context, q Querier, limit int) ([]*Incident, error) {
	rows, err := q.Query(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE state <> 'resolved' ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list open incidents: %w", mapErr(err))
	}
	defer rows.Close()
	var out []*Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list open incidents: %w", err)
		}
		out = append(out, in)
	}
	return out, mapErr(rows.Err())
}

// AlertState is a member alert as the incident tracks it.
type AlertState struct {
	Fingerprint string
	Summary     string
	Labels      map[string]string
	Resolved    bool
}

// IncidentAlertsUpsert records the member alerts of an event: new ones are
// added, firing ones marked resolved when the event says so (and back to
// firing when they fire again). It returns how many changed, and how many
// of the incident's alerts are still firing.
func IncidentAlertsUpsert(ctx context.Context, tx pgx.Tx, incidentID int64, alerts []AlertState, now time.Time) (changed, firing int, err error) {
	for _, a := range alerts {
		var resolvedAt *time.Time
		if a.Resolved {
			resolvedAt = &now
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO incident_alerts (incident_id, fingerprint, summary, labels, created_at, resolved_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (incident_id, fingerprint) DO UPDATE
SET resolved_at = CASE WHEN EXCLUDED.resolved_at IS NULL THEN NULL
                       ELSE COALESCE(incident_alerts.resolved_at, EXCLUDED.resolved_at) END,
    summary = EXCLUDED.summary, labels = EXCLUDED.labels
WHERE (incident_alerts.resolved_at IS NULL) <> (EXCLUDED.resolved_at IS NULL)
   OR incident_alerts.summary <> EXCLUDED.summary OR incident_alerts.labels <> EXCLUDED.labels`,
			incidentID, a.Fingerprint, a.Summary, nonNilMap(a.Labels), now, resolvedAt)
		if err != nil {
			return 0, 0, fmt.Errorf("upsert alert %q of incident %d: %w", a.Fingerprint, incidentID, mapErr(err))
		}
		changed += int(tag.RowsAffected())
	}
	err = tx.QueryRow(ctx, `SELECT count(*) FROM incident_alerts WHERE incident_id = $1 AND resolved_at IS NULL`, incidentID).Scan(&firing)
	if err != nil {
		return 0, 0, fmt.Errorf("count firing alerts of incident %d: %w", incidentID, mapErr(err))
	}
	return changed, firing, nil
}

// IncidentAlertCount is how many member alerts the incident has.
func IncidentAlertCount(ctx context.Context, q Querier, incidentID int64) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM incident_alerts WHERE incident_id = $1`, incidentID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count alerts of incident %d: %w", incidentID, mapErr(err))
	}
	return n, nil
}

// LogEntry is one line of an incident's timeline.
type LogEntry struct {
	ID         int64
	IncidentID int64
	At         time.Time
	Event      string // triggered, alert, acknowledged, resolved, escalated, notified, failed, ...
	Actor      string // a user's name, "source", "system"
	User       string // whom it concerns (a paged user)
	Method     string // the channel
	Message    string
}

// IncidentLogAdd appends entries to the timeline, in one statement.
func IncidentLogAdd(ctx context.Context, q Querier, entries ...LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, logInsertSQL, logInsertArgs(entries)...)
	if err != nil {
		return fmt.Errorf("add to the timeline of incident %d: %w", entries[0].IncidentID, mapErr(err))
	}
	return nil
}

const logInsertSQL = `
INSERT INTO incident_log (incident_id, at, event, actor, user_name, method, message)
SELECT i, a, e, ac, NULLIF(u, ''), NULLIF(m, ''), msg
FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
  WITH ORDINALITY AS t(i, a, e, ac, u, m, msg, ord)
ORDER BY ord`

func logInsertArgs(entries []LogEntry) []any {
	n := len(entries)
	incidents, ats := make([]int64, n), make([]time.Time, n)
	events, actors, users, methods, messages := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range entries {
		incidents[i], ats[i], events[i], actors[i], users[i], methods[i], messages[i] = e.IncidentID, e.At, e.Event, e.Actor, e.User, e.Method, e.Message
	}
	return []any{incidents, ats, events, actors, users, methods, messages}
}

// IncidentLog reads an incident's timeline after entry afterID, in order.
func IncidentLog(ctx context.Context, q Querier, incidentID, afterID int64) ([]LogEntry, error) {
	rows, err := q.Query(ctx, `
SELECT id, incident_id, at, event, actor, COALESCE(user_name, ''), COALESCE(method, ''), message
FROM incident_log WHERE incident_id = $1 AND id > $2 ORDER BY id`, incidentID, afterID)
	if err != nil {
		return nil, fmt.Errorf("timeline of incident %d: %w", incidentID, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LogEntry, error) {
		var e LogEntry
		err := r.Scan(&e.ID, &e.IncidentID, &e.At, &e.Event, &e.Actor, &e.User, &e.Method, &e.Message)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("timeline of incident %d: %w", incidentID, mapErr(err))
	}
	return out, nil
}

// Notification states and kinds.
const (
	NotificationPending   = "pending"
	NotificationSent      = "sent"
	NotificationFailed    = "failed"
	NotificationCancelled = "cancelled"

	KindPage   = "page"   // stops when the incident is acknowledged
	KindNotice = "notice" // goes out whatever the state (team channel posts, final notices)
)

// Notification is one notification to send.
type Notification struct {
	ID          int64
	IncidentID  int64
	User        string // "" for a channel post
	Method      string
	ContactName string
	Address     string
	Kind        string
	Step, Loop  int
	RuleIndex   int
	Reason      string
	DueAt       time.Time
	State       string
	Attempts    int
	LastError   string
	Receipt     string
	JobID       int64
}

// NotificationsInsert creates the notifications (pending), in one
// statement, and sets their IDs.
func NotificationsInsert(ctx context.Context, q Querier, ns []*Notification, now time.Time) error {
	rows, err := q.Query(ctx, notificationsInsertSQL, notificationsInsertArgs(ns, now)...)
	if err != nil {
		return fmt.Errorf("insert notifications: %w", mapErr(err))
	}
	return notificationsInserted(rows, ns)
}

const notificationsInsertSQL = `
INSERT INTO notifications (incident_id, user_name, method, contact_name, address, kind, escalation_step,
  escalation_loop, rule_index, reason, due_at, created_at)
SELECT i, NULLIF(u, ''), m, c, a, k, s, l, r, re, d, $12
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[], $9::int[],
            $10::text[], $11::timestamptz[]) WITH ORDINALITY AS t(i, u, m, c, a, k, s, l, r, re, d, ord)
ORDER BY ord
RETURNING id`

func notificationsInsertArgs(ns []*Notification, now time.Time) []any {
	n := len(ns)
	incidents, steps, loops, rules := make([]int64, n), make([]int32, n), make([]int32, n), make([]int32, n)
	users, methods, contacts, addresses, kinds, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	due := make([]time.Time, n)
	for i, x := range ns {
		incidents[i], steps[i], loops[i], rules[i] = x.IncidentID, int32(x.Step), int32(x.Loop), int32(x.RuleIndex)
		users[i], methods[i], contacts[i], addresses[i], kinds[i], reasons[i] = x.User, x.Method, x.ContactName, x.Address, x.Kind, x.Reason
		due[i] = x.DueAt
	}
	return []any{incidents, users, methods, contacts, addresses, kinds, steps, loops, rules, reasons, due, now}
}

// notificationsInserted sets the IDs of ns from the insert's rows.
func notificationsInserted(rows pgx.Rows, ns []*Notification) error {
	n := len(ns)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("insert notifications: %w", mapErr(err))
	}
	if len(ids) != n {
		return fmt.Errorf("insert notifications: %d ids for %d rows", len(ids), n)
	}
	for i, x := range ns {
		x.ID, x.State = ids[i], NotificationPending
	}
	return nil
}

// NotificationsSetJobs records the River job that sends each notification.
func NotificationsSetJobs(ctx context.Context, q Querier, ids, jobIDs []int64) error {
	_, err := q.Exec(ctx, `
UPDATE notifications n SET job_id = t.job FROM unnest($1::bigint[], $2::bigint[]) AS t(id, job) WHERE n.id = t.id`, ids, jobIDs)
	if err != nil {
		return fmt.Errorf("record notification jobs: %w", mapErr(err))
	}
	return nil
}

// SendLookup is what sending notification id needs, in one round trip and
// locked in the order every transition uses (incident, then
// notification): the incident locked for share, the notification locked
// for update, the configuration's version and the incident's alert count.
// A notification that no longer exists is oncall.ErrNotFound.
func SendLookup(ctx context.Context, tx pgx.Tx, id int64) (in *Incident, n *Notification, version int64, alerts int, err error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT `+incidentColumns+` FROM incidents
WHERE id = (SELECT incident_id FROM notifications WHERE id = $1) FOR SHARE`, id).QueryRow(func(row pgx.Row) error {
		var err error
		in, err = scanIncident(row)
		return err
	})
	b.Queue(sqlNotificationLock, id).QueryRow(func(row pgx.Row) error {
		var err error
		n, err = scanNotification(row)
		return err
	})
	b.Queue(`SELECT COALESCE(max(id), 0) FROM audit_log`).QueryRow(func(row pgx.Row) error { return row.Scan(&version) })
	b.Queue(`SELECT count(*) FROM incident_alerts WHERE incident_id = (SELECT incident_id FROM notifications WHERE id = $1)`, id).
		QueryRow(func(row pgx.Row) error { return row.Scan(&alerts) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, 0, 0, fmt.Errorf("notification %d: %w", id, mapErr(err))
	}
	return in, n, version, alerts, nil
}

const sqlNotificationLock = `
SELECT id, incident_id, COALESCE(user_name, ''), method, contact_name, address, kind, escalation_step, escalation_loop,
  rule_index, reason, due_at, state, attempts, COALESCE(last_error, ''), COALESCE(receipt, ''), COALESCE(job_id, 0)
FROM notifications WHERE id = $1 FOR UPDATE`

func scanNotification(row pgx.Row) (*Notification, error) {
	var n Notification
	err := row.Scan(&n.ID, &n.IncidentID, &n.User, &n.Method, &n.ContactName, &n.Address, &n.Kind, &n.Step, &n.Loop,
		&n.RuleIndex, &n.Reason, &n.DueAt, &n.State, &n.Attempts, &n.LastError, &n.Receipt, &n.JobID)
	if err != nil {
		return nil, mapErr(err)
	}
	return &n, nil
}

// NotificationLock reads and locks notification id.
func NotificationLock(ctx context.Context, tx pgx.Tx, id int64) (*Notification, error) {
	n, err := scanNotification(tx.QueryRow(ctx, sqlNotificationLock, id))
	if err != nil {
		return nil, fmt.Errorf("notification %d: %w", id, err)
	}
	return n, nil
}

// NotificationFinish records the outcome of a send attempt: state sent or
// failed (or still pending after a temporary failure), with the receipt
// or the error.
func NotificationFinish(ctx context.Context, tx pgx.Tx, id int64, state, receipt, errMsg string, now time.Time) error {
	_, err := tx.Exec(ctx, `
UPDATE notifications SET state = $2, receipt = NULLIF($3, ''), last_error = NULLIF($4, ''), attempts = attempts + 1,
  sent_at = CASE WHEN $2 = 'sent' THEN $5::timestamptz END
WHERE id = $1`, id, state, receipt, errMsg, now)
	if err != nil {
		return fmt.Errorf("notification %d: finish: %w", id, mapErr(err))
	}
	return nil
}

// NotificationsCancel cancels an incident's pending notifications (of the
// given kinds) and returns the River jobs that would have sent them.
func NotificationsCancel(ctx context.Context, tx pgx.Tx, incidentID int64, kinds ...string) ([]int64, error) {
	rows, err := tx.Query(ctx, `
UPDATE notifications SET state = 'cancelled'
WHERE incident_id = $1 AND state = 'pending' AND kind = ANY($2)
RETURNING COALESCE(job_id, 0)`, incidentID, kinds)
	if err != nil {
		return nil, fmt.Errorf("cancel notifications of incident %d: %w", incidentID, mapErr(err))
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("cancel notifications of incident %d: %w", incidentID, mapErr(err))
	}
	return jobs, nil
}

// NotificationsNextRule finds the user's pending notifications of the
// first rule after ruleIndex in the same escalation round (the fallback
// after a permanent failure), moves them to now and returns them.
func NotificationsNextRule(ctx context.Context, tx pgx.Tx, n *Notification, now time.Time) ([]Notification, error) {
	rows, err := tx.Query(ctx, `
UPDATE notifications SET due_at = $6
WHERE incident_id = $1 AND user_name = $2 AND escalation_step = $3 AND escalation_loop = $4 AND state = 'pending'
  AND due_at > $6
  AND rule_index = (SELECT min(rule_index) FROM notifications
                    WHERE incident_id = $1 AND user_name = $2 AND escalation_step = $3 AND escalation_loop = $4
                      AND state = 'pending' AND rule_index > $5)
RETURNING id, COALESCE(job_id, 0)`, n.IncidentID, n.User, n.Step, n.Loop, n.RuleIndex, now)
	if err != nil {
		return nil, fmt.Errorf("next rule after notification %d: %w", n.ID, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var m Notification
		return m, r.Scan(&m.ID, &m.JobID)
	})
	if err != nil {
		return nil, fmt.Errorf("next rule after notification %d: %w", n.ID, mapErr(err))
	}
	return out, nil
}

// Notifications lists an incident's notifications in order of creation.
func Notifications(ctx context.Context, q Querier, incidentID int64) ([]Notification, error) {
	rows, err := q.Query(ctx, `
SELECT id, incident_id, COALESCE(user_name, ''), method, contact_name, address, kind, escalation_step, escalation_loop,
  rule_index, reason, due_at, state, attempts, COALESCE(last_error, ''), COALESCE(receipt, ''), COALESCE(job_id, 0)
FROM notifications WHERE incident_id = $1 ORDER BY id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("notifications of incident %d: %w", incidentID, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		err := r.Scan(&n.ID, &n.IncidentID, &n.User, &n.Method, &n.ContactName, &n.Address, &n.Kind, &n.Step, &n.Loop,
			&n.RuleIndex, &n.Reason, &n.DueAt, &n.State, &n.Attempts, &n.LastError, &n.Receipt, &n.JobID)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("notifications of incident %d: %w", incidentID, mapErr(err))
	}
	return out, nil
}

// Message is where an incident is shown.
type Message struct {
	IncidentID int64
	Method     string
	Ref        string
	NotedLogID int64
	Reason     string // why this copy went out, shown in it whatever it is rewritten to
}

// MessageAdd records that the incident is shown at ref.
func MessageAdd(ctx context.Context, q Querier, m Message, now time.Time) error {
	_, err := q.Exec(ctx, `
INSERT INTO incident_messages (incident_id, method, ref, noted_log_id, created_at, reason) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING`, m.IncidentID, m.Method, m.Ref, m.NotedLogID, now, m.Reason)
	if err != nil {
		return fmt.Errorf("record message of incident %d: %w", m.IncidentID, mapErr(err))
	}
	return nil
}

// MessagesLock lists and locks where an incident is shown.
func MessagesLock(ctx context.Context, tx pgx.Tx, incidentID int64) ([]Message, error) {
	rows, err := tx.Query(ctx, `
SELECT incident_id, method, ref, noted_log_id, reason FROM incident_messages WHERE incident_id = $1 ORDER BY created_at, ref FOR UPDATE`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("messages of incident %d: %w", incidentID, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Message])
	if err != nil {
		return nil, fmt.Errorf("messages of incident %d: %w", incidentID, mapErr(err))
	}
	return out, nil
}

// MessageNoted records the last timeline entry posted under a message.
func MessageNoted(ctx context.Context, tx pgx.Tx, m Message, logID int64) error {
	_, err := tx.Exec(ctx, `UPDATE incident_messages SET noted_log_id = $4 WHERE incident_id = $1 AND method = $2 AND ref = $3`,
		m.IncidentID, m.Method, m.Ref, logID)
	if err != nil {
		return fmt.Errorf("message of incident %d: %w", m.IncidentID, mapErr(err))
	}
	return nil
}

// ChangeEventInsert records a change event on a service's timeline.
func ChangeEventInsert(ctx context.Context, q Querier, integrationID int64, serviceName string, ev oncall.ChangeEvent, now time.Time) error {
	at := ev.Timestamp
	if at.IsZero() {
		at = now
	}
	_, err := q.Exec(ctx, `
INSERT INTO change_events (integration_id, service_id, service_name, summary, source, at, details, links, received_at)
VALUES ($1, (SELECT id FROM services WHERE name = $2), $2, $3, $4, $5, $6, $7, $8)`,
		integrationID, serviceName, ev.Summary, ev.Source, at, ev.Details, nonNilSlice(ev.Links), now)
	if err != nil {
		return fmt.Errorf("record change event: %w", mapErr(err))
	}
	return nil
}

// ConfigVersion changes whenever the configuration does: it is the last
// entry of the audit log, which every change writes in its transaction.
func ConfigVersion(ctx context.Context, q Querier) (int64, error) {
	var v int64
	if err := q.QueryRow(ctx, `SELECT COALESCE(max(id), 0) FROM audit_log`).Scan(&v); err != nil {
		return 0, fmt.Errorf("config version: %w", mapErr(err))
	}
	return v, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// UserWasNotified reports whether user was sent (or tried to be sent) a
// page for incident id.
func UserWasNotified(ctx context.Context, q Querier, id int64, user string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notifications WHERE incident_id = $1 AND user_name = $2 AND state IN ('sent', 'failed'))`,
		id, user).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("was %s notified of incident %d: %w", user, id, mapErr(err))
	}
	return ok, nil
}

// LatestNotifiedIncident is the open incident user was last sent a page for
// by method ("" for any); oncall.ErrNotFound when there is none.
func LatestNotifiedIncident(ctx context.Context, q Querier, user, method string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `
SELECT n.incident_id FROM notifications n JOIN incidents i ON i.id = n.incident_id
WHERE n.user_name = $1 AND ($2 = '' OR n.method = $2) AND n.state = 'sent' AND i.state <> 'resolved'
ORDER BY n.sent_at DESC, n.id DESC LIMIT 1`, user, method).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("latest page to %s: %w", user, mapErr(err))
	}
	return id, nil
}

// IncidentListForUser lists the open incidents user was paged for or that
// belong to one of services, newest first, at most limit.
func IncidentListForUser(ctx context.Context, q Querier, user string, services []string, limit int) ([]*Incident, error) {
	rows, err := q.Query(ctx, `SELECT `+incidentColumns+` FROM incidents i
WHERE state <> 'resolved' AND (service_name = ANY($2)
   OR EXISTS (SELECT 1 FROM notifications n WHERE n.incident_id = i.id AND n.user_name = $1))
ORDER BY created_at DESC, id DESC LIMIT $3`, user, services, limit)
	if err != nil {
		return nil, fmt.Errorf("incidents of %s: %w", user, mapErr(err))
	}
	defer rows.Close()
	var out []*Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("incidents of %s: %w", user, err)
		}
		out = append(out, in)
	}
	return out, mapErr(rows.Err())
}

// NotificationByReceipt finds the notification a provider's receipt (a
// Twilio message SID, say) belongs to; oncall.ErrNotFound when none.
func NotificationByReceipt(ctx context.Context, q Querier, method, receipt string) (*Notification, error) {
	n, err := scanNotification(q.QueryRow(ctx, `
SELECT id, incident_id, COALESCE(user_name, ''), method, contact_name, address, kind, escalation_step, escalation_loop,
  rule_index, reason, due_at, state, attempts, COALESCE(last_error, ''), COALESCE(receipt, ''), COALESCE(job_id, 0)
FROM notifications WHERE method = $1 AND receipt = $2 ORDER BY id DESC LIMIT 1`, method, receipt))
	if err != nil {
		return nil, fmt.Errorf("notification with receipt: %w", err)
	}
	return n, nil
}

// LockAddress serializes, until the end of tx, the sends to one address by
// one method (the per-number rate limit's check-then-send).
func LockAddress(ctx context.Context, tx pgx.Tx, method, address string) error {
	// A newline separates the two (Postgres text cannot hold a NUL byte).
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, method+"\n"+address); err != nil {
		return fmt.Errorf("lock address: %w", mapErr(err))
	}
	return nil
}

// LastSentTo is when something was last sent to address by method (zero
// when never).
func LastSentTo(ctx context.Context, q Querier, method, address string) (time.Time, error) {
	var at *time.Time
	err := q.QueryRow(ctx, `SELECT max(sent_at) FROM notifications WHERE method = $1 AND address = $2 AND state = 'sent'`,
		method, address).Scan(&at)
	if err != nil || at == nil {
		return time.Time{}, mapErr(err)
	}
	return at.UTC(), nil
}

// BundleCandidates locks the other pages due by now to address by method,
// of incidents still triggered, oldest first, at most limit, to go out in
// one message with notification except. It never waits: rows another
// transaction holds (a send under way, an ack committing) are left out.
func BundleCandidates(ctx context.Context, tx pgx.Tx, method, address string, except int64, now time.Time, limit int) ([]*Notification, []*Incident, error) {
	return BundleCandidatesKind(ctx, tx, method, address, KindPage, except, now, limit)
}

// BundleCandidatesKind is BundleCandidates for notifications of kind (a
// channel's notices bundle with notices, pages with pages).
func BundleCandidatesKind(ctx context.Context, tx pgx.Tx, method, address, kind string, except int64, now time.Time, limit int) ([]*Notification, []*Incident, error) {
	rows, err := tx.Query(ctx, `
SELECT id, incident_id, COALESCE(user_name, ''), method, contact_name, address, kind, escalation_step, escalation_loop,
  rule_index, reason, due_at, state, attempts, COALESCE(last_error, ''), COALESCE(receipt, ''), COALESCE(job_id, 0)
FROM notifications
WHERE method = $1 AND address = $2 AND state = 'pending' AND kind = $6 AND due_at <= $3 AND id <> $4
ORDER BY due_at, id LIMIT $5
FOR UPDATE SKIP LOCKED`, method, address, now, except, limit, kind)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle candidates: %w", mapErr(err))
	}
	ns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Notification, error) { return scanNotification(r) })
	if err != nil || len(ns) == 0 {
		return nil, nil, err
	}
	ids := make([]int64, len(ns))
	for i, n := range ns {
		ids[i] = n.IncidentID
	}
	// Pages only for incidents still triggered; notices whatever the state.
	rows, err = tx.Query(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ANY($1) AND (state = 'triggered' OR $2 <> 'page')
FOR SHARE SKIP LOCKED`, ids, kind)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle candidates: %w", mapErr(err))
	}
	ins, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Incident, error) { return scanIncident(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("bundle candidates: %w", err)
	}
	byID := map[int64]*Incident{}
	for _, in := range ins {
		byID[in.ID] = in
	}
	var outN []*Notification
	var outI []*Incident
	for _, n := range ns {
		if in := byID[n.IncidentID]; in != nil {
			outN, outI = append(outN, n), append(outI, in)
		}
	}
	return outN, outI, nil
}

// UserRound counts user's notifications for an incident's escalation
// round (step, loop) that are still pending and that were sent.
func UserRound(ctx context.Context, q Querier, incidentID int64, user string, step, loop int) (pending, sent int, err error) {
	err = q.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'sent')
FROM notifications WHERE incident_id = $1 AND user_name = $2 AND escalation_step = $3 AND escalation_loop = $4`,
		incidentID, user, step, loop).Scan(&pending, &sent)
	if err != nil {
		return 0, 0, fmt.Errorf("notifications of %s for incident %d: %w", user, incidentID, mapErr(err))
	}
	return pending, sent, nil
}
