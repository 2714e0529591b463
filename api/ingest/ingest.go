// Package ingest reads the alert formats oncall accepts into oncall.AlertEvent
// (and oncall.ChangeEvent), and writes the answers PagerDuty clients expect.
// It is pure parsing: no database, no HTTP routing.
//
//	Alertmanager webhook v4    ParseAlertmanager   POST /v1/alerts/{key}
//	Grafana webhook            ParseGrafana        POST /v1/alerts/{key}
//	generic JSON               ParseGeneric        POST /v1/alerts/{key}
//	PagerDuty Events API v2    ParsePagerDutyEvent POST /v2/enqueue (and /v1/alerts/{key})
//	PagerDuty change events    ParsePagerDutyChange POST /v2/change/enqueue
//
// Every parser takes the whole body (the server has already cut it at
// 1 MiB), never panics, and either returns an event or an *Error, the
// client's fault (400), that names each wrong field by its path. Before any
// format is read the body must be valid UTF-8 and JSON nested at most
// MaxDepth deep with at most MaxValues values; the other limits below keep
// one request from costing the server, or the database, more than it should.
// Strings come out valid UTF-8 without NUL ("\u0000" and lone surrogates
// become U+FFFD), and Details a compact JSON object, so both fit Postgres.
//
// Content-Type is not looked at: Alertmanager sends application/json, pdjs
// "application/json; charset=utf-8", curl -d a form type; the body decides.
package ingest

import (
	"errors"
	"fmt"

	"github.com/oncall/oncall/oncall"
)

// Limits.
const (
	MaxDepth       = 64      // JSON nesting levels
	MaxValues      = 1 << 17 // JSON values in a body (each key counts as one)
	MaxAlerts      = 1000    // alerts kept per group; the firing ones first
	MaxLabels      = 256     // entries per labels or annotations object
	MaxKeyLen      = 256     // bytes per label or annotation key
	MaxValueLen    = 16384   // bytes per string value (label, annotation, source, URL...)
	MaxSummaryLen  = 1024    // characters per summary (PagerDuty's limit)
	MaxDedupKeyLen = 255     // characters per dedup_key (PagerDuty's limit)
	MaxLinks       = 64      // links, and images, per event
	MaxProblems    = 20      // problems listed in one *Error
)

// Integration types, as in manifests (manifest.Integration*).
const (
	TypeAlertmanager = "alertmanager"
	TypeGrafana      = "grafana"
	TypePagerDuty    = "pagerduty"
	TypeGeneric      = "generic"
)

// ErrUnknownType is Parse's answer for an integration type it doesn't know:
// the server's fault (a 500), not the client's.
var ErrUnknownType = errors.New("ingest: unknown integration type")

// Parse reads the body of POST /v1/alerts/{key} in the format of the
// integration's type. A pagerduty integration takes Events API v2 events
// there too; their routing_key is ignored (the key in the path decides) and
// may be absent.
func Parse(integrationType string, body []byte) (oncall.AlertEvent, error) {
	switch integrationType {
	case TypeAlertmanager:
		return ParseAlertmanager(body)
	case TypeGrafana:
		return ParseGrafana(body)
	case TypeGeneric:
		return ParseGeneric(body)
	case TypePagerDuty:
		_, ev, err := parsePagerDutyEvent(body, false, newDedupKey)
		return ev, err
	}
	return oncall.AlertEvent{}, fmt.Errorf("%w %q", ErrUnknownType, integrationType)
}
