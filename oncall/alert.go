package oncall

import (
	"encoding/json"
	"time"
)

// AlertAction is what an inbound event asks of its incident.
type AlertAction string

const (
	ActionTrigger     AlertAction = "trigger"
	ActionAcknowledge AlertAction = "acknowledge"
	ActionResolve     AlertAction = "resolve"
)

// Severities, most urgent first. Senders' own words are mapped onto these.
const (
	SeverityCritical = "critical"
	SeverityError    = "error"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// AlertEvent is one inbound event, whatever its wire format: an Alertmanager
// or Grafana webhook (one event per group), a PagerDuty Events v2 event, a
// generic JSON alert. The engine turns it into incident changes.
type AlertEvent struct {
	// DedupKey identifies the incident within the integration: Alertmanager's
	// groupKey, PagerDuty's dedup_key, generic's dedup_key.
	DedupKey string
	Action   AlertAction
	Summary  string
	Severity string // one of the Severity constants
	Source   string // the affected system, when the sender says
	// Labels and Annotations are what alert rules match on. For a group they
	// are the labels/annotations common to all its alerts.
	Labels      map[string]string
	Annotations map[string]string
	Details     json.RawMessage // free-form details kept for display (JSON object), may be nil
	Links       []Link
	Images      []Image
	Client      string // the sender's name, e.g. "Alertmanager"
	ClientURL   string // where the sender shows it
	// Alerts are the member alerts of a group (Alertmanager, Grafana), tracked
	// by fingerprint: an incident resolves when all of them have.
	Alerts []Alert
}

// Alert is one member alert of a grouped event.
type Alert struct {
	Fingerprint  string
	Resolved     bool
	Summary      string
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time // zero when still firing
	GeneratorURL string
}

type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

type Image struct {
	Src  string `json:"src"`
	Href string `json:"href,omitempty"`
	Alt  string `json:"alt,omitempty"`
}

// ChangeEvent is a PagerDuty change event: recorded on a service's timeline,
// never paged.
type ChangeEvent struct {
	Summary   string
	Source    string
	Timestamp time.Time // zero when the sender gave none
	Details   json.RawMessage
	Links     []Link
}
