package ingest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oncall/oncall/oncall"
)

func mustAM(t *testing.T, body string) oncall.AlertEvent {
	t.Helper()
	ev, err := ParseAlertmanager([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestAlertmanagerPartialResolve(t *testing.T) {
	t.Parallel()
	// The group stays firing while one of its alerts has resolved.
	ev := mustAM(t, `{"version":"4","groupKey":"g","status":"firing",
		"groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"DiskFull"},
		"alerts":[
		 {"status":"resolved","fingerprint":"a","labels":{"alertname":"DiskFull","instance":"db1","severity":"warning"},"endsAt":"2026-11-23T10:13:43Z"},
		 {"status":"firing","fingerprint":"b","labels":{"alertname":"DiskFull","instance":"db2","severity":"error"},"endsAt":"2026-11-23T11:00:00Z"}]}`)
	if ev.Action != oncall.ActionTrigger || len(ev.Alerts) != 2 || !ev.Alerts[0].Resolved || ev.Alerts[1].Resolved {
		t.Fatalf("%+v", ev)
	}
	if !ev.Alerts[1].EndsAt.IsZero() {
		t.Errorf("a firing alert's EndsAt is zero, got %v", ev.Alerts[1].EndsAt)
	}
	// No common severity: the most urgent of the firing alerts.
	if ev.Severity != oncall.SeverityError {
		t.Errorf("severity %q", ev.Severity)
	}
	if ev.Summary != "[FIRING:1] DiskFull" {
		t.Errorf("summary %q", ev.Summary)
	}
}

func TestAlertmanagerActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       oncall.AlertAction
	}{
		{"all resolved", `{"status":"resolved","alerts":[{"status":"resolved"}]}`, oncall.ActionResolve},
		{"group says resolved but an alert fires", `{"status":"resolved","alerts":[{"status":"firing"}]}`, oncall.ActionTrigger},
		{"no group status", `{"alerts":[{"status":"resolved"},{"status":"resolved","labels":{"a":"b"}}]}`, oncall.ActionResolve},
		// Alertmanager left some alerts out and says the group fires: one of those may.
		{"truncated firing group", `{"status":"firing","truncatedAlerts":3,"alerts":[{"status":"resolved"}]}`, oncall.ActionTrigger},
		{"truncated resolved group", `{"status":"resolved","truncatedAlerts":3,"alerts":[{"status":"resolved"}]}`, oncall.ActionResolve},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if ev := mustAM(t, tt.body); ev.Action != tt.want {
				t.Errorf("action %q, want %q", ev.Action, tt.want)
			}
		})
	}
}

func TestAlertmanagerSummaryAndSeverity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body        string
		summary, severity string
	}{
		{"common summary annotation", `{"commonAnnotations":{"summary":" Disks full "},"commonLabels":{"severity":"page"},"alerts":[{"status":"firing"},{"status":"firing","labels":{"x":"y"}}]}`,
			"Disks full", oncall.SeverityCritical},
		{"single alert's summary", `{"commonLabels":{"severity":"warn"},"alerts":[{"status":"firing","annotations":{"summary":"one disk"}}]}`,
			"one disk", oncall.SeverityWarning},
		{"title from labels", `{"status":"firing","groupLabels":{"b":"2","a":"1"},"commonLabels":{"a":"1","b":"2","z":"last","c":"first","severity":"low"},"alerts":[{"status":"firing"}]}`,
			"[FIRING:1] 1 2 (first low last)", oncall.SeverityInfo},
		{"nothing to go on", `{"alerts":[{"status":"firing"}]}`, "[FIRING:1]", oncall.SeverityCritical},
		{"unknown severity word", `{"commonLabels":{"severity":"purple"},"alerts":[{"status":"firing"}]}`, "[FIRING:1] (purple)", oncall.SeverityCritical},
		{"severity from resolved alerts when none fires", `{"alerts":[{"status":"resolved","labels":{"severity":"info"}},{"status":"resolved","labels":{"severity":"minor"}}]}`,
			"[RESOLVED]", oncall.SeverityWarning},
		{"long summary cut", `{"commonAnnotations":{"summary":"` + strings.Repeat("é", 2000) + `"},"alerts":[{"status":"firing"}]}`,
			strings.Repeat("é", 1023) + "…", oncall.SeverityCritical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := mustAM(t, tt.body)
			if ev.Summary != tt.summary || ev.Severity != tt.severity {
				t.Errorf("summary %q severity %q, want %q %q", ev.Summary, ev.Severity, tt.summary, tt.severity)
			}
		})
	}
}

