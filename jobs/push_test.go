package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/apns"
	"github.com/oncall/oncall/notify/apns/apnstest"
	"github.com/oncall/oncall/notify/push"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// pushSetup is alice, paged by push at once and by sms (off here) after
// 10m, with the push channel over a fake APNs.
func pushSetup(t *testing.T) (*jobstest.Bundle, *apnstest.Server) {
	t.Helper()
	alice := storetest.User("alice")
	alice.NotificationRules = []manifest.NotificationRule{
		{After: 0, Notify: []string{manifest.NotifyPush}},
		{After: 10 * time.Minute, Notify: []string{"cell"}},
	}
	set := storetest.NewSet(alice, storetest.Policy("ops", storetest.UserTarget("alice")), storetest.Service("api", "ops", "hook"))
	srv := apnstest.New(t)
	ch, err := apns.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	b := jobstest.New(t, set, map[string]notify.Channel{notify.MethodPush: push.New(ch, nil)})
	return b, srv
}

// pairPhone pairs a phone for user and registers its APNs token.
func pairPhone(t *testing.T, b *jobstest.Bundle, user, deviceToken string) {
	t.Helper()
	ctx := context.Background()
	now := b.Clock.Now()
	code, err := store.PairingCodeCreate(ctx, b.Pool, user, now)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := store.PairingCodeRedeem(ctx, b.Pool, code, "phone", now)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := store.MobileTokenLookup(ctx, b.Pool, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.DeviceRegister(ctx, b.Pool, sess.ID, user, store.PlatformAPNs, deviceToken, now); err != nil {
		t.Fatal(err)
	}
}

// A page reaches the phone that still works; the one whose app is gone is
// removed, and the page counts as delivered (no fallback to the next rule).
func TestPushRemovesUnregisteredDevice(t *testing.T) {
	t.Parallel()
	b, srv := pushSetup(t)
	good, gone := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	pairPhone(t, b, "alice", good)
	pairPhone(t, b, "alice", gone)
	srv.Unregister(gone)

	id := b.Trigger(t, "hook", "k", "disk full")
	b.Settle(t)
	tl := strings.Join(b.Timeline(t, id), "\n")
	for _, want := range []string{"notified alice by push", "removed 1 phone(s) of alice"} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	if strings.Contains(tl, "moved alice's next notification rule forward") {
		t.Errorf("a delivered push fell through:\n%s", tl)
	}
	if p := srv.Pushes(); len(p) != 1 || p[0].DeviceToken != good {
		t.Fatalf("pushes: %+v", p)
	}
	devices, err := store.DevicesForUser(context.Background(), b.Pool, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(devices) != 1 || devices[0].Token != good {
		t.Fatalf("devices after the page: %+v", devices)
	}
}

// A user without a paired phone, or whose only phone is gone, is not
// waited on: the push fails at once and the next rule comes forward.
func TestPushWithoutPhoneFallsThrough(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		phone bool
	}{{"no phone", false}, {"phone gone", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, srv := pushSetup(t)
			if tc.phone {
				tok := strings.Repeat("c3", 32)
				pairPhone(t, b, "alice", tok)
				srv.Unregister(tok)
			}
			id := b.Trigger(t, "hook", "k", "disk full")
			b.Settle(t)
			tl := strings.Join(b.Timeline(t, id), "\n")
			for _, want := range []string{"notifying alice by push failed", "moved alice's next notification rule forward", "notifying alice by sms cell"} {
				if !strings.Contains(tl, want) {
					t.Errorf("timeline lacks %q:\n%s", want, tl)
				}
			}
			if !tc.phone && !strings.Contains(tl, "no registered phone") {
				t.Errorf("timeline does not say why:\n%s", tl)
			}
			if len(srv.Pushes()) != 0 {
				t.Errorf("pushes: %+v", srv.Pushes())
			}
		})
	}
}
