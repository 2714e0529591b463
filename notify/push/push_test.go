package push_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/push"
)

func TestMerge(t *testing.T) {
	t.Parallel()
	temp := errors.New("503")
	perm := notify.Permanent(errors.New("bad topic"))
	short := &notify.RateLimitedError{RetryAfter: time.Second, Err: errors.New("429")}
	long := &notify.RateLimitedError{RetryAfter: time.Minute, Err: errors.New("429")}
	for _, tc := range []struct {
		name      string
		in        []push.Result
		ref       string
		permanent bool
		unreg     []string
		wait      time.Duration
	}{
		{name: "none", permanent: true},
		{name: "one delivered", in: []push.Result{{Token: "a", Receipt: notify.Receipt{Ref: "apns:1"}}}, ref: "apns:1"},
		{name: "delivered and gone", in: []push.Result{{Token: "a", Receipt: notify.Receipt{Ref: "apns:1"}}, {Token: "b", Unregistered: true}},
			ref: "apns:1", unreg: []string{"b"}},
		{name: "all gone", in: []push.Result{{Token: "a", Unregistered: true}, {Token: "b", Unregistered: true}},
			permanent: true, unreg: []string{"a", "b"}},
		{name: "temporary beats permanent", in: []push.Result{{Token: "a", Err: perm}, {Token: "b", Err: temp}}},
		{name: "longest rate limit", in: []push.Result{{Token: "a", Err: short}, {Token: "b", Err: long}, {Token: "c", Err: temp}}, wait: time.Minute},
		{name: "permanent", in: []push.Result{{Token: "a", Err: perm}}, permanent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcpt, err := push.Merge(tc.in...)
			if rcpt.Ref != tc.ref {
				t.Errorf("ref %q, want %q", rcpt.Ref, tc.ref)
			}
			if tc.ref != "" && len(tc.unreg) == 0 && err != nil {
				t.Errorf("delivered with err %v", err)
			}
			if tc.ref == "" && err == nil {
				t.Error("nothing delivered, no error")
			}
			if notify.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v: %v", notify.IsPermanent(err), err)
			}
			var u *notify.UnregisteredError
			if errors.As(err, &u) != (len(tc.unreg) > 0) || (u != nil && strings.Join(u.Tokens, ",") != strings.Join(tc.unreg, ",")) {
				t.Errorf("unregistered: %v", err)
			}
			if d, ok := notify.RateLimited(err); ok != (tc.wait > 0) || d != tc.wait {
				t.Errorf("rate limit %v %s", ok, d)
			}
		})
	}
}

// A platform that is off, or unknown, fails its devices only.
func TestChannelPlatforms(t *testing.T) {
	t.Parallel()
	ok := provider(func(d notify.Device) push.Result {
		return push.Result{Token: d.Token, Receipt: notify.Receipt{Ref: "fcm:" + d.Token}}
	})
	ch := push.New(nil, ok)
	to := notify.Target{Devices: []notify.Device{{Platform: notify.PlatformAPNs, Token: "i"}, {Platform: notify.PlatformFCM, Token: "x"}, {Platform: "webpush", Token: "w"}}}
	rcpt, err := ch.Send(context.Background(), to, notify.Page{IncidentID: 1})
	if err != nil || rcpt.Ref != "fcm:x" {
		t.Fatalf("%q %v", rcpt.Ref, err)
	}
	if _, err := ch.Send(context.Background(), notify.Target{}, notify.Page{}); !errors.Is(err, push.ErrNoDevices) || !notify.IsPermanent(err) {
		t.Fatalf("no devices: %v", err)
	}
	to.Devices = to.Devices[:1]
	if _, err := ch.Send(context.Background(), to, notify.Page{}); !errors.Is(err, notify.ErrOff) {
		t.Fatalf("apns off: %v", err)
	}
}

type provider func(notify.Device) push.Result

func (p provider) SendDevices(_ context.Context, to notify.Target, _ notify.Page) []push.Result {
	out := make([]push.Result, len(to.Devices))
	for i, d := range to.Devices {
		out[i] = p(d)
	}
	return out
}

func TestText(t *testing.T) {
	t.Parallel()
	title, sub, body := push.Text(notify.Page{IncidentID: 7, Service: "api", Severity: "critical", Escalation: "step 2 of ops",
		State: notify.StateAcknowledged, StateBy: "bob", Summary: strings.Repeat("é", 2000), Alerts: 3})
	if title != "Acknowledged: #7 api" || sub != "critical · step 2 of ops · by bob" {
		t.Errorf("%q %q", title, sub)
	}
	if len(body) > 1500 || !utf8.ValidString(body) || !strings.HasSuffix(body, "…") {
		t.Errorf("body of %d bytes, valid %v", len(body), utf8.ValidString(body))
	}
	if push.CollapseID(notify.Page{IncidentID: 7}) != "incident-7" || push.Redact("abcdefghij") != "…efghij" {
		t.Error("collapse id or redact")
	}
}
