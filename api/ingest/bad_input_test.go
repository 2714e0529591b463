package ingest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/oncall/oncall/oncall"
)

// nested is a JSON value nested depth levels deep: [[[...]]].
func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// manyLabels is a labels object of n entries.
func manyLabels(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"label%d":"v"`, i)
	}
	b.WriteByte('}')
	return b.String()
}

type badCase struct {
	name string
	body string
	want []string // Error.Details, exactly
}

func runBad(t *testing.T, msg string, parse func([]byte) error, cases []badCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := parse([]byte(tt.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if e.Msg != msg {
				t.Errorf("Msg %q, want %q", e.Msg, msg)
			}
			if !reflect.DeepEqual(e.Details, tt.want) {
				t.Errorf("Details:\n got %q\nwant %q", e.Details, tt.want)
			}
		})
	}
}

// Problems every format shares: they are found before the format is read.
var commonBad = []badCase{
	{"empty body", ``, []string{"body: empty, want a JSON object"}},
	{"not an object", `[1]`, []string{"body: want a JSON object, got array"}},
	{"a string", `"hi"`, []string{"body: want a JSON object, got string"}},
	{"null", `null`, []string{"body: want a JSON object, got null"}},
	{"invalid UTF-8", "{\"summary\":\"caf\xe9\"}", []string{"body: invalid UTF-8 at byte 15"}},
	{"invalid UTF-8 in a key", "{\"\xff\":1}", []string{"body: invalid UTF-8 at byte 2"}},
	{"truncated", `{"summary":"x"`, []string{"body: invalid JSON at byte 14: unexpected end of input, want ',' or '}'"}},
	{"missing value", `{"summary":}`, []string{"body: invalid JSON at byte 11: unexpected '}'"}},
	{"trailing comma", `{"a":1,}`, []string{`body: invalid JSON at byte 7: unexpected '}', want a string key`}},
	{"single quotes", `{'a':1}`, []string{`body: invalid JSON at byte 1: unexpected '\'', want a string key`}},
	{"garbage after", `{} x`, []string{"body: invalid JSON at byte 3: unexpected 'x' after the top-level value"}},
	{"two values", `{}{}`, []string{"body: invalid JSON at byte 2: unexpected '{' after the top-level value"}},
	{"bad number", `{"a":01}`, []string{"body: invalid JSON at byte 6: unexpected '1', want ',' or '}'"}},
	{"bad escape", `{"a":"\x"}`, []string{`body: invalid JSON at byte 6: invalid escape "\\x"`}},
	{"bad unicode escape", `{"a":"\u12"}`, []string{`body: invalid JSON at byte 6: invalid \u escape`}},
	{"raw newline in a string", "{\"a\":\"x\ny\"}", []string{"body: invalid JSON at byte 7: control character U+000A in a string"}},
	{"unterminated string", `{"a":"x`, []string{"body: invalid JSON at byte 7: unterminated string"}},
	{"too deep", `{"x":` + nested(64) + `}`, []string{"body: JSON nested deeper than 64 levels"}},
	{"far too deep", strings.Repeat(`{"a":`, 100000), []string{"body: JSON nested deeper than 64 levels"}},
	{"too many values", `{"x":[` + strings.Repeat("0,", MaxValues) + `0]}`, []string{fmt.Sprintf("body: more than %d JSON values", MaxValues)}},
}

func TestBadCommon(t *testing.T) {
	t.Parallel()
	parsers := map[string]struct {
		msg   string
		parse func([]byte) error
	}{
		"alertmanager": {msgAlertmanager, func(b []byte) error { _, err := ParseAlertmanager(b); return err }},
		"grafana":      {msgGrafana, func(b []byte) error { _, err := ParseGrafana(b); return err }},
		"generic":      {msgGeneric, func(b []byte) error { _, err := ParseGeneric(b); return err }},
		"pagerduty":    {msgPagerDuty, func(b []byte) error { _, _, err := ParsePagerDutyEvent(b); return err }},
		"change":       {msgPagerDuty, func(b []byte) error { _, _, err := ParsePagerDutyChange(b); return err }},
	}
	for name, p := range parsers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runBad(t, p.msg, p.parse, commonBad)
		})
	}
}

