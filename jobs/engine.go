package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// Engine is the only code that changes an incident's state. Every surface
// (webhooks, Slack buttons, SMS replies, the mobile API, the CLI) calls it,
// and each call is one transaction that also inserts the River jobs the new
// state needs (escalation timers, notifications, message updates), so a
// committed state always has its jobs and an aborted one has none.
type Engine struct {
	pool     *pgxpool.Pool
	river    *river.Client[pgx.Tx]
	clock    oncall.Clock
	channels map[string]notify.Channel
	config   configCache
	storm    stormDetector
	// stormSlots bounds the alerts of storming services written at once
	// (stormTurn).
	stormSlots chan struct{}
	addrs      addressLocks
	// SendTimeout bounds one provider call made while the notification and
	// incident rows are locked.
	SendTimeout time.Duration
}

// Actors other than users.
const (
	ActorSource = "source" // the alert's sender
	ActorSystem = "system"
)

// NewEngine builds an engine. channels maps a notify.Method* to its
// channel; a method without one is off (paging falls through to the next
// rule). Workers registers the engine's workers; the River client is set
// with SetRiver once built from them.
func NewEngine(pool *pgxpool.Pool, clock oncall.Clock, channels map[string]notify.Channel) *Engine {
	return &Engine{pool: pool, clock: clock, channels: channels, SendTimeout: 10 * time.Second,
		stormSlots: make(chan struct{}, stormIngest)}
}

// SetRiver gives the engine the River client it inserts jobs with.
func (e *Engine) SetRiver(c *river.Client[pgx.Tx]) { e.river = c }

// Workers registers the engine's job workers.
func (e *Engine) Workers(w *river.Workers) {
	river.AddWorker(w, &escalateWorker{e: e})
	river.AddWorker(w, &notifyWorker{e: e})
	river.AddWorker(w, &updateWorker{e: e})
}

// Result is what Ingest did.
type Result struct {
	IncidentID int64  // 0 when the event touched no incident
	DedupKey   string // the incident's dedup key
	Created    bool
	Changed    bool
}

// Ingest applies one inbound alert event from integration, in one
// transaction: route a new alert and open its incident (with its first
// escalation job), add alerts to an open one, or acknowledge or resolve it.
// Applying the same event twice changes nothing the second time.
func (e *Engine) Ingest(ctx context.Context, integ store.Integration, ev oncall.AlertEvent) (Result, error) {
	release, err := e.stormTurn(ctx, integ, ev)
	if err != nil {
		return Result{}, err
	}
	defer release()
	var res Result
	err = e.inTx(ctx, func(tx *txn) error {
		version, in, newID, err := store.IngestLookup(ctx, tx, integ.ID, ev.DedupKey)
		if err != nil {
			return err
		}
		cfg, err := e.config.at(ctx, tx, version)
		if err != nil {
			return err
		}
		res, err = e.ingestEvent(ctx, tx, cfg, integ, ev, in, newID)
		return err
	})
	return res, err
}

// txAttempts bounds inTx's retries.
const txAttempts = 4

// inTx runs fn in a transaction, again when it failed only because of a
// concurrent one: a deadlock or serialization failure, or two first
// deliveries of one dedup key racing (the loser then finds the winner's
// incident).
func (e *Engine) inTx(ctx context.Context, fn func(*txn) error) error {
	return e.inTxAttempts(ctx, txAttempts, fn)
}

// inTxAttempts is inTx with at most attempts tries.
func (e *Engine) inTxAttempts(ctx context.Context, attempts int, fn func(*txn) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			t := &txn{Tx: tx}
			if err := fn(t); err != nil {
				return err
			}
			return e.flush(ctx, t, e.clock.Now().UTC())
		})
		if err == nil || attempt >= attempts || !retryable(err) {
			return err
		}
	}
}

func retryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001") {
		return true
	}
	return errors.Is(err, oncall.ErrConflict)
}

// ingestTx applies ev in tx, looking up its open incident first.
func (e *Engine) ingestTx(ctx context.Context, tx *txn, cfg *config, integ store.Integration, ev oncall.AlertEvent) (Result, error) {
	in, err := store.IncidentOpenByDedupKey(ctx, tx, integ.ID, ev.DedupKey)
	switch {
	case errors.Is(err, oncall.ErrNotFound):
		in = nil
	case err != nil:
		return Result{DedupKey: ev.DedupKey}, err
	}
	return e.ingestEvent(ctx, tx, cfg, integ, ev, in, 0)
}

