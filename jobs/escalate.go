package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// EscalateArgs runs one step of an incident's escalation policy. Seq must
// equal the incident's escalation sequence, else the job is stale.
type EscalateArgs struct {
	IncidentID int64 `json:"incident_id"`
	Seq        int   `json:"seq"`
	Step       int   `json:"step"`
	Loop       int   `json:"loop"`
}

func (EscalateArgs) Kind() string { return "escalate" }

type escalateWorker struct {
	river.WorkerDefaults[EscalateArgs]
	e *Engine
}

func (w *escalateWorker) Work(ctx context.Context, job *river.Job[EscalateArgs]) error {
	err := w.e.inTx(ctx, func(tx *txn) error {
		if err := w.e.escalate(ctx, tx, job.Args); err != nil {
			return err
		}
		// Completed in the step's own transaction: River's completer marks
		// jobs done after the commit, and a process killed in between left
		// the job running, to be rescued and run again: the step paged
		// twice and a second chain of timers (found by e2e.TestCrashRestart).
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx.Tx, job)
		return err
	})
	if errors.Is(err, errStale) {
		// Nothing was written: the transaction rolled back without a
		// commit to flush, and River's completer marks the job done in a
		// batch with others. Most timers end here (the incident was
		// acknowledged or escalated since), and a commit each held timer
		// throughput to the disk's flush rate (~1,300/s on the benchmark
		// machine, where 10,000 timers due in 5 s then ran up to 2.8 s late).
		// Run again after a crash, the job finds the same stale state.
		return nil
	}
	return err
}

// errStale says an escalation timer has nothing to do.
var errStale = errors.New("escalation timer is stale")

// escalate runs step args.Step of round args.Loop: it pages the step's
// targets as they are now and schedules what comes next (the next step, a
// repeat of the policy, or the final notice).
func (e *Engine) escalate(ctx context.Context, tx *txn, args EscalateArgs) error {
	in, err := store.IncidentGet(ctx, tx, args.IncidentID, store.LockUpdate)
	if errors.Is(err, oncall.ErrNotFound) {
		return errStale
	}
	if err != nil {
		return err
	}
	if in.State != store.StateTriggered || in.EscalationSeq != args.Seq {
		return errStale // acknowledged, resolved, or overtaken by a newer escalation
	}
	cfg, err := e.config.get(ctx, tx)
	if err != nil {
		return err
	}
	return e.runStep(ctx, tx, cfg, in, args, e.clock.Now().UTC())
}

// runStep runs step args.Step of round args.Loop on the locked incident.
func (e *Engine) runStep(ctx context.Context, tx *txn, cfg *config, in *store.Incident, args EscalateArgs, now time.Time) error {
	policy := cfg.policies[in.PolicyName]
	if policy == nil || len(policy.Steps) == 0 {
		in.EscalationDone, in.EscalationJobID = true, 0
		tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "escalation", Actor: ActorSystem,
			Message: fmt.Sprintf("escalation policy %q no longer exists: nobody paged", in.PolicyName)})
		return e.updateIncident(ctx, tx, in, now)
	}
	if args.Step >= len(policy.Steps) {
		return e.finalNotice(ctx, tx, cfg, in, policy, now)
	}

	tx.setStorm(in.ID)(e.storm.active(in.ServiceName, now))
	step := policy.Steps[args.Step]
	in.EscalationStep, in.EscalationLoop, in.EscalationJobID = args.Step, args.Loop, 0
	reason := fmt.Sprintf("step %d of %s", args.Step+1, policy.Name)
	if args.Loop > 0 {
		reason += fmt.Sprintf(", round %d", args.Loop+1)
	}
	paged, notes, err := e.pageTargets(ctx, tx, cfg, in, step.Targets, args, reason, now)
	if err != nil {
		return err
	}
	msg := reason + ": " + strings.Join(paged, ", ")
	if len(paged) == 0 {
		msg = reason + ": nobody to page"
	}
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "escalated", Actor: ActorSystem, Message: msg})

	next, nextLoop := args.Step+1, args.Loop
	if next >= len(policy.Steps) && args.Loop < policy.Repeat {
		next, nextLoop = 0, args.Loop+1
	}
	after := step.EscalateAfter
	if after <= 0 {
		after = manifest.DefaultEscalateAfter
	}
	if err := e.scheduleEscalation(ctx, tx, in, next, nextLoop, now.Add(after), now); err != nil {
		return err
	}
	if err := e.updateIncident(ctx, tx, in, now); err != nil {
		return err
	}
	return e.insertUpdate(ctx, tx, in.ID)
}