func TestNestingLimitIsInclusive(t *testing.T) {
	t.Parallel()
	// 64 levels in all (the body's object is the first) are fine.
	body := `{"summary":"deep","details":{"x":` + nested(62) + `}}`
	if _, err := ParseGeneric([]byte(body)); err != nil {
		t.Fatal(err)
	}
	body = `{"summary":"deep","details":{"x":` + nested(63) + `}}`
	if _, err := ParseGeneric([]byte(body)); err == nil || !strings.Contains(err.Error(), "nested deeper than 64") {
		t.Fatalf("65 levels: %v", err)
	}
}

func TestBadPagerDuty(t *testing.T) {
	t.Parallel()
	parse := func(b []byte) error { _, _, err := ParsePagerDutyEvent(b); return err }
	const rk = `"routing_key":"0123456789abcdef0123456789abcdef"`
	trigger := func(payload string) string { return `{` + rk + `,"event_action":"trigger","payload":` + payload + `}` }
	runBad(t, msgPagerDuty, parse, []badCase{
		{"nothing", `{}`, []string{"routing_key: required", "event_action: required"}},
		{"bad event_action", `{` + rk + `,"event_action":"fire","dedup_key":"k"}`,
			[]string{`event_action: want "trigger", "acknowledge" or "resolve", got "fire"`}},
		{"event_action in capitals", `{` + rk + `,"event_action":"TRIGGER"}`,
			[]string{`event_action: want "trigger", "acknowledge" or "resolve", got "TRIGGER"`}},
		{"no payload", `{` + rk + `,"event_action":"trigger"}`, []string{"payload: required to trigger"}},
		{"null payload", `{` + rk + `,"event_action":"trigger","payload":null}`, []string{"payload: required to trigger"}},
		{"payload not an object", trigger(`"disk full"`), []string{"payload: want an object, got string"}},
		{"empty payload", trigger(`{}`), []string{"payload.summary: required", "payload.source: required", "payload.severity: required"}},
		{"blank fields", trigger(`{"summary":" ","source":"","severity":""}`),
			[]string{"payload.summary: must not be empty", "payload.source: must not be empty", "payload.severity: must not be empty"}},
		{"bad severity", trigger(`{"summary":"s","source":"x","severity":"high"}`),
			[]string{`payload.severity: want "critical", "error", "warning" or "info", got "high"`}},
		{"severity in capitals", trigger(`{"summary":"s","source":"x","severity":"Critical"}`),
			[]string{`payload.severity: want "critical", "error", "warning" or "info", got "Critical"`}},
		{"summary too long", trigger(`{"summary":"` + strings.Repeat("é", 1025) + `","source":"x","severity":"info"}`),
			[]string{"payload.summary: 1025 characters, at most 1024"}},
		{"wrong types", `{"routing_key":1,"event_action":"trigger","dedup_key":2,"payload":{"summary":3,"source":true,"severity":null,"timestamp":5,"component":[],"group":{},"class":1.5},"links":{},"images":[3],"client":false}`,
			[]string{
				"routing_key: want a string, got number",
				"dedup_key: want a string, got number",
				"payload.summary: want a string, got number",
				"payload.source: want a string, got boolean",
				"payload.severity: required",
				"payload.timestamp: want a string, got number",
				"payload.component: want a string, got array",
				"payload.group: want a string, got object",
				"payload.class: want a string, got number",
				"links: want an array, got object",
				"images[0]: want an object or a string, got number",
				"client: want a string, got boolean",
			}},
		{"link without href", `{` + rk + `,"event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info"},"links":[{"text":"t"},{"href":""}]}`,
			[]string{"links[0].href: required", "links[1].href: must not be empty"}},
		{"resolve without dedup_key", `{` + rk + `,"event_action":"resolve"}`, []string{"dedup_key: required to resolve"}},
		{"acknowledge with empty dedup_key", `{` + rk + `,"event_action":"acknowledge","dedup_key":""}`, []string{"dedup_key: required to acknowledge"}},
		{"dedup_key too long", `{` + rk + `,"event_action":"resolve","dedup_key":"` + strings.Repeat("k", 256) + `"}`,
			[]string{"dedup_key: 256 characters, at most 255"}},
		{"everything wrong at once", `{"event_action":"trigger","payload":{"summary":"` + strings.Repeat("x", 2000) + `","severity":"sev1"}}`,
			[]string{"routing_key: required", "payload.summary: 2000 characters, at most 1024", "payload.source: required",
				`payload.severity: want "critical", "error", "warning" or "info", got "sev1"`}},
	})

	// Limits that pass.
	ok := trigger(`{"summary":"` + strings.Repeat("é", 1024) + `","source":"x","severity":"info"}`)
	if _, _, err := ParsePagerDutyEvent([]byte(ok)); err != nil {
		t.Errorf("1024 characters: %v", err)
	}
}

