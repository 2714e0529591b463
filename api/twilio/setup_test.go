package twilio_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	apitwilio "github.com/oncall/oncall/api/twilio"
	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/twilio"
	"github.com/oncall/oncall/notify/twilio/twiliotest"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

const (
	alicePhone    = "+14155550100"
	bobPhone      = "+14155550101"
	malloryPhone  = "+14155550199"
	strangerPhone = "+14155550999"
)

// bundle is the engine with Twilio's channels pointed at the fake, and our
// webhooks served at url, where the fake posts them.
type bundle struct {
	*jobstest.Bundle
	fake *twiliotest.Server
	url  string
}

// person has one phone for texts and calls, texted at once and called
// after a minute.
func person(name, phone string) *manifest.User {
	u := storetest.User(name)
	u.ContactMethods = []manifest.ContactMethod{
		{Name: "cell", Type: manifest.ContactSMS, Address: phone},
		{Name: "cell-call", Type: manifest.ContactVoice, Address: phone},
	}
	u.NotificationRules = []manifest.NotificationRule{
		{After: 0, Notify: []string{"cell"}},
		{After: time.Minute, Notify: []string{"cell-call"}},
	}
	return u
}

// setup: alice and bob on team ops; policy ops pages alice, then bob
// after 5 minutes; mallory is a user with a phone but no business here.
func setup(t *testing.T) *bundle {
	t.Helper()
	fake := twiliotest.New(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := fake.Connect(srv.URL)

	team := storetest.Team("ops", "alice", "bob")
	svc := storetest.Service("api", "ops", "hook")
	svc.Team = "ops"
	policy := &manifest.EscalationPolicy{Name: "ops", Steps: []manifest.Step{
		{Targets: []manifest.Target{storetest.UserTarget("alice")}, EscalateAfter: 5 * time.Minute},
		{Targets: []manifest.Target{storetest.UserTarget("bob")}, EscalateAfter: 5 * time.Minute},
	}}
	set := storetest.NewSet(person("alice", alicePhone), person("bob", bobPhone), person("mallory", malloryPhone), team, policy, svc)
	b := jobstest.New(t, set, map[string]notify.Channel{
		notify.MethodSMS:   twilio.NewSMS(cfg),
		notify.MethodVoice: twilio.NewVoice(cfg),
	})
	(&apitwilio.Handler{Engine: b.Engine, DB: b.Pool, Clock: b.Clock, AuthToken: fake.AuthToken, PublicURL: srv.URL}).Register(mux)
	return &bundle{Bundle: b, fake: fake, url: srv.URL}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

// page triggers an incident and waits for its first notifications.
func (b *bundle) page(t *testing.T, key, summary string) int64 {
	t.Helper()
	id := b.Trigger(t, "hook", key, summary)
	b.Settle(t)
	return id
}

// text sends an SMS from phone and returns the replies.
func (b *bundle) text(t *testing.T, from, body string) []string {
	t.Helper()
	replies, err := b.fake.SendSMS(ctx(t), from, body)
	if err != nil {
		t.Fatalf("sms %q: %v", body, err)
	}
	return replies
}

// textWant sends an SMS and wants one reply containing want ("" for none).
func (b *bundle) textWant(t *testing.T, from, body, want string) {
	t.Helper()
	replies := b.text(t, from, body)
	switch {
	case want == "" && len(replies) != 0:
		t.Fatalf("sms %q: replies %q; want none", body, replies)
	case want != "" && (len(replies) != 1 || !strings.Contains(replies[0], want)):
		t.Fatalf("sms %q: replies %q; want one with %q", body, replies, want)
	}
}

func (b *bundle) incident(t *testing.T, id int64) *store.Incident {
	t.Helper()
	in, err := store.IncidentGet(context.Background(), b.Pool, id, store.LockNone)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (b *bundle) wantState(t *testing.T, id int64, state, by string) {
	t.Helper()
	in := b.incident(t, id)
	got := in.AcknowledgedBy
	if state == store.StateResolved {
		got = in.ResolvedBy
	}
	if in.State != state || (by != "" && got != by) {
		t.Fatalf("incident %d is %s (ack %q, resolve %q); want %s by %q", id, in.State, in.AcknowledgedBy, in.ResolvedBy, state, by)
	}
}

func (b *bundle) timeline(t *testing.T, id int64) string {
	return strings.Join(b.Timeline(t, id), "\n")
}

// lastSMS is the latest text sent to phone.
func (b *bundle) lastSMS(t *testing.T, phone string) twiliotest.Message {
	t.Helper()
	msgs := b.fake.MessagesTo(phone)
	if len(msgs) == 0 {
		t.Fatalf("nothing was texted to %s", phone)
	}
	return msgs[len(msgs)-1]
}

// post sends a form to path as Twilio would, signed with sig ("" for
// none).
func (b *bundle) post(t *testing.T, path string, form url.Values, sig string) (int, string) {
	t.Helper()
	status, body, err := b.fake.Post(ctx(t), b.url+path, form, sig)
	if err != nil {
		t.Fatal(err)
	}
	return status, string(body)
}

func (b *bundle) sign(u string, form url.Values) string {
	return twiliotest.Signature(b.fake.AuthToken, u, form)
}

func smsForm(from, body string) url.Values {
	return url.Values{"From": {from}, "To": {twiliotest.DefaultNumber}, "Body": {body}, "MessageSid": {"SM1"},
		"AccountSid": {twiliotest.DefaultAccountSID}}
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }
