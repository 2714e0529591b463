package console_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/console"
)

func TestConsole(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := console.New(&out)
	ctx := t.Context()
	p := notify.Page{
		IncidentID: 12, Service: "payments-api", Summary: "Checkout error rate above 5%\n\x1b[2Jnow",
		Severity: "critical", Urgency: "high", State: notify.StateTriggered, Alerts: 3,
		CreatedAt:  time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC),
		Labels:     map[string]string{"region": "eu-west-1", "env": "prod"},
		Links:      []notify.Link{{Href: "https://grafana.example.com/d/1", Text: "Dashboard"}},
		Escalation: "step 1 of payments-default", URL: "https://oncall.example.com/incidents/12",
	}
	to := notify.Target{User: "alice", FullName: "Alice Liddell", Method: notify.MethodSMS, Address: "+15550100"}
	r, err := c.Send(ctx, to, p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ref != "console/12" {
		t.Errorf("ref = %q", r.Ref)
	}
	p.State, p.StateBy = notify.StateAcknowledged, "alice"
	if err := c.Update(ctx, r.Ref, p); err != nil {
		t.Fatal(err)
	}
	if err := c.Note(ctx, r.Ref, "Acknowledged by alice by SMS"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, notify.Target{Method: notify.MethodSlackChannel, Address: "#payments"}, notify.Page{IncidentID: 13}); err != nil {
		t.Fatal(err)
	}

	want := `PAGE #12 [high] payments-api: Checkout error rate above 5% [2Jnow
  to:       alice (Alice Liddell) by sms
  severity: critical · state: triggered · alerts: 3
  why:      step 1 of payments-default
  labels:   env=prod region=eu-west-1
  link:     https://oncall.example.com/incidents/12
  link:     Dashboard https://grafana.example.com/d/1
#12 acknowledged by alice
#12 Acknowledged by alice by SMS
PAGE #13 (no summary)
  to:       #payments by slack_channel
  state: triggered
`
	if got := out.String(); got != want {
		t.Errorf("printed:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(out.String(), "+15550100") {
		t.Error("printed the phone number")
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Send(canceled, to, p); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v", err)
	}
}

// Concurrent pages are written whole, never interleaved.
func TestConsoleConcurrent(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := console.New(&out)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, _ = c.Send(t.Context(), notify.Target{User: "bob", Method: notify.MethodConsole},
				notify.Page{IncidentID: int64(i), Summary: "s", Severity: "info"})
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 150 {
		t.Fatalf("%d lines", len(lines))
	}
	for i := 0; i < len(lines); i += 3 {
		if !strings.HasPrefix(lines[i], "PAGE #") || !strings.HasPrefix(lines[i+1], "  to:") || !strings.HasPrefix(lines[i+2], "  severity:") {
			t.Fatalf("interleaved at line %d: %q", i, lines[i:i+3])
		}
	}
}