func TestBadPagerDutyChange(t *testing.T) {
	t.Parallel()
	parse := func(b []byte) error { _, _, err := ParsePagerDutyChange(b); return err }
	const rk = `"routing_key":"0123456789abcdef0123456789abcdef"`
	runBad(t, msgPagerDuty, parse, []badCase{
		{"nothing", `{}`, []string{"routing_key: required", "payload: required"}},
		{"no summary", `{` + rk + `,"payload":{"source":"ci"}}`, []string{"payload.summary: required"}},
		{"summary too long", `{` + rk + `,"payload":{"summary":"` + strings.Repeat("x", 1025) + `"}}`,
			[]string{"payload.summary: 1025 characters, at most 1024"}},
		{"bad timestamp", `{` + rk + `,"payload":{"summary":"s","timestamp":"yesterday"}}`,
			[]string{`payload.timestamp: want an ISO 8601 time, got "yesterday"`}},
		{"bad links", `{` + rk + `,"payload":{"summary":"s"},"links":"x"}`, []string{"links: want an array, got string"}},
	})
}

func TestBadAlertmanager(t *testing.T) {
	t.Parallel()
	parse := func(b []byte) error { _, err := ParseAlertmanager(b); return err }
	badStatuses := make([]string, 30)
	for i := range badStatuses {
		badStatuses[i] = `{"status":"pending"}`
	}
	wantMany := make([]string, 0, 21)
	for i := range 20 {
		wantMany = append(wantMany, fmt.Sprintf(`alerts[%d].status: want "firing" or "resolved", got "pending"`, i))
	}
	wantMany = append(wantMany, "and 10 more problems")
	runBad(t, msgAlertmanager, parse, []badCase{
		{"no alerts", `{"version":"4","groupKey":"g","status":"firing"}`, []string{"alerts: required"}},
		{"empty alerts", `{"groupKey":"g","alerts":[]}`, []string{"alerts: empty, want at least one alert"}},
		{"alerts not an array", `{"alerts":{}}`, []string{"alerts: want an array of alerts, got object"}},
		{"bad alert status", `{"alerts":[{"status":"firing"},{"status":"pending"}]}`,
			[]string{`alerts[1].status: want "firing" or "resolved", got "pending"`}},
		{"alert without status", `{"alerts":[{"labels":{"a":"b"}}]}`, []string{"alerts[0].status: required"}},
		{"bad group status", `{"status":"ok","alerts":[{"status":"firing"}]}`, []string{`status: want "firing" or "resolved", got "ok"`}},
		{"wrong types", `{"groupKey":7,"groupLabels":[],"commonLabels":"x","externalURL":{},"truncatedAlerts":-1,"alerts":[1,{"status":"firing","labels":{"a":1,"":"x"},"annotations":null,"fingerprint":9,"startsAt":"yesterday","endsAt":3}]}`,
			[]string{
				"groupKey: want a string, got number",
				"groupLabels: want an object of strings, got array",
				"commonLabels: want an object of strings, got string",
				"externalURL: want a string, got object",
				"truncatedAlerts: want a non-negative integer, got -1",
				"alerts[0]: want an alert object, got number",
				"alerts[1].labels.a: want a string, got number",
				"alerts[1].labels: empty key",
				`alerts[1].startsAt: want an RFC 3339 time, got "yesterday"`,
				"alerts[1].endsAt: want a string, got number",
				"alerts[1].fingerprint: want a string, got number",
			}},
		{"10,000 labels", `{"alerts":[{"status":"firing","labels":` + manyLabels(10000) + `}]}`,
			[]string{"alerts[0].labels: 10000 entries, at most 256"}},
		{"10,000 common labels", `{"commonLabels":` + manyLabels(10000) + `,"alerts":[{"status":"firing"}]}`,
			[]string{"commonLabels: 10000 entries, at most 256"}},
		{"long label key", `{"alerts":[{"status":"firing","labels":{"` + strings.Repeat("k", 300) + `":"v"}}]}`,
			[]string{`alerts[0].labels["` + strings.Repeat("k", 63) + `…"]: key is 300 bytes, at most 256`}},
		{"long label value", `{"alerts":[{"status":"firing","annotations":{"description":"` + strings.Repeat("v", MaxValueLen+1) + `"}}]}`,
			[]string{fmt.Sprintf("alerts[0].annotations.description: %d bytes, at most %d", MaxValueLen+1, MaxValueLen)}},
		{"odd label key", `{"alerts":[{"status":"firing","labels":{"a b":1}}]}`,
			[]string{`alerts[0].labels["a b"]: want a string, got number`}},
		{"many problems", `{"alerts":[` + strings.Join(badStatuses, ",") + `]}`, wantMany},
	})
	// 256 labels pass.
	if _, err := ParseAlertmanager([]byte(`{"alerts":[{"status":"firing","labels":` + manyLabels(256) + `}]}`)); err != nil {
		t.Error(err)
	}
}

