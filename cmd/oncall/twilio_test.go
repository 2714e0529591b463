package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/jobs"
	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/notify/twilio/twiliotest"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// twilioConfig: alice is on call for payments-api, paged in Slack at once,
// texted after 2 minutes and called after 5; bob, on the team, is texted
// at once for the batch service.
const twilioCompany = `
kind: User
name: alice
email: alice@example.com
slack_id: U0ALICE
contact_methods:
  - {name: cell, type: sms, address: "+14155550100"}
  - {name: cell-call, type: voice, address: "+14155550100"}
notification_rules:
  - {after: 0s, notify: [slack]}
  - {after: 2m, notify: [cell]}
  - {after: 5m, notify: [cell-call]}
---
kind: User
name: bob
email: bob@example.com
slack_id: U0BOB
contact_methods:
  - {name: cell, type: sms, address: "+14155550101"}
notification_rules:
  - {after: 0s, notify: [cell]}
---
kind: Team
name: payments
members: [alice, bob]
admins: [alice]
slack_channel: C0PAY
---
kind: Schedule
name: primary
team: payments
time_zone: Europe/Berlin
layers:
  - {name: all, members: [alice], start: "2026-01-05T09:00", shift: 1w}
---
kind: EscalationPolicy
name: payments
team: payments
steps:
  - targets: [{schedule: primary}]
    escalate_after: 10m
  - targets: [{user: bob}]
---
kind: EscalationPolicy
name: batch
team: payments
steps:
  - targets: [{user: bob}]
    escalate_after: 30m
---
kind: Service
name: payments-api
team: payments
escalation_policy: payments
integrations:
  - {name: prom, type: alertmanager}
---
kind: Service
name: batch
team: payments
escalation_policy: batch
integrations:
  - {name: jobs, type: generic}
`

const (
	alicePhone = "+14155550100"
	bobPhone   = "+14155550101"
	publicURL  = "http://oncall.test" // Twilio's URLs; the fake dials the server whatever they say
)

// twilioStack is the server with the fake Twilio as its SMS and voice
// provider (and the fake Slack).
type twilioStack struct {
	*stack
	twilio *twiliotest.Server
}

