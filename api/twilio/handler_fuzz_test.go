package twilio_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	apitwilio "github.com/oncall/oncall/api/twilio"
	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/twilio"
	"github.com/oncall/oncall/notify/twilio/twiliotest"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store/storetest"
)

const fuzzPublicURL = "https://oncall.example.com"

// fuzzHandler is the webhooks over a real engine and database (alice and
// bob on team ops, an incident open), called in-process.
func fuzzHandler(tb testing.TB) (http.Handler, string) {
	fake := twiliotest.New(tb)
	srv := httptest.NewServer(http.NotFoundHandler())
	tb.Cleanup(srv.Close)
	cfg := fake.Connect(srv.URL)
	team := storetest.Team("ops", "alice", "bob")
	svc := storetest.Service("api", "ops", "hook")
	svc.Team = "ops"
	policy := &manifest.EscalationPolicy{Name: "ops", Steps: []manifest.Step{
		{Targets: []manifest.Target{storetest.UserTarget("alice")}, EscalateAfter: 5 * time.Minute},
	}}
	set := storetest.NewSet(person("alice", alicePhone), person("bob", bobPhone), person("mallory", malloryPhone), team, policy, svc)
	b := jobstest.New(tb, set, map[string]notify.Channel{
		notify.MethodSMS:   twilio.NewSMS(cfg),
		notify.MethodVoice: twilio.NewVoice(cfg),
	})
	mux := http.NewServeMux()
	(&apitwilio.Handler{Engine: b.Engine, DB: b.Pool, Clock: b.Clock, AuthToken: fake.AuthToken, PublicURL: fuzzPublicURL}).Register(mux)
	return mux, fake.AuthToken
}

// FuzzWebhooks: whatever form Twilio signs (a text, a keypress, a status
// report), the answer is never a 5xx nor a panic. The form is signed as
// Twilio would sign it; From is one of our users' phones when pick says so,
// so the fuzzer reaches past the lookup.
func FuzzWebhooks(f *testing.F) {
	if os.Getenv("ONCALL_TEST_DATABASE_URL") == "" {
		f.Skip("ONCALL_TEST_DATABASE_URL is not set")
	}
	paths := []string{twilio.PathSMS, twilio.PathVoice, twilio.PathStatus}
	seeds := []struct {
		path        uint8
		pick        uint8
		query, form string
	}{
		{0, 1, "", "Body=ack+1&MessageSid=SM1"},
		{0, 1, "", "Body=ack+all"},
		{0, 2, "", "Body=STOP&OptOutType=STOP"},
		{0, 0, "", "From=%2B14155550999&Body=help"},
		{0, 1, "", "Body=%00&From=%00"},
		{1, 1, "incident=1", "Digits=4&CallSid=CA1"},
		{1, 1, "incident=99999999999999999999", "Digits=1"},
		{1, 3, "", "Direction=outbound-api&Digits=%E9"},
		{2, 0, "", "MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003&To=%2B14155550100"},
		{2, 0, "", "CallSid=CA1&CallStatus=completed&CallDuration=-1&To=%2B14155550100"},
		{2, 0, "", "MessageSid=%FF&SmsStatus=delivered"},
		{2, 0, "", "CallSid=CA%00&CallStatus=busy&To=%00"},
		{0, 1, "", "Body=" + strings.Repeat("a", 2000)},
		{0, 1, "", "%zz"},
	}
	for _, s := range seeds {
		f.Add(s.path, s.pick, s.query, s.form)
	}
	h, token := fuzzHandler(f)
	phones := []string{"", alicePhone, bobPhone, malloryPhone}
	f.Fuzz(func(t *testing.T, path, pick uint8, query, body string) {
		target := paths[int(path)%len(paths)]
		if q, err := url.ParseQuery(query); err == nil && len(q) > 0 {
			target += "?" + q.Encode() // Twilio requests URLs escaped
		}
		form, err := url.ParseQuery(body)
		if err == nil && pick%4 != 0 {
			form.Set("From", phones[pick%4])
			form.Set("To", twiliotest.DefaultNumber)
			body = form.Encode()
		}
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// Sign the first value of each parameter, as the handler checks.
		first := url.Values{}
		for k, v := range form {
			first[k] = v[:1]
		}
		req.Header.Set("X-Twilio-Signature", twiliotest.Signature(token, fuzzPublicURL+req.URL.RequestURI(), first))
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(rec, req)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("POST %s %q: no answer after 10 s", target, body)
		}
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", target, body, rec.Code, rec.Body)
		}
		if err == nil && len(body) <= 64<<10 && rec.Code == http.StatusForbidden {
			t.Fatalf("POST %s %q: signed, yet %d", target, body, rec.Code)
		}
	})
}

// A signed form with NUL or invalid UTF-8 (which Twilio never sends, and
// Postgres text cannot hold) is a 400, not a failed query's 503.
func TestWebhooksRefuseNULAndInvalidUTF8(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{twilio.PathStatus, url.Values{"MessageSid": {"SM\x00"}, "MessageStatus": {"delivered"}}},
		{twilio.PathStatus, url.Values{"CallSid": {"CA1"}, "CallStatus": {"busy"}, "To": {"+1415555\xff"}}},
		{twilio.PathSMS, url.Values{"From": {"+1\x00"}, "Body": {"STOP"}}},
		{twilio.PathSMS, url.Values{"From": {alicePhone}, "Body": {"ack 1"}, "\xfe": {"x"}}},
		{twilio.PathVoice, url.Values{"From": {alicePhone}, "Digits": {"4\x00"}}},
	} {
		status, body := b.post(t, tc.path, tc.form, b.sign(b.url+tc.path, tc.form))
		if status != http.StatusBadRequest {
			t.Errorf("%s %q: %d %s", tc.path, tc.form, status, body)
		}
	}
}