func TestBadGrafana(t *testing.T) {
	t.Parallel()
	parse := func(b []byte) error { _, err := ParseGrafana(b); return err }
	runBad(t, msgGrafana, parse, []badCase{
		{"legacy Grafana webhook", `{"ruleName":"x","state":"alerting","evalMatches":[]}`, []string{"alerts: required"}},
		{"wrong types", `{"title":1,"message":[],"alerts":[{"status":"firing","dashboardURL":1,"panelURL":true,"silenceURL":{},"imageURL":2,"valueString":3}]}`,
			[]string{
				"title: want a string, got number",
				"message: want a string, got array",
				"alerts[0].dashboardURL: want a string, got number",
				"alerts[0].panelURL: want a string, got boolean",
				"alerts[0].silenceURL: want a string, got object",
				"alerts[0].imageURL: want a string, got number",
				"alerts[0].valueString: want a string, got number",
			}},
	})
}

func TestBadGeneric(t *testing.T) {
	t.Parallel()
	parse := func(b []byte) error { _, err := ParseGeneric(b); return err }
	runBad(t, msgGeneric, parse, []badCase{
		{"nothing", `{}`, []string{"summary: required"}},
		{"blank summary", `{"summary":"  "}`, []string{"summary: required"}},
		{"resolve without key or summary", `{"status":"resolved","labels":{"a":"b"}}`,
			[]string{"dedup_key: required to resolve without a summary"}},
		{"ack without key or summary", `{"status":"ack"}`, []string{"dedup_key: required to acknowledge without a summary"}},
		{"bad status", `{"summary":"s","status":"open"}`,
			[]string{`status: want "firing", "acknowledged" or "resolved" (or "triggered", "trigger", "acknowledge", "ack", "resolve"), got "open"`}},
		{"summary too long", `{"summary":"` + strings.Repeat("x", 1025) + `"}`, []string{"summary: 1025 characters, at most 1024"}},
		{"dedup_key too long", `{"summary":"s","dedup_key":"` + strings.Repeat("k", 256) + `"}`, []string{"dedup_key: 256 characters, at most 255"}},
		{"wrong types", `{"summary":1,"dedup_key":[],"severity":2,"status":true,"source":{},"labels":{"port":8080,"ok":"x"},"annotations":[],"links":[1,{"href":2}],"images":{},"client_url":1}`,
			[]string{
				"status: want a string, got boolean",
				"summary: want a string, got number",
				"dedup_key: want a string, got array",
				"severity: want a string, got number",
				"source: want a string, got object",
				"labels.port: want a string, got number",
				"annotations: want an object of strings, got array",
				"links[0]: want an object or a string, got number",
				"links[1].href: want a string, got number",
				"images: want an array, got object",
				"client_url: want a string, got number",
			}},
		{"10,000 labels", `{"summary":"s","labels":` + manyLabels(10000) + `}`, []string{"labels: 10000 entries, at most 256"}},
		{"too many links", `{"summary":"s","links":[` + strings.Repeat(`"https://x",`, 64) + `"https://y"]}`, []string{"links: 65 entries, at most 64"}},
	})
}

func TestParseUnknownType(t *testing.T) {
	t.Parallel()
	_, err := Parse("nagios", []byte(`{}`))
	if !errors.Is(err, ErrUnknownType) {
		t.Fatalf("err %v", err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Error("an unknown type is not the client's fault")
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	_, err := ParseGeneric([]byte(`{"labels":[]}`))
	if got, want := err.Error(), "invalid alert: summary: required; labels: want an object of strings, got array"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (&Error{Msg: "m"}).Error(); got != "m" {
		t.Errorf("got %q", got)
	}
	var _ oncall.AlertEvent // the package under test returns these
}
