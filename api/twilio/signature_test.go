package twilio_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/oncall/oncall/notify/twilio/twiliotest"
	"github.com/oncall/oncall/store"
)

// A request that Twilio did not sign for this URL and this form is refused
// with 403 and changes nothing.
func TestForgedRequestsAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.page(t, "k1", "Disk full")
	sms := b.lastSMS(t, alicePhone)
	before := b.timeline(t, id)

	voicePath := "/v1/twilio/voice?incident=" + itoa(id)
	forms := map[string]url.Values{
		"/v1/twilio/sms": smsForm(alicePhone, "ack "+itoa(id)),
		voicePath: {"CallSid": {"CA1"}, "From": {twiliotest.DefaultNumber}, "To": {alicePhone}, "Direction": {"outbound-api"},
			"Digits": {"4"}},
		"/v1/twilio/status": {"MessageSid": {sms.SID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}},
	}
	for path, form := range forms {
		good := b.sign(b.url+path, form)
		tampered := url.Values{}
		for k, v := range form {
			tampered[k] = v
		}
		tampered.Set("From", strangerPhone)
		for name, c := range map[string]struct {
			form url.Values
			sig  string
		}{
			"unsigned":           {form, ""},
			"wrong token":        {form, twiliotest.Signature("0123456789abcdef0123456789abcdef", b.url+path, form)},
			"another URL":        {form, b.sign("https://elsewhere.example"+path, form)},
			"another path":       {form, b.sign(b.url+"/v1/twilio/other", form)},
			"tampered form":      {tampered, good},
			"garbage signature":  {form, "not base64 at all"},
			"signature of empty": {form, b.sign(b.url+path, url.Values{})},
		} {
			code, body := b.post(t, path, c.form, c.sig)
			if code != 403 {
				t.Errorf("%s %s: %d %s; want 403", path, name, code, body)
			}
		}
	}
	b.Settle(t)
	b.wantState(t, id, store.StateTriggered, "")
	if after := b.timeline(t, id); after != before {
		t.Fatalf("the timeline changed:\n%s\nthen\n%s", before, after)
	}
	var n int
	if err := b.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sms_phones`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("sms_phones has %d rows (%v)", n, err)
	}
	if len(b.fake.Calls()) != 0 {
		t.Fatal("a forged report brought the call forward")
	}

	// The same requests, signed, work.
	code, body := b.post(t, "/v1/twilio/sms", forms["/v1/twilio/sms"], b.sign(b.url+"/v1/twilio/sms", forms["/v1/twilio/sms"]))
	if code != 200 || !strings.Contains(body, "Acknowledged #"+itoa(id)) {
		t.Fatalf("signed sms: %d %s", code, body)
	}
}

// Bad input from Twilio's side never gets a 500.
func TestOddRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.page(t, "k1", "Disk full")
	call := url.Values{"CallSid": {"CA1"}, "From": {twiliotest.DefaultNumber}, "To": {alicePhone}, "Direction": {"outbound-api"}}
	for _, c := range []struct {
		path string
		form url.Values
		code int
		want string
	}{
		{"/v1/twilio/voice?incident=abc", call, 200, "does not exist"},
		{"/v1/twilio/voice?incident=-3", call, 200, "does not exist"},
		{"/v1/twilio/voice?incident=99999", call, 200, "There is no incident 99999"},
		{"/v1/twilio/voice", call, 200, "Incident " + itoa(id) + " on api"}, // no incident: the latest page
		{"/v1/twilio/voice?incident=" + itoa(id), url.Values{"From": {strangerPhone}, "Direction": {"inbound"}}, 200, "not registered"},
		{"/v1/twilio/voice?incident=" + itoa(id), url.Values{"From": {malloryPhone}, "Direction": {"inbound"}}, 200, "You may not act"},
		{"/v1/twilio/sms", url.Values{"Body": {"ack 1"}}, 200, "<Response></Response>"},
		{"/v1/twilio/sms", url.Values{"From": {strings.Repeat("9", 100)}, "Body": {"ack 1"}}, 200, "<Response></Response>"},
		{"/v1/twilio/sms", smsForm(alicePhone, strings.Repeat("x", 2000)), 200, "Unknown command"},
		{"/v1/twilio/status", url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"failed"}, "ErrorCode": {"<script>"}}, 204, ""},
		{"/v1/twilio/status", url.Values{"Foo": {"bar"}}, 204, ""},
		{"/v1/twilio/sms", url.Values{"From": {alicePhone}, "Body": {strings.Repeat("y", 70<<10)}}, 403, ""}, // too large
	} {
		code, body := b.post(t, c.path, c.form, b.sign(b.url+c.path, c.form))
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %v: %d %s; want %d with %q", c.path, c.form, code, body, c.code, c.want)
		}
	}
	b.wantState(t, id, store.StateTriggered, "")
}
