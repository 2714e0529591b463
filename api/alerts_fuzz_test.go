package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/oncall/oncall/api"
	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store/storetest"
)

// FuzzAlertEndpoints: any body posted to an alert endpoint (each format's
// /v1/alerts/{key}, PagerDuty's /v2/enqueue and /v2/change/enqueue) is
// answered 202, 400, 404 or 413 with a JSON body, never a 5xx nor a panic,
// through the server's whole handler over a real engine and database.
// "ROUTING_KEY" in a body is replaced by the PagerDuty integration's key,
// so mutations reach past the key lookup.
func FuzzAlertEndpoints(f *testing.F) {
	if os.Getenv("ONCALL_TEST_DATABASE_URL") == "" {
		f.Skip("ONCALL_TEST_DATABASE_URL is not set")
	}
	seeds := []struct {
		endpoint uint8
		body     string
	}{
		{0, `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"x","severity":"critical"},"fingerprint":"f"}]}`},
		{0, `{"groupKey":"g","status":"resolved","alerts":[{"status":"resolved","fingerprint":"f"}]}`},
		{1, `{"title":"t","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"values":{"A":1}}]}`},
		{2, `{"summary":"disk full","severity":"critical","labels":{"k":"'; DROP TABLE incidents; --"},"details":{"x":[1,{"y":null}]}}`},
		{2, `{"summary":"a\u0000b\ud800","status":"ack","dedup_key":"k"}`},
		{2, "{\"summary\":\"caf\xe9\"}"},
		{3, `{"routing_key":"ROUTING_KEY","event_action":"trigger","dedup_key":"d","payload":{"summary":"s","source":"x","severity":"info","custom_details":{"a":[1,2]}}}`},
		{3, `{"routing_key":"ROUTING_KEY","event_action":"resolve","dedup_key":"d"}`},
		{3, `{"routing_key":"nope","event_action":"trigger"}`},
		{4, `{"routing_key":"ROUTING_KEY","payload":{"summary":"deploy","timestamp":"2026-01-01T00:00:00Z","custom_details":{}}}`},
		{2, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`},
		{0, ``},
	}
	for _, s := range seeds {
		f.Add(s.endpoint, []byte(s.body))
	}

	svc := &manifest.Service{Name: "api", EscalationPolicy: "ops", Integrations: []manifest.Integration{
		{Name: "am", Type: manifest.IntegrationAlertmanager},
		{Name: "graf", Type: manifest.IntegrationGrafana},
		{Name: "hook", Type: manifest.IntegrationGeneric},
		{Name: "pd", Type: manifest.IntegrationPagerDuty},
	}}
	b := jobstest.New(f, storetest.NewSet(storetest.User("alice"), storetest.Policy("ops", storetest.UserTarget("alice")), svc), nil)
	srv := api.NewServer(zerolog.Nop(), prometheus.NewRegistry(), func(context.Context) error { return nil })
	(&api.Alerts{DB: b.Pool, Engine: b.Engine}).Register(srv.Mux)
	h := srv.Handler()
	paths := []string{"/v1/alerts/" + b.Keys["am"], "/v1/alerts/" + b.Keys["graf"], "/v1/alerts/" + b.Keys["hook"], "/v2/enqueue", "/v2/change/enqueue"}

	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte) {
		path := paths[int(endpoint)%len(paths)]
		body = bytes.ReplaceAll(body, []byte("ROUTING_KEY"), []byte(b.Keys["pd"]))
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %s %q: %d, not JSON: %q", path, body, rec.Code, rec.Body)
		}
	})
}
