package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/goleak"

	"github.com/oncall/oncall/notify"
	notifyslack "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/notify/slack/slacktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// Our default HTTP client uses http.DefaultTransport: its idle keep-alive
	// connections are not leaks.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			println("goroutine leak:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

type bundle struct {
	srv *slacktest.Server
	ch  *notifyslack.Channel
}

// setup starts a fake Slack with Alice (U1) and Bob (U2) and a channel on it.
func setup(t *testing.T, opts ...slacktest.Option) bundle {
	t.Helper()
	srv := slacktest.New(t, opts...)
	srv.AddUser("U1", "alice@example.com", "Alice", "Europe/Berlin")
	srv.AddUser("U2", "bob@example.com", "Bob", "America/New_York")
	srv.AddChannel("C0PAY", "payments-oncall")
	return bundle{srv: srv, ch: notifyslack.New(notifyslack.Config{BotToken: srv.BotToken(), APIURL: srv.APIURL()})}
}

func page(state, by string) notify.Page {
	return notify.Page{
		IncidentID: 12, Service: "payments-api", Summary: "Checkout error rate above 5%",
		Severity: "critical", Urgency: "high", State: state, StateBy: by, Alerts: 1,
		Escalation: "step 1 of payments-default",
	}
}

var (
	toAlice   = notify.Target{User: "alice", Method: notify.MethodSlack, Address: "U1"}
	toChannel = notify.Target{Method: notify.MethodSlackChannel, Address: "C0PAY"}
)

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// actionIDs returns the action ids of the buttons in a message's blocks.
func actionIDs(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var bs slack.Blocks
	if err := json.Unmarshal(raw, &bs); err != nil {
		t.Fatalf("decode blocks: %v", err)
	}
	var ids []string
	for _, b := range bs.BlockSet {
		if ab, ok := b.(*slack.ActionBlock); ok {
			for _, e := range ab.Elements.ElementSet {
				ids = append(ids, e.(*slack.ButtonBlockElement).ActionID)
			}
		}
	}
	return ids
}

func TestSendDMByUserID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r, err := b.ch.Send(ctx(t), toAlice, page(notify.StateTriggered, ""))
	if err != nil {
		t.Fatal(err)
	}
	if r.Ref != "DU1/1700000000.000100" {
		t.Errorf("ref = %q", r.Ref)
	}
	msgs := b.srv.Messages("DU1")
	if len(msgs) != 1 {
		t.Fatalf("DM holds %d messages", len(msgs))
	}
	m := msgs[0]
	if !strings.Contains(m.Text, "#12 Checkout error rate above 5%") {
		t.Errorf("text = %q", m.Text)
	}
	if got := strings.Join(actionIDs(t, m.Blocks), " "); got != "incident_ack incident_resolve incident_escalate" {
		t.Errorf("buttons = %q", got)
	}
	if n := len(b.srv.Calls("users.lookupByEmail")); n != 0 {
		t.Errorf("%d lookups for a user id", n)
	}
}

func TestSendDMByEmailCached(t *testing.T) {
	t.Parallel()
	b := setup(t)
	to := notify.Target{User: "bob", Method: notify.MethodSlack, Email: "Bob@example.com"}
	for range 2 {
		r, err := b.ch.Send(ctx(t), to, page(notify.StateTriggered, ""))
		if err != nil {
			t.Fatal(err)
		}
		if ch, _, _ := notifyslack.ParseRef(r.Ref); ch != "DU2" {
			t.Errorf("ref = %q", r.Ref)
		}
	}
	if n := len(b.srv.Calls("users.lookupByEmail")); n != 1 {
		t.Errorf("%d lookups, want 1 (cached)", n)
	}
	if n := len(b.srv.Messages("DU2")); n != 2 {
		t.Errorf("DM holds %d messages", n)
	}
	if id, err := b.ch.LookupUser(ctx(t), "bob@EXAMPLE.com"); err != nil || id != "U2" {
		t.Errorf("LookupUser = %q, %v", id, err)
	}
	if n := len(b.srv.Calls("users.lookupByEmail")); n != 1 {
		t.Errorf("%d lookups, want 1 (cached)", n)
	}

	// A cached id that Slack no longer knows is forgotten, and found again.
	b.srv.FailNextWith("chat.postMessage", 1, "channel_not_found")
	if _, err := b.ch.Send(ctx(t), to, page(notify.StateTriggered, "")); !notify.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if _, err := b.ch.Send(ctx(t), to, page(notify.StateTriggered, "")); err != nil {
		t.Fatal(err)
	}
	if n := len(b.srv.Calls("users.lookupByEmail")); n != 2 {
		t.Errorf("%d lookups, want 2 (looked up again)", n)
	}
}

func TestSendUnknownUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, to := range []notify.Target{
		{User: "carol", Method: notify.MethodSlack, Email: "carol@example.com"},
		{User: "carol", Method: notify.MethodSlack, Address: "carol@example.com"},
		{User: "carol", Method: notify.MethodSlack},                  // nothing to find her by
		{User: "carol", Method: notify.MethodSlack, Address: "U404"}, // Slack: channel_not_found
		{Method: notify.MethodSlackChannel},
		{User: "carol", Method: notify.MethodSMS, Address: "+15550100"},
	} {
		_, err := b.ch.Send(ctx(t), to, page(notify.StateTriggered, ""))
		if !notify.IsPermanent(err) {
			t.Errorf("send to %+v: err = %v, want permanent", to, err)
		}
		if strings.Contains(err.Error(), "+15550100") {
			t.Errorf("err names the phone number: %v", err)
		}
	}
	if n := len(b.srv.Calls("users.lookupByEmail")); n != 2 {
		t.Errorf("%d lookups (misses are not cached), want 2", n)
	}
	if _, err := b.ch.LookupUser(ctx(t), "carol@example.com"); !notify.IsPermanent(err) {
		t.Errorf("LookupUser: err = %v, want permanent", err)
	}
}

func TestSendChannel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r, err := b.ch.Send(ctx(t), toChannel, page(notify.StateTriggered, ""))
	if err != nil {
		t.Fatal(err)
	}
	ch, ts, err := notifyslack.ParseRef(r.Ref)
	if err != nil || ch != "C0PAY" || ts == "" {
		t.Errorf("ref = %q (%v)", r.Ref, err)
	}
	if msgs := b.srv.Messages("C0PAY"); len(msgs) != 1 || msgs[0].TS != ts {
		t.Errorf("messages = %+v", msgs)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r, err := b.ch.Send(ctx(t), toChannel, page(notify.StateTriggered, ""))
	if err != nil {
		t.Fatal(err)
	}
	ch, ts, _ := notifyslack.ParseRef(r.Ref)

	if err := b.ch.Update(ctx(t), r.Ref, page(notify.StateAcknowledged, "alice")); err != nil {
		t.Fatal(err)
	}
	m, _ := b.srv.Message(ch, ts)
	if got := strings.Join(actionIDs(t, m.Blocks), " "); got != "incident_resolve incident_escalate" {
		t.Errorf("acknowledged: buttons = %q", got)
	}
	if !strings.Contains(m.Text, "acknowledged by alice") || !strings.Contains(string(m.Blocks), "Acknowledged by alice") {
		t.Errorf("acknowledged: text %q, blocks %s", m.Text, m.Blocks)
	}

	if err := b.ch.Update(ctx(t), r.Ref, page(notify.StateResolved, "alice")); err != nil {
		t.Fatal(err)
	}
	m, _ = b.srv.Message(ch, ts)
	if ids := actionIDs(t, m.Blocks); len(ids) != 0 {
		t.Errorf("resolved: buttons = %q", ids)
	}
	if m.Updates != 2 || !strings.Contains(m.Text, "resolved by alice") {
		t.Errorf("resolved: %d updates, text %q", m.Updates, m.Text)
	}
	if n := len(b.srv.Messages(ch)); n != 1 {
		t.Errorf("%d messages, want the one updated", n)
	}

	for _, ref := range []string{"C0PAY/1700000099.000000", "C0OTHER/" + ts, "nonsense"} {
		if err := b.ch.Update(ctx(t), ref, page(notify.StateResolved, "")); !notify.IsPermanent(err) {
			t.Errorf("update %q: err = %v, want permanent", ref, err)
		}
	}
}

