package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oncall/oncall/oncall"
)

// addSeeds adds the captures' bodies, and some of our own, to f.
func addSeeds(f *testing.F, own ...string) {
	for _, name := range sampleNames {
		if c, ok := readSample(name); ok {
			f.Add([]byte(c.JSON))
		}
	}
	for _, s := range own {
		f.Add([]byte(s))
	}
}

// checkResult is what every parser promises: an *Error, or an event that the
// engine and Postgres can take.
func checkResult(t *testing.T, ev oncall.AlertEvent, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Msg == "" || len(e.Details) == 0 || len(e.Details) > MaxProblems+1 {
			t.Fatalf("error %T %v: want an *Error with details", err, err)
		}
		for _, d := range e.Details {
			if !utf8.ValidString(d) {
				t.Fatalf("detail not UTF-8: %q", d)
			}
		}
		if !reflect.DeepEqual(ev, oncall.AlertEvent{}) {
			t.Fatalf("an error and an event: %+v", ev)
		}
		return
	}
	if strings.TrimSpace(ev.DedupKey) == "" || utf8.RuneCountInString(ev.DedupKey) > MaxDedupKeyLen {
		t.Fatalf("dedup key %q", ev.DedupKey)
	}
	switch ev.Action {
	case oncall.ActionTrigger:
		if ev.Summary == "" {
			t.Fatal("a trigger without a summary")
		}
		fallthrough
	case oncall.ActionResolve, oncall.ActionAcknowledge:
		switch ev.Severity {
		case oncall.SeverityCritical, oncall.SeverityError, oncall.SeverityWarning, oncall.SeverityInfo:
		case "": // PagerDuty's acknowledge and resolve carry none
			if ev.Action == oncall.ActionTrigger {
				t.Fatal("a trigger without a severity")
			}
		default:
			t.Fatalf("severity %q", ev.Severity)
		}
	default:
		t.Fatalf("action %q", ev.Action)
	}
	if utf8.RuneCountInString(ev.Summary) > MaxSummaryLen {
		t.Fatalf("summary of %d characters", utf8.RuneCountInString(ev.Summary))
	}
	if ev.Details != nil && (!json.Valid(ev.Details) || ev.Details[0] != '{' || bytes.Contains(ev.Details, []byte(`\u0000`))) {
		t.Fatalf("details %s", ev.Details)
	}
	if len(ev.Alerts) > MaxAlerts || len(ev.Links) > MaxLinks || len(ev.Images) > MaxLinks {
		t.Fatalf("%d alerts, %d links, %d images", len(ev.Alerts), len(ev.Links), len(ev.Images))
	}
	strs := []string{ev.DedupKey, ev.Summary, ev.Source, ev.Client, ev.ClientURL}
	checkMap := func(m map[string]string) {
		if len(m) > MaxLabels {
			t.Fatalf("%d labels", len(m))
		}
		for k, v := range m {
			strs = append(strs, k, v)
		}
	}
	checkMap(ev.Labels)
	checkMap(ev.Annotations)
	for _, a := range ev.Alerts {
		strs = append(strs, a.Fingerprint, a.Summary, a.GeneratorURL)
		checkMap(a.Labels)
		checkMap(a.Annotations)
	}
	for _, l := range ev.Links {
		strs = append(strs, l.Href, l.Text)
	}
	for _, s := range strs {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("string unfit for Postgres: %q", s)
		}
	}
}

func FuzzParseAlertmanager(f *testing.F) {
	addSeeds(f,
		`{"groupKey":"g","status":"firing","alerts":[{"status":"firing","fingerprint":"a"},{"status":"resolved"}]}`,
		`{"alerts":[{"status":"resolved","labels":{"severity":"warn"},"endsAt":"2026-01-01T00:00:00Z"}],"truncatedAlerts":2}`,
		`{"alerts":[]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseAlertmanager(body)
		checkResult(t, ev, err)
		if err == nil {
			if len(ev.Alerts) == 0 || ev.Client != "Alertmanager" {
				t.Fatalf("%+v", ev)
			}
			dev, derr := Parse(TypeAlertmanager, body)
			if derr != nil || dev.DedupKey != ev.DedupKey {
				t.Fatalf("Parse disagrees: %v", derr)
			}
		}
	})
}

func FuzzParseGrafana(f *testing.F) {
	addSeeds(f, grafanaWebhook,
		`{"title":"t","alerts":[{"status":"firing","values":{"A":1},"imageURL":"i","panelURL":"p"}]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseGrafana(body)
		checkResult(t, ev, err)
		if err == nil && (len(ev.Alerts) == 0 || ev.Client != "Grafana") {
			t.Fatalf("%+v", ev)
		}
	})
}

