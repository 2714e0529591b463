package main

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/email"
	"github.com/oncall/oncall/notify/email/smtptest"
	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/store"
)

// emailFirstConfig is pagingConfig with alice paged by email at once and
// by Slack five minutes later.
var emailFirstConfig = strings.Replace(pagingConfig,
	"  - {after: 0s, notify: [slack]}\n  - {after: 2m, notify: [work]}\n",
	"  - {after: 0s, notify: [work]}\n  - {after: 5m, notify: [slack]}\n", 1)

// startEmailStack starts the server with email on, sending to a fake SMTP
// server that wants a login.
func startEmailStack(t *testing.T) (*stack, *smtptest.Server) {
	t.Helper()
	if emailFirstConfig == pagingConfig {
		t.Fatal("pagingConfig changed: alice's rules were not replaced")
	}
	mta := smtptest.New(t, smtptest.Options{Username: "mailer", Password: "s3cret"})
	s := startStack(t, withConfig(emailFirstConfig), withEnv(map[string]string{
		"SMTP_URL":   mta.URL(),
		"EMAIL_FROM": "Oncall <oncall@example.com>",
	}))
	return s, mta
}

// local points a link built on ONCALL_PUBLIC_URL at the running server.
func (s *stack) local(link string) string {
	s.t.Helper()
	const public = "http://oncall.test"
	if !strings.HasPrefix(link, public+email.ActPath+"?t=") {
		s.t.Fatalf("link %q is not on %s%s", link, public, email.ActPath)
	}
	return s.url + strings.TrimPrefix(link, public)
}

func httpGet(t *testing.T, link string) (int, string) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func httpPostForm(t *testing.T, link string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(link, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The whole email path through the real server: an alert pages alice by
// email, the message is a text and an HTML part with the incident and two
// links; opening the ack link changes nothing, confirming it acknowledges.
func TestEmailPageAndAckByLink(t *testing.T) {
	t.Parallel()
	s, mta := startEmailStack(t)
	id := s.alert(sample(t, "am-webhook-firing.json"))
	num := strconv.FormatInt(id, 10)

	m := mta.Wait(t, 1)[0]
	if m.Err != nil {
		t.Fatalf("message does not parse: %v\n%s", m.Err, m.Raw)
	}
	if m.AuthUser != "mailer" || m.From != "oncall@example.com" || len(m.To) != 1 || m.To[0] != "alice@example.com" {
		t.Fatalf("envelope: auth %q from %q to %q", m.AuthUser, m.From, m.To)
	}
	if m.Header.Get("X-Oncall-Incident") != num || !strings.Contains(m.Subject, "#"+num+" payments-api") || !strings.Contains(m.Subject, "DiskFull") {
		t.Fatalf("subject %q, incident header %q", m.Subject, m.Header.Get("X-Oncall-Incident"))
	}

	// Parsed here as any mail reader would: multipart/alternative, plain
	// text first, then HTML.
	if types := partTypes(t, m.Raw); strings.Join(types, ",") != "text/plain,text/html" {
		t.Fatalf("parts %v; want text/plain, text/html", types)
	}
	for name, body := range map[string]string{"text": m.Text, "html": m.HTML} {
		for _, want := range []string{"[FIRING:2] DiskFull (critical)", "payments-api", "payments", "critical", "alertname", "DiskFull", "triggered",
			"receiver", "hook"} { // Alertmanager's details
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q:\n%s", name, want, body)
			}
		}
	}
	ack, resolve := m.Link("Acknowledge"), m.Link("Resolve")
	if ack == "" || resolve == "" || !strings.Contains(m.Text, ack) || !strings.Contains(m.Text, resolve) {
		t.Fatalf("links: ack %q resolve %q; text:\n%s", ack, resolve, m.Text)
	}
	ackURL := s.local(ack)

	// A scanner (or alice) opens the link: a confirmation page, no change.
	for range 2 {
		code, body := httpGet(t, ackURL)
		if code != http.StatusOK || !strings.Contains(body, "Acknowledge incident #"+num+"?") || !strings.Contains(body, `<form method="post"`) {
			t.Fatalf("GET ack = %d:\n%s", code, body)
		}
	}
	s.settle()
	if in := s.incident(id); in.State != store.StateTriggered {
		t.Fatalf("after GET: %s", in.State)
	}
	if tl := s.timeline(id); strings.Contains(tl, "acknowledged") {
		t.Fatalf("GET left a trace on the timeline:\n%s", tl)
	}

	// Confirming posts the token from the form: acknowledged, as alice.
	code, body := httpPostForm(t, s.url+email.ActPath, url.Values{"t": {linkToken(t, ack)}})
	if code != http.StatusOK || !strings.Contains(body, "You acknowledged incident #"+num) {
		t.Fatalf("POST ack = %d:\n%s", code, body)
	}
	if in := s.incident(id); in.State != store.StateAcknowledged || in.AcknowledgedBy != "alice" {
		t.Fatalf("after POST: %s by %q", in.State, in.AcknowledgedBy)
	}
	if tl := s.timeline(id); !strings.Contains(tl, "notified alice by email work (a•••@example.com)") || !strings.Contains(tl, "acknowledged by alice") {
		t.Fatalf("timeline:\n%s", tl)
	}

	// The same ack as from Slack: the team channel's copy is updated.
	if _, err := s.slack.WaitForMessage(s.ctx(), "C0PAY", func(m slacktest.Message) bool {
		return m.Updates > 0 && strings.Contains(string(m.Blocks), slackch.BlockID(id)) &&
			!strings.Contains(string(m.Blocks), slackch.ActionAck) && strings.Contains(string(m.Blocks), "alice")
	}); err != nil {
		t.Fatalf("team channel's page not updated after the email ack: %v", err)
	}

	// The link again: it says so, and offers nothing.
	if code, body := httpGet(t, ackURL); code != http.StatusOK || !strings.Contains(body, "is acknowledged by alice") || strings.Contains(body, "<form") {
		t.Fatalf("GET ack after the ack = %d:\n%s", code, body)
	}
	// The ack cancelled alice's Slack rule at 5 minutes.
	s.advance(6 * time.Minute)
	s.settle()
	if msgs := s.slack.Messages("DU0ALICE"); len(msgs) != 0 {
		t.Fatalf("alice was paged in Slack after the ack: %+v", msgs)
	}

	// A forged link and, a day later, the real one are refused with a page
	// that says so: never a 500, never a change.
	forged := strings.Replace(ackURL, "t=", "t=x", 1)
	if code, body := httpGet(t, forged); code != http.StatusBadRequest || !strings.Contains(body, "invalid or has expired") {
		t.Fatalf("forged GET = %d:\n%s", code, body)
	}
	s.advance(email.DefaultLinkTTL)
	if code, body := httpPostForm(t, s.url+email.ActPath, url.Values{"t": {linkToken(t, resolve)}}); code != http.StatusGone || !strings.Contains(body, "invalid or has expired") {
		t.Fatalf("expired POST = %d:\n%s", code, body)
	}
	if in := s.incident(id); in.State != store.StateAcknowledged {
		t.Fatalf("after refused links: %s", in.State)
	}
}

func linkToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("t") == "" {
		t.Fatalf("link %q has no token", link)
	}
	return u.Query().Get("t")
}

// partTypes lists the content types of a multipart message's parts.
func partTypes(t *testing.T, raw []byte) []string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	typ, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || typ != "multipart/alternative" {
		t.Fatalf("content type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	var types []string
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return types
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, pt)
	}
}
