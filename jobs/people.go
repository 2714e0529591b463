package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
)

// What the surfaces off Slack (SMS and voice replies, email links, the
// mobile app) need to know about people: who a phone number is, whether
// someone may act on an incident, what they were paged for last, whether
// they are on call.

// UserByPhone is our user with a contact method (sms or voice) at the E.164
// number phone; ok is false when none has it.
func (e *Engine) UserByPhone(ctx context.Context, phone string) (name string, ok bool, err error) {
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return "", false, err
	}
	for _, u := range cfg.set.Users {
		for _, c := range u.ContactMethods {
			if (c.Type == manifest.ContactSMS || c.Type == manifest.ContactVoice) && c.Address == phone {
				return u.Name, true, nil
			}
		}
	}
	return "", false, nil
}

// User is a user's configuration, or nil when there is none by that name.
func (e *Engine) User(ctx context.Context, name string) (*manifest.User, error) {
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return nil, err
	}
	return cfg.users[name], nil
}

// MayAct reports whether user may acknowledge, resolve or escalate
// incident id from outside Slack: they were paged for it, or they are on
// the team of its service. oncall.ErrNotFound when there is no incident.
func (e *Engine) MayAct(ctx context.Context, user string, id int64) (bool, error) {
	in, err := store.IncidentGet(ctx, e.pool, id, store.LockNone)
	if err != nil {
		return false, err
	}
	paged, err := store.UserWasNotified(ctx, e.pool, id, user)
	if err != nil || paged {
		return paged, err
	}
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return false, err
	}
	if svc := cfg.services[in.ServiceName]; svc != nil {
		if t := cfg.teams[svc.Team]; t != nil && slices.Contains(t.Members, user) {
			return true, nil
		}
	}
	return false, nil
}

// LatestPage is the open incident user was most recently sent a page for
// by method ("" for any method); ok is false when there is none.
func (e *Engine) LatestPage(ctx context.Context, user, method string) (id int64, ok bool, err error) {
	id, err = store.LatestNotifiedIncident(ctx, e.pool, user, method)
	if errors.Is(err, oncall.ErrNotFound) {
		return 0, false, nil
	}
	return id, err == nil, err
}

// OnCall is the schedules user is on call in at an instant, with the shift
// that covers it, and their next shift in any schedule after it.
type OnCall struct {
	Now  []schedule.ScheduleShift // current shifts, whole
	Next *schedule.ScheduleShift  // the next shift starting after at
}

// OnCallStatus answers "am I on call" through the one resolver.
func (e *Engine) OnCallStatus(ctx context.Context, user string, at time.Time) (OnCall, error) {
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return OnCall{}, err
	}
	var out OnCall
	for _, name := range sortedKeys(cfg.schedules) {
		s := cfg.schedules[name]
		if s == nil {
			continue
		}
		if sh, ok := s.Current(at); ok && sh.User == user {
			out.Now = append(out.Now, schedule.ScheduleShift{Schedule: name, Shift: sh})
		}
	}
	list := make([]*schedule.Schedule, 0, len(cfg.schedules))
	for _, s := range cfg.schedules {
		list = append(list, s)
	}
	for _, sh := range schedule.UserShifts(list, user, at, at.Add(60*oncall.Day)) {
		if sh.Start.After(at) {
			out.Next = &sh
			break
		}
	}
	return out, nil
}

// UserIncidents lists the open incidents user was paged for or that belong
// to a service of one of their teams, newest first.
func (e *Engine) UserIncidents(ctx context.Context, user string, limit int) ([]*store.Incident, error) {
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return nil, err
	}
	var services []string
	for _, svc := range cfg.set.Services {
		if t := cfg.teams[svc.Team]; t != nil && slices.Contains(t.Members, user) {
			services = append(services, svc.Name)
		}
	}
	return store.IncidentListForUser(ctx, e.pool, user, services, limit)
}

// DeliveryFailed records that a notification the provider had accepted
// (receipt, as its channel returned it) was not delivered after all (an
// SMS undelivered, a call unanswered): the attempt counts as failed and the
// user's next notification rule is brought forward. A receipt that stands
// for a bundle fails every page in it. An unknown receipt is ignored.
func (e *Engine) DeliveryFailed(ctx context.Context, method, receipt, reason string) error {
	return e.inTx(ctx, func(tx *txn) error {
		ns, err := store.NotificationsByReceipt(ctx, tx, method, receipt)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if err := e.deliveryFailed(ctx, tx, n, reason); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *Engine) deliveryFailed(ctx context.Context, tx *txn, n *store.Notification, reason string) error {
	in, err := store.IncidentGet(ctx, tx, n.IncidentID, store.LockShare)
	if err != nil {
		return err
	}
	if n, err = store.NotificationLock(ctx, tx, n.ID); err != nil {
		return err
	}
	if n.State != store.NotificationSent {
		return nil // already failed, or never sent
	}
	now := e.clock.Now().UTC()
	if err := store.NotificationFinish(ctx, tx, n.ID, store.NotificationFailed, n.Receipt, reason, now); err != nil {
		return err
	}
	who := n.User
	if who == "" {
		who = n.Address
	}
	tx.addLog(store.LogEntry{IncidentID: n.IncidentID, At: now, Event: "failed", Actor: ActorSystem, User: n.User, Method: n.Method,
		Message: fmt.Sprintf("notifying %s by %s failed: %s", who, methodName(n), reason)})
	if n.User == "" || n.Kind != store.KindPage || in.State != store.StateTriggered {
		return nil
	}
	if err := e.fallThrough(ctx, tx, n, now); err != nil {
		return err
	}
	cfg, err := e.config.get(ctx, tx)
	if err != nil {
		return err
	}
	return e.checkReachable(ctx, tx, cfg, in, n, now)
}

// fallThrough brings the user's next notification rule forward after n
// failed for good.
func (e *Engine) fallThrough(ctx context.Context, tx *txn, n *store.Notification, now time.Time) error {
	next, err := store.NotificationsNextRule(ctx, tx, n, now)
	if err != nil {
		return err
	}
	for _, m := range next {
		if m.JobID == 0 {
			continue
		}
		if _, err := e.river.JobRetryTx(ctx, tx.Tx, m.JobID); err != nil && !isRiverNotFound(err) {
			return fmt.Errorf("bring notification %d forward: %w", m.ID, err)
		}
	}
	if len(next) > 0 {
		tx.addLog(store.LogEntry{IncidentID: n.IncidentID, At: now, Event: "fallback", Actor: ActorSystem, User: n.User,
			Message: fmt.Sprintf("moved %s's next notification rule forward", n.User)})
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	return keys
}
