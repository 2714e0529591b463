package twilio_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/twilio"
	"github.com/oncall/oncall/notify/twilio/twiliotest"
)

const (
	public = "https://oncall.example.com"
	alice  = "+14155550100"
)

func page(id int64, service, summary string) notify.Page {
	return notify.Page{IncidentID: id, Service: service, Summary: summary, Severity: "critical", Urgency: "high", State: notify.StateTriggered}
}

func TestSMSSend(t *testing.T) {
	t.Parallel()
	fake := twiliotest.New(t)
	sms := twilio.NewSMS(fake.Connect(public))
	rcpt, err := sms.Send(context.Background(), notify.Target{User: "alice", Method: notify.MethodSMS, Address: alice},
		page(12, "payments-api", "Checkout error rate above 5%"))
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages; want 1", len(msgs))
	}
	m := msgs[0]
	want := `#12 payments-api: Checkout error rate above 5% - reply "ack 12", "res 12" or "esc 12"`
	if m.Body != want || m.To != alice || m.From != fake.Number || m.StatusCallback != public+"/v1/twilio/status" {
		t.Errorf("message = %+v; want body %q to %s with the status callback", m, want, alice)
	}
	if rcpt.Ref != m.SID || !strings.HasPrefix(rcpt.Ref, "SM") {
		t.Errorf("receipt %q; want the message SID %s", rcpt.Ref, m.SID)
	}
}

func TestSMSText(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Checkout error rate above the threshold on every node ", 5)
	acked := page(7, "web", "Disk full")
	acked.State, acked.StateBy = notify.StateAcknowledged, "bob"
	for _, c := range []struct {
		name string
		p    notify.Page
		want string // exact, or a prefix ending in "..." when cut
	}{
		{"plain", page(12, "payments-api", "Checkout error rate above 5%"),
			`#12 payments-api: Checkout error rate above 5% - reply "ack 12", "res 12" or "esc 12"`},
		{"typography", page(3, "api", "“Latency” – p99 at 2 s… 🚨 café Ørsted naïve"),
			`#3 api: "Latency" - p99 at 2 s... café Ørsted naive - reply "ack 3", "res 3" or "esc 3"`},
		{"lines", page(4, "api", "line one\nline\ttwo\r\n"), `#4 api: line one line two - reply "ack 4", "res 4" or "esc 4"`},
		{"no summary", page(5, "", ""), `#5 (no summary) - reply "ack 5", "res 5" or "esc 5"`},
		{"state", acked, `#7 web: Disk full (acknowledged by bob)`},
		{"other scripts", page(8, "api", "ошибка 错误"), `#8 api: ?????? ?? - reply "ack 8", "res 8" or "esc 8"`},
		{"long", page(123456, "payments-api", long), `#123456 payments-api: Checkout error rate above the threshold`},
	} {
		got := twilio.SMSText(c.p)
		if strings.HasSuffix(c.name, "long") {
			if !strings.HasPrefix(got, c.want) || !strings.HasSuffix(got, `... - reply "ack 123456", "res 123456" or "esc 123456"`) {
				t.Errorf("%s: %q", c.name, got)
			}
		} else if got != c.want {
			t.Errorf("%s: SMSText = %q; want %q", c.name, got, c.want)
		}
		if n := twiliotest.Segments(got); n != 1 {
			t.Errorf("%s: %q takes %d segments", c.name, got, n)
		}
	}
}

func TestSMSBundle(t *testing.T) {
	t.Parallel()
	fake := twiliotest.New(t)
	sms := twilio.NewSMS(fake.Connect(public))
	pages := []notify.Page{
		page(12, "payments-api", "Checkout error rate above 5%"),
		page(13, "payments-api", "Slow database queries on the primary"),
		page(14, "payments-api", "Disk full"),
	}
	rcpt, err := sms.SendBundle(context.Background(), notify.Target{User: "alice", Method: notify.MethodSMS, Address: alice}, pages)
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || rcpt.Ref != msgs[0].SID {
		t.Fatalf("messages %+v, receipt %q; want one, its SID", msgs, rcpt.Ref)
	}
	want := `3 incidents on payments-api: #12 Checkout error rate above 5%, #13 Slow database queries on the primary, #14 Disk full - reply "ack all" or "ack 12"`
	if msgs[0].Body != want {
		t.Errorf("bundle = %q\nwant      %q", msgs[0].Body, want)
	}

	// One page is a plain page.
	if _, err := sms.SendBundle(context.Background(), notify.Target{Address: alice}, pages[:1]); err != nil {
		t.Fatal(err)
	}
	if got := fake.Messages()[1].Body; got != twilio.SMSText(pages[0]) {
		t.Errorf("bundle of one = %q", got)
	}

	many := func(n int, services ...string) []notify.Page {
		var out []notify.Page
		for i := range n {
			out = append(out, page(int64(100+i), services[i%len(services)], "Checkout error rate above 5% on every node of the cluster"))
		}
		return out
	}
	for _, c := range []struct {
		name  string
		pages []notify.Page
		want  []string
	}{
		{"long summaries", many(3, "api"), []string{"3 incidents on api: #100 Checkout", "#101 Checkout", "...", `- reply "ack all" or "ack 100"`}},
		{"services", many(3, "api", "web"), []string{"3 incidents: #100 api: Checkout", "#101 web: Checkout", "#102 api: Checkout"}},
		{"numbers only", many(12, "api"), []string{"12 incidents on api: #100, #101, ", "#111 - reply"}},
		{"more", many(40, "api"), []string{"40 incidents on api: #100, #101, ", " more - reply"}},
	} {
		got := twilio.SMSBundleText(c.pages)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		if n := twiliotest.Segments(got); n != 1 {
			t.Errorf("%s: %q takes %d segments", c.name, got, n)
		}
	}
}

