package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// heartbeatSet is a service with an Alertmanager integration and a
// heartbeat monitor of the given timeout.
func heartbeatSet(timeout time.Duration) *manifest.Set {
	svc := storetest.Service("backups", "ops", "backups-prom")
	svc.Integrations = append(svc.Integrations, manifest.Integration{Name: "nightly-backup", Type: manifest.IntegrationHeartbeat, Timeout: timeout})
	return storetest.NewSet(storetest.User("alice"), storetest.Policy("ops", storetest.UserTarget("alice")), svc)
}

func heartbeats(t *testing.T, q store.Querier) []store.Heartbeat {
	t.Helper()
	hs, err := store.HeartbeatList(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func TestApplyHeartbeat(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	set := heartbeatSet(25 * time.Hour)
	plan := apply(t, pool, set, false)
	if len(plan.NewKeys) != 2 || plan.NewKeys[1].Integration != "nightly-backup" || plan.NewKeys[1].Type != manifest.IntegrationHeartbeat {
		t.Fatalf("NewKeys = %+v", plan.NewKeys)
	}
	requireSet(t, load(t, pool), set)
	hs := heartbeats(t, pool)
	if len(hs) != 1 || hs[0].Name != "nightly-backup" || hs[0].ServiceName != "backups" || hs[0].Timeout != 25*time.Hour ||
		hs[0].LastBeatAt != nil || hs[0].Missed || !hs[0].DueAt().IsZero() {
		t.Fatalf("heartbeats = %+v", hs)
	}

	// The same again changes nothing.
	if plan := apply(t, pool, heartbeatSet(25*time.Hour), false); len(plan.Changes) != 0 || len(plan.NewKeys) != 0 {
		t.Errorf("re-apply: %+v", plan)
	}

	// A new timeout is an update of the service; the key and the monitor's
	// state stay.
	ctx := context.Background()
	hashes := keyHashes(t, pool)
	beat := now.Add(time.Hour)
	if _, err := store.HeartbeatBeat(ctx, pool, hs[0].ID, beat); err != nil {
		t.Fatal(err)
	}
	set = heartbeatSet(2 * time.Hour)
	plan = apply(t, pool, set, false)
	requireChanges(t, plan, "update Service backups (integrations)")
	if len(plan.NewKeys) != 0 || fmt.Sprint(keyHashes(t, pool)) != fmt.Sprint(hashes) {
		t.Errorf("a new timeout changed keys: %+v", plan.NewKeys)
	}
	requireSet(t, load(t, pool), set)
	hs = heartbeats(t, pool)
	if len(hs) != 1 || hs[0].Timeout != 2*time.Hour || hs[0].LastBeatAt == nil || !hs[0].LastBeatAt.Equal(beat) {
		t.Fatalf("after the new timeout: %+v", hs)
	}

	// Another type: the monitor's state goes with its timeout, the key stays.
	set = heartbeatSet(0)
	set.Services[0].Integrations[1].Type = manifest.IntegrationGeneric
	requireChanges(t, apply(t, pool, set, false), "update Service backups (integrations)")
	requireSet(t, load(t, pool), set)
	if hs := heartbeats(t, pool); len(hs) != 0 {
		t.Errorf("heartbeats of no heartbeat: %+v", hs)
	}
	if n := count(t, pool, `SELECT count(*) FROM integrations WHERE last_beat_at IS NOT NULL OR heartbeat_missed OR heartbeat_timeout_seconds IS NOT NULL`); n != 0 {
		t.Errorf("%d integrations keep heartbeat state", n)
	}
	// And back: inactive again, until its next beat.
	apply(t, pool, heartbeatSet(time.Hour), false)
	if hs := heartbeats(t, pool); len(hs) != 1 || hs[0].LastBeatAt != nil || hs[0].Timeout != time.Hour {
		t.Errorf("heartbeat again: %+v", hs)
	}
	if fmt.Sprint(keyHashes(t, pool)) != fmt.Sprint(hashes) {
		t.Error("changing the type changed the key")
	}
}

func TestApplyHeartbeatErrors(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	for name, c := range map[string]struct {
		typ     string
		timeout time.Duration
		msg     string
	}{
		"no timeout":       {manifest.IntegrationHeartbeat, 0, `integration "nightly-backup": timeout 0s is not from 1m to 1000d`},
		"too short":        {manifest.IntegrationHeartbeat, 59 * time.Second, "is not from 1m to 1000d"},
		"too long":         {manifest.IntegrationHeartbeat, manifest.MaxHeartbeatTimeout + time.Second, "is not from 1m to 1000d"},
		"sub-second":       {manifest.IntegrationHeartbeat, time.Minute + time.Millisecond, "whole"},
		"timeout on other": {manifest.IntegrationGeneric, time.Hour, "only a heartbeat integration has a timeout"},
	} {
		set := heartbeatSet(c.timeout)
		set.Services[0].Integrations[1].Type = c.typ
		_, err := tryApply(t, pool, set, false, false)
		var oe *store.ObjectError
		if !errors.Is(err, oncall.ErrInvalid) || !strings.Contains(fmt.Sprint(err), c.msg) || !errors.As(err, &oe) || oe.Name != "backups" {
			t.Errorf("%s: err = %v; want ErrInvalid about service backups containing %q", name, err, c.msg)
		}
	}
}

func TestHeartbeatState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	apply(t, pool, heartbeatSet(time.Hour), false)
	h := heartbeats(t, pool)[0]
	prom := id(t, pool, "integrations", "backups-prom")

	overdue := func(at time.Time) []string {
		t.Helper()
		hs, err := store.HeartbeatsOverdue(ctx, pool, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range hs {
			names = append(names, h.Name)
		}
		return names
	}
	mark := func(at time.Time) (store.Heartbeat, error) {
		t.Helper()
		var out store.Heartbeat
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			out, err = store.HeartbeatMarkMissed(ctx, tx, h.ID, at)
			return err
		})
		return out, err
	}

	// Never beaten: inactive, never overdue.
	if got := overdue(now.Add(1000 * time.Hour)); len(got) != 0 {
		t.Errorf("overdue before the first beat: %v", got)
	}
	if _, err := mark(now.Add(1000 * time.Hour)); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("marking an inactive monitor: %v", err)
	}

	// A beat; overdue once the timeout has passed, not at its end.
	if missed, err := store.HeartbeatBeat(ctx, pool, h.ID, now); err != nil || missed {
		t.Fatalf("first beat = %v, %v", missed, err)
	}
	if got := overdue(now.Add(time.Hour)); len(got) != 0 {
		t.Errorf("overdue at the timeout: %v", got)
	}
	late := now.Add(time.Hour + time.Second)
	if got := overdue(late); len(got) != 1 || got[0] != "nightly-backup" {
		t.Errorf("overdue after the timeout = %v", got)
	}
	m, err := mark(late)
	if err != nil || m.Name != "nightly-backup" || m.ServiceName != "backups" || !m.Missed || !m.DueAt().Equal(now.Add(time.Hour)) {
		t.Fatalf("mark = %+v, %v", m, err)
	}
	// Marked once: neither overdue nor marked again.
	if got := overdue(late.Add(time.Hour)); len(got) != 0 {
		t.Errorf("overdue once marked: %v", got)
	}
	if _, err := mark(late.Add(time.Hour)); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("second mark: %v", err)
	}

	// The next beat reports the miss once and clears it.
	if missed, err := store.HeartbeatBeat(ctx, pool, h.ID, late.Add(time.Minute)); err != nil || !missed {
		t.Errorf("beat after the miss = %v, %v; want true", missed, err)
	}
	if missed, err := store.HeartbeatBeat(ctx, pool, h.ID, late.Add(2*time.Minute)); err != nil || missed {
		t.Errorf("beat after that = %v, %v; want false", missed, err)
	}
	// A beat from a clock behind never moves the last beat back.
	if _, err := store.HeartbeatBeat(ctx, pool, h.ID, now); err != nil {
		t.Fatal(err)
	}
	if got := heartbeats(t, pool)[0].LastBeatAt; got == nil || !got.Equal(late.Add(2*time.Minute)) {
		t.Errorf("last beat = %v", got)
	}

	// Only heartbeats beat.
	for _, id := range []int64{prom, 999999} {
		if _, err := store.HeartbeatBeat(ctx, pool, id, now); !errors.Is(err, oncall.ErrNotFound) {
			t.Errorf("beat of integration %d: %v; want ErrNotFound", id, err)
		}
	}
}

// A beat waits for a check that is marking the same monitor, and then sees
// its mark: never a miss without its resolution.
func TestHeartbeatBeatWaitsForMark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	apply(t, pool, heartbeatSet(time.Minute), false)
	h := heartbeats(t, pool)[0]
	if _, err := store.HeartbeatBeat(ctx, pool, h.ID, now); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := store.HeartbeatMarkMissed(ctx, tx, h.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func(pool *pgxpool.Pool) {
		missed, err := store.HeartbeatBeat(ctx, pool, h.ID, now.Add(time.Hour))
		if err != nil {
			t.Error(err)
		}
		done <- missed
	}(pool)
	select {
	case <-done:
		t.Fatal("the beat did not wait for the mark's transaction")
	case <-time.After(100 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if missed := <-done; !missed {
		t.Error("the beat did not see the committed mark")
	}
}