func TestNote(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r, err := b.ch.Send(ctx(t), toAlice, page(notify.StateTriggered, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Paged alice by Slack", "Acknowledged by alice <via SMS>"} {
		if err := b.ch.Note(ctx(t), r.Ref, line); err != nil {
			t.Fatal(err)
		}
	}
	msgs := b.srv.Messages("DU1")
	if len(msgs) != 1 || len(msgs[0].Replies) != 2 {
		t.Fatalf("messages = %+v", msgs)
	}
	if got := msgs[0].Replies[1].Text; got != "Acknowledged by alice &lt;via SMS&gt;" {
		t.Errorf("reply = %q", got)
	}
	if err := b.ch.Note(ctx(t), "DU1/1700000099.000000", "x"); !notify.IsPermanent(err) {
		t.Errorf("note on a missing message: err = %v, want permanent", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)

	b.srv.FailNext("chat.postMessage", 1, http.StatusTooManyRequests, 7*time.Second)
	_, err := b.ch.Send(ctx(t), toChannel, page(notify.StateTriggered, ""))
	if d, ok := notify.RateLimited(err); !ok || d != 7*time.Second || notify.IsPermanent(err) {
		t.Errorf("429: err = %v, want rate limited 7s", err)
	}

	b.srv.FailNext("chat.update", 1, http.StatusTooManyRequests, 2*time.Second)
	if d, ok := notify.RateLimited(b.ch.Update(ctx(t), "C0PAY/1.2", page(notify.StateResolved, ""))); !ok || d != 2*time.Second {
		t.Errorf("429 on update: %v %t", d, ok)
	}

	b.srv.FailNext("users.lookupByEmail", 1, http.StatusTooManyRequests, time.Second)
	_, err = b.ch.Send(ctx(t), notify.Target{Method: notify.MethodSlack, Email: "alice@example.com"}, page(notify.StateTriggered, ""))
	if d, ok := notify.RateLimited(err); !ok || d != time.Second {
		t.Errorf("429 on lookup: err = %v", err)
	}

	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		b.srv.FailNext("chat.postMessage", 1, status, 0)
		_, err = b.ch.Send(ctx(t), toChannel, page(notify.StateTriggered, ""))
		if _, rl := notify.RateLimited(err); err == nil || rl || notify.IsPermanent(err) {
			t.Errorf("%d: err = %v, want temporary", status, err)
		}
	}

	for code, permanent := range map[string]bool{
		"not_in_channel": true, "is_archived": true, "invalid_auth": true, "account_inactive": true,
		"channel_not_found": true, "msg_too_long": true, "invalid_blocks": true,
		"internal_error": false, "fatal_error": false,
	} {
		b.srv.FailNextWith("chat.postMessage", 1, code)
		_, err = b.ch.Send(ctx(t), toChannel, page(notify.StateTriggered, ""))
		if err == nil || notify.IsPermanent(err) != permanent {
			t.Errorf("%s: err = %v, want permanent %t", code, err, permanent)
		}
	}

	b.srv.FailNextWith("chat.postMessage", 1, "ratelimited")
	if _, err = b.ch.Send(ctx(t), toChannel, page(notify.StateTriggered, "")); !isRateLimited(err) {
		t.Errorf("ok:false ratelimited: err = %v", err)
	}

	if n := len(b.srv.Messages("C0PAY")); n != 0 {
		t.Errorf("faulted posts posted %d messages", n)
	}
}

func isRateLimited(err error) bool { _, ok := notify.RateLimited(err); return ok }

// The bot token appears in no error, whatever failed.
func TestErrorsHideToken(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	const token = "xoxb-9-secret-bot-token"
	wrong := notifyslack.New(notifyslack.Config{BotToken: token, APIURL: srv.APIURL()})
	_, err := wrong.Send(ctx(t), toChannel, page(notify.StateTriggered, ""))
	if !notify.IsPermanent(err) || strings.Contains(err.Error(), token) {
		t.Errorf("wrong token: err = %v, want permanent without the token", err)
	}

	// A server that is gone: a temporary network error.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	down := notifyslack.New(notifyslack.Config{BotToken: token, APIURL: gone.URL + "/api"}) // "/" added
	_, err = down.Send(ctx(t), toChannel, page(notify.StateTriggered, ""))
	if err == nil || notify.IsPermanent(err) || strings.Contains(err.Error(), token) {
		t.Errorf("network: err = %v, want temporary without the token", err)
	}
	_, err = down.LookupUser(ctx(t), "alice@example.com")
	if err == nil || notify.IsPermanent(err) || strings.Contains(err.Error(), token) {
		t.Errorf("network lookup: err = %v, want temporary without the token", err)
	}

	// A proxy echoing the request (token and all) in an error page.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "internal_error " + r.Form.Get("token") + r.Header.Get("Authorization")})
	}))
	defer echo.Close()
	leaky := notifyslack.New(notifyslack.Config{BotToken: token, APIURL: echo.URL + "/api/"})
	_, err = leaky.Send(ctx(t), toChannel, page(notify.StateTriggered, ""))
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "REDACTED") {
		t.Errorf("echoed token: err = %v", err)
	}
}

