package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/notify/twilio/twiliotest"
	"github.com/oncall/oncall/store"
)

// Provider faults (issue 7, item 3): Slack answering 429 and 5xx, the
// Socket Mode connection dropped, Twilio hanging, an SMTP server nobody
// runs. Each page still reaches the user, by the same channel after a wait
// or by the user's next rule at once, and the timeline says what happened.
// The waits are real (Retry-After, River's backoff of 1 s and 2 s, a 1 s
// send timeout): each test takes a few seconds.

// faultCompany is pagingConfig with alice paged in Slack at once, texted
// after 2 minutes and called after 5.
var faultCompany = strings.Replace(pagingConfig,
	"  - {after: 0s, notify: [slack]}\n  - {after: 2m, notify: [work]}\ncontact_methods:\n  - {name: work, type: email, address: alice@example.com}\n",
	`  - {after: 0s, notify: [slack]}
  - {after: 2m, notify: [cell]}
  - {after: 5m, notify: [cell-call]}
contact_methods:
  - {name: cell, type: sms, address: "+14155550100"}
  - {name: cell-call, type: voice, address: "+14155550100"}
`, 1)

// startFaultStack starts the server with Slack and a fake Twilio, and a
// send timeout of 1 s so that a hung provider costs a second, not ten. The
// configuration is faultCompany unless one is given.
func startFaultStack(t *testing.T, config ...string) (*stack, *twiliotest.Server) {
	t.Helper()
	if faultCompany == pagingConfig {
		t.Fatal("pagingConfig changed: alice's rules were not replaced")
	}
	company := faultCompany
	if len(config) > 0 {
		company = config[0]
	}
	tw := twiliotest.New(t)
	s := startStack(t, withConfig(company), withEnv(map[string]string{
		"TWILIO_ACCOUNT_SID":  tw.AccountSID,
		"TWILIO_AUTH_TOKEN":   tw.AuthToken,
		"TWILIO_FROM_NUMBER":  tw.Number,
		"TWILIO_API_URL":      tw.URL,
		"ONCALL_SEND_TIMEOUT": "1s",
	}))
	tw.DialWebhooksTo(strings.TrimPrefix(s.url, "http://"))
	return s, tw
}

// postsTo is every chat.postMessage of a page (not a thread note) to
// channel, failed or not, in order.
func postsTo(s *stack, channel string) []slacktest.Call {
	var out []slacktest.Call
	for _, c := range s.slack.Calls("chat.postMessage") {
		if c.Param("channel") == channel && c.Param("thread_ts") == "" {
			out = append(out, c)
		}
	}
	return out
}

// until polls cond for up to 30 s (generous: a loaded 2-core machine).
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Slack answers alice's page 429 (Retry-After: 1) twice, then 500 once:
// each rate limit is waited out in full without spending an attempt (the
// 500 after them is attempt 1 of 3, retried), and the page goes out once.
func TestFaultSlackRateLimitWaitsWithoutSpendingAttempts(t *testing.T) {
	t.Parallel()
	s, tw := startFaultStack(t)
	s.slack.FailNextIn("chat.postMessage", "U0ALICE", 2, http.StatusTooManyRequests, time.Second)
	s.slack.FailNextIn("chat.postMessage", "U0ALICE", 1, http.StatusInternalServerError, 0)
	id := s.alert(sample(t, "am-webhook-firing.json"))

	s.pageFor("DU0ALICE", id)
	s.settle()
	posts := postsTo(s, "U0ALICE")
	var statuses []int
	for _, c := range posts {
		statuses = append(statuses, c.Status)
	}
	if len(posts) != 4 || statuses[0] != 429 || statuses[1] != 429 || statuses[2] != 500 || statuses[3] != 200 {
		t.Fatalf("posts to alice answered %v; want [429 429 500 200]", statuses)
	}
	for i := 1; i <= 2; i++ { // after each 429, not before its Retry-After
		if gap := posts[i].Time.Sub(posts[i-1].Time); gap < time.Second-10*time.Millisecond {
			t.Errorf("post %d came %s after a 429 asking for 1 s", i+1, gap)
		}
	}
	t.Logf("429 → %s → 429 → %s → 500 → %s → 200", posts[1].Time.Sub(posts[0].Time).Round(time.Millisecond),
		posts[2].Time.Sub(posts[1].Time).Round(time.Millisecond), posts[3].Time.Sub(posts[2].Time).Round(time.Millisecond))
	if n := len(s.slack.Messages("DU0ALICE")); n != 1 {
		t.Fatalf("alice has %d pages; want 1", n)
	}
	tl := s.timeline(id)
	wantInOrder(t, tl,
		"rate_limited: slack asked to wait 1s before notifying alice",
		"rate_limited: slack asked to wait 1s before notifying alice",
		"retry: notifying alice by slack failed (attempt 1 of 3), retrying: slack: post page #"+strconv.FormatInt(id, 10)+" to U0ALICE: slack server error: 500",
		"notified alice by slack")
	if strings.Contains(tl, "failed:") || strings.Contains(tl, "fallback:") {
		t.Errorf("a rate limit counted as a failure:\n%s", tl)
	}
	if n := len(tw.MessagesTo(alicePhone)); n != 0 {
		t.Errorf("alice was texted %d times though Slack delivered", n)
	}
}

