package ingest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/oncall/oncall/oncall"
)

// msgPagerDuty is PagerDuty's own message for a rejected event.
const msgPagerDuty = "Event object is invalid"

// ParsePagerDutyEvent reads a PagerDuty Events API v2 event, the body of
// POST /v2/enqueue, and returns its routing_key (our integration key) apart.
//
// Fields, as PagerDuty defines them:
//
//	routing_key       string, required
//	event_action      "trigger" | "acknowledge" | "resolve", required
//	dedup_key         string, at most 255 characters; required to acknowledge
//	                  or resolve; a trigger without one gets a new random key
//	                  (32 hex digits), which the 202 answer returns
//	payload           object, required to trigger, ignored otherwise:
//	  summary         string of 1..1024 characters, required
//	  source          string, required
//	  severity        "critical" | "error" | "warning" | "info", required
//	  timestamp       string, optional (AlertEvent has no field for it)
//	  component, group, class   strings, optional: kept as Labels too, so
//	                  alert rules can match them
//	  custom_details  any JSON, optional: Details (a non-object is wrapped as
//	                  {"details": value})
//	links             [{"href", "text"}], optional (trigger only)
//	images            [{"src", "href", "alt"}], optional (trigger only)
//	client, client_url  strings, optional (trigger only)
//
// Unknown fields are ignored. An acknowledge or resolve needs only
// routing_key, event_action and dedup_key (go-pagerduty sends them without a
// payload). A rejected event's *Error lists every problem, as PagerDuty does;
// WritePagerDutyInvalid answers with it.
func ParsePagerDutyEvent(body []byte) (routingKey string, ev oncall.AlertEvent, err error) {
	return parsePagerDutyEvent(body, true, newDedupKey)
}

func parsePagerDutyEvent(body []byte, needRoutingKey bool, newKey func() string) (string, oncall.AlertEvent, error) {
	root, bad := parseJSON(body)
	if bad != "" {
		return "", oncall.AlertEvent{}, &Error{Msg: msgPagerDuty, Details: []string{bad}}
	}
	var p problems
	if root.kind != kObject {
		p.wrongType(nil, "a JSON object", &root)
		return "", oncall.AlertEvent{}, p.err(msgPagerDuty)
	}
	r := &root
	var routingKey string
	if needRoutingKey {
		routingKey, _ = p.required(r, "routing_key", nil)
	}

	action, ok := p.required(r, "event_action", nil)
	if ok {
		switch oncall.AlertAction(action) {
		case oncall.ActionTrigger, oncall.ActionAcknowledge, oncall.ActionResolve:
		default:
			f := jpath{key: "event_action", index: -1}
			p.add(&f, `want "trigger", "acknowledge" or "resolve", got %q`, truncateRunes(action, 64))
			action = ""
		}
	}
	dedupAt := jpath{key: "dedup_key", index: -1}
	dedupKey, _ := p.str(r, "dedup_key", nil)
	if n := utf8.RuneCountInString(dedupKey); n > MaxDedupKeyLen {
		p.add(&dedupAt, "%d characters, at most %d", n, MaxDedupKeyLen)
	}
	ev := oncall.AlertEvent{Action: oncall.AlertAction(action), DedupKey: dedupKey}

	switch ev.Action {
	case oncall.ActionAcknowledge, oncall.ActionResolve:
		if strings.TrimSpace(dedupKey) == "" && r.get("dedup_key").isAbsentOrString() {
			p.add(&dedupAt, "required to %s", action)
		}
	case oncall.ActionTrigger:
		payloadAt := jpath{key: "payload", index: -1}
		pl := r.get("payload")
		switch {
		case pl == nil || pl.kind == kNull:
			p.add(&payloadAt, "required to trigger")
		case pl.kind != kObject:
			p.wrongType(&payloadAt, "an object", pl)
		default:
			if s, ok := p.required(pl, "summary", &payloadAt); ok {
				f := payloadAt.field("summary")
				p.summary(s, &f)
				ev.Summary = s
			}
			ev.Source, _ = p.required(pl, "source", &payloadAt)
			if sev, ok := p.required(pl, "severity", &payloadAt); ok {
				switch sev {
				case oncall.SeverityCritical, oncall.SeverityError, oncall.SeverityWarning, oncall.SeverityInfo:
					ev.Severity = sev
				default:
					f := payloadAt.field("severity")
					p.add(&f, `want "critical", "error", "warning" or "info", got %q`, truncateRunes(sev, 64))
				}
			}
			p.str(pl, "timestamp", &payloadAt)
			for _, k := range [...]string{"component", "group", "class"} {
				if v, ok := p.str(pl, k, &payloadAt); ok && v != "" {
					if ev.Labels == nil {
						ev.Labels = make(map[string]string, 3)
					}
					ev.Labels[k] = v
				}
			}
			ev.Details = details(pl.get("custom_details"))
		}
		ev.Links = p.links(r, "links", nil)
		ev.Images = p.images(r, "images", nil)
		ev.Client, _ = p.str(r, "client", nil)
		ev.ClientURL, _ = p.str(r, "client_url", nil)
		if !p.ok() {
			break
		}
		if strings.TrimSpace(ev.DedupKey) == "" {
			ev.DedupKey = newKey()
		}
	}
	if !p.ok() {
		return "", oncall.AlertEvent{}, p.err(msgPagerDuty)
	}
	return routingKey, ev, nil
}

