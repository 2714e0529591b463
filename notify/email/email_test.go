package email_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/email"
	"github.com/oncall/oncall/notify/email/smtptest"
	"github.com/oncall/oncall/oncall"
)

const publicURL = "https://oncall.example.com"

func page() notify.Page {
	return notify.Page{
		IncidentID: 12, Service: "payments-api", Team: "payments", Summary: "Checkout error rate above 5%",
		Severity: "critical", Urgency: "high", State: notify.StateTriggered, CreatedAt: t0.Add(-time.Minute), Alerts: 3,
		Labels:     map[string]string{"env": "prod", "region": "eu-west-1"},
		Details:    map[string]any{"rate": 0.07, "runbook": "see wiki"},
		Links:      []notify.Link{{Href: "https://grafana.example.com/d/1", Text: "Dashboard"}},
		Escalation: "step 1 of payments-default",
	}
}

func alice() notify.Target {
	return notify.Target{User: "alice", FullName: "Alice Example", Method: notify.MethodEmail, Address: "alice@example.com"}
}

type fixture struct {
	srv    *smtptest.Server
	ch     *email.Channel
	signer *email.Signer
}

func setup(t *testing.T, opts smtptest.Options, change ...func(*email.Config)) fixture {
	t.Helper()
	srv := smtptest.New(t, opts)
	signer := newSigner(t, 7)
	cfg := email.Config{
		URL: srv.URL(), From: "Oncall <oncall@example.com>", PublicURL: publicURL + "/", Signer: signer,
		Clock: oncall.NewManualClock(t0), TLS: srv.ClientTLS(), Hello: "test.local",
	}
	for _, f := range change {
		f(&cfg)
	}
	ch, err := email.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{srv, ch, signer}
}

func TestSendContent(t *testing.T) {
	t.Parallel()
	f := setup(t, smtptest.Options{Username: "mailer", Password: "s3cret"})
	rcpt, err := f.ch.Send(context.Background(), alice(), page())
	if err != nil {
		t.Fatal(err)
	}
	m := f.srv.Wait(t, 1)[0]
	if m.Err != nil {
		t.Fatal(m.Err)
	}
	if m.From != "oncall@example.com" || len(m.To) != 1 || m.To[0] != "alice@example.com" || m.AuthUser != "mailer" {
		t.Errorf("envelope: from %q to %q auth %q", m.From, m.To, m.AuthUser)
	}
	if want := "[oncall] #12 payments-api: Checkout error rate above 5%"; m.Subject != want {
		t.Errorf("subject = %q; want %q", m.Subject, want)
	}
	if rcpt.Ref == "" || rcpt.Ref != m.Header.Get("Message-ID") || !strings.HasSuffix(rcpt.Ref, "@example.com>") {
		t.Errorf("receipt %q, Message-ID %q", rcpt.Ref, m.Header.Get("Message-ID"))
	}
	for k, want := range map[string]string{
		"From": `"Oncall" <oncall@example.com>`, "To": `"Alice Example" <alice@example.com>`,
		"Auto-Submitted": "auto-generated", "X-Oncall-Incident": "12", "Importance": "high",
		"References": "<incident-12@example.com>", "Date": t0.Format(time.RFC1123Z),
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q; want %q", k, got, want)
		}
	}
	for _, part := range []struct{ name, body string }{{"text", m.Text}, {"html", m.HTML}} {
		for _, want := range []string{"Checkout error rate above 5%", "payments-api", "payments", "critical", "high",
			"triggered", "3", "env", "prod", "region", "eu-west-1", "rate", "0.07", "runbook", "see wiki",
			"https://grafana.example.com/d/1", "Dashboard", "step 1 of payments-default", "2026-11-02 08:59 UTC",
			"alice", "2026-11-03 09:00 UTC"} {
			if !strings.Contains(part.body, want) {
				t.Errorf("%s part lacks %q:\n%s", part.name, want, part.body)
			}
		}
	}

	// Both parts carry the same two action links, each a token for alice.
	ack, resolve := m.Link("Acknowledge"), m.Link("Resolve")
	if !strings.Contains(m.Text, "Acknowledge: "+ack) || !strings.Contains(m.Text, "Resolve:     "+resolve) {
		t.Errorf("text part lacks the HTML part's links %q, %q:\n%s", ack, resolve, m.Text)
	}
	for action, link := range map[string]string{email.ActionAck: ack, email.ActionResolve: resolve} {
		c := claims(t, f.signer, link, t0)
		want := email.Claims{Incident: 12, Action: action, User: "alice", Expires: t0.Add(email.DefaultLinkTTL)}
		if c != want {
			t.Errorf("%s link claims = %+v; want %+v", action, c, want)
		}
	}
	if m.Link("Dashboard") != "https://grafana.example.com/d/1" {
		t.Errorf("links = %+v", m.Links)
	}
}

