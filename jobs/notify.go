package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// NotifyArgs sends one notification row.
type NotifyArgs struct {
	NotificationID int64 `json:"notification_id"`
	// Method is the notification's, so that only sends to rate-limited
	// methods look up and lock their address first ("" in jobs queued
	// before it existed: they do).
	Method string `json:"method,omitempty"`
	// Key names the address (bundleKey) of a storm's page by a method that
	// bundles without a rate limit (Slack): the page is bundled, and sends
	// to one address take turns in the process. "" for any other page.
	Key string `json:"key,omitempty"`
}

func (NotifyArgs) Kind() string { return "notify" }

// sendAttempts is how many times a temporary failure is retried (with
// River's backoff of 1 s, 2 s, ...) before the delivery policy gives up on
// the channel and moves to the user's next rule.
const sendAttempts = 3

type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	e *Engine
}

// errRetry makes the transaction commit what it recorded and River retry.
type retryLater struct {
	snooze time.Duration // a rate limit: wait this long, not counting an attempt
	err    error         // a temporary failure: River's backoff
}

func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	if job.Args.Key != "" {
		if until := w.e.addrs.coolUntil(job.Args.Key, w.e.clock.Now()); !until.IsZero() {
			return river.JobSnooze(until.Sub(w.e.clock.Now()))
		}
		unlock, err := w.e.addrs.lock(ctx, job.Args.Key)
		if err != nil {
			return err
		}
		defer unlock()
	}
	var later retryLater
	// One attempt only: the transaction holds a send to a provider, which
	// must not be repeated by a transaction retry (River retries the job
	// when the database fails, and the row says whether it was sent).
	err := w.e.inTxAttempts(ctx, 1, func(tx *txn) error {
		var err error
		later, err = w.e.send(ctx, tx, job.Args, job.Attempt)
		return err
	})
	switch {
	case err != nil:
		return err
	case later.snooze > 0:
		return river.JobSnooze(later.snooze)
	default:
		return later.err
	}
}