// Slack rate-limits alice's page for good (429, Retry-After: 30): the
// waits are honoured up to 2 minutes past the page's due time, then the
// page gives up on Slack and her next rule (a text due at 10 minutes)
// comes forward.
func TestFaultSlackRateLimitedForGoodFallsThrough(t *testing.T) {
	t.Parallel()
	late := strings.Replace(faultCompany, "  - {after: 2m, notify: [cell]}\n  - {after: 5m, notify: [cell-call]}\n",
		"  - {after: 10m, notify: [cell]}\n", 1)
	if late == faultCompany {
		t.Fatal("faultCompany changed: alice's rules were not replaced")
	}
	s, tw := startFaultStack(t, late)
	s.slack.FailNextIn("chat.postMessage", "U0ALICE", 100, http.StatusTooManyRequests, 30*time.Second)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	const gaveUp = "failed: notifying alice by slack"
	for i := 1; ; i++ { // each wait in turn, until Slack is given up on
		until(t, "rate limit "+strconv.Itoa(i), func() bool {
			tl := s.timeline(id)
			return strings.Count(tl, "rate_limited:") == i || strings.Contains(tl, gaveUp)
		})
		if strings.Contains(s.timeline(id), gaveUp) {
			break
		}
		if i > 5 {
			t.Fatalf("still waiting on Slack after %d rate limits:\n%s", i, s.timeline(id))
		}
		s.advance(30 * time.Second)
	}
	until(t, "a text to alice", func() bool { return len(tw.MessagesTo(alicePhone)) == 1 })
	if since := s.clock.Now().Sub(s.incident(id).CreatedAt); since >= 10*time.Minute {
		t.Fatalf("the text went out %s after the page: at its own time, not brought forward", since)
	}
	tl := s.timeline(id)
	// Waits at 0, 30 s, 60 s and 90 s end by 2 minutes; the last ends just
	// past them when the real time the test takes is added.
	if n := strings.Count(tl, "rate_limited: slack asked to wait 30s before notifying alice"); n < 3 || n > 4 {
		t.Errorf("%d waits on the timeline; want 3 or 4:\n%s", n, tl)
	}
	wantInOrder(t, tl,
		"failed: notifying alice by slack failed: rate limited for over 2m0s: rate limited, retry after 30s",
		"fallback: moved alice's next notification rule forward",
		"notified alice by sms cell (+1415•••0100)")
}

// Slack answers 503 to alice's page every time: after three attempts (and
// River's backoff of 1 s and 2 s) the page falls through to her SMS rule
// at once, not at its 2 minutes, and the timeline says Slack failed and why.
func TestFaultSlackOutageFallsThroughToSMS(t *testing.T) {
	t.Parallel()
	s, tw := startFaultStack(t)
	s.slack.FailNextIn("chat.postMessage", "U0ALICE", 100, http.StatusServiceUnavailable, 0)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("C0PAY", id) // the team channel works

	until(t, "a text to alice", func() bool { return len(tw.MessagesTo(alicePhone)) == 1 })
	if since := s.clock.Now().Sub(s.incident(id).CreatedAt); since >= 2*time.Minute {
		t.Fatalf("the text went out %s after the page: at its own time, not brought forward", since)
	}
	s.settle()
	if n := len(postsTo(s, "U0ALICE")); n != 3 {
		t.Errorf("%d posts to alice; want 3 (the attempts)", n)
	}
	wantInOrder(t, s.timeline(id),
		"retry: notifying alice by slack failed (attempt 1 of 3), retrying: slack: post page #"+strconv.FormatInt(id, 10)+" to U0ALICE: slack server error: 503 Service Unavailable",
		"retry: notifying alice by slack failed (attempt 2 of 3)",
		"failed: notifying alice by slack failed: slack: post page #"+strconv.FormatInt(id, 10)+" to U0ALICE: slack server error: 503 Service Unavailable",
		"fallback: moved alice's next notification rule forward",
		"notified alice by sms cell (+1415•••0100)")
}