// claims checks that link points at the action endpoint and returns its
// token's claims.
func claims(t *testing.T, s *email.Signer, link string, now time.Time) email.Claims {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Scheme+"://"+u.Host != publicURL || u.Path != email.ActPath {
		t.Fatalf("link %q: want %s%s?t=...", link, publicURL, email.ActPath)
	}
	c, err := s.Verify(u.Query().Get("t"), now)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	return c
}

func TestSendLinksFollowState(t *testing.T) {
	t.Parallel()
	f := setup(t, smtptest.Options{})
	p := page()
	p.State, p.StateBy = notify.StateAcknowledged, "bob"
	if _, err := f.ch.Send(context.Background(), alice(), p); err != nil {
		t.Fatal(err)
	}
	p.State = notify.StateResolved
	if _, err := f.ch.Send(context.Background(), alice(), p); err != nil {
		t.Fatal(err)
	}
	msgs := f.srv.Wait(t, 2)

	acked := msgs[0]
	if acked.Link("Acknowledge") != "" || acked.Link("Resolve") == "" {
		t.Errorf("acknowledged: links %+v; want resolve only", acked.Links)
	}
	if !strings.Contains(acked.Subject, "(acknowledged)") || !strings.Contains(acked.Text, "acknowledged by bob") {
		t.Errorf("acknowledged: subject %q, text:\n%s", acked.Subject, acked.Text)
	}
	if acked.Header.Get("Importance") != "" {
		t.Error("an acknowledged incident is marked important")
	}
	if resolved := msgs[1]; resolved.Link("Acknowledge") != "" || resolved.Link("Resolve") != "" || strings.Contains(resolved.Text, "/v1/email/act") {
		t.Errorf("resolved: links %+v; want none", resolved.Links)
	}
}

func TestSendWithoutSignerHasNoActionLinks(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(*email.Config){
		"no signer":     func(c *email.Config) { c.Signer = nil },
		"no public URL": func(c *email.Config) { c.PublicURL = "" },
	} {
		f := setup(t, smtptest.Options{}, change)
		if _, err := f.ch.Send(context.Background(), alice(), page()); err != nil {
			t.Fatal(err)
		}
		m := f.srv.Wait(t, 1)[0]
		if m.Link("Acknowledge") != "" || strings.Contains(m.Text, "act?t=") {
			t.Errorf("%s: links %+v", name, m.Links)
		}
	}
}

// What an alert says is shown, never interpreted: no markup, no headers,
// no scripts.
func TestSendEscapesAlertContent(t *testing.T) {
	t.Parallel()
	f := setup(t, smtptest.Options{})
	p := page()
	p.Summary = "<script>alert(1)</script> disk \r\nBcc: mallory@example.com\r\n\r\nfull"
	p.Labels = map[string]string{"<b>k</b>": `"><img src=x>`}
	p.Links = []notify.Link{{Href: "javascript:alert(1)", Text: "click"}}
	to := alice()
	to.FullName = "Alice\r\nBcc: mallory@example.com"
	if _, err := f.ch.Send(context.Background(), to, p); err != nil {
		t.Fatal(err)
	}
	m := f.srv.Wait(t, 1)[0]
	if m.Err != nil {
		t.Fatal(m.Err)
	}
	if len(m.Header["Bcc"]) != 0 || len(m.To) != 1 {
		t.Errorf("header injection: Bcc %q, envelope to %q", m.Header["Bcc"], m.To)
	}
	if !strings.HasPrefix(m.Subject, "[oncall] #12 payments-api: <script>alert(1)</script> disk Bcc: mallory@example.com full") {
		t.Errorf("subject = %q", m.Subject)
	}
	for _, bad := range []string{"<script>", "<img", "<b>k</b>", `href="javascript:`} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML part contains %q", bad)
		}
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Errorf("HTML part does not show the summary escaped")
	}
}

