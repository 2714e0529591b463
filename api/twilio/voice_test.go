package twilio_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/twilio/twiliotest"
	"github.com/oncall/oncall/store"
)

// call pages alice, lets her call rule (a minute later) ring, and answers.
func (b *bundle) call(t *testing.T, key, summary string) (int64, *twiliotest.Session) {
	t.Helper()
	id := b.page(t, key, summary)
	b.Advance(t, time.Minute)
	calls := b.fake.Calls()
	if len(calls) == 0 {
		t.Fatal("alice was not called")
	}
	sess, err := b.fake.Answer(ctx(t), calls[len(calls)-1].SID)
	if err != nil {
		t.Fatal(err)
	}
	return id, sess
}

func wantSaid(t *testing.T, said []string, want ...string) {
	t.Helper()
	all := strings.Join(said, " ")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Fatalf("the call said %q; want %q", all, w)
		}
	}
}

// The call reads the page, repeats it on *, refuses other keys, and
// acknowledges on 4.
func TestVoiceAck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, sess := b.call(t, "k1", "Disk full on db1")
	wantSaid(t, sess.Said(), "Incident "+itoa(id)+" on api. critical. Disk full on db1. It is triggered.", "Press 4 to acknowledge")
	if !sess.Waiting() {
		t.Fatal("the call does not wait for a key")
	}
	said, err := sess.Press(ctx(t), "*")
	if err != nil {
		t.Fatal(err)
	}
	wantSaid(t, said, "Disk full on db1", "Press 4")
	if said, err = sess.Press(ctx(t), "9"); err != nil {
		t.Fatal(err)
	}
	wantSaid(t, said, "That key does nothing", "Press 4")
	b.wantState(t, id, store.StateTriggered, "")
	if said, err = sess.Press(ctx(t), "4"); err != nil {
		t.Fatal(err)
	}
	wantSaid(t, said, "Acknowledged incident "+itoa(id)+". Goodbye.")
	if !sess.Ended() {
		t.Fatal("the call did not hang up")
	}
	b.wantState(t, id, store.StateAcknowledged, "alice")
	b.Settle(t)
	if tl := b.timeline(t, id); !strings.Contains(tl, "voice cell-call (+1415•••0100) to alice: answered") {
		t.Fatalf("the answered call is not on the timeline:\n%s", tl)
	}
}

// 5 escalates to the next step (bob is texted), 6 resolves.
func TestVoiceEscalateAndResolve(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, sess := b.call(t, "k1", "Disk full")
	said, err := sess.Press(ctx(t), "5")
	if err != nil {
		t.Fatal(err)
	}
	wantSaid(t, said, "Escalated incident "+itoa(id)+" to the next step.")
	b.Settle(t)
	if m := b.lastSMS(t, bobPhone); !strings.Contains(m.Body, "#"+itoa(id)) {
		t.Fatalf("bob was not paged: %q", m.Body)
	}

	b.Advance(t, time.Minute)
	id2, sess := b.call(t, "k2", "Latency")
	if said, err = sess.Press(ctx(t), "6"); err != nil {
		t.Fatal(err)
	}
	wantSaid(t, said, "Resolved incident "+itoa(id2)+".")
	b.wantState(t, id2, store.StateResolved, "alice")
}

// Silence ends the call; nothing changes.
func TestVoiceSilence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, sess := b.call(t, "k1", "Disk full")
	said, err := sess.Silence(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	wantSaid(t, said, "No key was pressed. Goodbye.")
	if !sess.Ended() {
		t.Fatal("the call did not end")
	}
	b.wantState(t, id, store.StateTriggered, "")
}

// Calling our number reads the caller's latest page, and the keys work
// as in our calls; a stranger hears nothing of it.
func TestVoiceInboundCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.page(t, "k1", "Disk full on db1")
	sess, err := b.fake.Dial(ctx(t), strangerPhone)
	if err != nil {
		t.Fatal(err)
	}
	wantSaid(t, sess.Said(), "not registered")
	if !sess.Ended() || strings.Contains(sess.Transcript(), "Disk") {
		t.Fatalf("a stranger heard %q", sess.Transcript())
	}

	if sess, err = b.fake.Dial(ctx(t), alicePhone); err != nil {
		t.Fatal(err)
	}
	wantSaid(t, sess.Said(), "Incident "+itoa(id)+" on api", "Disk full on db1")
	said, err := sess.Press(ctx(t), "4")
	if err != nil {
		t.Fatal(err)
	}
	wantSaid(t, said, "Acknowledged incident "+itoa(id))
	b.wantState(t, id, store.StateAcknowledged, "alice")
	if n := len(b.fake.Calls()); n != 0 {
		t.Fatalf("%d calls made", n)
	}
}

// The script is TwiML as Twilio reads it: the page in <Say>, one key
// gathered and posted back to the incident's URL, the summary escaped.
func TestVoiceTwiML(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.page(t, "k1", `Disk <full> & "hot"`)
	path := "/v1/twilio/voice?incident=" + itoa(id)
	form := url.Values{"CallSid": {"CA1"}, "From": {twiliotest.DefaultNumber}, "To": {alicePhone}, "Direction": {"outbound-api"}}
	code, body := b.post(t, path, form, b.sign(b.url+path, form))
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Response><Say language="en-US">Hello, this is on call, with a page.</Say><Pause length="1"></Pause>` +
		`<Say language="en-US">Incident ` + itoa(id) + ` on api. critical. Disk &lt;full&gt; &amp; &#34;hot&#34;. It is triggered.</Say>` +
		`<Gather input="dtmf" numDigits="1" timeout="10" action="` + b.url + path + `" method="POST">` +
		`<Say language="en-US">Press 4 to acknowledge, 6 to resolve, 5 to escalate, or star to hear this again.</Say></Gather>` +
		`<Say language="en-US">No key was pressed. Goodbye.</Say><Hangup></Hangup></Response>`
	if code != 200 || body != want {
		t.Fatalf("%d\n%s\nwant\n%s", code, body, want)
	}
}