func TestAlertmanagerKeys(t *testing.T) {
	t.Parallel()
	// Without a groupKey: a stable hash of the sorted group labels.
	a := mustAM(t, `{"groupLabels":{"alertname":"X","env":"prod"},"alerts":[{"status":"firing"}]}`)
	b := mustAM(t, `{"groupLabels":{"env":"prod","alertname":"X"},"alerts":[{"status":"resolved"}]}`)
	c := mustAM(t, `{"groupLabels":{"env":"dev","alertname":"X"},"alerts":[{"status":"resolved"}]}`)
	if a.DedupKey != b.DedupKey || a.DedupKey == c.DedupKey || len(a.DedupKey) != 64 {
		t.Errorf("keys %q %q %q", a.DedupKey, b.DedupKey, c.DedupKey)
	}
	// A groupKey too long for an index is hashed.
	long := strings.Repeat(`{a="b"}`, 100)
	ev := mustAM(t, `{"groupKey":"`+strings.ReplaceAll(long, `"`, `\"`)+`","alerts":[{"status":"firing"}]}`)
	if !strings.HasPrefix(ev.DedupKey, "sha256:") || len(ev.DedupKey) != 71 {
		t.Errorf("long key %q", ev.DedupKey)
	}
	// Fingerprints: absent ones from the labels (stable), repeated ones once (the last wins).
	ev = mustAM(t, `{"alerts":[
		{"status":"firing","labels":{"a":"1","b":"2"}},
		{"status":"firing","fingerprint":"f","labels":{"n":"1"}},
		{"status":"resolved","fingerprint":"f","labels":{"n":"2"}}]}`)
	ev2 := mustAM(t, `{"alerts":[{"status":"resolved","labels":{"b":"2","a":"1"}}]}`)
	if len(ev.Alerts) != 2 || len(ev.Alerts[0].Fingerprint) != 16 || ev.Alerts[0].Fingerprint != ev2.Alerts[0].Fingerprint {
		t.Fatalf("%+v", ev.Alerts)
	}
	if f := ev.Alerts[1]; f.Fingerprint != "f" || !f.Resolved || f.Labels["n"] != "2" {
		t.Errorf("repeated fingerprint: %+v", f)
	}
}