// ingestEvent applies ev to in, the integration's locked open incident
// with its dedup key (nil when there is none). newID, when not 0, is the
// id drawn for an incident ev opens (store.IngestLookup).
func (e *Engine) ingestEvent(ctx context.Context, tx *txn, cfg *config, integ store.Integration, ev oncall.AlertEvent, in *store.Incident, newID int64) (Result, error) {
	now := e.clock.Now().UTC()
	res := Result{DedupKey: ev.DedupKey}
	hash := eventHash(ev)
	var err error
	if in != nil {
		res.IncidentID = in.ID
		if string(in.LastEventHash) == string(hash) {
			return res, nil // a sender's retry: nothing new
		}
	}

	switch ev.Action {
	case oncall.ActionAcknowledge:
		if in == nil || in.State != store.StateTriggered {
			return res, nil
		}
		in.LastEventHash = hash
		res.Changed = true
		return res, e.ackTx(ctx, tx, in, ActorSource+" ("+integ.Name+")", now)
	case oncall.ActionResolve:
		if in == nil {
			return res, nil
		}
		in.LastEventHash = hash
		res.Changed = true
		if len(ev.Alerts) > 0 {
			if _, _, err := store.IncidentAlertsUpsert(ctx, tx, in.ID, alertStates(ev.Alerts), now); err != nil {
				return res, err
			}
		}
		return res, e.resolveTx(ctx, tx, in, ActorSource+" ("+integ.Name+")", now)
	}

	// A trigger, possibly carrying resolved member alerts.
	if in == nil {
		if len(ev.Alerts) > 0 && allResolved(ev.Alerts) {
			return res, nil // resolved alerts of an incident we no longer have open
		}
		in, err = e.open(ctx, tx, cfg, integ, ev, hash, newID, now)
		if err != nil {
			return res, err
		}
		res.IncidentID, res.Created, res.Changed = in.ID, true, true
		return res, nil
	}

	res.Changed = true
	in.LastEventHash = hash
	in.Summary, in.Labels, in.Annotations = ev.Summary, ev.Labels, ev.Annotations
	if ev.Severity != "" {
		in.Severity = ev.Severity
	}
	if len(ev.Details) > 0 {
		in.Details = ev.Details
	}
	if len(ev.Alerts) > 0 {
		changed, firing, err := store.IncidentAlertsUpsert(ctx, tx, in.ID, alertStates(ev.Alerts), now)
		if err != nil {
			return res, err
		}
		if firing == 0 {
			return res, e.resolveTx(ctx, tx, in, ActorSource+" ("+integ.Name+")", now)
		}
		if changed > 0 {
			tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "alerts", Actor: ActorSource,
				Message: fmt.Sprintf("%d alert(s) changed, %d firing", changed, firing)})
		}
	}
	if err := store.IncidentUpdate(ctx, tx, in, now); err != nil {
		return res, err
	}
	return res, e.insertUpdate(ctx, tx, in.ID)
}

