package email_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/api"
	apiemail "github.com/oncall/oncall/api/email"
	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/email"
	"github.com/oncall/oncall/notify/email/smtptest"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// world is a running engine whose email channel sends to an SMTP sink and
// whose HTTP server serves the action links.
type world struct {
	*jobstest.Bundle
	smtp   *smtptest.Server
	web    *httptest.Server
	signer *email.Signer
	slack  *recorder
}

// setup: alice is paged by email at once and by Slack after 5 minutes;
// bob is a user who is never paged and on no team.
func setup(t *testing.T) *world {
	t.Helper()
	w := &world{smtp: smtptest.New(t, smtptest.Options{Username: "mailer", Password: "pw"}), slack: &recorder{}}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	var err error
	if w.signer, err = email.NewSigner(key); err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(zerolog.Nop(), api.NewRegistry(), func(context.Context) error { return nil })
	w.web = httptest.NewServer(srv.Handler())
	t.Cleanup(w.web.Close)

	// The channel exists before the engine and its clock: it reads the
	// clock through clk once the bundle is built.
	clk := &clockRef{}
	ch, err := email.New(email.Config{URL: w.smtp.URL(), From: "Oncall <oncall@example.com>", PublicURL: w.web.URL, Signer: w.signer, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	alice := storetest.User("alice")
	alice.ContactMethods = append(alice.ContactMethods, manifest.ContactMethod{Name: "work", Type: manifest.ContactEmail, Address: "alice@example.com"})
	alice.NotificationRules = []manifest.NotificationRule{
		{After: 0, Notify: []string{"work"}},
		{After: 5 * time.Minute, Notify: []string{manifest.NotifySlack}},
	}
	set := storetest.NewSet(alice, storetest.User("bob"),
		storetest.Policy("ops", storetest.UserTarget("alice")), storetest.Service("api", "ops", "hook"))
	w.Bundle = jobstest.New(t, set, map[string]notify.Channel{notify.MethodEmail: ch, notify.MethodSlack: w.slack})
	clk.c.Store(w.Clock)
	(&apiemail.Handler{DB: w.Pool, Engine: w.Engine, Signer: w.signer, Clock: w.Clock}).Register(srv.Mux)
	return w
}

// page triggers an incident and returns it with the email alice got.
func (w *world) page(t *testing.T, dedup string) (int64, *smtptest.Message) {
	t.Helper()
	before := len(w.smtp.Messages())
	id := w.Trigger(t, "hook", dedup, "Checkout <b>error</b> rate above 5%")
	w.Settle(t)
	m := w.smtp.Wait(t, before+1)[before]
	if m.Err != nil {
		t.Fatal(m.Err)
	}
	if len(m.To) != 1 || m.To[0] != "alice@example.com" || m.Header.Get("X-Oncall-Incident") != strconv.FormatInt(id, 10) {
		t.Fatalf("email to %q about %q; want alice's about #%d", m.To, m.Header.Get("X-Oncall-Incident"), id)
	}
	return id, m
}

func (w *world) state(t *testing.T, id int64) *store.Incident {
	t.Helper()
	in, err := store.IncidentGet(context.Background(), w.Pool, id, store.LockNone)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (w *world) token(t *testing.T, c email.Claims) string {
	t.Helper()
	tok, err := w.signer.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func get(t *testing.T, link string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

// post submits the confirmation form the way a browser does.
func (w *world) post(t *testing.T, token string) (int, string) {
	t.Helper()
	resp, err := http.PostForm(w.web.URL+email.ActPath, url.Values{"t": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("t") == "" {
		t.Fatalf("link %q has no token", link)
	}
	return u.Query().Get("t")
}

func TestEmailLinksAcknowledgeAndResolve(t *testing.T) {
	t.Parallel()
	w := setup(t)
	id, m := w.page(t, "k1")
	num := "#" + strconv.FormatInt(id, 10)
	if !strings.Contains(m.Subject, num+" api: Checkout <b>error</b> rate above 5%") || m.AuthUser != "mailer" {
		t.Errorf("subject %q auth %q", m.Subject, m.AuthUser)
	}
	ack, resolve := m.Link("Acknowledge"), m.Link("Resolve")
	if !strings.HasPrefix(ack, w.web.URL+email.ActPath+"?t=") || !strings.HasPrefix(resolve, w.web.URL+email.ActPath+"?t=") {
		t.Fatalf("links %+v", m.Links)
	}

	// Following the link (a person, a mail scanner, a preview) changes
	// nothing: it asks.
	for range 2 {
		code, body, h := get(t, ack)
		if code != http.StatusOK || !strings.Contains(body, "Acknowledge incident "+num+"?") ||
			!strings.Contains(body, "Checkout &lt;b&gt;error&lt;/b&gt; rate above 5%") ||
			!strings.Contains(body, `<form method="post" action="act">`) || !strings.Contains(body, `value="`+tokenOf(t, ack)+`"`) {
			t.Fatalf("GET ack = %d:\n%s", code, body)
		}
		for k, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if h.Get(k) != want {
				t.Errorf("%s = %q; want %q", k, h.Get(k), want)
			}
		}
	}
	if resp, err := http.Head(ack); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD ack = %v, %v", resp, err)
	}
	if in := w.state(t, id); in.State != store.StateTriggered {
		t.Fatalf("after GET: state %s; want triggered", in.State)
	}

	// A POST with the token only in the URL is not the form.
	resp, err := http.Post(ack, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || w.state(t, id).State != store.StateTriggered {
		t.Fatalf("POST with the token in the URL = %d, state %s", resp.StatusCode, w.state(t, id).State)
	}

	code, body := w.post(t, tokenOf(t, ack))
	if code != http.StatusOK || !strings.Contains(body, "You acknowledged incident "+num) {
		t.Fatalf("POST ack = %d:\n%s", code, body)
	}
	if in := w.state(t, id); in.State != store.StateAcknowledged || in.AcknowledgedBy != "alice" {
		t.Fatalf("after POST: %s by %q; want acknowledged by alice", in.State, in.AcknowledgedBy)
	}
	if tl := strings.Join(w.Timeline(t, id), "\n"); !strings.Contains(tl, "acknowledged: acknowledged by alice") {
		t.Errorf("timeline:\n%s", tl)
	}

	// Again: nothing left to do, and said so.
	if code, body, _ := get(t, ack); code != http.StatusOK || !strings.Contains(body, "is acknowledged by alice") || strings.Contains(body, "<form") {
		t.Errorf("GET ack after ack = %d:\n%s", code, body)
	}
	if code, body := w.post(t, tokenOf(t, ack)); code != http.StatusOK || !strings.Contains(body, "You acknowledged incident "+num) {
		t.Errorf("POST ack twice = %d:\n%s", code, body)
	}

	// Resolve still works on an acknowledged incident.
	if code, body, _ := get(t, resolve); code != http.StatusOK || !strings.Contains(body, "Resolve incident "+num+"?") {
		t.Fatalf("GET resolve = %d:\n%s", code, body)
	}
	if code, body := w.post(t, tokenOf(t, resolve)); code != http.StatusOK || !strings.Contains(body, "You resolved incident "+num) {
		t.Fatalf("POST resolve = %d:\n%s", code, body)
	}
	if in := w.state(t, id); in.State != store.StateResolved || in.ResolvedBy != "alice" {
		t.Fatalf("after resolve: %s by %q", in.State, in.ResolvedBy)
	}
	if code, body, _ := get(t, resolve); code != http.StatusOK || !strings.Contains(body, "is resolved by alice") || strings.Contains(body, "<form") {
		t.Errorf("GET resolve after resolve = %d:\n%s", code, body)
	}

	// The Slack page five minutes later was cancelled by the ack.
	w.Advance(t, 6*time.Minute)
	if n := w.slack.count(); n != 0 {
		t.Errorf("%d Slack page(s) after the ack", n)
	}
}

func TestEmailLinksRefused(t *testing.T) {
	t.Parallel()
	w := setup(t)
	id, m := w.page(t, "k1")
	ack := m.Link("Acknowledge")
	tok := tokenOf(t, ack)
	exp := w.Clock.Now().Add(time.Hour)

	flipped := []byte(tok)
	flipped[len(flipped)-2] ^= 0x01
	payload, _, _ := strings.Cut(tok, ".")
	resolveTok := tokenOf(t, m.Link("Resolve"))
	_, resolveMAC, _ := strings.Cut(resolveTok, ".")

	for _, c := range []struct {
		name  string
		token string
		code  int
		text  string
	}{
		{"tampered", string(flipped), http.StatusBadRequest, "invalid or has expired"},
		{"another link's signature", payload + "." + resolveMAC, http.StatusBadRequest, "invalid or has expired"},
		{"no signature", payload + ".", http.StatusBadRequest, "invalid or has expired"},
		{"empty", "", http.StatusBadRequest, "invalid or has expired"},
		{"signed with another key", otherKeyToken(t, id), http.StatusBadRequest, "invalid or has expired"},
		{"bob, never paged", w.token(t, email.Claims{Incident: id, Action: email.ActionAck, User: "bob", Expires: exp}), http.StatusForbidden, "cannot act"},
		{"a user who is gone", w.token(t, email.Claims{Incident: id, Action: email.ActionAck, User: "mallory", Expires: exp}), http.StatusForbidden, "cannot act"},
		{"no such incident", w.token(t, email.Claims{Incident: id + 1000, Action: email.ActionAck, User: "alice", Expires: exp}), http.StatusGone, "invalid or has expired"},
	} {
		code, body, _ := get(t, w.web.URL+email.ActPath+"?t="+url.QueryEscape(c.token))
		if code != c.code || !strings.Contains(body, c.text) || strings.Contains(body, "<form") {
			t.Errorf("%s: GET = %d:\n%s", c.name, code, body)
		}
		code, body = w.post(t, c.token)
		if code != c.code || !strings.Contains(body, c.text) {
			t.Errorf("%s: POST = %d:\n%s", c.name, code, body)
		}
	}
	if in := w.state(t, id); in.State != store.StateTriggered {
		t.Fatalf("after refused links: state %s", in.State)
	}

	// A day later the email's links have expired.
	w.Clock.Advance(email.DefaultLinkTTL + time.Minute)
	code, body, _ := get(t, ack)
	if code != http.StatusGone || !strings.Contains(body, "invalid or has expired") || strings.Contains(body, "Checkout") {
		t.Errorf("expired GET = %d:\n%s", code, body)
	}
	if code, body := w.post(t, tok); code != http.StatusGone || !strings.Contains(body, "invalid or has expired") {
		t.Errorf("expired POST = %d:\n%s", code, body)
	}
	if in := w.state(t, id); in.State != store.StateTriggered {
		t.Fatalf("after expired links: state %s", in.State)
	}
}

func otherKeyToken(t *testing.T, id int64) string {
	s, err := email.NewSigner(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(email.Claims{Incident: id, Action: email.ActionAck, User: "alice", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A server that refuses the address for good fails the attempt at once
// and brings alice's next rule (Slack, due in 5 minutes) forward.
func TestEmailRefusedFallsThrough(t *testing.T) {
	t.Parallel()
	w := setup(t)
	w.smtp.RejectNext(550, "5.1.1 {rcpt}: Recipient address rejected: User unknown")
	id := w.Trigger(t, "hook", "k1", "disk full")
	w.Settle(t)
	if n := len(w.smtp.Messages()); n != 0 {
		t.Fatalf("%d emails accepted", n)
	}
	if n := w.slack.count(); n != 1 {
		t.Fatalf("%d Slack pages; want alice's next rule brought forward", n)
	}
	tl := strings.Join(w.Timeline(t, id), "\n")
	for _, want := range []string{"failed: notifying alice by email work", "failed: email to a•••@example.com: smtp RCPT TO: 550 5.1.1 <a•••@example.com>",
		"fallback: moved alice's next notification rule forward", "notified alice by slack"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	if strings.Contains(tl, "alice@example.com") || strings.Contains(tl, "pw") {
		t.Errorf("timeline gives away the address or password:\n%s", tl)
	}
}

// A temporary refusal is retried, and the retry delivers.
func TestEmailDeferredIsRetried(t *testing.T) {
	t.Parallel()
	w := setup(t)
	w.smtp.RejectNext(451, "4.7.1 greylisted, try again")
	id := w.Trigger(t, "hook", "k1", "disk full")
	w.Settle(t)
	w.smtp.Wait(t, 1)
	tl := strings.Join(w.Timeline(t, id), "\n")
	if !strings.Contains(tl, "retry: notifying alice by email work") || !strings.Contains(tl, "failed (attempt 1 of 3), retrying: email to a•••@example.com: smtp RCPT TO: 451") ||
		!strings.Contains(tl, "notified alice by email work") {
		t.Errorf("timeline:\n%s", tl)
	}
	if n := w.slack.count(); n != 0 {
		t.Errorf("%d Slack pages; want none (email got through)", n)
	}
}

// recorder is a Slack stand-in that counts pages.
type recorder struct {
	mu    sync.Mutex
	pages []notify.Page
}

func (r *recorder) Send(_ context.Context, _ notify.Target, p notify.Page) (notify.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pages = append(r.pages, p)
	return notify.Receipt{}, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pages)
}

// clockRef is a clock set after it is handed out.
type clockRef struct {
	c atomic.Pointer[oncall.OffsetClock]
}

func (r *clockRef) Now() time.Time {
	if c := r.c.Load(); c != nil {
		return c.Now()
	}
	return time.Now().UTC()
}
