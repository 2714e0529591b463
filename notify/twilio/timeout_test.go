package twilio_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/twilio"
	"github.com/oncall/oncall/notify/twilio/twiliotest"
)

// A Twilio that never answers cannot hold a caller whose context has no
// deadline: the client's own timeout ends the call, as a temporary
// deadline error that names the masked number and not the token.
func TestClientTimeoutWithoutDeadline(t *testing.T) {
	t.Parallel()
	fake := twiliotest.New(t)
	fake.HangNext(1)
	cfg := fake.Connect(public)
	cfg.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := twilio.NewSMS(cfg).Send(context.Background(), notify.Target{Address: alice}, page(1, "api", "down"))
	took := time.Since(start)
	if err == nil || notify.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) || took > 3*time.Second {
		t.Fatalf("a hung Twilio: %v after %s; want a temporary deadline error after 200ms", err, took)
	}
	if msg := err.Error(); !strings.Contains(msg, "+1415•••0100") || strings.Contains(msg, alice) || strings.Contains(msg, fake.AuthToken) {
		t.Errorf("error %q: want the number masked and no token", msg)
	}
	if a := fake.Attempts(); len(a) != 1 || a[0].Status != 0 || len(fake.Messages()) != 0 {
		t.Errorf("attempts %+v, %d messages; want one hung attempt and no message", a, len(fake.Messages()))
	}
	// The next request is answered.
	if _, err := twilio.NewSMS(cfg).Send(context.Background(), notify.Target{Address: alice}, page(2, "api", "down")); err != nil {
		t.Fatalf("after the hang: %v", err)
	}
}