func TestContextAndOff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.ch.Send(canceled, toChannel, page(notify.StateTriggered, ""))
	if !errors.Is(err, context.Canceled) || notify.IsPermanent(err) {
		t.Errorf("canceled: err = %v", err)
	}

	off := notifyslack.New(notifyslack.Config{})
	if _, err := off.Send(ctx(t), toChannel, page(notify.StateTriggered, "")); !errors.Is(err, notify.ErrOff) {
		t.Errorf("no token: err = %v, want ErrOff", err)
	}
	if err := off.Update(ctx(t), "C1/1.2", page(notify.StateTriggered, "")); !errors.Is(err, notify.ErrOff) {
		t.Errorf("no token: update err = %v, want ErrOff", err)
	}
	if off.API() == nil || b.ch.API() == nil {
		t.Error("API() = nil")
	}
	// The shared client works against the same API.
	if _, err := b.ch.API().AuthTestContext(ctx(t)); err != nil {
		t.Errorf("auth.test through API(): %v", err)
	}
}

// A page carries its key in the message's metadata, and Find finds it by
// that key in the target's DM or channel, newer than since only; another
// key, or an older message, is not found.
func TestFind(t *testing.T) {
	t.Parallel()
	b := setup(t)
	since := time.Now().Add(-time.Second)
	var between time.Time
	p := page(notify.StateTriggered, "")
	for _, key := range []string{"41", "42"} {
		if key == "42" {
			time.Sleep(2 * time.Millisecond)
			between = time.Now()
			time.Sleep(2 * time.Millisecond)
		}
		p.Key = key
		for _, to := range []notify.Target{toAlice, toChannel} {
			if _, err := b.ch.Send(ctx(t), to, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.Key = ""
	if _, err := b.ch.Send(ctx(t), toAlice, p); err != nil { // no key, no metadata
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to      notify.Target
		key     string
		since   time.Time
		wantRef string
	}{
		{toAlice, "42", since, "DU1/1700000000.000300"},
		{toChannel, "42", since, "C0PAY/1700000000.000400"},
		{toAlice, "41", since, "DU1/1700000000.000100"},
		{toAlice, "43", since, ""},
		{toAlice, "41", between, ""}, // sent before since
		{toAlice, "42", between, "DU1/1700000000.000300"},
		{notify.Target{User: "alice", Method: notify.MethodSlack, Address: "alice@example.com"}, "42", since, "DU1/1700000000.000300"},
	} {
		r, found, err := b.ch.Find(ctx(t), tc.to, tc.key, tc.since)
		if err != nil {
			t.Fatalf("Find(%s, %s): %v", tc.to.Address, tc.key, err)
		}
		if found != (tc.wantRef != "") || r.Ref != tc.wantRef {
			t.Errorf("Find(%s, %s, %s) = %q, %v; want %q", tc.to.Address, tc.key, tc.since.Format(time.StampMicro), r.Ref, found, tc.wantRef)
		}
	}
	if _, _, err := b.ch.Find(ctx(t), notify.Target{Method: notify.MethodSlack, Address: "U9"}, "42", since); err == nil {
		t.Error("Find in the DM of a user Slack does not know succeeded")
	}
}
