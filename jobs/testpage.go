package jobs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
)

// TestPageSummary is the summary of a test page.
const TestPageSummary = "Test page from oncall"

// testInterval is how often one user may test one method: a test by SMS
// or voice costs money, and a button is easy to click twice.
const testInterval = 30 * time.Second

// lastTests is when each engine last sent each user's test by each method.
var lastTests sync.Map // testKey -> time.Time

type testKey struct {
	e            *Engine
	user, method string
}

// SendTest sends user a test page through one of their notification
// methods right now: "slack" (a DM), or the name of one of their contact
// methods (sms, voice, email). No incident is opened and nothing is
// recorded: the page goes straight to the channel, so its answer is the
// channel's own (notify.ErrOff when the channel is off on this server).
// The page has incident number 0; acting on it changes nothing. Errors a
// user can fix are *oncall.UserError; a test within testInterval of the
// last one by the same method is refused.
func (e *Engine) SendTest(ctx context.Context, user, method string) error {
	cfg, err := e.config.get(ctx, e.pool)
	if err != nil {
		return err
	}
	u := cfg.users[user]
	if u == nil {
		return fmt.Errorf("test page for %s: %w", user, oncall.ErrNotFound)
	}
	to := notify.Target{User: u.Name, FullName: u.FullName, Email: u.Email}
	switch method {
	case manifest.NotifySlack:
		to.Method, to.Address = notify.MethodSlack, u.SlackID
	case manifest.NotifyPush:
		return &oncall.UserError{Field: "method", Msg: "a test push is not available from here yet: pages reach the phones paired with /oncall mobile"}
	default:
		i := slices.IndexFunc(u.ContactMethods, func(c manifest.ContactMethod) bool { return c.Name == method })
		if i < 0 {
			return &oncall.UserError{Field: "method", Msg: fmt.Sprintf("you have no contact method named %q (save it first)", method)}
		}
		to.Method, to.Address = u.ContactMethods[i].Type, u.ContactMethods[i].Address
	}
	ch := e.channels[to.Method]
	if ch == nil {
		return fmt.Errorf("%s: %w", to.Method, notify.ErrOff)
	}

	now := e.clock.Now().UTC()
	key := testKey{e, user, method}
	if last, ok := lastTests.Load(key); ok {
		if wait := last.(time.Time).Add(testInterval).Sub(now); wait > 0 {
			return &oncall.UserError{Field: "method", Msg: fmt.Sprintf("a test went out by %s a moment ago; try again in %d s", method, int(wait.Seconds()+0.999))}
		}
	}
	lastTests.Store(key, now)

	page := notify.Page{
		Summary:    TestPageSummary,
		Severity:   oncall.SeverityInfo,
		Urgency:    manifest.UrgencyLow,
		State:      notify.StateTriggered,
		CreatedAt:  now,
		Alerts:     1,
		Escalation: "test requested by " + u.Name + " (no incident: nothing to acknowledge)",
	}
	sendCtx, cancel := context.WithTimeout(ctx, e.SendTimeout)
	defer cancel()
	if _, err := ch.Send(sendCtx, to, page); err != nil {
		return fmt.Errorf("test page to %s by %s: %w", u.Name, to.Method, err)
	}
	return nil
}