// Twilio accepts the connection and never answers: each text times out
// after the send timeout (1 s), is retried, and after the third the page
// falls through to alice's call at once; the timeline says "timeout".
func TestFaultTwilioTimeoutFallsThroughToCall(t *testing.T) {
	t.Parallel()
	s, tw := startFaultStack(t)
	tw.HangNext(3)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id)
	start := time.Now()
	s.advance(2*time.Minute + time.Second) // alice's SMS rule

	until(t, "a call to alice", func() bool { return len(tw.Calls()) == 1 })
	t.Logf("three hung texts and the call in %s", time.Since(start).Round(time.Millisecond))
	if since := s.clock.Now().Sub(s.incident(id).CreatedAt); since >= 5*time.Minute {
		t.Fatalf("the call went out %s after the page: at its own time, not brought forward", since)
	}
	s.settle()
	a := tw.Attempts()
	if len(a) != 4 || a[0].Status != 0 || a[1].Status != 0 || a[2].Status != 0 || a[3].Kind != "call" || a[3].Status != http.StatusCreated {
		t.Fatalf("attempts %+v; want three hung texts and a call", a)
	}
	if n := len(tw.MessagesTo(alicePhone)); n != 0 {
		t.Errorf("%d texts created by requests that timed out", n)
	}
	wantInOrder(t, s.timeline(id),
		"retry: notifying alice by sms cell (+1415•••0100) failed (attempt 1 of 3), retrying: timeout, no answer within 1s: twilio: sms to +1415•••0100: context deadline exceeded",
		"retry: notifying alice by sms cell (+1415•••0100) failed (attempt 2 of 3), retrying: timeout",
		"failed: notifying alice by sms cell (+1415•••0100) failed: timeout, no answer within 1s",
		"fallback: moved alice's next notification rule forward",
		"notified alice by voice cell-call (+1415•••0100)")
}

// Nothing listens where SMTP_URL points (connection refused): temporary
// each time, retried, then the page falls through to alice's Slack rule.
func TestFaultSMTPConnectionRefusedFallsThrough(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the port is free: every connection is refused
	s := startStack(t, withConfig(emailFirstConfig), withEnv(map[string]string{
		"SMTP_URL":   "smtp://" + addr,
		"EMAIL_FROM": "Oncall <oncall@example.com>",
	}))
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id) // by the real clock: River's backoffs of 1 s and 2 s
	if since := s.clock.Now().Sub(s.incident(id).CreatedAt); since >= 5*time.Minute {
		t.Fatalf("the Slack page went out %s after the alert: not brought forward", since)
	}
	s.settle()
	wantInOrder(t, s.timeline(id),
		"retry: notifying alice by email work (a•••@example.com) failed (attempt 1 of 3), retrying: email to a•••@example.com: connect to "+addr,
		"connection refused",
		"retry: notifying alice by email work (a•••@example.com) failed (attempt 2 of 3)",
		"failed: notifying alice by email work (a•••@example.com) failed",
		"fallback: moved alice's next notification rule forward",
		"notified alice by slack")
	assertEmailState(t, s, id, store.NotificationFailed)
}

