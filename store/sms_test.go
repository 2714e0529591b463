package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

func TestSMSPhoneOptOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	const phone = "+14155550100"

	optedOut := func() bool {
		t.Helper()
		out, err := store.SMSPhoneOptedOut(ctx, pool, phone)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if optedOut() {
		t.Fatal("a phone never heard from is opted out")
	}
	if err := store.SMSPhoneOptOut(ctx, pool, phone, true, now); err != nil {
		t.Fatal(err)
	}
	if !optedOut() {
		t.Fatal("STOP did not opt out")
	}
	// STOP twice keeps the first time.
	if err := store.SMSPhoneOptOut(ctx, pool, phone, true, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var at time.Time
	if err := pool.QueryRow(ctx, `SELECT opted_out_at FROM sms_phones WHERE phone = $1`, phone).Scan(&at); err != nil || !at.Equal(now) {
		t.Errorf("opted_out_at = %v, %v; want %v", at, err, now)
	}
	if err := store.SMSPhoneOptOut(ctx, pool, phone, false, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if optedOut() {
		t.Fatal("START did not opt back in")
	}
	if n := count(t, pool, `SELECT count(*) FROM sms_phones WHERE opted_out_at IS NULL`); n != 1 {
		t.Errorf("opted_out_at kept after START")
	}
	if err := store.SMSPhoneOptOut(ctx, pool, "", true, now); err == nil {
		t.Error("an empty phone was accepted")
	}
}

func TestSMSPhoneIdle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	const a, b = "+14155550100", "+14155550101"

	idle := func(phone string, want int) {
		t.Helper()
		n, err := store.SMSPhoneIdle(ctx, pool, phone, now)
		if err != nil || n != want {
			t.Fatalf("SMSPhoneIdle(%s) = %d, %v; want %d", phone, n, err, want)
		}
	}
	idle(a, 1)
	idle(a, 2)
	idle(b, 1) // per phone
	idle(a, 3)
	if err := store.SMSPhoneActive(ctx, pool, a, now); err != nil {
		t.Fatal(err)
	}
	idle(a, 1)
	idle(b, 2)
	// START starts over too; STOP does not.
	if err := store.SMSPhoneOptOut(ctx, pool, b, true, now); err != nil {
		t.Fatal(err)
	}
	idle(b, 3)
	if err := store.SMSPhoneOptOut(ctx, pool, b, false, now); err != nil {
		t.Fatal(err)
	}
	idle(b, 1)
	// A phone that first sends something that works gets a row too.
	if err := store.SMSPhoneActive(ctx, pool, "+14155550102", now); err != nil {
		t.Fatal(err)
	}
	idle("+14155550102", 1)
}

func TestSMSPagedIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

	incident := func(state string) int64 {
		t.Helper()
		var id int64
		resolved := any(nil)
		if state == store.StateResolved {
			resolved = now
		}
		err := pool.QueryRow(ctx, `
INSERT INTO incidents (service_name, dedup_key, state, summary, severity, urgency, paging, created_at, updated_at, resolved_at)
VALUES ('api', gen_random_uuid()::text, $1, 'disk full', 'critical', 'high', true, $2, $2, $3) RETURNING id`,
			state, now, resolved).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	notify := func(id int64, user, method, state string) {
		t.Helper()
		_, err := pool.Exec(ctx, `
INSERT INTO notifications (incident_id, user_name, method, escalation_step, escalation_loop, due_at, state, created_at, sent_at)
VALUES ($1, $2, $3, 0, 0, $4, $5, $4, CASE WHEN $5 = 'sent' THEN $4::timestamptz END)`, id, user, method, now, state)
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b, acked, resolved, failed, bySlack, bob := incident("triggered"), incident("triggered"),
		incident("acknowledged"), incident("resolved"), incident("triggered"), incident("triggered"), incident("triggered")
	for _, id := range []int64{b, a, acked, resolved} {
		notify(id, "alice", "sms", "sent")
	}
	notify(a, "alice", "sms", "sent") // twice: listed once
	notify(failed, "alice", "sms", "failed")
	notify(bySlack, "alice", "slack", "sent")
	notify(bob, "bob", "sms", "sent")

	got, err := store.SMSPagedIncidents(ctx, pool, "alice", 10)
	if err != nil || !slices.Equal(got, []int64{a, b}) {
		t.Errorf("SMSPagedIncidents(alice) = %v, %v; want %v", got, err, []int64{a, b})
	}
	got, err = store.SMSPagedIncidents(ctx, pool, "alice", 1)
	if err != nil || !slices.Equal(got, []int64{a}) {
		t.Errorf("SMSPagedIncidents(alice, limit 1) = %v, %v; want %v", got, err, []int64{a})
	}
	got, err = store.SMSPagedIncidents(ctx, pool, "carol", 10)
	if err != nil || len(got) != 0 {
		t.Errorf("SMSPagedIncidents(carol) = %v, %v; want none", got, err)
	}
}