// open routes a new alert and opens its incident.
func (e *Engine) open(ctx context.Context, tx *txn, cfg *config, integ store.Integration, ev oncall.AlertEvent, hash []byte, newID int64, now time.Time) (*store.Incident, error) {
	rt := cfg.route(integ.Name, integ.ServiceName, ev.Severity, ev.Summary, ev.Labels, ev.Annotations)
	in := &store.Incident{
		IntegrationID: integ.ID, ServiceName: integ.ServiceName, DedupKey: ev.DedupKey, State: store.StateTriggered,
		Summary: ev.Summary, Severity: ev.Severity, Urgency: rt.urgency, Paging: rt.page, RuleName: rt.rule,
		Source: ev.Source, Client: ev.Client, ClientURL: ev.ClientURL, Labels: ev.Labels, Annotations: ev.Annotations,
		Details: ev.Details, Links: ev.Links, Images: ev.Images, LastEventHash: hash, CreatedAt: now,
		EscalationStep: -1,
	}
	if in.Severity == "" {
		in.Severity = oncall.SeverityCritical
	}
	if rt.service != nil {
		in.ServiceName, in.PolicyName = rt.service.Name, rt.service.EscalationPolicy
	}
	if newID != 0 && len(ev.Alerts) == 0 {
		// Written at the end, with its final state, in the round trip that
		// writes its timeline and notifications (its member alerts, when it
		// has some, need the row first).
		in.ID = newID
		tx.inserts = append(tx.inserts, in)
	} else if _, err := store.IncidentInsert(ctx, tx, in); err != nil {
		return nil, err
	}
	tx.setStorm(in.ID)(e.storm.opened(in.ServiceName, now))
	if len(ev.Alerts) > 0 {
		if _, _, err := store.IncidentAlertsUpsert(ctx, tx, in.ID, alertStates(ev.Alerts), now); err != nil {
			return nil, err
		}
	}
	how := "paging " + in.PolicyName
	if !in.Paging {
		how = "not paging (rule " + rt.rule + ")"
	} else if in.PolicyName == "" {
		how = "no escalation policy"
	}
	msg := fmt.Sprintf("triggered by %s on %s, %s urgency, %s", integ.Name, in.ServiceName, in.Urgency, how)
	if rt.rule != "" {
		msg += ", rule " + rt.rule
	}
	tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "triggered", Actor: ActorSource, Message: msg})
	if ch := cfg.teamChannel(in.ServiceName); ch != "" {
		if err := e.queueNotice(ctx, tx, in, notify.MethodSlackChannel, ch, "new incident", now); err != nil {
			return nil, err
		}
	}
	if in.Paging && in.PolicyName != "" {
		// The first step runs here, in the alert's own transaction: its
		// notification jobs commit with the incident (nothing is lost) and
		// start at once, without a hop through an escalate job.
		if err := e.runStep(ctx, tx, cfg, in, EscalateArgs{IncidentID: in.ID, Seq: in.EscalationSeq}, now); err != nil {
			return nil, err
		}
		delete(tx.updates, in.ID) // nothing shows the incident yet: its first messages are being sent
	}
	return in, nil
}

// Ack acknowledges an incident for actor. Acknowledging an incident that
// is no longer triggered changes nothing and is not an error.
func (e *Engine) Ack(ctx context.Context, incidentID int64, actor string) (*store.Incident, error) {
	return e.transition(ctx, incidentID, func(tx *txn, in *store.Incident, now time.Time) error {
		if in.State != store.StateTriggered {
			return nil
		}
		return e.ackTx(ctx, tx, in, actor, now)
	})
}

// Resolve resolves an incident for actor.
func (e *Engine) Resolve(ctx context.Context, incidentID int64, actor string) (*store.Incident, error) {
	return e.transition(ctx, incidentID, func(tx *txn, in *store.Incident, now time.Time) error {
		if !in.Open() {
			return nil
		}
		return e.resolveTx(ctx, tx, in, actor, now)
	})
}

// Escalate moves an open incident to the next step of its policy now (an
// acknowledged incident is triggered again).
func (e *Engine) Escalate(ctx context.Context, incidentID int64, actor string) (*store.Incident, error) {
	return e.EscalateSeen(ctx, incidentID, -1, actor)
}

// EscalateSeen is Escalate from a button that showed the incident at
// escalation sequence seq: if the incident was acknowledged, escalated or
// reassigned since (its sequence moved on), nothing changes and the error
// says so. A click Slack re-delivers to another process, or two people's
// clicks on one page, escalate once. A seq below 0 checks nothing.
func (e *Engine) EscalateSeen(ctx context.Context, incidentID int64, seq int, actor string) (*store.Incident, error) {
	return e.transition(ctx, incidentID, func(tx *txn, in *store.Incident, now time.Time) error {
		if !in.Open() {
			return nil
		}
		if seq >= 0 && in.EscalationSeq != seq {
			return &oncall.UserError{Msg: fmt.Sprintf(
				"incident #%d was %s after this message was shown, so this click escalated nothing; press Escalate on its updated message to escalate it further",
				in.ID, changedBy(in))}
		}
		if in.PolicyName == "" {
			return &oncall.UserError{Msg: fmt.Sprintf("incident #%d has no escalation policy to escalate to", in.ID)}
		}
		cfg, err := e.config.get(ctx, tx)
		if err != nil {
			return err
		}
		step, loop := in.EscalationStep+1, in.EscalationLoop
		if p := cfg.policies[in.PolicyName]; p != nil && step >= len(p.Steps) {
			step, loop = 0, loop+1 // past the last step: round again
		}
		if err := e.cancelPending(ctx, tx, in); err != nil {
			return err
		}
		if in.State == store.StateAcknowledged {
			in.State, in.AcknowledgedAt, in.AcknowledgedBy = store.StateTriggered, nil, ""
		}
		in.EscalationDone = false
		tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "escalate", Actor: actor,
			Message: fmt.Sprintf("escalated by %s to step %d", actor, step+1)})
		if err := e.scheduleEscalation(ctx, tx, in, step, loop, now, now); err != nil {
			return err
		}
		if err := store.IncidentUpdate(ctx, tx, in, now); err != nil {
			return err
		}
		return e.insertUpdate(ctx, tx, in.ID)
	})
}