// pageTargets queues the notifications for a step's targets: each user's
// notification rules at their delays, posts for channel targets. It
// returns who was paged and what could not be.
func (e *Engine) pageTargets(ctx context.Context, tx *txn, cfg *config, in *store.Incident, targets []manifest.Target,
	args EscalateArgs, reason string, now time.Time,
) (paged, notes []string, err error) {
	var users []string
	addUser := func(name, via string) {
		if !slices.Contains(users, name) {
			users = append(users, name)
			paged = append(paged, name+via)
		}
	}
	for _, t := range targets {
		switch t.Type {
		case manifest.TargetUser:
			addUser(t.Ref, "")
		case manifest.TargetSchedule:
			if u, ok := cfg.whoIsOnCall(t.Ref, now); ok {
				addUser(u, " (on call for "+t.Ref+")")
			} else {
				notes = append(notes, "nobody on call for "+t.Ref)
			}
		case manifest.TargetTeam:
			team := cfg.teams[t.Ref]
			if team == nil || len(team.Members) == 0 {
				notes = append(notes, "team "+t.Ref+" has no members")
				continue
			}
			for _, m := range team.Members {
				addUser(m, " (team "+t.Ref+")")
			}
		case manifest.TargetSlackChannel:
			n := &store.Notification{IncidentID: in.ID, Method: notify.MethodSlackChannel, Address: t.Ref, Kind: store.KindPage,
				Step: args.Step, Loop: args.Loop, Reason: reason, DueAt: now}
			if err := e.queueNotification(ctx, tx, n, now); err != nil {
				return nil, nil, err
			}
			paged = append(paged, "channel "+t.Ref)
		}
	}
	for _, name := range users {
		u := cfg.users[name]
		if u == nil {
			notes = append(notes, "user "+name+" no longer exists")
			continue
		}
		if err := e.pageUser(ctx, tx, u, in, args, reason, now); err != nil {
			return nil, nil, err
		}
	}
	return paged, notes, nil
}

// defaultRules apply to a user who has written none: Slack at once.
var defaultRules = []manifest.NotificationRule{{After: 0, Notify: []string{manifest.NotifySlack}}}

// pageUser queues one notification per method of each of the user's
// notification rules, due at the rule's delay.
func (e *Engine) pageUser(ctx context.Context, tx *txn, u *manifest.User, in *store.Incident, args EscalateArgs, reason string, now time.Time) error {
	rules := u.NotificationRules
	if len(rules) == 0 {
		rules = defaultRules
	}
	for ri, r := range rules {
		for _, name := range r.Notify {
			n := &store.Notification{IncidentID: in.ID, User: u.Name, Kind: store.KindPage, Step: args.Step, Loop: args.Loop,
				RuleIndex: ri, Reason: reason, DueAt: now.Add(r.After), ContactName: name}
			switch name {
			case manifest.NotifySlack:
				n.Method, n.Address = notify.MethodSlack, u.SlackID
			case manifest.NotifyPush:
				n.Method = notify.MethodPush
			default:
				i := slices.IndexFunc(u.ContactMethods, func(c manifest.ContactMethod) bool { return c.Name == name })
				if i < 0 {
					continue // validated on apply
				}
				n.Method, n.Address = u.ContactMethods[i].Type, u.ContactMethods[i].Address
			}
			if err := e.queueNotification(ctx, tx, n, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// finalNotice ends the policy: the incident stays open, and the team's
// channel hears that nobody answered.
func (e *Engine) finalNotice(ctx context.Context, tx *txn, cfg *config, in *store.Incident, policy *manifest.EscalationPolicy, now time.Time) error {
	in.EscalationDone, in.EscalationJobID = true, 0
	msg := fmt.Sprintf("escalation policy %s ran %d time(s) with no acknowledgement; the incident stays open", policy.Name, policy.Repeat+1)
	tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "exhausted", Actor: ActorSystem, Message: msg})
	if ch := cfg.teamChannel(in.ServiceName); ch != "" {
		if err := e.queueNotice(ctx, tx, in, notify.MethodSlackChannel, ch, "final notice: "+msg, now); err != nil {
			return err
		}
	}
	if err := e.updateIncident(ctx, tx, in, now); err != nil {
		return err
	}
	return e.insertUpdate(ctx, tx, in.ID)
}

// updateIncident writes in's changes, unless in is opened in tx: its row
// is then written at the end, as it is by then.
func (e *Engine) updateIncident(ctx context.Context, tx *txn, in *store.Incident, now time.Time) error {
	if tx.unwritten(in) {
		in.UpdatedAt = now
		return nil
	}
	return store.IncidentUpdate(ctx, tx, in, now)
}