func FuzzParsePagerDuty(f *testing.F) {
	addSeeds(f,
		`{"routing_key":"k","event_action":"resolve","dedup_key":"d"}`,
		`{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info","custom_details":[1]},"links":["https://x"]}`,
		`{"routing_key":"k","payload":{"summary":"s","timestamp":"2015-07-17T08:42:58.315+0000","custom_details":{"a":1}},"links":[{"href":"h"}]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		key, ev, err := parsePagerDutyEvent(body, true, func() string { return "generated" })
		checkResult(t, ev, err)
		if err == nil && strings.TrimSpace(key) == "" {
			t.Fatal("accepted without a routing key")
		}
		if err != nil && key != "" {
			t.Fatal("an error and a key")
		}
		// Change events, from the same bytes.
		key, ch, err := ParsePagerDutyChange(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Details) == 0 || key != "" || !reflect.DeepEqual(ch, oncall.ChangeEvent{}) {
				t.Fatalf("change: %v", err)
			}
			return
		}
		if strings.TrimSpace(key) == "" || strings.TrimSpace(ch.Summary) == "" || utf8.RuneCountInString(ch.Summary) > MaxSummaryLen {
			t.Fatalf("change %q %+v", key, ch)
		}
		if ch.Details != nil && !json.Valid(ch.Details) {
			t.Fatalf("change details %s", ch.Details)
		}
	})
}

func FuzzParseGeneric(f *testing.F) {
	addSeeds(f,
		`{"summary":"s","severity":"P1","labels":{"a":"b"},"details":{"x":[1,2]},"links":["u",{"href":"h"}]}`,
		`{"status":"resolved","dedup_key":"k"}`,
		`{"summary":"a\u0000b\ud800","status":"ack"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseGeneric(body)
		checkResult(t, ev, err)
		if err == nil {
			// Parsing is deterministic: a retry gets the same key.
			again, _ := ParseGeneric(body)
			if again.DedupKey != ev.DedupKey {
				t.Fatal("two keys for one body")
			}
		}
	})
}

// FuzzJSON holds our reader to encoding/json: the same bodies are valid, and
// they mean the same (but for NUL, which we turn into U+FFFD).
func FuzzJSON(f *testing.F) {
	addSeeds(f, `{"a":[1,-0.5e+3,true,false,null,"\u00e9\ud83d\ude00\ud800x\"\\\/\b\f\n\r\t"]}`, `[]`, `0`, `-`, `"\u0000"`, ` {"a" : 1 } `)
	f.Fuzz(func(t *testing.T, body []byte) {
		n, problem := parseJSON(body)
		if !utf8.Valid(body) || bytes.HasPrefix(body, []byte("\uFEFF")) {
			return // we reject bad UTF-8 (encoding/json replaces it) and allow a BOM
		}
		if strings.Contains(problem, "nested deeper") || strings.Contains(problem, "JSON values") || strings.Contains(problem, "out of range") {
			return // our limits
		}
		if valid := json.Valid(body); valid != (problem == "") {
			t.Fatalf("json.Valid = %v, our problem = %q", valid, problem)
		}
		if problem != "" {
			return
		}
		var want any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		collided := false
		want = withoutNUL(want, &collided)
		if collided {
			return // "a\u0000" and "a\ufffd" as keys of one object
		}
		var got any
		d = json.NewDecoder(bytes.NewReader(appendJSON(nil, &n)))
		d.UseNumber()
		if err := d.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v, want %#v", got, want)
		}
	})
}

func withoutNUL(v any, collided *bool) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "\x00", "\uFFFD")
	case []any:
		for i := range v {
			v[i] = withoutNUL(v[i], collided)
		}
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			k = strings.ReplaceAll(k, "\x00", "\uFFFD")
			if _, dup := m[k]; dup {
				*collided = true
			}
			m[k] = withoutNUL(x, collided)
		}
		return m
	}
	return v
}

func BenchmarkParseAlertmanager(b *testing.B) {
	c := sample(b, "am-webhook-firing.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(c.JSON)))
	for b.Loop() {
		if _, err := ParseAlertmanager(c.JSON); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePagerDuty(b *testing.B) {
	c := sample(b, "go-pagerduty-trigger.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(c.JSON)))
	for b.Loop() {
		if _, _, err := ParsePagerDutyEvent(c.JSON); err != nil {
			b.Fatal(err)
		}
	}
}
