package twiliotest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oncall/oncall/notify/twilio/twiliotest"
)

// rewrite moves twilio-go's requests from api.twilio.com to the fake.
type rewrite struct{ base *url.URL }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rw.base.Scheme, rw.base.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

// twilioGo is twilio-go's API client, as an application would build it,
// pointed at the fake.
func twilioGo(t *testing.T, fake *twiliotest.Server, sid, token string) *openapi.ApiService {
	t.Helper()
	base, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{Credentials: client.NewCredentials(sid, token), HTTPClient: &http.Client{Transport: rewrite{base}}}
	c.SetAccountSid(sid)
	return openapi.NewApiServiceWithClient(c)
}

// hook is our side of the callbacks: it checks every signature with
// twilio-go's validator and records the forms.
type hook struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	twiml func(path string, form url.Values) string

	mu    sync.Mutex
	forms map[string][]url.Values
}

func newHook(t *testing.T, token string, twiml func(string, url.Values) string) *hook {
	h := &hook{t: t, token: token, twiml: twiml, forms: map[string][]url.Values{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v := client.NewRequestValidator(h.token)
	if !v.ValidateBody(h.srv.URL+r.URL.RequestURI(), body, r.Header.Get("X-Twilio-Signature")) {
		h.t.Errorf("bad signature on %s", r.URL)
		w.WriteHeader(http.StatusForbidden)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		h.t.Error(err)
	}
	h.mu.Lock()
	h.forms[r.URL.Path] = append(h.forms[r.URL.Path], form)
	h.mu.Unlock()
	if h.twiml == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, h.twiml(r.URL.RequestURI(), form))
}

func (h *hook) got(path string) []url.Values {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.forms[path]
}

func TestTwilioGoAgainstFake(t *testing.T) {
	t.Parallel()
	fake := twiliotest.New(t)
	api := twilioGo(t, fake, fake.AccountSID, fake.AuthToken)

	msg, err := api.CreateMessage((&openapi.CreateMessageParams{}).SetTo("+14155550100").SetFrom(fake.Number).SetBody("hello").
		SetStatusCallback("https://example.com/status"))
	if err != nil {
		t.Fatal(err)
	}
	if *msg.Sid == "" || *msg.Status != "queued" || *msg.To != "+14155550100" || *msg.Body != "hello" || *msg.NumSegments != "1" ||
		*msg.AccountSid != fake.AccountSID || *msg.Direction != "outbound-api" {
		t.Errorf("created message: %+v", msg)
	}
	got, err := api.FetchMessage(*msg.Sid, nil)
	if err != nil || *got.Sid != *msg.Sid || *got.Body != "hello" {
		t.Errorf("FetchMessage = %+v, %v", got, err)
	}

	call, err := api.CreateCall((&openapi.CreateCallParams{}).SetTo("+14155550100").SetFrom(fake.Number).SetUrl("https://example.com/voice"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(*call.Sid, "CA") || *call.Status != "queued" {
		t.Errorf("created call: %+v", call)
	}
	if c, err := api.FetchCall(*call.Sid, nil); err != nil || *c.Sid != *call.Sid {
		t.Errorf("FetchCall = %+v, %v", c, err)
	}

	// Errors arrive as twilio-go's TwilioRestError.
	var rest *client.TwilioRestError
	_, err = api.CreateMessage((&openapi.CreateMessageParams{}).SetTo("555").SetFrom(fake.Number).SetBody("x"))
	if !errors.As(err, &rest) || rest.Status != 400 || rest.Code != 21211 {
		t.Errorf("invalid To: %v", err)
	}
	_, err = api.CreateCall((&openapi.CreateCallParams{}).SetTo("+14155550100").SetFrom(fake.Number))
	if !errors.As(err, &rest) || rest.Code != 21205 {
		t.Errorf("call without Url: %v", err)
	}
	_, err = twilioGo(t, fake, fake.AccountSID, "wrong0token").CreateMessage((&openapi.CreateMessageParams{}).SetTo("+14155550100").SetFrom(fake.Number).SetBody("x"))
	if !errors.As(err, &rest) || rest.Status != 401 || rest.Code != 20003 {
		t.Errorf("wrong token: %v", err)
	}
	fake.FailNext(1, 503)
	_, err = api.CreateMessage((&openapi.CreateMessageParams{}).SetTo("+14155550100").SetFrom(fake.Number).SetBody("x"))
	if !errors.As(err, &rest) || rest.Status != 503 {
		t.Errorf("FailNext 503: %v", err)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Errorf("%d messages recorded; want the one that succeeded", n)
	}
	// The request with the wrong token never got that far.
	if a := fake.Attempts(); len(a) != 5 || a[0].Status != 201 || a[2].Code != 21211 || a[4].Status != 503 || a[4].Code != 20503 {
		t.Errorf("attempts: %+v", a)
	}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	params := url.Values{"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"}, "Caller": {"+14158675309"},
		"From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"}}
	u := "https://mycompany.com/myapp.php?foo=1&bar=2"
	sig := twiliotest.Signature("12345", u, params)
	// The example of twilio-go's own validator tests.
	if sig != "vOEb5UThFn24KEfnOFLQY2AE5FY=" {
		t.Errorf("Signature = %s", sig)
	}
	v := client.NewRequestValidator("12345")
	if !v.ValidateBody(u, []byte(params.Encode()), sig) {
		t.Error("twilio-go does not accept the signature")
	}
}

func TestCallbacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := twiliotest.New(t)
	h := newHook(t, fake.AuthToken, nil)
	api := twilioGo(t, fake, fake.AccountSID, fake.AuthToken)

	msg, err := api.CreateMessage((&openapi.CreateMessageParams{}).SetTo("+14155550100").SetFrom(fake.Number).SetBody("hi").
		SetStatusCallback(h.srv.URL + "/status"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.Deliver(ctx, *msg.Sid); err != nil {
		t.Fatal(err)
	}
	if err := fake.Undeliver(ctx, *msg.Sid, 30003); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, f := range h.got("/status") {
		if f.Get("MessageSid") != *msg.Sid || f.Get("AccountSid") != fake.AccountSID || f.Get("To") != "+14155550100" {
			t.Errorf("status callback %v", f)
		}
		statuses = append(statuses, f.Get("MessageStatus")+f.Get("ErrorCode"))
	}
	if strings.Join(statuses, ",") != "sent,delivered,sent,undelivered30003" {
		t.Errorf("statuses %v", statuses)
	}
	if m := fake.Messages()[0]; m.Status != "undelivered" || m.ErrorCode != 30003 {
		t.Errorf("message %+v", m)
	}

	// A call reports its end only, unless asked for more.
	call, err := api.CreateCall((&openapi.CreateCallParams{}).SetTo("+14155550100").SetFrom(fake.Number).SetUrl(h.srv.URL + "/voice").
		SetStatusCallback(h.srv.URL + "/call-status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ringing", "no-answer"} {
		if err := fake.CallStatus(ctx, *call.Sid, s); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.got("/call-status"); len(got) != 1 || got[0].Get("CallStatus") != "no-answer" || got[0].Get("CallSid") != *call.Sid ||
		got[0].Get("Direction") != "outbound-api" {
		t.Errorf("call status callbacks %v", got)
	}
}

func TestInboundSMS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := twiliotest.New(t)
	h := newHook(t, fake.AuthToken, func(_ string, form url.Values) string {
		if form.Get("Body") == "quiet" {
			return `<?xml version="1.0" encoding="UTF-8"?><Response/>`
		}
		return `<?xml version="1.0" encoding="UTF-8"?><Response><Message>you said ` + form.Get("Body") + `</Message></Response>`
	})
	fake.Connect(h.srv.URL)
	replies, err := fake.SendSMS(ctx, "+14155550100", "ack 12")
	if err != nil || len(replies) != 1 || replies[0] != "you said ack 12" {
		t.Errorf("SendSMS = %q, %v", replies, err)
	}
	if replies, err := fake.SendSMS(ctx, "+14155550100", "quiet"); err != nil || len(replies) != 0 {
		t.Errorf("SendSMS (no reply) = %q, %v", replies, err)
	}
	f := h.got("/v1/twilio/sms")[0]
	if f.Get("From") != "+14155550100" || f.Get("To") != fake.Number || f.Get("Body") != "ack 12" || !strings.HasPrefix(f.Get("MessageSid"), "SM") {
		t.Errorf("inbound form %v", f)
	}
	if _, err := fake.SendSMS(ctx, "+14155550100", " Stop "); err != nil || !fake.OptedOut("+14155550100") {
		t.Errorf("STOP: %v, opted out %v", err, fake.OptedOut("+14155550100"))
	}
	if got := h.got("/v1/twilio/sms"); got[2].Get("OptOutType") != "STOP" {
		t.Errorf("STOP form %v", got[2])
	}
	if len(fake.Messages()) != 0 {
		t.Errorf("inbound messages listed as sent: %+v", fake.Messages())
	}
}

func TestAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := twiliotest.New(t)
	var h *hook
	h = newHook(t, fake.AuthToken, func(uri string, form url.Values) string {
		switch {
		case strings.HasPrefix(uri, "/voice?step=menu") && form.Get("Digits") == "4":
			return `<Response><Say>Acknowledged.</Say><Hangup/></Response>`
		case strings.HasPrefix(uri, "/voice?step=menu"):
			return `<Response><Say>Sorry.</Say><Redirect>/voice?step=again</Redirect></Response>`
		default:
			return `<Response><Gather numDigits="1" action="` + h.srv.URL + `/voice?step=menu&amp;x=1"><Say>Incident 12.</Say><Say>Press 4.</Say></Gather>` +
				`<Say>Goodbye.</Say></Response>`
		}
	})
	api := twilioGo(t, fake, fake.AccountSID, fake.AuthToken)
	call, err := api.CreateCall((&openapi.CreateCallParams{}).SetTo("+14155550100").SetFrom(fake.Number).SetUrl(h.srv.URL + "/voice").
		SetStatusCallback(h.srv.URL + "/call-status"))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := fake.Answer(ctx, *call.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if said := strings.Join(sess.Said(), " "); said != "Incident 12. Press 4." || !sess.Waiting() {
		t.Errorf("answered: said %q, waiting %v", said, sess.Waiting())
	}
	if f := h.got("/voice")[0]; f.Get("CallSid") != *call.Sid || f.Get("To") != "+14155550100" || f.Get("CallStatus") != "in-progress" {
		t.Errorf("TwiML request %v", f)
	}
	said, err := sess.Press(ctx, "9")
	if err != nil || strings.Join(said, " ") != "Sorry. Incident 12. Press 4." {
		t.Errorf("Press 9 = %q, %v", said, err)
	}
	said, err = sess.Press(ctx, "4")
	if err != nil || strings.Join(said, " ") != "Acknowledged." || !sess.Ended() {
		t.Errorf("Press 4 = %q, %v; ended %v", said, err, sess.Ended())
	}
	if f := h.got("/voice"); f[len(f)-1].Get("Digits") != "4" {
		t.Errorf("Gather action form %v", f[len(f)-1])
	}
	if got := h.got("/call-status"); len(got) != 1 || got[0].Get("CallStatus") != "completed" {
		t.Errorf("call status callbacks %v", got)
	}
	if c := fake.Calls()[0]; c.Status != "completed" {
		t.Errorf("call %+v", c)
	}

	// Silence runs what follows the <Gather>.
	call2, err := api.CreateCall((&openapi.CreateCallParams{}).SetTo("+14155550100").SetFrom(fake.Number).SetUrl(h.srv.URL + "/voice"))
	if err != nil {
		t.Fatal(err)
	}
	sess, err = fake.Answer(ctx, *call2.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if said, err := sess.Silence(ctx); err != nil || strings.Join(said, " ") != "Goodbye." || !sess.Ended() {
		t.Errorf("Silence = %q, %v", said, err)
	}
	if tr := sess.Transcript(); tr != "Incident 12. Press 4. Goodbye." {
		t.Errorf("Transcript = %q", tr)
	}
}
