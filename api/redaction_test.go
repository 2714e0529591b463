package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/oncall/oncall/api"
)

// The access log and a panic's log name the route's pattern, never the
// path: paths hold integration keys, calendar tokens and device tokens.
func TestLogsNameRoutesNotPaths(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	srv := api.NewServer(zerolog.New(&logs).Level(zerolog.DebugLevel), prometheus.NewRegistry(), func(context.Context) error { return nil })
	srv.Mux.HandleFunc("POST /v1/alerts/{key}", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("panic") != "" {
			panic("boom")
		}
		w.WriteHeader(http.StatusAccepted)
	})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	const key = "Zq9SecretIntegrationKeyForTheLogTest0000001"
	for _, q := range []string{"", "?panic=1", "/extra/segments"} {
		resp, err := http.Post(ts.URL+"/v1/alerts/"+key+q, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := logs.String()
	if strings.Contains(got, key) {
		t.Errorf("the log holds the key:\n%s", got)
	}
	for _, want := range []string{`"route":"POST /v1/alerts/{key}","code":202`, `"message":"handler panicked"`, `"route":"unmatched","code":404`} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %s:\n%s", want, got)
		}
	}
}