func TestVoiceSend(t *testing.T) {
	t.Parallel()
	fake := twiliotest.New(t)
	voice := twilio.NewVoice(fake.Connect(public + "/"))
	rcpt, err := voice.Send(context.Background(), notify.Target{User: "alice", Method: notify.MethodVoice, Address: alice}, page(12, "api", "down"))
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls; want 1", len(calls))
	}
	c := calls[0]
	if c.To != alice || c.From != fake.Number || c.URL != public+"/v1/twilio/voice?incident=12" || c.Method != "POST" ||
		c.StatusCallback != public+"/v1/twilio/status" || rcpt.Ref != c.SID || !strings.HasPrefix(c.SID, "CA") {
		t.Errorf("call %+v, receipt %q", c, rcpt.Ref)
	}

	cfg := fake.Connect(public)
	cfg.PublicURL = ""
	_, err = twilio.NewVoice(cfg).Send(context.Background(), notify.Target{Address: alice}, page(1, "api", "down"))
	if !notify.IsPermanent(err) {
		t.Errorf("a call without a public URL: %v; want a permanent failure", err)
	}
}

// sendBoth sends a page by SMS and by voice with cfg.
func sendBoth(cfg twilio.Config, to string) map[string]error {
	ctx := context.Background()
	_, smsErr := twilio.NewSMS(cfg).Send(ctx, notify.Target{Address: to}, page(1, "api", "down"))
	_, voiceErr := twilio.NewVoice(cfg).Send(ctx, notify.Target{Address: to}, page(1, "api", "down"))
	return map[string]error{"sms": smsErr, "voice": voiceErr}
}

func TestErrorsAreClassified(t *testing.T) {
	t.Parallel()
	type kind int
	const (
		temporary kind = iota
		permanent
		rateLimited
	)
	for _, c := range []struct {
		name  string
		setup func(*twiliotest.Server, *twilio.Config)
		to    string
		want  kind
		code  int
	}{
		{"500", func(f *twiliotest.Server, _ *twilio.Config) { f.FailNext(2, 500) }, alice, temporary, 20500},
		{"503 without a body", func(f *twiliotest.Server, c *twilio.Config) {
			down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
			t.Cleanup(down.Close)
			c.APIURL = down.URL
		}, alice, temporary, 0},
		{"429", func(f *twiliotest.Server, _ *twilio.Config) { f.FailNext(2, 429) }, alice, rateLimited, 20429},
		{"invalid number", func(f *twiliotest.Server, _ *twilio.Config) { f.FailNumber(alice, 21211) }, alice, permanent, 21211},
		{"not mobile", func(f *twiliotest.Server, _ *twilio.Config) { f.FailNumber(alice, 21614) }, alice, permanent, 21614},
		{"region", func(f *twiliotest.Server, _ *twilio.Config) { f.FailNumber(alice, 21408) }, alice, permanent, 21408},
		{"malformed number", nil, "+1 (415) 555-0100", permanent, 21211},
		{"wrong token", func(_ *twiliotest.Server, c *twilio.Config) { c.AuthToken = "wrongtoken123" }, alice, permanent, 20003},
		{"token not alphanumeric", func(_ *twiliotest.Server, c *twilio.Config) { c.AuthToken = "bad/token" }, alice, permanent, 0},
		{"unreachable", func(_ *twiliotest.Server, c *twilio.Config) {
			gone := httptest.NewServer(http.NotFoundHandler())
			c.APIURL = gone.URL
			gone.Close()
		}, alice, temporary, 0},
	} {
		fake := twiliotest.New(t)
		cfg := fake.Connect(public)
		if c.setup != nil {
			c.setup(fake, &cfg)
		}
		for method, err := range sendBoth(cfg, c.to) {
			if c.name == "region" && method == "voice" {
				continue // FailNumber fails calls alike; only the SMS case is meant
			}
			var got kind
			if _, ok := notify.RateLimited(err); ok {
				got = rateLimited
			} else if notify.IsPermanent(err) {
				got = permanent
			}
			if err == nil || got != c.want {
				t.Errorf("%s by %s: %v; want kind %d", c.name, method, err, c.want)
				continue
			}
			var te *twilio.Error
			if c.code != 0 && (!errors.As(err, &te) || te.Code != c.code) {
				t.Errorf("%s by %s: %v; want Twilio error %d", c.name, method, err, c.code)
			}
			for _, secret := range []string{"5550100", "555-0100", cfg.AuthToken, twiliotest.DefaultAuthToken} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%s by %s: the error %q shows %q", c.name, method, err, secret)
				}
			}
			if c.to == alice && c.name != "token not alphanumeric" && !strings.Contains(err.Error(), "+1415•••0100") {
				t.Errorf("%s by %s: the error %q does not name the masked number", c.name, method, err)
			}
		}
	}
}

