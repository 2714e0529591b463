package ingest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/oncall/oncall/oncall"
)

// pdServer answers /v2/enqueue and /v2/change/enqueue with our parsers and
// response helpers, and remembers what it accepted.
type pdServer struct {
	mu      sync.Mutex
	keys    []string
	events  []oncall.AlertEvent
	changes []oncall.ChangeEvent
}

func (s *pdServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/enqueue", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			WritePagerDutyInvalid(w, err)
			return
		}
		key, ev, err := ParsePagerDutyEvent(body)
		if err != nil {
			WritePagerDutyInvalid(w, err)
			return
		}
		s.mu.Lock()
		s.keys = append(s.keys, key)
		s.events = append(s.events, ev)
		s.mu.Unlock()
		WritePagerDutyAccepted(w, ev.DedupKey)
	})
	mux.HandleFunc("POST /v2/change/enqueue", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			WritePagerDutyInvalid(w, err)
			return
		}
		key, ev, err := ParsePagerDutyChange(body)
		if err != nil {
			WritePagerDutyInvalid(w, err)
			return
		}
		s.mu.Lock()
		s.keys = append(s.keys, key)
		s.changes = append(s.changes, ev)
		s.mu.Unlock()
		WritePagerDutyChangeAccepted(w)
	})
	return mux
}

func (s *pdServer) last() (string, oncall.AlertEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1], s.events[len(s.events)-1]
}

const testRoutingKey = "0123456789abcdef0123456789abcdef"

// TestGoPagerDutyClient drives our endpoints with the real go-pagerduty
// client: it must decode every answer, and see a rejected event as its own
// error type carrying our 400 body.
func TestGoPagerDutyClient(t *testing.T) {
	t.Parallel()
	var s pdServer
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)
	client := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(srv.URL))
	client.HTTPClient = srv.Client()
	ctx := t.Context()

	// trigger with a dedup key and everything a trigger may carry
	resp, err := client.ManageEventWithContext(ctx, &pagerduty.V2Event{
		RoutingKey: testRoutingKey,
		Action:     "trigger",
		DedupKey:   "srv01/mysql",
		Client:     "go-pagerduty test",
		ClientURL:  "https://monitor.example/srv01",
		Links:      []any{map[string]any{"href": "https://runbook.example/disk", "text": "Runbook"}},
		Images:     []any{map[string]any{"src": "https://img.example/disk.png", "href": "https://img.example", "alt": "disk"}},
		Payload: &pagerduty.V2Payload{
			Summary:   "DISK at 99%",
			Source:    "srv01",
			Severity:  "critical",
			Timestamp: "2015-07-17T08:42:58.315+0000",
			Component: "mysql",
			Group:     "prod",
			Class:     "disk",
			Details:   map[string]any{"free": "1%", "mounts": []string{"/", "/var"}},
		},
	})
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	if want := (pagerduty.V2EventResponse{Status: "success", Message: "Event processed", DedupKey: "srv01/mysql"}); !reflect.DeepEqual(*resp, want) {
		t.Errorf("trigger response %+v, want %+v", *resp, want)
	}
	key, ev := s.last()
	want := oncall.AlertEvent{
		DedupKey:  "srv01/mysql",
		Action:    oncall.ActionTrigger,
		Summary:   "DISK at 99%",
		Severity:  oncall.SeverityCritical,
		Source:    "srv01",
		Labels:    map[string]string{"component": "mysql", "group": "prod", "class": "disk"},
		Details:   json.RawMessage(`{"free":"1%","mounts":["/","/var"]}`),
		Links:     []oncall.Link{{Href: "https://runbook.example/disk", Text: "Runbook"}},
		Images:    []oncall.Image{{Src: "https://img.example/disk.png", Href: "https://img.example", Alt: "disk"}},
		Client:    "go-pagerduty test",
		ClientURL: "https://monitor.example/srv01",
	}
	if key != testRoutingKey || !reflect.DeepEqual(ev, want) {
		t.Errorf("server got %q %+v\nwant %+v", key, ev, want)
	}

	// trigger without a dedup key: the answer carries the new one
	resp, err = client.ManageEventWithContext(ctx, &pagerduty.V2Event{
		RoutingKey: testRoutingKey, Action: "trigger",
		Payload: &pagerduty.V2Payload{Summary: "no key", Source: "srv02", Severity: "info"},
	})
	if err != nil {
		t.Fatalf("trigger without key: %v", err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(resp.DedupKey) {
		t.Errorf("new dedup key %q", resp.DedupKey)
	}
	if _, ev := s.last(); ev.DedupKey != resp.DedupKey {
		t.Errorf("answered key %q, parsed key %q", resp.DedupKey, ev.DedupKey)
	}

	// acknowledge and resolve: no payload
	for _, action := range []string{"acknowledge", "resolve"} {
		resp, err := client.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: testRoutingKey, Action: action, DedupKey: "srv01/mysql"})
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		if resp.Status != "success" || resp.DedupKey != "srv01/mysql" || resp.Message != "Event processed" {
			t.Errorf("%s response %+v", action, resp)
		}
		if _, ev := s.last(); !reflect.DeepEqual(ev, oncall.AlertEvent{Action: oncall.AlertAction(action), DedupKey: "srv01/mysql"}) {
			t.Errorf("%s parsed as %+v", action, ev)
		}
	}

	// change event
	cresp, err := client.CreateChangeEventWithContext(ctx, pagerduty.ChangeEvent{
		RoutingKey: testRoutingKey,
		Payload: pagerduty.ChangeEventPayload{
			Summary:       "deployed payments v42",
			Source:        "ci",
			Timestamp:     "2026-11-23T10:15:00Z",
			CustomDetails: map[string]any{"commit": "abc123"},
		},
		Links: []pagerduty.ChangeEventLink{{Href: "https://ci.example/42", Text: "build"}},
	})
	if err != nil {
		t.Fatalf("change: %v", err)
	}
	if want := (pagerduty.ChangeEventResponse{Status: "success", Message: "Change event processed"}); !reflect.DeepEqual(*cresp, want) {
		t.Errorf("change response %+v", *cresp)
	}
	s.mu.Lock()
	ch := s.changes[len(s.changes)-1]
	s.mu.Unlock()
	wantCh := oncall.ChangeEvent{
		Summary:   "deployed payments v42",
		Source:    "ci",
		Timestamp: time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC),
		Details:   json.RawMessage(`{"commit":"abc123"}`),
		Links:     []oncall.Link{{Href: "https://ci.example/42", Text: "build"}},
	}
	if !reflect.DeepEqual(ch, wantCh) {
		t.Errorf("change parsed as %+v\nwant %+v", ch, wantCh)
	}

	// an invalid event: the library's error, our body
	bad := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(srv.URL))
	bad.HTTPClient = srv.Client()
	bad.SetDebugFlag(pagerduty.DebugCaptureLastResponse)
	_, err = bad.ManageEventWithContext(ctx, &pagerduty.V2Event{
		RoutingKey: testRoutingKey, Action: "trigger",
		Payload: &pagerduty.V2Payload{Summary: strings.Repeat("x", 1025), Severity: "high"},
	})
	wantErrors := []string{
		"payload.summary: 1025 characters, at most 1024",
		"payload.source: must not be empty",
		`payload.severity: want "critical", "error", "warning" or "info", got "high"`,
	}
	checkClientError(t, bad, err, wantErrors)

	_, err = bad.CreateChangeEventWithContext(ctx, pagerduty.ChangeEvent{RoutingKey: testRoutingKey})
	checkClientError(t, bad, err, []string{"payload.summary: must not be empty"})

	_, err = bad.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: testRoutingKey, Action: "resolve"})
	checkClientError(t, bad, err, []string{"dedup_key: required to resolve"})
}