// send delivers notification id. The notification row is locked for
// update and the incident for share while the provider is called, so an
// acknowledgement (which updates the incident) waits for a send already
// under way and every send after it sees the new state: a page never goes
// out after an ack committed.
func (e *Engine) send(ctx context.Context, tx *txn, args NotifyArgs, attempt int) (retryLater, error) {
	id := args.NotificationID
	// A rate-limited address is locked first, before any row: a send that
	// waits for another to the same number then holds no row, so the
	// other can take its page into its bundle (rows locked by a send are
	// skipped, and would wait a whole interval more).
	if args.Method == "" || addressInterval[args.Method] > 0 {
		if method, address, err := store.NotificationAddress(ctx, tx, id); err == nil && addressInterval[method] > 0 && address != "" {
			if err := store.LockAddress(ctx, tx, method, address); err != nil {
				return retryLater{}, err
			}
		}
	}
	// Locks are taken incident first, then notification, the order every
	// transition uses, so the two never deadlock.
	in, n, version, alerts, err := store.SendLookup(ctx, tx, id)
	if errors.Is(err, oncall.ErrNotFound) {
		return retryLater{}, nil
	}
	if err != nil {
		return retryLater{}, err
	}
	if n.State != store.NotificationPending {
		return retryLater{}, nil
	}
	now := e.clock.Now().UTC()
	if n.Kind == store.KindPage && in.State != store.StateTriggered {
		return retryLater{}, store.NotificationFinish(ctx, tx, n.ID, store.NotificationCancelled, "", "incident "+in.State, now)
	}
	cfg, err := e.config.at(ctx, tx, version)
	if err != nil {
		return retryLater{}, err
	}
	to := notify.Target{User: n.User, Method: n.Method, Address: n.Address}
	if u := cfg.users[n.User]; u != nil {
		to.FullName, to.Email = u.FullName, u.Email
	}
	page := e.page(cfg, in, alerts, n.Reason)
	page.Key = strconv.FormatInt(n.ID, 10)
	ch := e.channels[n.Method]
	if n.Method == notify.MethodPush && ch != nil {
		if to.Devices, err = e.pushDevices(ctx, tx, n.User); err != nil {
			return retryLater{}, err
		}
	}

	// The per-number rate limit: at most one message (or call) per
	// interval to a number; pages that pile up meanwhile wait, and go out
	// together with the next one when the channel can bundle. Slack has no
	// such limit, but during a storm its pages bundle too (bundleInterval).
	var bundle []*store.Notification
	var pages []notify.Page
	_, bundler := ch.(notify.Bundler)
	switch iv, biv := addressInterval[n.Method], bundleInterval[n.Method]; {
	case ch == nil || n.Address == "":
	case iv > 0 && n.Kind == store.KindPage:
		last, err := store.LastSentTo(ctx, tx, n.Method, n.Address)
		if err != nil {
			return retryLater{}, err
		}
		if wait := last.Add(iv).Sub(now); !last.IsZero() && wait > 0 {
			return retryLater{snooze: wait}, nil
		}
		if bundler {
			if bundle, pages, err = e.bundle(ctx, tx, cfg, n, now); err != nil {
				return retryLater{}, err
			}
		}
	case biv > 0 && bundler && args.Key != "": // a storm's page
		last, count, err := store.LastSend(ctx, tx, n.Method, n.Address, stormBundle)
		if err != nil {
			return retryLater{}, err
		}
		if wait := last.Add(biv).Sub(now); count >= stormBundle && wait > 0 {
			if args.Key != "" {
				e.addrs.setCool(args.Key, last.Add(biv))
			}
			return retryLater{snooze: wait}, nil // a storm: this page goes in the next bundle
		}
		if bundle, pages, err = e.bundle(ctx, tx, cfg, n, now); err != nil {
			return retryLater{}, err
		}
	}

	var rcpt notify.Receipt
	found := false
	switch {
	case ch == nil:
		err = notify.ErrOff
	case len(bundle) > 0:
		sendCtx, cancel := context.WithTimeout(ctx, e.SendTimeout)
		rcpt, err = ch.(notify.Bundler).SendBundle(sendCtx, to, append([]notify.Page{page}, pages...))
		cancel()
	default:
		sendCtx, cancel := context.WithTimeout(ctx, e.SendTimeout)
		if f, ok := ch.(notify.Finder); ok && attempt > 1 {
			// An earlier attempt may have been delivered without being
			// recorded: its process died while the provider answered, or
			// the answer was lost. Look before paging again. A failed
			// look is no reason not to send.
			if r, ok, ferr := f.Find(sendCtx, to, page.Key, n.DueAt.Add(-time.Minute)); ferr == nil && ok {
				rcpt, found = r, true
			}
		}
		if !found {
			rcpt, err = ch.Send(sendCtx, to, page)
		}
		cancel()
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		// The provider did not answer within SendTimeout: say so plainly
		// on the timeline (it stays a temporary failure, retried).
		err = fmt.Errorf("timeout, no answer within %s: %w", e.SendTimeout, err)
	}
	now = e.clock.Now().UTC()
	who := n.User
	if who == "" {
		who = n.Address
	}
	entry := store.LogEntry{IncidentID: in.ID, At: now, Actor: ActorSystem, User: n.User, Method: n.Method}
	var dbErr error
	if err, dbErr = e.dropUnregistered(ctx, tx, in.ID, n.User, rcpt, err, now); dbErr != nil {
		return retryLater{}, dbErr
	}
	if err == nil {
		entry.Event, entry.Message = "notified", fmt.Sprintf("notified %s by %s (%s): delivered", who, methodName(n), n.Reason)
		if found {
			entry.Message += " by an earlier attempt whose outcome was lost (found, not sent again)"
		}
		if len(bundle) > 0 {
			entry.Message += fmt.Sprintf(", in one message with %d other incident(s)", len(bundle))
		}
		if err := store.NotificationFinish(ctx, tx, n.ID, store.NotificationSent, rcpt.Ref, "", now); err != nil {
			return retryLater{}, err
		}
		ids := make([]int64, len(bundle))
		for i, m := range bundle {
			ids[i] = m.ID
			tx.addLog(store.LogEntry{IncidentID: m.IncidentID, At: now, Actor: ActorSystem, User: m.User, Method: m.Method, Event: "notified",
				Message: fmt.Sprintf("notified %s by %s (%s): delivered, in one message with incident #%d and %d other(s)", who, methodName(m), m.Reason, in.ID, len(bundle)-1)})
		}
		if err := store.NotificationsSent(ctx, tx, ids, rcpt.Ref, now); err != nil {
			return retryLater{}, err
		}
		if err := e.dropJobs(ctx, tx, bundle); err != nil {
			return retryLater{}, err
		}
		if biv := bundleInterval[n.Method]; biv > 0 && args.Key != "" && len(bundle)+1 >= stormBundle {
			e.addrs.setCool(args.Key, now.Add(biv))
		}
		// A bundle is not recorded as showing its first incident: the
		// update worker would rewrite it into that one incident's message.
		if _, ok := ch.(notify.Updater); ok && rcpt.Ref != "" && len(bundle) == 0 {
			if err := store.MessageAdd(ctx, tx, store.Message{IncidentID: in.ID, Method: n.Method, Ref: rcpt.Ref, Reason: n.Reason}, now); err != nil {
				return retryLater{}, err
			}
		}
		tx.addLog(entry)
		return retryLater{}, nil
	}

	// A rate limit is waited out without spending an attempt, but not for
	// ever: a page that would wait past maxRateLimitWait since it was due
	// gives up on this channel, and the user's next rule comes forward.
	limited := false
	if d, ok := notify.RateLimited(err); ok {
		if waited := now.Sub(n.DueAt); n.DueAt.IsZero() || waited+d <= maxRateLimitWait {
			entry.Event, entry.Message = "rate_limited", fmt.Sprintf("%s asked to wait %s before notifying %s", methodName(n), d, who)
			tx.addLog(entry)
			return retryLater{snooze: max(d, time.Second)}, nil
		}
		limited = true
		err = fmt.Errorf("rate limited for over %s: %w", maxRateLimitWait, err)
	}
	if !limited && !notify.IsPermanent(err) && attempt < sendAttempts {
		entry.Event = "retry"
		entry.Message = fmt.Sprintf("notifying %s by %s failed (attempt %d of %d), retrying: %v", who, methodName(n), attempt, sendAttempts, err)
		tx.addLog(entry)
		return retryLater{err: err}, nil
	}

	// Given up on this channel: record it and bring the user's next rule
	// forward, so the page still reaches them.
	entry.Event, entry.Message = "failed", fmt.Sprintf("notifying %s by %s failed: %v", who, methodName(n), err)
	if err := store.NotificationFinish(ctx, tx, n.ID, store.NotificationFailed, "", err.Error(), now); err != nil {
		return retryLater{}, err
	}
	tx.addLog(entry)
	if n.User == "" || n.Kind != store.KindPage {
		return retryLater{}, nil
	}
	if err := e.fallThrough(ctx, tx, n, now); err != nil {
		return retryLater{}, err
	}
	return retryLater{}, e.checkReachable(ctx, tx, cfg, in, n, now)
}