func startTwilioStack(t *testing.T) *twilioStack {
	t.Helper()
	tw := twiliotest.New(t)
	tw.Connect(publicURL) // the number's SMS webhook
	sl := slacktest.New(t)
	sl.AddUser("U0ALICE", "alice@example.com", "alice", "Europe/Berlin")
	sl.AddUser("U0BOB", "bob@example.com", "bob", "America/New_York")
	sl.AddChannel("C0PAY", "payments")

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "company.yaml"), []byte(twilioCompany), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := storetest.NewEmpty(t)
	vars := map[string]string{
		"DATABASE_URL":       storetest.URL(pool),
		"ONCALL_HTTP_ADDR":   "127.0.0.1:0",
		"ONCALL_PUBLIC_URL":  publicURL,
		"ONCALL_CONFIG":      dir,
		"ONCALL_LOG_FORMAT":  "json",
		"ONCALL_LOG_LEVEL":   "warn",
		"SLACK_APP_TOKEN":    sl.AppToken(),
		"SLACK_BOT_TOKEN":    sl.BotToken(),
		"SLACK_API_URL":      sl.APIURL(),
		"TWILIO_ACCOUNT_SID": tw.AccountSID,
		"TWILIO_AUTH_TOKEN":  tw.AuthToken,
		"TWILIO_FROM_NUMBER": tw.Number,
		"TWILIO_API_URL":     tw.URL,
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] }, false)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, slack: sl, pool: pool, clock: &oncall.OffsetClock{}, out: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	e := &env{stdout: s.out, stderr: io.Discard, getenv: func(k string) string { return vars[k] }}
	go func() {
		done <- serve(ctx, e, cfg, serveOptions{migrate: true, clock: s.clock,
			listening: func(a string) { addr <- a }, engine: func(e *jobs.Engine) { s.engine = e }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
		tw.DialWebhooksTo(a)
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	s.keys = map[string]string{}
	re := regexp.MustCompile(`(?m)^\s+(\S+) \((\w+), service [^)]*\): ` + regexp.QuoteMeta(publicURL) + `/v1/alerts/(\S+)`)
	for _, m := range re.FindAllStringSubmatch(s.out.String(), -1) {
		s.keys[m[1]] = m[3]
	}
	if len(s.keys) != 2 {
		t.Fatalf("keys printed at start: %v\n%s", s.keys, s.out.String())
	}
	if err := sl.WaitConnected(s.ctx(), 1); err != nil {
		t.Fatalf("bot did not connect: %v", err)
	}
	return &twilioStack{stack: s, twilio: tw}
}

// waitFor polls cond until it holds.
func (s *twilioStack) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// texts waits for n texts to phone and returns them.
func (s *twilioStack) texts(phone string, n int) []twiliotest.Message {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("%d texts to %s", n, phone), func() bool { return len(s.twilio.MessagesTo(phone)) >= n })
	return s.twilio.MessagesTo(phone)
}

// An unacknowledged page reaches alice in Slack, then by SMS after 2
// minutes; her reply "ack <code>" acknowledges it everywhere, and the call
// due at 5 minutes never rings. A forged reply changes nothing.
func TestTwilioSMSReplyAcks(t *testing.T) {
	t.Parallel()
	s := startTwilioStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	dm := s.pageFor("DU0ALICE", id)
	if n := len(s.twilio.MessagesTo(alicePhone)); n != 0 {
		t.Fatalf("%d texts before the SMS rule is due", n)
	}

	s.advance(2*time.Minute + time.Second)
	sms := s.texts(alicePhone, 1)[0]
	code := strconv.FormatInt(id, 10)
	if !strings.Contains(sms.Body, `reply "ack `+code+`"`) || !strings.Contains(sms.Body, "payments-api") || sms.From != s.twilio.Number {
		t.Fatalf("the text: %+v", sms)
	}
	if err := s.twilio.Deliver(s.ctx(), sms.SID); err != nil {
		t.Fatal(err)
	}

	// Forged: unsigned, and signed with another token.
	form := url.Values{"From": {alicePhone}, "To": {s.twilio.Number}, "Body": {"ack " + code}, "MessageSid": {"SMforged"}}
	for _, sig := range []string{"", twiliotest.Signature("0000000000000000", publicURL+"/v1/twilio/sms", form)} {
		status, _, err := s.twilio.Post(s.ctx(), publicURL+"/v1/twilio/sms", form, sig)
		if err != nil || status != 403 {
			t.Fatalf("forged reply: %d %v; want 403", status, err)
		}
	}
	if st := s.incident(id).State; st != store.StateTriggered {
		t.Fatalf("a forged reply made the incident %s", st)
	}

	replies, err := s.twilio.SendSMS(s.ctx(), alicePhone, "ack "+code)
	if err != nil || len(replies) != 1 || !strings.HasPrefix(replies[0], "Acknowledged #"+code) {
		t.Fatalf("reply to the ack: %q %v", replies, err)
	}
	s.waitState(id, store.StateAcknowledged)
	if by := s.incident(id).AcknowledgedBy; by != "alice" {
		t.Fatalf("acknowledged by %q", by)
	}
	// The Slack page is updated in place.
	if _, err := s.slack.WaitForMessage(s.ctx(), dm.Channel, func(m slacktest.Message) bool {
		return m.TS == dm.TS && m.Updates > 0 && !strings.Contains(string(m.Blocks), slackch.ActionAck) && strings.Contains(string(m.Blocks), "alice")
	}); err != nil {
		t.Fatalf("the Slack page was not updated after the SMS ack: %v", err)
	}

	s.advance(5 * time.Minute)
	s.settle()
	if n := len(s.twilio.Calls()); n != 0 {
		t.Fatalf("alice was called %d times after her ack", n)
	}
	tl := s.timeline(id)
	for _, want := range []string{"notified alice by sms cell (+1415•••0100)", "sms cell (+1415•••0100) to alice: delivered to the phone", "acknowledged by alice"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
}

// The call at 5 minutes reads the page; pressing 4 acknowledges.
func TestTwilioCallKeypressAcks(t *testing.T) {
	t.Parallel()
	s := startTwilioStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id)
	s.advance(2*time.Minute + time.Second)
	s.texts(alicePhone, 1)
	s.advance(2 * time.Minute)
	s.settle()
	if n := len(s.twilio.Calls()); n != 0 {
		t.Fatalf("alice was called %d times before her call rule (5 minutes)", n)
	}
	s.advance(time.Minute)
	s.waitFor("a call to alice", func() bool { return len(s.twilio.Calls()) == 1 })
	call := s.twilio.Calls()[0]
	if call.To != alicePhone || call.URL != publicURL+"/v1/twilio/voice?incident="+strconv.FormatInt(id, 10) {
		t.Fatalf("call %+v", call)
	}
	sess, err := s.twilio.Answer(s.ctx(), call.SID)
	if err != nil {
		t.Fatal(err)
	}
	if said := strings.Join(sess.Said(), " "); !strings.Contains(said, "on payments-api") || !strings.Contains(said, "Press 4 to acknowledge") {
		t.Fatalf("the call said %q", said)
	}
	said, err := sess.Press(s.ctx(), "4")
	if err != nil || !strings.Contains(strings.Join(said, " "), "Acknowledged incident") {
		t.Fatalf("after 4 the call said %q (%v)", said, err)
	}
	s.waitState(id, store.StateAcknowledged)
	if tl := s.timeline(id); !strings.Contains(tl, "voice cell-call (+1415•••0100) to alice: answered") {
		t.Fatalf("timeline:\n%s", tl)
	}
}

// A text Twilio reports failed is a failed attempt: alice's next rule (the
// call, due at 5 minutes) comes forward at once.
func TestTwilioFailedTextFallsThrough(t *testing.T) {
	t.Parallel()
	s := startTwilioStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id)
	s.advance(2*time.Minute + time.Second)
	sms := s.texts(alicePhone, 1)[0]
	if err := s.twilio.MessageStatus(s.ctx(), sms.SID, "failed", 30008); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the call brought forward", func() bool { return len(s.twilio.Calls()) == 1 })
	tl := s.timeline(id)
	for _, want := range []string{"notifying alice by sms cell (+1415•••0100) failed: the message was failed (Twilio error 30008",
		"moved alice's next notification rule forward"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
}

// Ten pages in a minute to one number go out as at most two texts: the
// first at once, the rest bundled when the minute is up.
func TestTwilioTenPagesTwoTexts(t *testing.T) {
	t.Parallel()
	s := startTwilioStack(t)
	var ids []int64
	for i := range 10 {
		body := fmt.Sprintf(`{"summary": "batch job %d failed", "dedup_key": "job-%d"}`, i, i)
		code, resp := s.post("/v1/alerts/"+s.keys["jobs"], []byte(body))
		if code != 202 {
			t.Fatalf("alert %d: %d %s", i, code, resp)
		}
		var r struct {
			IncidentID int64 `json:"incident_id"`
		}
		if err := json.Unmarshal([]byte(resp), &r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.IncidentID)
		if i == 0 {
			s.texts(bobPhone, 1)
		}
		s.advance(5 * time.Second)
	}
	s.settle()
	s.advance(15 * time.Second) // the minute is up
	msgs := s.texts(bobPhone, 2)
	s.advance(2 * time.Minute)
	s.settle()
	msgs = s.twilio.MessagesTo(bobPhone)
	if len(msgs) != 2 {
		t.Fatalf("%d texts to bob; want 2:\n%+v", len(msgs), msgs)
	}
	if !strings.HasPrefix(msgs[1].Body, "9 incidents on batch: ") {
		t.Errorf("the bundle: %q", msgs[1].Body)
	}
	for _, id := range ids {
		ns, err := store.Notifications(context.Background(), s.pool, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if n.Method == "sms" && n.State != store.NotificationSent {
				t.Errorf("incident %d: the text is %s", id, n.State)
			}
		}
	}
	if tl := s.timeline(ids[9]); !strings.Contains(tl, "in one message with") {
		t.Errorf("timeline of the last:\n%s", tl)
	}
	// One reply acknowledges the ten.
	replies, err := s.twilio.SendSMS(s.ctx(), bobPhone, "ack all")
	if err != nil || len(replies) != 1 || !strings.HasPrefix(replies[0], "Acknowledged 10") {
		t.Fatalf("ack all: %q %v", replies, err)
	}
}

// Twilio answering 500 is temporary: the text is retried with backoff and
// goes out once; the retries are on the timeline.
func TestTwilioOutageIsRetried(t *testing.T) {
	t.Parallel()
	s := startTwilioStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id)
	s.twilio.FailNext(2, 500)
	s.advance(2*time.Minute + time.Second)
	s.advance(time.Second)     // River's first backoff
	s.advance(2 * time.Second) // the second
	s.texts(alicePhone, 1)
	s.settle()
	if n := len(s.twilio.MessagesTo(alicePhone)); n != 1 {
		t.Fatalf("%d texts; want 1", n)
	}
	if a := s.twilio.Attempts(); len(a) != 3 || a[0].Status != 500 || a[1].Status != 500 || a[2].Status != 201 {
		t.Fatalf("attempts %+v", a)
	}
	wantInOrder(t, s.timeline(id),
		"retry: notifying alice by sms cell (+1415•••0100) failed (attempt 1 of 3), retrying: twilio: sms to +1415•••0100: An internal server error has occurred (HTTP 500, error 20500)",
		"retry: notifying alice by sms cell (+1415•••0100) failed (attempt 2 of 3)",
		"notified alice by sms cell (+1415•••0100)")
}

// A number Twilio refuses as invalid fails for good at once: the call
// (due at 5 minutes) comes forward at once, and is refused too.
func TestTwilioInvalidNumberFallsThrough(t *testing.T) {
	t.Parallel()
	s := startTwilioStack(t)
	s.twilio.FailNumber(alicePhone, 21211)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id)
	s.advance(2*time.Minute + time.Second)
	s.waitFor("the call attempt", func() bool { return len(s.twilio.Attempts()) == 2 })
	s.settle()
	wantInOrder(t, s.timeline(id),
		"failed: notifying alice by sms cell (+1415•••0100) failed: twilio: sms to +1415•••0100: invalid phone number (HTTP 400, error 21211)",
		"fallback: moved alice's next notification rule forward",
		"failed: notifying alice by voice cell-call (+1415•••0100) failed")
	if s.clock.Now().Sub(s.incident(id).CreatedAt) > 3*time.Minute {
		t.Fatal("the clock moved past the call rule")
	}
}