func TestAlertmanagerMaxAlerts(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"groupKey":"big","status":"firing","alerts":[`)
	for i := range MaxAlerts + 5 {
		if i > 0 {
			b.WriteByte(',')
		}
		status := "resolved"
		if i >= MaxAlerts { // the firing ones come last
			status = "firing"
		}
		fmt.Fprintf(&b, `{"status":%q,"fingerprint":"f%d"}`, status, i)
	}
	b.WriteString(`]}`)
	ev := mustAM(t, b.String())
	if len(ev.Alerts) != MaxAlerts || ev.Action != oncall.ActionTrigger {
		t.Fatalf("%d alerts, action %s", len(ev.Alerts), ev.Action)
	}
	for i := range 5 {
		if a := ev.Alerts[i]; a.Resolved || a.Fingerprint != fmt.Sprintf("f%d", MaxAlerts+i) {
			t.Errorf("alert %d: %+v; the firing ones are kept first", i, a)
		}
	}
	sameJSON(t, ev.Details, []byte(`{"droppedAlerts":5}`))
	if ev.Summary != "[FIRING:5]" {
		t.Errorf("summary %q", ev.Summary)
	}
}

const grafanaWebhook = `{
  "receiver": "oncall",
  "status": "firing",
  "orgId": 1,
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
      "annotations": {"description": "The system has high memory usage", "summary": "High memory in us-1"},
      "startsAt": "2021-10-12T09:51:03.157076+02:00",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "https://grafana.example/alerting/1afz29v7z/edit",
      "fingerprint": "c6eadffa33fcdf37",
      "silenceURL": "https://grafana.example/alerting/silence/new?matchers=zone%3Dus-1",
      "dashboardURL": "",
      "panelURL": "",
      "values": {"B": 44.23943737541908, "C": 1},
      "valueString": "[ var='B' value=44.23943737541908 ], [ var='C' value=1 ]"
    },
    {
      "status": "firing",
      "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1", "severity": "warning"},
      "annotations": {"summary": "High CPU in eu-1"},
      "startsAt": "2021-10-12T09:56:03.157076+02:00",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "https://grafana.example/alerting/d1rdpdv7k/edit",
      "fingerprint": "bc97ff14869b13e3",
      "silenceURL": "https://grafana.example/alerting/silence/new?matchers=zone%3Deu-1",
      "dashboardURL": "https://grafana.example/d/mem",
      "panelURL": "https://grafana.example/d/mem?viewPanel=2",
      "imageURL": "https://grafana.example/img/cpu.png",
      "values": {"B": 82, "C": 1}
    }
  ],
  "groupLabels": {},
  "commonLabels": {"team": "blue"},
  "commonAnnotations": {},
  "externalURL": "https://grafana.example/",
  "version": "1",
  "groupKey": "{}:{}",
  "truncatedAlerts": 0,
  "title": "[FIRING:2]  (blue)",
  "state": "alerting",
  "message": "**Firing**\n\nLabels:\n - alertname = High memory usage"
}`

func TestGrafana(t *testing.T) {
	t.Parallel()
	ev, err := ParseGrafana([]byte(grafanaWebhook))
	if err != nil {
		t.Fatal(err)
	}
	if ev.DedupKey != "{}:{}" || ev.Action != oncall.ActionTrigger || ev.Summary != "[FIRING:2]  (blue)" ||
		ev.Severity != oncall.SeverityWarning || ev.Client != "Grafana" || ev.ClientURL != "https://grafana.example/" ||
		!reflect.DeepEqual(ev.Labels, map[string]string{"team": "blue"}) || len(ev.Alerts) != 2 {
		t.Errorf("%+v", ev)
	}
	wantLinks := []oncall.Link{
		{Href: "https://grafana.example/alerting/silence/new?matchers=zone%3Dus-1", Text: "Silence"},
		{Href: "https://grafana.example/d/mem", Text: "Dashboard"},
		{Href: "https://grafana.example/d/mem?viewPanel=2", Text: "Panel"},
		{Href: "https://grafana.example/alerting/silence/new?matchers=zone%3Deu-1", Text: "Silence"},
	}
	if !reflect.DeepEqual(ev.Links, wantLinks) {
		t.Errorf("links %+v", ev.Links)
	}
	wantImages := []oncall.Image{{Src: "https://grafana.example/img/cpu.png", Href: "https://grafana.example/d/mem?viewPanel=2", Alt: "High CPU in eu-1"}}
	if !reflect.DeepEqual(ev.Images, wantImages) {
		t.Errorf("images %+v", ev.Images)
	}
	sameJSON(t, ev.Details, []byte(`{
		"message": "**Firing**\n\nLabels:\n - alertname = High memory usage",
		"state": "alerting", "orgId": 1, "receiver": "oncall",
		"alerts": [
			{"fingerprint": "c6eadffa33fcdf37", "values": {"B": 44.23943737541908, "C": 1},
			 "valueString": "[ var='B' value=44.23943737541908 ], [ var='C' value=1 ]"},
			{"fingerprint": "bc97ff14869b13e3", "values": {"B": 82, "C": 1}}]}`))
	if got := ev.Alerts[0].StartsAt.UTC().Format("15:04:05.000000"); got != "07:51:03.157076" {
		t.Errorf("startsAt %s", got)
	}
	// Without a title Grafana's event is titled as Alertmanager's.
	noTitle := strings.Replace(grafanaWebhook, `"title": "[FIRING:2]  (blue)",`, ``, 1)
	ev, err = ParseGrafana([]byte(noTitle))
	if err != nil || ev.Summary != "[FIRING:2] (blue)" {
		t.Errorf("%q %v", ev.Summary, err)
	}
	// Through the dispatcher.
	if ev, err := Parse(TypeGrafana, []byte(grafanaWebhook)); err != nil || ev.Client != "Grafana" {
		t.Errorf("Parse(grafana): %v", err)
	}
}

func TestGeneric(t *testing.T) {
	t.Parallel()
	ev, err := ParseGeneric([]byte(`{"summary":" Disk full on db1 ","severity":"P2","source":"db1",
		"labels":{"service":"payments","env":"prod"},"annotations":{"runbook":"https://rb"},
		"details":{"free":"1%"},"links":[{"href":"https://grafana/d/disk","text":"Dashboard"},"https://x"],
		"images":[{"src":"https://img","alt":"graph"}],"client":"cron","client_url":"https://cron","extra":"ignored"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := oncall.AlertEvent{
		DedupKey:    hashKey(map[string]string{"env": "prod", "service": "payments"}, "generic", "Disk full on db1"),
		Action:      oncall.ActionTrigger,
		Summary:     "Disk full on db1",
		Severity:    oncall.SeverityError,
		Source:      "db1",
		Labels:      map[string]string{"service": "payments", "env": "prod"},
		Annotations: map[string]string{"runbook": "https://rb"},
		Details:     json.RawMessage(`{"free":"1%"}`),
		Links:       []oncall.Link{{Href: "https://grafana/d/disk", Text: "Dashboard"}, {Href: "https://x"}},
		Images:      []oncall.Image{{Src: "https://img", Alt: "graph"}},
		Client:      "cron",
		ClientURL:   "https://cron",
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}

	// The default key: the same summary and labels, in any order, whatever the status.
	resolve, err := ParseGeneric([]byte(`{"status":"RESOLVED","summary":"Disk full on db1","labels":{"env":"prod","service":"payments"}}`))
	if err != nil || resolve.DedupKey != ev.DedupKey || resolve.Action != oncall.ActionResolve {
		t.Errorf("resolve %+v %v", resolve, err)
	}
	other, _ := ParseGeneric([]byte(`{"summary":"Disk full on db1","labels":{"env":"dev","service":"payments"}}`))
	if other.DedupKey == ev.DedupKey {
		t.Error("different labels, same key")
	}
	// No ambiguity between summary and labels.
	k1 := hashKey(map[string]string{"a": "b"}, "generic", "x")
	k2 := hashKey(map[string]string{"b": ""}, "generic", "xa")
	if k1 == k2 {
		t.Error("hash is ambiguous")
	}

	for status, action := range map[string]oncall.AlertAction{
		"firing": oncall.ActionTrigger, "triggered": oncall.ActionTrigger, "trigger": oncall.ActionTrigger, "": oncall.ActionTrigger,
		"resolved": oncall.ActionResolve, "resolve": oncall.ActionResolve,
		"acknowledged": oncall.ActionAcknowledge, "ack": oncall.ActionAcknowledge, "Acknowledge": oncall.ActionAcknowledge,
	} {
		ev, err := ParseGeneric([]byte(`{"dedup_key":"k","summary":"s","status":"` + status + `"}`))
		if err != nil || ev.Action != action || ev.DedupKey != "k" {
			t.Errorf("status %q: %+v %v", status, ev, err)
		}
	}
	// Resolve by key alone; details that aren't an object are wrapped.
	ev, err = ParseGeneric([]byte(`{"dedup_key":"k","status":"resolved","details":"free text"}`))
	if err != nil || ev.Action != oncall.ActionResolve || ev.Summary != "" || string(ev.Details) != `{"details":"free text"}` {
		t.Errorf("%+v %v", ev, err)
	}
	// No severity: critical.
	ev, _ = ParseGeneric([]byte(`{"summary":"s"}`))
	if ev.Severity != oncall.SeverityCritical {
		t.Errorf("severity %q", ev.Severity)
	}
	if ev2, err := Parse(TypeGeneric, []byte(`{"summary":"s"}`)); err != nil || !reflect.DeepEqual(ev2, ev) {
		t.Errorf("Parse(generic) %+v %v", ev2, err)
	}
}