// maxRateLimitWait is how long past its due time a page may wait on a
// provider's rate limits before the next channel is tried instead. It is
// longer than the per-number interval, which a text may have waited first.
const maxRateLimitWait = 2 * time.Minute

// Per-number rate limits, by method, and the most pages one message holds.
var addressInterval = map[string]time.Duration{notify.MethodSMS: time.Minute, notify.MethodVoice: time.Minute}

const maxBundle = 10

// dropJobs deletes the River jobs of notifications a bundle carried that
// have not started: in a storm there are thousands, which would otherwise
// each run only to find their page sent. One that is running finds it so.
func (e *Engine) dropJobs(ctx context.Context, tx *txn, ns []*store.Notification) error {
	ids := make([]int64, 0, len(ns))
	for _, m := range ns {
		if m.JobID != 0 {
			ids = append(ids, m.JobID)
		}
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 10_000)]
		ids = ids[len(chunk):]
		params := river.NewJobDeleteManyParams().IDs(chunk...).First(len(chunk)).
			States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStatePending)
		if _, err := e.river.JobDeleteManyTx(ctx, tx.Tx, params); err != nil {
			return fmt.Errorf("delete the jobs of %d bundled pages: %w", len(chunk), err)
		}
	}
	return nil
}

// bundle takes the other pages (or notices) waiting for n's address into
// n's message, rendered, locked until the end of tx.
func (e *Engine) bundle(ctx context.Context, tx *txn, cfg *config, n *store.Notification, now time.Time) ([]*store.Notification, []notify.Page, error) {
	ns, ins, err := store.BundleCandidatesKind(ctx, tx, n.Method, n.Address, n.Kind, n.ID, now, maxBundleOf(n.Method)-1)
	if err != nil {
		return nil, nil, err
	}
	pages := make([]notify.Page, len(ns))
	for i, m := range ns {
		pages[i] = e.page(cfg, ins[i], 1, m.Reason)
	}
	return ns, pages, nil
}