// The Socket Mode connection drops (no close frame), also while Slack
// cannot hand out a new one for a moment or refuses the token once: the
// bot is connected again within 5 s each time.
func TestFaultSocketModeReconnects(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	for _, tc := range []struct {
		name  string
		fault func()
	}{
		{"dropped", func() {}},
		{"dropped, apps.connections.open 500 three times", func() {
			s.slack.FailNext("apps.connections.open", 3, http.StatusInternalServerError, 0)
		}},
		{"dropped, apps.connections.open refused once", func() {
			s.slack.FailNextWith("apps.connections.open", 1, "invalid_auth")
		}},
	} {
		tc.fault()
		before := s.slack.ConnectCount()
		start := time.Now()
		s.slack.DropSockets()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := s.slack.WaitUntil(ctx, func() bool { return s.slack.ConnectCount() > before && s.slack.Connections() == 1 })
		cancel()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s: the bot did not reconnect: %v (calls: %d apps.connections.open)", tc.name, err, len(s.slack.Calls("apps.connections.open")))
		}
		t.Logf("%s: reconnected in %s", tc.name, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("%s: reconnected after %s; want within 5 s", tc.name, took)
		}
	}
	// The bot still works: a page and its button.
	id := s.alert(sample(t, "am-webhook-firing.json"))
	page := s.pageFor("DU0ALICE", id)
	s.click("U0ALICE", slackch.ActionAck, page, id)
	s.waitState(id, store.StateAcknowledged)
}

// Slack cannot hand out a connection for a while (apps.connections.open
// answers 500 seven times, about 6 s): slack-go's own backoff doubles up to
// 5 minutes, which the bot cuts at 5 s, so it tries again at most 5 s
// apart and is back within 5 s of Slack. (Uncut, the eighth try would wait
// 6.4 s, and a longer outage minutes.)
func TestFaultSocketModeOutageRetriesEvery5s(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	before := len(s.slack.Calls("apps.connections.open"))
	s.slack.FailNext("apps.connections.open", 7, http.StatusInternalServerError, 0)
	start := time.Now()
	s.slack.DropSockets()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.slack.WaitUntil(ctx, func() bool { return s.slack.Connections() == 1 }); err != nil {
		t.Fatalf("the bot did not reconnect: %v", err)
	}
	calls := s.slack.Calls("apps.connections.open")[before:]
	if len(calls) != 8 || !calls[7].OK() {
		t.Fatalf("%d tries after the drop; want 7 failed and 1 that worked", len(calls))
	}
	var gaps []string
	var most time.Duration
	for i := 1; i < len(calls); i++ {
		gap := calls[i].Time.Sub(calls[i-1].Time)
		most = max(most, gap)
		gaps = append(gaps, gap.Round(10*time.Millisecond).String())
	}
	t.Logf("reconnected in %s; tries apart: %s", time.Since(start).Round(time.Millisecond), strings.Join(gaps, ", "))
	if most > 5*time.Second+500*time.Millisecond {
		t.Errorf("tries %s apart; want at most 5 s", most)
	}
}

// A click whose ack Slack never got (the connection died right after the
// bot wrote it) comes again on the next connection with the same
// envelope_id: the bot acks it again and does not act twice, for
// Acknowledge and for Escalate (which would escalate twice). Clicked twice
// (two envelopes), Acknowledge changes nothing the second time and says
// nothing.
func TestFaultSocketModeRedeliveredClicksActOnce(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	page := s.pageFor("DU0ALICE", id)
	action := func(actionID string) string {
		return s.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0ALICE", ActionID: actionID,
			Value: strconv.FormatInt(id, 10), ChannelID: page.Channel, MessageTS: page.TS})
	}
	count := func(what string) int { return strings.Count(s.timeline(id), what) }

	s.slack.LoseNextAcks(1)
	env := action(slackch.ActionAck)
	ack, err := s.slack.WaitForAck(s.ctx(), env)
	if err != nil {
		t.Fatalf("the re-delivered click was not acknowledged: %v", err)
	}
	e, _ := s.slack.Envelope(env)
	if e.LostAcks != 1 || len(e.Deliveries) != 2 || ack.Attempt != 1 || e.ExtraAcks != 0 {
		t.Fatalf("envelope: %d lost acks, %d deliveries, acked on attempt %d, %d extra acks; want 1, 2, 1, 0",
			e.LostAcks, len(e.Deliveries), ack.Attempt, e.ExtraAcks)
	}
	t.Logf("lost ack: re-delivered and acked %s after the first delivery", ack.Time.Sub(e.Deliveries[0].Time).Round(time.Millisecond))
	s.waitState(id, store.StateAcknowledged)

	s.click("U0ALICE", slackch.ActionAck, page, id) // clicked again: another envelope
	s.settle()
	time.Sleep(200 * time.Millisecond) // the click's work runs after its ack
	if n := count("acknowledged by alice"); n != 1 {
		t.Fatalf("%d acknowledgements on the timeline; want 1:\n%s", n, s.timeline(id))
	}
	if eph := s.slack.Ephemerals(page.Channel); len(eph) != 0 {
		t.Fatalf("alice was told something about her clicks: %+v", eph)
	}

	// Escalate is not idempotent: acting on the re-delivery would escalate twice.
	s.slack.LoseNextAcks(1)
	env = action(slackch.ActionEscalate)
	if _, err := s.slack.WaitForAck(s.ctx(), env); err != nil {
		t.Fatal(err)
	}
	s.pageFor("DU0BOB", id) // step 2
	s.settle()
	time.Sleep(200 * time.Millisecond)
	if n := count("escalated by alice"); n != 1 {
		t.Fatalf("escalated %d times by one click; want 1:\n%s", n, s.timeline(id))
	}
	if in := s.incident(id); in.EscalationStep != 1 {
		t.Fatalf("escalation step %d after one escalation; want 1", in.EscalationStep)
	}
}