// Reassign pages user for an open incident now (an acknowledged one is
// triggered again), in place of whatever escalation was pending; if they
// do not acknowledge, the incident's policy starts over from its first
// step after manifest.DefaultEscalateAfter.
func (e *Engine) Reassign(ctx context.Context, incidentID int64, user, actor string) (*store.Incident, error) {
	return e.transition(ctx, incidentID, func(tx *txn, in *store.Incident, now time.Time) error {
		if !in.Open() {
			return &oncall.UserError{Msg: fmt.Sprintf("incident #%d is resolved", in.ID)}
		}
		cfg, err := e.config.get(ctx, tx)
		if err != nil {
			return err
		}
		u := cfg.users[user]
		if u == nil {
			return &oncall.UserError{Msg: fmt.Sprintf("there is no user %q", user)}
		}
		if err := e.cancelPending(ctx, tx, in); err != nil {
			return err
		}
		if in.State == store.StateAcknowledged {
			in.State, in.AcknowledgedAt, in.AcknowledgedBy = store.StateTriggered, nil, ""
		}
		in.EscalationDone = false
		args := EscalateArgs{IncidentID: in.ID, Seq: in.EscalationSeq, Step: max(in.EscalationStep, 0), Loop: in.EscalationLoop}
		if err := e.pageUser(ctx, tx, u, in, args, "reassigned by "+actor, now); err != nil {
			return err
		}
		tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "reassigned", Actor: actor, User: user,
			Message: fmt.Sprintf("reassigned to %s by %s", user, actor)})
		if in.PolicyName != "" {
			if err := e.scheduleEscalation(ctx, tx, in, 0, 0, now.Add(manifest.DefaultEscalateAfter), now); err != nil {
				return err
			}
		}
		if err := store.IncidentUpdate(ctx, tx, in, now); err != nil {
			return err
		}
		return e.insertUpdate(ctx, tx, in.ID)
	})
}

// transition runs fn on the locked incident in one transaction.
func (e *Engine) transition(ctx context.Context, id int64, fn func(*txn, *store.Incident, time.Time) error) (*store.Incident, error) {
	var out *store.Incident
	err := e.inTx(ctx, func(tx *txn) error {
		in, err := store.IncidentGet(ctx, tx, id, store.LockUpdate)
		if err != nil {
			return err
		}
		if err := fn(tx, in, e.clock.Now().UTC()); err != nil {
			return err
		}
		out = in
		return nil
	})
	return out, err
}

func (e *Engine) ackTx(ctx context.Context, tx *txn, in *store.Incident, actor string, now time.Time) error {
	in.State, in.AcknowledgedAt, in.AcknowledgedBy = store.StateAcknowledged, &now, actor
	if err := e.cancelPending(ctx, tx, in); err != nil {
		return err
	}
	tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "acknowledged", Actor: actor,
		Message: "acknowledged by " + actor})
	if err := store.IncidentUpdate(ctx, tx, in, now); err != nil {
		return err
	}
	return e.insertUpdate(ctx, tx, in.ID)
}

func (e *Engine) resolveTx(ctx context.Context, tx *txn, in *store.Incident, actor string, now time.Time) error {
	in.State, in.ResolvedAt, in.ResolvedBy = store.StateResolved, &now, actor
	if err := e.cancelPending(ctx, tx, in); err != nil {
		return err
	}
	tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "resolved", Actor: actor,
		Message: "resolved by " + actor})
	if err := store.IncidentUpdate(ctx, tx, in, now); err != nil {
		return err
	}
	return e.insertUpdate(ctx, tx, in.ID)
}

// cancelPending cancels every pending page of the incident and its
// escalation timer, rows and River jobs alike; bumping the sequence makes
// any escalate job already running stale.
func (e *Engine) cancelPending(ctx context.Context, tx *txn, in *store.Incident) error {
	jobIDs, err := store.NotificationsCancel(ctx, tx, in.ID, store.KindPage)
	if err != nil {
		return err
	}
	if in.EscalationJobID != 0 {
		jobIDs = append(jobIDs, in.EscalationJobID)
	}
	in.EscalationSeq++
	in.EscalationJobID = 0
	for _, id := range jobIDs {
		if id == 0 {
			continue
		}
		if _, err := e.river.JobCancelTx(ctx, tx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("cancel job %d: %w", id, err)
		}
	}
	return nil
}

