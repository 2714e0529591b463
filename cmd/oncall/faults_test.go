package main

import (
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/store"
)

// Provider faults off Slack (issue 7): the SMTP server refuses in each of
// the ways real ones do, and the page still reaches alice, by email after
// a retry or by her next rule (Slack, due at 5 minutes) at once, with the
// timeline saying what happened.

// A 5xx reply is final: no retry, alice's Slack rule is brought forward.
func TestFaultSMTPPermanentFallsThroughToSlack(t *testing.T) {
	t.Parallel()
	s, mta := startEmailStack(t)
	mta.RejectNext(550, "5.1.1 {rcpt}: Recipient address rejected: User unknown")
	id := s.alert(sample(t, "am-webhook-firing.json"))

	s.pageFor("DU0ALICE", id) // without moving the clock to her 5-minute rule
	s.settle()
	if n := len(mta.Messages()); n != 0 {
		t.Fatalf("%d email(s) accepted", n)
	}
	tl := s.timeline(id)
	wantInOrder(t, tl,
		"failed: notifying alice by email work (a•••@example.com) failed: email to a•••@example.com: smtp RCPT TO: 550 5.1.1 <a•••@example.com>",
		"fallback: moved alice's next notification rule forward",
		"notified alice by slack")
	if strings.Contains(tl, "retry:") || strings.Contains(tl, "alice@example.com") || strings.Contains(tl, "s3cret") {
		t.Errorf("timeline retried a permanent failure or gives away the address or password:\n%s", tl)
	}
	assertEmailState(t, s, id, store.NotificationFailed)
}

// A 4xx reply is temporary: retried, delivered by email, Slack untouched.
func TestFaultSMTPTemporaryIsRetried(t *testing.T) {
	t.Parallel()
	s, mta := startEmailStack(t)
	mta.RejectNext(451, "4.7.1 greylisted, try again later")
	id := s.alert(sample(t, "am-webhook-firing.json"))

	s.advance(time.Second) // River's first backoff
	m := mta.Wait(t, 1)[0]
	if m.To[0] != "alice@example.com" {
		t.Fatalf("email to %q", m.To)
	}
	s.settle()
	wantInOrder(t, s.timeline(id),
		"retry: notifying alice by email work (a•••@example.com) failed (attempt 1 of 3), retrying: email to a•••@example.com: smtp RCPT TO: 451 4.7.1",
		"notified alice by email work (a•••@example.com)")
	if msgs := s.slack.Messages("DU0ALICE"); len(msgs) != 0 {
		t.Fatalf("alice was paged in Slack though the email went out: %+v", msgs)
	}
	assertEmailState(t, s, id, store.NotificationSent)
}

// A server that drops every connection is temporary each time: retried
// until the attempts run out, then the page falls through to Slack.
func TestFaultSMTPConnectionDroppedFallsThroughAfterRetries(t *testing.T) {
	t.Parallel()
	s, mta := startEmailStack(t)
	mta.Refuse()
	id := s.alert(sample(t, "am-webhook-firing.json"))

	s.advance(time.Second)     // attempt 2
	s.advance(2 * time.Second) // attempt 3, the last
	s.pageFor("DU0ALICE", id)
	s.settle()
	if n := len(mta.Messages()); n != 0 {
		t.Fatalf("%d email(s) accepted", n)
	}
	tl := s.timeline(id)
	wantInOrder(t, tl,
		"retry: notifying alice by email work (a•••@example.com) failed (attempt 1 of 3), retrying: email to a•••@example.com: smtp greeting",
		"retry: notifying alice by email work (a•••@example.com) failed (attempt 2 of 3)",
		"failed: notifying alice by email work (a•••@example.com) failed: email to a•••@example.com: smtp greeting",
		"fallback: moved alice's next notification rule forward",
		"notified alice by slack")
	assertEmailState(t, s, id, store.NotificationFailed)

	// The server comes back: later pages go by email again.
	mta.Serve()
	code, resp := s.post("/v1/alerts/"+s.keys["hook"], []byte(`{"summary":"queue backlog","severity":"critical","dedup_key":"backlog"}`))
	if code != 202 {
		t.Fatalf("alert: %d %s", code, resp)
	}
	if m := mta.Wait(t, 1)[0]; !strings.Contains(m.Subject, "queue backlog") {
		t.Fatalf("email after recovery: %q", m.Subject)
	}
}

// wantInOrder checks that the timeline has each line (a substring of
// one), in this order.
func wantInOrder(t *testing.T, timeline string, lines ...string) {
	t.Helper()
	rest := timeline
	for _, want := range lines {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("timeline lacks %q (in this order):\n%s", want, timeline)
		}
		rest = rest[i+len(want):]
	}
}

// assertEmailState checks how alice's email notification for id ended.
func assertEmailState(t *testing.T, s *stack, id int64, state string) {
	t.Helper()
	ns, err := store.Notifications(s.ctx(), s.pool, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Method == "email" && n.User == "alice" {
			if n.State != state {
				t.Fatalf("alice's email notification is %s, want %s (error %q)", n.State, state, n.LastError)
			}
			return
		}
	}
	t.Fatalf("no email notification for alice: %+v", ns)
}