// An Escalate button carries the escalation sequence its page showed, so
// the same click delivered as two envelopes (Slack re-delivering to
// another process, which has not seen its envelope id, or a double click,
// or two people at once) escalates once; the second is told why nothing
// happened. A button without a sequence (a page posted by an older
// version) still escalates.
func TestEscalateClickedTwiceEscalatesOnce(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	page := s.pageFor("DU0ALICE", id)
	shown := slackch.EscalateValue(id, s.incident(id).EscalationSeq)
	click := func(value string) {
		s.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0ALICE", ActionID: slackch.ActionEscalate,
			Value: value, ChannelID: page.Channel, MessageTS: page.TS})
	}
	count := func() int { return strings.Count(s.timeline(id), "escalated by alice") }

	click(shown)
	click(shown)
	s.pageFor("DU0BOB", id) // step 2
	deadline := time.Now().Add(30 * time.Second)
	for len(s.slack.Ephemerals(page.Channel)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	s.settle()
	if n := count(); n != 1 {
		t.Fatalf("escalated %d times by two deliveries of one click; want 1:\n%s", n, s.timeline(id))
	}
	eph := s.slack.Ephemerals(page.Channel)
	if len(eph) != 1 || !strings.Contains(eph[0].Text, "was escalated or reassigned after this message was shown, so this click escalated nothing") {
		t.Fatalf("the second delivery's answer: %+v", eph)
	}

	click(strconv.FormatInt(id, 10))
	for s.incident(id).EscalationLoop < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if in := s.incident(id); count() != 2 || in.EscalationStep != 0 || in.EscalationLoop != 1 {
		t.Fatalf("a bare id's click: %d escalations, step %d round %d; want 2, step 0 round 1:\n%s",
			count(), in.EscalationStep, in.EscalationLoop, s.timeline(id))
	}
}

// Slack posts a page but its answer never arrives (the connection drops,
// or the process dies, while Slack answers): the retry finds the page by
// the key in its metadata and does not post it again.
func TestSlackAnswerLostPagesOnce(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.slack.LoseNextAnswers("chat.postMessage", 1)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	s.pageFor("DU0ALICE", id)
	want := "delivered by an earlier attempt whose outcome was lost (found, not sent again)"
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.timeline(id), want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	s.settle()
	pages := 0
	for _, m := range s.slack.Messages("DU0ALICE") {
		if strings.Contains(string(m.Blocks), slackch.BlockID(id)) {
			pages++
		}
	}
	posts := 0
	for _, m := range s.slack.Messages("C0PAY") {
		if strings.Contains(string(m.Blocks), slackch.BlockID(id)) {
			posts++
		}
	}
	if pages != 1 || posts != 1 || !strings.Contains(s.timeline(id), want) {
		t.Fatalf("%d DMs and %d channel posts of the page; want 1 each, and the timeline to say %q:\n%s", pages, posts, want, s.timeline(id))
	}
	if n := len(s.slack.Calls("conversations.history")); n != 1 {
		t.Errorf("%d conversations.history calls; want 1 (only the retry looks)", n)
	}
}