func TestRateLimitWait(t *testing.T) {
	t.Parallel()
	fake := twiliotest.New(t)
	fake.FailNextWith(1, twiliotest.Failure{Status: 429, RetryAfter: "7"})
	_, err := twilio.NewSMS(fake.Connect(public)).Send(context.Background(), notify.Target{Address: alice}, page(1, "api", "down"))
	if d, ok := notify.RateLimited(err); !ok || d != 7*time.Second {
		t.Errorf("429 with Retry-After 7: %v (%v, %v); want a 7s rate limit", err, d, ok)
	}
}

func TestTimeoutIsTemporary(t *testing.T) {
	t.Parallel()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leave
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	cfg := twilio.Config{AccountSID: twiliotest.DefaultAccountSID, AuthToken: twiliotest.DefaultAuthToken, From: twiliotest.DefaultNumber,
		APIURL: slow.URL, PublicURL: public}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := twilio.NewSMS(cfg).Send(ctx, notify.Target{Address: alice}, page(1, "api", "down"))
	if err == nil || notify.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("a send past its deadline: %v after %s; want a temporary deadline error at once", err, time.Since(start))
	}
}

func TestOptedOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := twiliotest.New(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/twilio/sms", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<Response/>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cfg := fake.Connect(srv.URL)

	// Twilio's own opt-out: after STOP the number cannot be texted (21610).
	if _, err := fake.SendSMS(ctx, alice, "stop"); err != nil {
		t.Fatal(err)
	}
	_, err := twilio.NewSMS(cfg).Send(ctx, notify.Target{Address: alice}, page(1, "api", "down"))
	var te *twilio.Error
	if !notify.IsPermanent(err) || !errors.As(err, &te) || te.Code != 21610 {
		t.Errorf("SMS after STOP: %v; want permanent error 21610", err)
	}
	if _, err := fake.SendSMS(ctx, alice, "START"); err != nil {
		t.Fatal(err)
	}
	if _, err := twilio.NewSMS(cfg).Send(ctx, notify.Target{Address: alice}, page(1, "api", "down")); err != nil {
		t.Errorf("SMS after START: %v", err)
	}

	// Ours: the hook answers before Twilio is asked.
	cfg.OptedOut = func(_ context.Context, phone string) (bool, error) { return phone == alice, nil }
	before := len(fake.Attempts())
	_, err = twilio.NewSMS(cfg).Send(ctx, notify.Target{Address: alice}, page(1, "api", "down"))
	if !notify.IsPermanent(err) || strings.Contains(err.Error(), "5550100") || len(fake.Attempts()) != before {
		t.Errorf("SMS to an opted-out number: %v, %d requests; want a permanent failure without a request", err, len(fake.Attempts())-before)
	}
	cfg.OptedOut = func(context.Context, string) (bool, error) { return false, errors.New("database down") }
	_, err = twilio.NewSMS(cfg).Send(ctx, notify.Target{Address: alice}, page(1, "api", "down"))
	if err == nil || notify.IsPermanent(err) {
		t.Errorf("SMS when the opt-out is unknown: %v; want a temporary failure", err)
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+14155550100": "+1415•••0100", "+442071838750": "+4420•••8750", "+4930123": "+4•••23", "123": "•••", "": "",
	} {
		if got := twilio.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestOff(t *testing.T) {
	t.Parallel()
	fake := twiliotest.New(t)
	cfg := fake.Connect(public)
	cfg.From = ""
	for method, err := range sendBoth(cfg, alice) {
		if !errors.Is(err, notify.ErrOff) {
			t.Errorf("%s without a From number: %v; want ErrOff", method, err)
		}
	}
	for method, err := range sendBoth(fake.Connect(public), "") {
		if !notify.IsPermanent(err) {
			t.Errorf("%s without a number: %v; want permanent", method, err)
		}
	}
}