func TestMapSeverity(t *testing.T) {
	t.Parallel()
	for word, want := range map[string]string{
		"critical": "critical", "CRIT": "critical", "page": "critical", " High ": "critical", "P1": "critical",
		"error": "error", "err": "error", "Major": "error",
		"warning": "warning", "warn": "warning", "minor": "warning",
		"info": "info", "low": "info", "none": "info", "unknown": "info",
	} {
		if got, known := MapSeverity(word); got != want || !known {
			t.Errorf("MapSeverity(%q) = %q, %v; want %q", word, got, known, want)
		}
	}
	for _, word := range []string{"", "purple", "sev9"} {
		if got, known := MapSeverity(word); got != oncall.SeverityCritical || known {
			t.Errorf("MapSeverity(%q) = %q, %v; want critical, false", word, got, known)
		}
	}
}

// TestStoredStrings: what comes out fits Postgres text and jsonb.
func TestStoredStrings(t *testing.T) {
	t.Parallel()
	body := "\uFEFF" + `{"summary":"a\u0000b \ud800 \ud83d\ude00 \"q\" \/","labels":{"k\u0000":"v\udc00"},
		"details":{"nul":"x\u0000y","lone":"\udbff","ctl":"\u0001\t","nested":[1,-2.5e3,true,null,{"a\u0000":"b"}]}}`
	ev, err := ParseGeneric([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\uFFFDb \uFFFD 😀 \"q\" /"; ev.Summary != want {
		t.Errorf("summary %q, want %q", ev.Summary, want)
	}
	if ev.Labels["k\uFFFD"] != "v\uFFFD" {
		t.Errorf("labels %q", ev.Labels)
	}
	if strings.Contains(string(ev.Details), `\u0000`) || !utf8.Valid(ev.Details) || !json.Valid(ev.Details) {
		t.Errorf("details %s", ev.Details)
	}
	sameJSON(t, ev.Details, []byte(`{"nul":"x\ufffdy","lone":"\ufffd","ctl":"\u0001\t","nested":[1,-2.5e3,true,null,{"a\ufffd":"b"}]}`))
}
