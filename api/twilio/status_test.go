package twilio_test

import (
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/store"
)

// Delivery reports go on the timeline; an undelivered text brings the
// call forward at once instead of a minute later.
func TestStatusUndeliveredFallsThrough(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.page(t, "k1", "Disk full")
	sms := b.lastSMS(t, alicePhone)
	if err := b.fake.Undeliver(ctx(t), sms.SID, 30003); err != nil {
		t.Fatal(err)
	}
	b.Settle(t)
	if n := len(b.fake.Calls()); n != 1 {
		t.Fatalf("%d calls after the undelivered text; want 1 at once", n)
	}
	tl := b.timeline(t, id)
	for _, want := range []string{
		"notifying alice by sms cell (+1415•••0100) failed: the message was undelivered (Twilio error 30003: unreachable handset)",
		"moved alice's next notification rule forward",
		"notified alice by voice cell-call",
	} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	if strings.Contains(tl, "5550100") {
		t.Errorf("the timeline shows the number:\n%s", tl)
	}

	// The call is not answered: it failed too, and alice, whose every
	// method failed, is reported.
	calls := b.fake.Calls()
	if err := b.fake.CallStatus(ctx(t), calls[0].SID, "no-answer"); err != nil {
		t.Fatal(err)
	}
	tl = b.timeline(t, id)
	for _, want := range []string{"failed: nobody answered (no-answer)", "alice could not be reached"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	// A report about an unknown message is acknowledged and ignored.
	if code, _ := b.post(t, "/v1/twilio/status", smsForm(alicePhone, ""), b.sign(b.url+"/v1/twilio/status", smsForm(alicePhone, ""))); code != 204 {
		t.Fatalf("unknown report: %d", code)
	}
}

func TestStatusDelivered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.page(t, "k1", "Disk full")
	if err := b.fake.Deliver(ctx(t), b.lastSMS(t, alicePhone).SID); err != nil {
		t.Fatal(err)
	}
	b.Advance(t, time.Minute) // the call rule still fires: delivered is not read
	tl := b.timeline(t, id)
	if !strings.Contains(tl, "delivery: sms cell (+1415•••0100) to alice: delivered to the phone") || len(b.fake.Calls()) != 1 {
		t.Fatalf("timeline:\n%s", tl)
	}
	b.wantState(t, id, store.StateTriggered, "")
}
