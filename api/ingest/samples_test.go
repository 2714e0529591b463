package ingest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/oncall/oncall/oncall"
)

// samplesDir is testdata/samples at the module root (found by walking up
// to go.mod; copies of ../shared/samples, kept as captured), or "" when it
// isn't there.
func samplesDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "testdata", "samples")
			if fi, err := os.Stat(s); err == nil && fi.IsDir() {
				return s
			}
			return ""
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// capture is one captured request: {"headers", "json", "method", "path", "time"}.
type capture struct {
	Headers map[string][]string `json:"headers"`
	JSON    json.RawMessage     `json:"json"`
	Method  string              `json:"method"`
	Path    string              `json:"path"`
}

// readSample returns a capture's body as it arrived, or ok=false.
func readSample(name string) (capture, bool) {
	dir := samplesDir()
	if dir == "" {
		return capture{}, false
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return capture{}, false
	}
	var c capture
	if err := json.Unmarshal(b, &c); err != nil || len(c.JSON) == 0 {
		return capture{}, false
	}
	return c, true
}

func sample(t testing.TB, name string) capture {
	t.Helper()
	c, ok := readSample(name)
	if !ok {
		t.Skipf("sample %s not found under testdata/samples at the module root; skipping", name)
	}
	return c
}

// sampleNames are the captures, for fuzz seeds.
var sampleNames = []string{
	"am-webhook-firing.json", "am-webhook-resolved.json",
	"am-pagerduty-trigger.json", "go-pagerduty-trigger.json", "pdjs-trigger.json",
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// sameJSON compares two JSON documents by meaning.
func sameJSON(t testing.TB, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs:\n got %s\nwant %s", got, want)
	}
}

const amGroupKey = `{}/{alertname=~".+"}:{alertname="DiskFull"}`