// scheduleEscalation queues the escalate job for (step, loop) at at.
func (e *Engine) scheduleEscalation(ctx context.Context, tx *txn, in *store.Incident, step, loop int, at, now time.Time) error {
	x := escalation{in: in, args: EscalateArgs{IncidentID: in.ID, Seq: in.EscalationSeq, Step: step, Loop: loop}}
	if at.After(now) {
		x.at = at
	}
	// Inserted with the transaction's other jobs (flush), which records
	// the job's id as the incident's escalation_job_id.
	tx.escalations = append(tx.escalations, x)
	in.EscalationJobID = 0
	return nil
}

// queueNotice queues a post that goes out whatever the incident's state
// (the team channel's copy, the final notice).
func (e *Engine) queueNotice(ctx context.Context, tx *txn, in *store.Incident, method, address, reason string, now time.Time) error {
	n := &store.Notification{IncidentID: in.ID, Method: method, Address: address, Kind: store.KindNotice,
		Step: max(in.EscalationStep, 0), Loop: in.EscalationLoop, Reason: reason, DueAt: now}
	return e.queueNotification(ctx, tx, n, now)
}

func (e *Engine) queueNotification(_ context.Context, tx *txn, n *store.Notification, _ time.Time) error {
	tx.notes = append(tx.notes, n)
	return nil
}

// insertUpdate queues the update of every message that shows the incident.
func (e *Engine) insertUpdate(_ context.Context, tx *txn, incidentID int64) error {
	if tx.updates == nil {
		tx.updates = map[int64]bool{}
	}
	tx.updates[incidentID] = true
	return nil
}

// ChangeEvent records a change event on the integration's service.
func (e *Engine) ChangeEvent(ctx context.Context, integ store.Integration, ev oncall.ChangeEvent) error {
	return store.ChangeEventInsert(ctx, e.pool, integ.ID, integ.ServiceName, ev, e.clock.Now().UTC())
}

func alertStates(alerts []oncall.Alert) []store.AlertState {
	out := make([]store.AlertState, len(alerts))
	for i, a := range alerts {
		out[i] = store.AlertState{Fingerprint: a.Fingerprint, Summary: a.Summary, Labels: a.Labels, Resolved: a.Resolved}
	}
	return out
}

func allResolved(alerts []oncall.Alert) bool {
	for _, a := range alerts {
		if !a.Resolved {
			return false
		}
	}
	return true
}

// eventHash identifies an event's content, so a sender's retry of the same
// payload is recognised and changes nothing.
func eventHash(ev oncall.AlertEvent) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", ev.Action, ev.DedupKey, ev.Summary, ev.Severity)
	writeMap(h, ev.Labels)
	writeMap(h, ev.Annotations)
	h.Write(ev.Details)
	alerts := make([]string, len(ev.Alerts))
	for i, a := range ev.Alerts {
		alerts[i] = fmt.Sprintf("%s=%v", a.Fingerprint, a.Resolved)
	}
	sort.Strings(alerts)
	h.Write([]byte(strings.Join(alerts, "\x00")))
	links, _ := json.Marshal(ev.Links)
	h.Write(links)
	return h.Sum(nil)
}

func writeMap(h interface{ Write([]byte) (int, error) }, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, m[k])
	}
	h.Write([]byte{1})
}

// FindUser is the name of our user with the Slack ID, or else with the
// email (case-insensitive); ok is false for someone who is not ours.
func (e *Engine) FindUser(ctx context.Context, slackID, email string) (name string, ok bool, err error) {
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return "", false, err
	}
	for _, u := range cfg.set.Users {
		if slackID != "" && u.SlackID == slackID {
			return u.Name, true, nil
		}
	}
	for _, u := range cfg.set.Users {
		if email != "" && strings.EqualFold(u.Email, email) {
			return u.Name, true, nil
		}
	}
	return "", false, nil
}

func isRiverNotFound(err error) bool { return errors.Is(err, river.ErrNotFound) }

// changedBy says what moved an open incident's escalation sequence on
// (cancelPending): an acknowledgement, or an escalation or reassignment.
func changedBy(in *store.Incident) string {
	if in.State == store.StateAcknowledged {
		if in.AcknowledgedBy != "" {
			return "acknowledged by " + in.AcknowledgedBy
		}
		return "acknowledged"
	}
	return "escalated or reassigned"
}
