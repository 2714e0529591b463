package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/oncall/oncall/api"
	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

func post(t *testing.T, url string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("POST %s: %d %q is not JSON", url, resp.StatusCode, data)
	}
	return resp.StatusCode, out
}

func TestHeartbeatEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	t0 := time.Date(2026, time.November, 2, 3, 0, 0, 0, time.UTC)
	clock := oncall.NewManualClock(t0)

	svc := storetest.Service("backups", "ops", "backups-prom")
	svc.Integrations = append(svc.Integrations, manifest.Integration{Name: "nightly-backup", Type: manifest.IntegrationHeartbeat, Timeout: 25 * time.Hour})
	var plan *store.Plan
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		plan, err = store.ApplyConfig(ctx, tx, storetest.NewSet(storetest.User("alice"), storetest.Policy("ops", storetest.UserTarget("alice")), svc),
			store.ApplyOptions{Now: t0, Actor: "test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, k := range plan.NewKeys {
		keys[k.Integration] = k.Key
	}

	engine := jobs.NewEngine(pool, clock, nil)
	workers := river.NewWorkers()
	engine.Workers(workers)
	engine.HeartbeatWorkers(workers)
	rc, err := jobs.NewRiver(pool, workers, slog.New(slog.DiscardHandler), clock)
	if err != nil {
		t.Fatal(err)
	}
	engine.SetRiver(rc)

	srv := api.NewServer(zerolog.Nop(), prometheus.NewRegistry(), func(context.Context) error { return nil })
	(&api.Heartbeats{DB: pool, Engine: engine}).Register(srv.Mux)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	url := ts.URL + "/v1/heartbeats/"

	// Unknown keys, and keys of other integrations, get the same 404.
	for _, key := range []string{"nope", keys["backups-prom"]} {
		if code, body := post(t, url+key, nil); code != http.StatusNotFound || body["error"] != "unknown integration key" || len(body) != 1 {
			t.Errorf("POST with key %q = %d %v; want 404 unknown integration key", key, code, body)
		}
	}

	// A beat, whatever its body.
	if code, body := post(t, url+keys["nightly-backup"], []byte("backup done in 42 min")); code != http.StatusAccepted || body["status"] != "accepted" || len(body) != 1 {
		t.Fatalf("beat = %d %v", code, body)
	}
	hs, err := store.HeartbeatList(ctx, pool)
	if err != nil || len(hs) != 1 || hs[0].LastBeatAt == nil || !hs[0].LastBeatAt.Equal(t0) {
		t.Fatalf("after the beat: %+v, %v", hs, err)
	}

	// Missed, then the next beat resolves the incident and says which.
	clock.Advance(26 * time.Hour)
	if n, err := engine.CheckHeartbeats(ctx); n != 1 || err != nil {
		t.Fatalf("CheckHeartbeats = %d, %v", n, err)
	}
	open, err := store.IncidentListOpen(ctx, pool, 10)
	if err != nil || len(open) != 1 {
		t.Fatalf("open incidents: %d, %v", len(open), err)
	}
	code, body := post(t, url+keys["nightly-backup"], nil)
	if code != http.StatusAccepted || body["status"] != "accepted" || body["resolved_incident_id"] != float64(open[0].ID) {
		t.Errorf("beat after the miss = %d %v; want incident %d resolved", code, body, open[0].ID)
	}
	if open, _ := store.IncidentListOpen(ctx, pool, 10); len(open) != 0 {
		t.Errorf("%d incidents still open", len(open))
	}

	// Too large a body.
	if code, _ := post(t, url+keys["nightly-backup"], []byte(strings.Repeat("x", api.MaxBody+1))); code != http.StatusRequestEntityTooLarge {
		t.Errorf("big body: %d; want 413", code)
	}

	// The database down: 503, so the sender tries again.
	down, err := store.Open(ctx, storetest.URL(pool))
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	srv2 := api.NewServer(zerolog.Nop(), prometheus.NewRegistry(), func(context.Context) error { return nil })
	(&api.Heartbeats{DB: down, Engine: engine}).Register(srv2.Mux)
	ts2 := httptest.NewServer(srv2.Handler())
	defer ts2.Close()
	if code, body := post(t, ts2.URL+"/v1/heartbeats/"+keys["nightly-backup"], nil); code != http.StatusServiceUnavailable {
		t.Errorf("database down: %d %v; want 503", code, body)
	}
}
