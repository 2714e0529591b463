package ingest

import (
	"strings"
	"unicode/utf8"

	"github.com/oncall/oncall/oncall"
)

const msgGeneric = "invalid alert"

// ParseGeneric reads oncall's generic JSON alert, for senders with no format
// of their own. The fields (any other is ignored):
//
//	summary      string of 1..1024 characters: what is wrong. Required, except
//	             to acknowledge or resolve by dedup_key.
//	dedup_key    string of at most 255 characters: the incident this is about.
//	             Default: a hash of summary and the sorted labels, so a retry,
//	             or a resolve with the same summary and labels, finds it.
//	status       "firing" | "triggered" | "trigger" (default),
//	             "acknowledged" | "acknowledge" | "ack",
//	             "resolved" | "resolve"; any case.
//	severity     a word MapSeverity knows (critical, error, warning, info,
//	             high, low, P1...); absent or unknown: critical.
//	source       string: the affected system.
//	labels       object of strings: what alert rules match (at most MaxLabels).
//	annotations  object of strings: what alert rules match, for display.
//	details      any JSON, kept for display (a non-object is wrapped as
//	             {"details": value}).
//	links        [{"href", "text"}] or ["https://..."].
//	images       [{"src", "href", "alt"}].
//	client, client_url  strings: the sender's name and where it shows the alert.
//
// Example:
//
//	{"summary": "Disk full on db1", "severity": "critical", "source": "db1",
//	 "labels": {"service": "payments", "env": "prod"},
//	 "links": [{"href": "https://grafana/d/disk", "text": "Dashboard"}]}
func ParseGeneric(body []byte) (oncall.AlertEvent, error) {
	root, bad := parseJSON(body)
	if bad != "" {
		return oncall.AlertEvent{}, &Error{Msg: msgGeneric, Details: []string{bad}}
	}
	var p problems
	if root.kind != kObject {
		p.wrongType(nil, "a JSON object", &root)
		return oncall.AlertEvent{}, p.err(msgGeneric)
	}
	r := &root
	ev := oncall.AlertEvent{Action: oncall.ActionTrigger}
	status, _ := p.str(r, "status", nil)
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "", "firing", "triggered", "trigger":
	case "acknowledged", "acknowledge", "ack":
		ev.Action = oncall.ActionAcknowledge
	case "resolved", "resolve":
		ev.Action = oncall.ActionResolve
	default:
		f := jpath{key: "status", index: -1}
		p.add(&f, `want "firing", "acknowledged" or "resolved" (or "triggered", "trigger", "acknowledge", "ack", "resolve"), got %q`, truncateRunes(status, 64))
	}

	summaryAt := jpath{key: "summary", index: -1}
	summary, _ := p.str(r, "summary", nil)
	summary = strings.TrimSpace(summary)
	dedupAt := jpath{key: "dedup_key", index: -1}
	dedupKey, _ := p.str(r, "dedup_key", nil)
	if n := utf8.RuneCountInString(dedupKey); n > MaxDedupKeyLen {
		p.add(&dedupAt, "%d characters, at most %d", n, MaxDedupKeyLen)
	}
	dedupKey = strings.TrimSpace(dedupKey)
	if summary == "" && r.get("summary").isAbsentOrString() {
		switch {
		case ev.Action == oncall.ActionTrigger:
			p.add(&summaryAt, "required")
		case dedupKey == "" && r.get("dedup_key").isAbsentOrString():
			p.add(&dedupAt, "required to %s without a summary", ev.Action)
		}
	}
	p.summary(summary, &summaryAt)

	severity, _ := p.str(r, "severity", nil)
	ev.Severity, _ = MapSeverity(severity)
	ev.Summary = summary
	ev.Source, _ = p.str(r, "source", nil)
	ev.Labels = p.stringMap(r, "labels", nil)
	ev.Annotations = p.stringMap(r, "annotations", nil)
	ev.Details = details(r.get("details"))
	ev.Links = p.links(r, "links", nil)
	ev.Images = p.images(r, "images", nil)
	ev.Client, _ = p.str(r, "client", nil)
	ev.ClientURL, _ = p.str(r, "client_url", nil)
	if !p.ok() {
		return oncall.AlertEvent{}, p.err(msgGeneric)
	}
	ev.DedupKey = dedupKey
	if ev.DedupKey == "" {
		ev.DedupKey = hashKey(ev.Labels, "generic", summary)
	}
	return ev, nil
}