func checkClientError(t *testing.T, c *pagerduty.Client, err error, wantErrors []string) {
	t.Helper()
	var apiErr pagerduty.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		t.Fatalf("error %T %v, want a pagerduty.APIError with status 400", err, err)
	}
	resp, ok := c.LastAPIResponse()
	if !ok {
		t.Fatal("no captured response")
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": wantErrors})
	sameJSON(t, body, want)

	// What ManageEventWithContext (the package function) decodes a non-202
	// answer into.
	var v2 pagerduty.EventsAPIV2Error
	if err := json.Unmarshal(body, &v2); err != nil {
		t.Fatal(err)
	}
	v2.StatusCode = resp.StatusCode
	if !v2.BadRequest() || !v2.APIError.Valid || v2.APIError.ErrorObject.Status != "invalid event" ||
		!reflect.DeepEqual(v2.APIError.ErrorObject.Errors, wantErrors) {
		t.Errorf("EventsAPIV2Error %+v", v2)
	}
	if !strings.Contains(v2.Error(), "status: invalid event, message: Event object is invalid: "+wantErrors[0]) {
		t.Errorf("EventsAPIV2Error text %q", v2.Error())
	}
}

// TestPagerDutyResponses pins the exact bytes of each answer.
func TestPagerDutyResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(http.ResponseWriter)
		code  int
		body  string
	}{
		{"accepted", func(w http.ResponseWriter) { WritePagerDutyAccepted(w, "k1") }, 202,
			`{"status":"success","message":"Event processed","dedup_key":"k1"}`},
		{"change accepted", WritePagerDutyChangeAccepted, 202,
			`{"status":"success","message":"Change event processed"}`},
		{"invalid", func(w http.ResponseWriter) {
			WritePagerDutyInvalid(w, &Error{Msg: msgPagerDuty, Details: []string{"routing_key: required", "event_action: required"}})
		}, 400, `{"status":"invalid event","message":"Event object is invalid","errors":["routing_key: required","event_action: required"]}`},
		{"invalid, other error", func(w http.ResponseWriter) { WritePagerDutyInvalid(w, errors.New("boom")) }, 400,
			`{"status":"invalid event","message":"Event object is invalid","errors":["boom"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			tt.write(rec)
			if rec.Code != tt.code || rec.Body.String() != tt.body || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("got %d %s %q", rec.Code, rec.Body, rec.Header().Get("Content-Type"))
			}
			var r pagerduty.V2EventResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPagerDutyNewKey(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event_action":"trigger","payload":{"summary":"s","source":"x","severity":"error"}}`)
	_, ev, err := parsePagerDutyEvent(body, false, func() string { return "fixed" })
	if err != nil || ev.DedupKey != "fixed" || ev.Severity != oncall.SeverityError {
		t.Fatalf("%+v %v", ev, err)
	}
	// at /v2/enqueue the routing key is required
	if _, _, err := ParsePagerDutyEvent(body); err == nil || err.Error() != "Event object is invalid: routing_key: required" {
		t.Errorf("err %v", err)
	}
	// through the dispatcher it is not
	ev, err = Parse(TypePagerDuty, body)
	if err != nil || len(ev.DedupKey) != 32 {
		t.Errorf("Parse: %+v %v", ev, err)
	}
	ev2, _ := Parse(TypePagerDuty, body)
	if ev2.DedupKey == ev.DedupKey {
		t.Error("two keyless triggers got the same key")
	}
}