func TestSampleAlertmanagerFiring(t *testing.T) {
	t.Parallel()
	c := sample(t, "am-webhook-firing.json")
	ev, err := ParseAlertmanager(c.JSON)
	if err != nil {
		t.Fatal(err)
	}
	want := oncall.AlertEvent{
		DedupKey:    amGroupKey,
		Action:      oncall.ActionTrigger,
		Summary:     "[FIRING:2] DiskFull (critical)",
		Severity:    oncall.SeverityCritical,
		Labels:      map[string]string{"alertname": "DiskFull", "severity": "critical"},
		Annotations: map[string]string{},
		Details:     json.RawMessage(`{"receiver":"hook"}`),
		Client:      "Alertmanager",
		ClientURL:   "http://127.0.0.1:19093",
		Alerts: []oncall.Alert{{
			Fingerprint:  "efb0c6c488e007da",
			Summary:      "Disk full on db1",
			Labels:       map[string]string{"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"},
			Annotations:  map[string]string{"description": "95% used", "summary": "Disk full on db1"},
			StartsAt:     mustTime(t, "2026-11-23T10:13:18.736433436Z"),
			GeneratorURL: "http://prom.local/graph",
		}, {
			Fingerprint:  "db73c85864f826bb",
			Summary:      "Disk full on db2",
			Labels:       map[string]string{"alertname": "DiskFull", "instance": "db2:9100", "severity": "critical"},
			Annotations:  map[string]string{"summary": "Disk full on db2"},
			StartsAt:     mustTime(t, "2026-11-23T10:13:18.750113166Z"),
			GeneratorURL: "http://prom.local/graph2",
		}},
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
	// The same group through Alertmanager's pagerduty receiver gets the same title.
	if pd, ok := readSample("am-pagerduty-trigger.json"); ok {
		_, pev, err := ParsePagerDutyEvent(pd.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if pev.Summary != ev.Summary {
			t.Errorf("webhook summary %q, pagerduty receiver summary %q", ev.Summary, pev.Summary)
		}
	}
	// The dispatcher, and Grafana's parser (the same shape), agree.
	dev, err := Parse(TypeAlertmanager, c.JSON)
	if err != nil || !reflect.DeepEqual(dev, ev) {
		t.Errorf("Parse(alertmanager) = %+v, %v", dev, err)
	}
	gev, err := ParseGrafana(c.JSON)
	if err != nil || gev.DedupKey != amGroupKey || gev.Client != "Grafana" || len(gev.Alerts) != 2 || gev.Summary != ev.Summary {
		t.Errorf("ParseGrafana = %+v, %v", gev, err)
	}
}

func TestSampleAlertmanagerResolved(t *testing.T) {
	t.Parallel()
	c := sample(t, "am-webhook-resolved.json")
	ev, err := ParseAlertmanager(c.JSON)
	if err != nil {
		t.Fatal(err)
	}
	want := oncall.AlertEvent{
		DedupKey:    amGroupKey,
		Action:      oncall.ActionResolve,
		Summary:     "[RESOLVED] DiskFull (db1:9100 critical)",
		Severity:    oncall.SeverityCritical,
		Labels:      map[string]string{"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"},
		Annotations: map[string]string{},
		Details:     json.RawMessage(`{"receiver":"hook"}`),
		Client:      "Alertmanager",
		ClientURL:   "http://127.0.0.1:19093",
		Alerts: []oncall.Alert{{
			Fingerprint: "efb0c6c488e007da",
			Resolved:    true,
			Summary:     "DiskFull",
			Labels:      map[string]string{"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"},
			Annotations: map[string]string{},
			StartsAt:    mustTime(t, "2026-11-23T10:13:18.736433436Z"),
			EndsAt:      mustTime(t, "2026-11-23T10:13:43Z"),
		}},
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
}

func TestSamplesPagerDuty(t *testing.T) {
	t.Parallel()
	const routingKey = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		file        string
		contentType string
		want        oncall.AlertEvent
		details     string // the sample's custom_details, compared by meaning
	}{{
		file:        "am-pagerduty-trigger.json",
		contentType: "application/json",
		want: oncall.AlertEvent{
			DedupKey:  "869b8a39f58eec59c96087ad8d6128a464db57978cea4a653380e9e2ca4edaed",
			Action:    oncall.ActionTrigger,
			Summary:   "[FIRING:2] DiskFull (critical)",
			Severity:  oncall.SeverityCritical,
			Source:    "Alertmanager",
			Client:    "Alertmanager",
			ClientURL: "http://127.0.0.1:19093/#/alerts?receiver=pd",
		},
	}, {
		file:        "go-pagerduty-trigger.json",
		contentType: "application/json",
		want: oncall.AlertEvent{
			DedupKey: "srv01/mysql",
			Action:   oncall.ActionTrigger,
			Summary:  "DISK at 99%",
			Severity: oncall.SeverityCritical,
			Source:   "srv01",
			Labels:   map[string]string{"class": "disk", "component": "mysql", "group": "prod"},
			Client:   "go-pagerduty test",
		},
		details: `{"free":"1%"}`,
	}, {
		file:        "pdjs-trigger.json",
		contentType: "application/json; charset=utf-8",
		want: oncall.AlertEvent{
			DedupKey: "pdjs-1",
			Action:   oncall.ActionTrigger,
			Summary:  "pdjs test",
			Severity: oncall.SeverityWarning,
			Source:   "node",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			c := sample(t, tt.file)
			if c.Path != "/v2/enqueue" {
				t.Errorf("captured at %s", c.Path)
			}
			if got := c.Headers["Content-Type"]; len(got) != 1 || got[0] != tt.contentType {
				t.Errorf("Content-Type %v, want %q", got, tt.contentType)
			}
			key, ev, err := ParsePagerDutyEvent(c.JSON)
			if err != nil {
				t.Fatal(err)
			}
			if key != routingKey {
				t.Errorf("routing key %q", key)
			}
			wantDetails := tt.details
			if tt.file == "am-pagerduty-trigger.json" {
				var raw struct {
					Payload struct {
						CustomDetails json.RawMessage `json:"custom_details"`
					} `json:"payload"`
				}
				if err := json.Unmarshal(c.JSON, &raw); err != nil {
					t.Fatal(err)
				}
				wantDetails = string(raw.Payload.CustomDetails)
			}
			if wantDetails == "" {
				if ev.Details != nil {
					t.Errorf("details %s, want none", ev.Details)
				}
			} else {
				sameJSON(t, ev.Details, []byte(wantDetails))
			}
			ev.Details = nil
			if !reflect.DeepEqual(ev, tt.want) {
				t.Errorf("got  %+v\nwant %+v", ev, tt.want)
			}
			// At /v1/alerts/{key} of a pagerduty integration: the same event.
			dev, err := Parse(TypePagerDuty, c.JSON)
			dev.Details = nil
			if err != nil || !reflect.DeepEqual(dev, tt.want) {
				t.Errorf("Parse(pagerduty) = %+v, %v", dev, err)
			}
			// And as any other format it is a clear 400, not a panic or an event.
			_, err = ParseAlertmanager(c.JSON)
			var e *Error
			if !errors.As(err, &e) || len(e.Details) != 1 || e.Details[0] != "alerts: required" {
				t.Errorf("ParseAlertmanager(pagerduty body) = %v", err)
			}
		})
	}
}