func TestSendOverTLS(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]smtptest.Options{
		"starttls": {Username: "u", Password: "p", StartTLS: true},
		"smtps":    {Username: "u", Password: "p", ImplicitTLS: true},
	} {
		f := setup(t, opts)
		if _, err := f.ch.Send(context.Background(), alice(), page()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m := f.srv.Wait(t, 1)[0]; !m.TLS || m.AuthUser != "u" {
			t.Errorf("%s: tls %v auth %q", name, m.TLS, m.AuthUser)
		}
	}

	// A certificate we do not trust is a permanent failure.
	f := setup(t, smtptest.Options{StartTLS: true}, func(c *email.Config) { c.TLS = nil })
	_, err := f.ch.Send(context.Background(), alice(), page())
	if !notify.IsPermanent(err) {
		t.Errorf("untrusted certificate: %v; want a permanent failure", err)
	}
}

func TestSendFailures(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		opts      smtptest.Options
		prepare   func(*smtptest.Server)
		change    func(*email.Config)
		to        string
		permanent bool
		want      string
	}{
		{name: "unknown recipient", prepare: func(s *smtptest.Server) { s.RejectNext(550, "5.1.1 {rcpt}: Recipient address rejected") },
			permanent: true, want: "smtp RCPT TO: 550 5.1.1 <a•••@example.com>: Recipient address rejected"},
		{name: "mailbox name not allowed", prepare: func(s *smtptest.Server) { s.RejectNext(553, "5.1.3 bad address") }, permanent: true},
		{name: "user not local", prepare: func(s *smtptest.Server) { s.RejectNext(551, "5.1.6 moved") }, permanent: true},
		{name: "greylisted", prepare: func(s *smtptest.Server) { s.RejectNext(450, "4.2.0 {rcpt} greylisted, try later") },
			want: "450 4.2.0 <a•••@example.com> greylisted"},
		{name: "message refused", prepare: func(s *smtptest.Server) { s.RejectNextData(554, "5.7.1 spam") }, permanent: true, want: "smtp DATA: 554"},
		{name: "message deferred", prepare: func(s *smtptest.Server) { s.RejectNextData(452, "4.3.1 full") }, want: "smtp DATA: 452"},
		{name: "connection closed", prepare: func(s *smtptest.Server) { s.Refuse() }, want: "greeting"},
		{name: "nobody listening", change: func(c *email.Config) { c.URL = "smtp://127.0.0.1:" + closedPort(t) }, want: "connect to 127.0.0.1:"},
		{name: "wrong password", opts: smtptest.Options{Username: "u", Password: "right"},
			change:    func(c *email.Config) { c.URL = strings.Replace(c.URL, ":right@", ":hunter2@", 1) },
			permanent: true, want: "smtp AUTH: 535"},
		{name: "no auth offered", change: func(c *email.Config) { c.URL = strings.Replace(c.URL, "smtp://", "smtp://u:hunter2@", 1) },
			permanent: true, want: "offers no authentication"},
		{name: "not an address", to: "alice", permanent: true, want: "not an email address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var change []func(*email.Config)
			if c.change != nil {
				change = append(change, c.change)
			}
			f := setup(t, c.opts, change...)
			if c.prepare != nil {
				c.prepare(f.srv)
			}
			to := alice()
			if c.to != "" {
				to.Address = c.to
			}
			_, err := f.ch.Send(context.Background(), to, page())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if notify.IsPermanent(err) != c.permanent {
				t.Errorf("permanent = %v; want %v (%v)", notify.IsPermanent(err), c.permanent, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
			for _, secret := range []string{"alice@example.com", "hunter2", "right"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q gives away %q", err, secret)
				}
			}
			if len(f.srv.Messages()) != 0 {
				t.Error("a message was accepted")
			}
		})
	}
}

// A server that accepts and never answers costs the caller its deadline,
// not more.
func TestSendHonoursDeadline(t *testing.T) {
	t.Parallel()
	f := setup(t, smtptest.Options{})
	f.srv.Stall()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.ch.Send(ctx, alice(), page())
	if err == nil || notify.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send to a stalled server: %v; want a temporary deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %s", d)
	}

	// Cancelled before the deadline: at once too.
	ctx, cancel = context.WithTimeout(context.Background(), time.Hour)
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if _, err := f.ch.Send(ctx, alice(), page()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Send: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled Send took %s", d)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []email.Config{
		{URL: "http://mail.example.com", From: "a@example.com"},
		{URL: "smtp://", From: "a@example.com"},
		{URL: "smtp://u:hunter2@mail.example.com", From: "not an address"},
		{URL: "::", From: "a@example.com"},
	} {
		_, err := email.New(cfg)
		if err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q gives away the password", err)
		}
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"alice@example.com": "a•••@example.com",
		"@example.com":      "•••@example.com",
		"nobody":            "•••",
		"élise@ex.fr":       "é•••@ex.fr",
	} {
		if got := email.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q; want %q", in, got, want)
		}
	}
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}