func (n *node) isAbsentOrString() bool { return n == nil || n.kind == kNull || n.kind == kString }

// newDedupKey is the key of a trigger sent without one: 32 hex digits, like
// PagerDuty's.
func newDedupKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b[:])
}

// ParsePagerDutyChange reads a PagerDuty change event, the body of
// POST /v2/change/enqueue:
//
//	routing_key       string, required
//	payload           object, required:
//	  summary         string of 1..1024 characters, required
//	  source          string, optional
//	  timestamp       ISO 8601 time, optional (zero when absent)
//	  custom_details  any JSON, optional (a non-object is wrapped as {"details": value})
//	links             [{"href", "text"}], optional
//
// Unknown fields are ignored.
func ParsePagerDutyChange(body []byte) (routingKey string, ev oncall.ChangeEvent, err error) {
	root, bad := parseJSON(body)
	if bad != "" {
		return "", oncall.ChangeEvent{}, &Error{Msg: msgPagerDuty, Details: []string{bad}}
	}
	var p problems
	if root.kind != kObject {
		p.wrongType(nil, "a JSON object", &root)
		return "", oncall.ChangeEvent{}, p.err(msgPagerDuty)
	}
	r := &root
	routingKey, _ = p.required(r, "routing_key", nil)
	payloadAt := jpath{key: "payload", index: -1}
	pl := r.get("payload")
	switch {
	case pl == nil || pl.kind == kNull:
		p.add(&payloadAt, "required")
	case pl.kind != kObject:
		p.wrongType(&payloadAt, "an object", pl)
	default:
		if s, ok := p.required(pl, "summary", &payloadAt); ok {
			f := payloadAt.field("summary")
			p.summary(s, &f)
			ev.Summary = s
		}
		ev.Source, _ = p.str(pl, "source", &payloadAt)
		if ts, ok := p.str(pl, "timestamp", &payloadAt); ok {
			t, ok := parseTime(ts)
			if !ok {
				f := payloadAt.field("timestamp")
				p.add(&f, "want an ISO 8601 time, got %q", truncateRunes(ts, 64))
			}
			ev.Timestamp = t
		}
		ev.Details = details(pl.get("custom_details"))
	}
	ev.Links = p.links(r, "links", nil)
	if !p.ok() {
		return "", oncall.ChangeEvent{}, p.err(msgPagerDuty)
	}
	return routingKey, ev, nil
}

// PagerDutyResponse is the body of PagerDuty's Events API v2 answers, what
// go-pagerduty decodes as V2EventResponse, EventsAPIV2Error and
// ChangeEventResponse.
type PagerDutyResponse struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// WritePagerDutyAccepted answers an accepted event as PagerDuty does:
// 202 {"status":"success","message":"Event processed","dedup_key":"..."}.
func WritePagerDutyAccepted(w http.ResponseWriter, dedupKey string) {
	writePagerDuty(w, http.StatusAccepted, PagerDutyResponse{Status: "success", Message: "Event processed", DedupKey: dedupKey})
}

// WritePagerDutyChangeAccepted answers an accepted change event as PagerDuty
// does: 202 {"status":"success","message":"Change event processed"}.
func WritePagerDutyChangeAccepted(w http.ResponseWriter) {
	writePagerDuty(w, http.StatusAccepted, PagerDutyResponse{Status: "success", Message: "Change event processed"})
}

// WritePagerDutyInvalid answers a rejected event as PagerDuty does:
// 400 {"status":"invalid event","message":"Event object is invalid","errors":[...]},
// the errors being an *Error's Details (or err's text for another error).
func WritePagerDutyInvalid(w http.ResponseWriter, err error) {
	var e *Error
	var list []string
	if errors.As(err, &e) && len(e.Details) > 0 {
		list = e.Details
	} else if err != nil {
		list = []string{err.Error()}
	} else {
		list = []string{"invalid event"}
	}
	writePagerDuty(w, http.StatusBadRequest, PagerDutyResponse{Status: "invalid event", Message: msgPagerDuty, Errors: list})
}

func writePagerDuty(w http.ResponseWriter, code int, body PagerDutyResponse) {
	b, _ := json.Marshal(body) // strings and a []string: cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
