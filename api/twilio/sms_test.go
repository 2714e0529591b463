package twilio_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apitwilio "github.com/oncall/oncall/api/twilio"
	"github.com/oncall/oncall/store"
)

// Each reply form acts on the incident it names, or on the latest page.
func TestSMSReplies(t *testing.T) {
	t.Parallel()
	b := setup(t)

	id := b.page(t, "k1", "Disk full on db1")
	if m := b.lastSMS(t, alicePhone); !strings.Contains(m.Body, `"ack `+itoa(id)+`"`) {
		t.Fatalf("page text %q", m.Body)
	}
	b.textWant(t, alicePhone, "ack "+itoa(id), "Acknowledged #"+itoa(id)+" api: Disk full on db1")
	b.wantState(t, id, store.StateAcknowledged, "alice")
	b.textWant(t, alicePhone, "Ack #"+itoa(id)+".", "#"+itoa(id)+" is already acknowledged by alice")
	b.textWant(t, alicePhone, "resolve "+itoa(id), "Resolved #"+itoa(id))
	b.wantState(t, id, store.StateResolved, "alice")
	if tl := b.timeline(t, id); !strings.Contains(tl, "acknowledged by alice") || !strings.Contains(tl, "resolved by alice") {
		t.Fatalf("timeline:\n%s", tl)
	}

	// Bare letters act on the latest page texted (a minute later: one
	// text a minute per number).
	b.Advance(t, time.Minute)
	id2 := b.page(t, "k2", "Latency")
	b.textWant(t, alicePhone, "A", "Acknowledged #"+itoa(id2))
	b.wantState(t, id2, store.StateAcknowledged, "alice")

	b.Advance(t, time.Minute)
	id3 := b.page(t, "k3", "Errors")
	b.textWant(t, alicePhone, "e", "Escalated #"+itoa(id3)+" to the next step")
	b.Settle(t)
	if m := b.lastSMS(t, bobPhone); !strings.Contains(m.Body, "#"+itoa(id3)) {
		t.Fatalf("bob's text after the escalation: %q", m.Body)
	}
	b.textWant(t, bobPhone, "r", "Resolved #"+itoa(id3))
	b.wantState(t, id3, store.StateResolved, "bob")
	b.textWant(t, alicePhone, "esc "+itoa(id3), "#"+itoa(id3)+" is already resolved by bob")
	b.textWant(t, alicePhone, "ack 999999", "There is no incident #999999")
	b.textWant(t, alicePhone, "help", `"ack 12"`)
}

// Pages that piled up go out in one text, and "ack all" acknowledges
// them all.
func TestSMSAckAll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.page(t, "k1", "one")
	b.textWant(t, alicePhone, "a", "Acknowledged #"+itoa(first))
	ids := []int64{b.page(t, "k2", "two"), b.page(t, "k3", "three"), b.page(t, "k4", "four")}
	// A minute after the first text: one text for the three.
	b.Advance(t, time.Minute)
	msgs := b.fake.MessagesTo(alicePhone)
	if len(msgs) != 2 || !strings.Contains(msgs[1].Body, "3 incidents on api") || !strings.Contains(msgs[1].Body, `"ack all"`) {
		t.Fatalf("texts to alice: %+v", msgs)
	}
	b.textWant(t, alicePhone, "ack all", "Acknowledged 3: #"+itoa(ids[0])+", #"+itoa(ids[1])+", #"+itoa(ids[2]))
	for _, id := range ids {
		b.wantState(t, id, store.StateAcknowledged, "alice")
	}
	b.textWant(t, alicePhone, "ack all", "nothing to acknowledge")
	b.textWant(t, alicePhone, "res all", "Unknown command")
}

// STOP and START are recorded; a number that stopped is not texted (its
// page falls through to the next rule at once).
func TestSMSStopStart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := context.Background()
	b.textWant(t, alicePhone, "STOP", "")
	if out, err := store.SMSPhoneOptedOut(c, b.Pool, alicePhone); err != nil || !out {
		t.Fatalf("opted out after STOP: %v %v", out, err)
	}
	id := b.page(t, "k1", "Disk full")
	if n := len(b.fake.MessagesTo(alicePhone)); n != 0 {
		t.Fatalf("%d texts to a number that sent STOP", n)
	}
	tl := b.timeline(t, id)
	if !strings.Contains(tl, "unsubscribed") || len(b.fake.Calls()) != 1 {
		t.Fatalf("the page did not fall through to the call (%d calls):\n%s", len(b.fake.Calls()), tl)
	}
	// Replies still act (Twilio passes them on; only our texts stop).
	b.text(t, alicePhone, "ack "+itoa(id))
	b.wantState(t, id, store.StateAcknowledged, "alice")

	b.textWant(t, alicePhone, "start", "")
	if out, err := store.SMSPhoneOptedOut(c, b.Pool, alicePhone); err != nil || out {
		t.Fatalf("opted out after START: %v %v", out, err)
	}
	b.Advance(t, time.Minute)
	b.page(t, "k2", "Again")
	if n := len(b.fake.MessagesTo(alicePhone)); n != 1 {
		t.Fatalf("%d texts after START; want 1", n)
	}
}

// Replies that do nothing are answered a few times, then not at all until
// one works: an auto-responder cannot start a loop.
func TestSMSLoopGuard(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.page(t, "k1", "Disk full")
	for i := range 3 {
		if r := b.text(t, alicePhone, "I'm out of the office"); len(r) != 1 || !strings.Contains(r[0], "Unknown command") {
			t.Fatalf("useless reply %d: answered %q", i+1, r)
		}
	}
	b.textWant(t, alicePhone, "I'm out of the office", "")
	b.textWant(t, alicePhone, "help", "")
	b.textWant(t, alicePhone, "ack "+itoa(id), "Acknowledged #"+itoa(id))
	b.textWant(t, alicePhone, "thanks", "Unknown command")

	// Strangers are counted alike.
	for range 3 {
		b.textWant(t, strangerPhone, "hello", "not registered")
	}
	b.textWant(t, strangerPhone, "hello", "")
}

// A number that is nobody's, and a user who has nothing to do with the
// incident, change nothing.
func TestSMSStrangers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.page(t, "k1", "Disk full")
	b.textWant(t, strangerPhone, "ack "+itoa(id), "not registered")
	b.textWant(t, malloryPhone, "ack "+itoa(id), "You may not act on incident #"+itoa(id))
	b.textWant(t, malloryPhone, "a", "You have no open pages")
	b.wantState(t, id, store.StateTriggered, "")
	// bob was not paged but is on the team: he may.
	b.textWant(t, bobPhone, "res "+itoa(id), "Resolved #"+itoa(id))
}

func TestParseSMS(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		"ack 12": "ack 12", "ACK #12": "ack 12", "a12": "ack 12", " acknowledge  12 ": "ack 12", "Ok 3.": "ack 3",
		"res 7": "resolve 7", "R": "resolve 0", "resolve #7!": "resolve 7", "esc 1": "escalate 1", "E": "escalate 0",
		"ack all": "ack all", "stop": "stop", "Unsubscribe": "stop", "START": "start", "help": "help",
		"ack 12 13": "", "ack -1": "", "ack 0": "", "hello": "", "": "", "esc all": "", "ack 99999999999999999999": "",
	} {
		if got := apitwilioParse(body); got != want {
			t.Errorf("parse %q = %q; want %q", body, got, want)
		}
	}
}

var apitwilioParse = apitwilio.ParseSMSForTest