// checkReachable reports, after n failed for good, a user none of whose
// notifications of this round went out and none is left to try: on the
// timeline and in the team's channel, so nobody is silently unreachable.
func (e *Engine) checkReachable(ctx context.Context, tx *txn, cfg *config, in *store.Incident, n *store.Notification, now time.Time) error {
	pending, sent, err := store.UserRound(ctx, tx, in.ID, n.User, n.Step, n.Loop)
	if err != nil || pending > 0 || sent > 0 {
		return err
	}
	msg := fmt.Sprintf("%s could not be reached: every notification method failed", n.User)
	tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "unreachable", Actor: ActorSystem, User: n.User, Message: msg})
	if ch := cfg.teamChannel(in.ServiceName); ch != "" {
		return e.queueNotice(ctx, tx, in, notify.MethodSlackChannel, ch, msg, now)
	}
	return nil
}

// methodName names how a notification went, with the address masked:
// "sms cell (+1415•••0100)".
func methodName(n *store.Notification) string {
	name := n.Method
	if n.ContactName != "" && n.ContactName != n.Method {
		name += " " + n.ContactName
	}
	if n.Method != notify.MethodSlack && n.Method != notify.MethodSlackChannel && n.Method != notify.MethodPush && n.Address != "" {
		name += " (" + notify.MaskAddress(n.Address) + ")"
	}
	return name
}

// page renders an incident for the channels.
func (e *Engine) page(cfg *config, in *store.Incident, alerts int, reason string) notify.Page {
	p := notify.Page{
		IncidentID: in.ID, Service: in.ServiceName, Summary: in.Summary, Severity: in.Severity, Urgency: in.Urgency,
		State: in.State, CreatedAt: in.CreatedAt, Alerts: max(alerts, 1), Labels: in.Labels, Escalation: reason,
		Details: pageDetails(in), Seq: in.EscalationSeq,
	}
	if svc := cfg.services[in.ServiceName]; svc != nil {
		p.Team = svc.Team
	}
	switch in.State {
	case store.StateAcknowledged:
		p.StateBy = in.AcknowledgedBy
	case store.StateResolved:
		p.StateBy = in.ResolvedBy
	}
	for _, l := range in.Links {
		p.Links = append(p.Links, notify.Link{Href: l.Href, Text: l.Text})
	}
	if in.ClientURL != "" {
		p.Links = append(p.Links, notify.Link{Href: in.ClientURL, Text: "View in " + firstNonEmpty(in.Client, "source")})
	}
	return p
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
