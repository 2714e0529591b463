package ingest

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncall/oncall/oncall"
)

const (
	msgAlertmanager = "invalid Alertmanager webhook"
	msgGrafana      = "invalid Grafana webhook"
)

// ParseAlertmanager reads an Alertmanager webhook (version "4") as one event
// for the group:
//
//   - DedupKey: groupKey (over MaxDedupKeyLen: "sha256:" and its hash; absent:
//     a hash of the sorted groupLabels).
//   - Alerts: one per alert, by fingerprint (absent: a hash of its labels; a
//     repeated fingerprint: the last wins), Resolved from the alert's status,
//     EndsAt zero while firing, Summary from its summary annotation, else its
//     alertname. Over MaxAlerts, the firing ones are kept first and the rest
//     counted in Details.droppedAlerts.
//   - Action: trigger when any alert is firing, or when the group is firing
//     and Alertmanager truncated it (truncatedAlerts > 0: a firing alert may be
//     among those left out); resolve otherwise.
//   - Labels: commonLabels, or groupLabels when commonLabels is empty;
//     Annotations: commonAnnotations.
//   - Severity: the labels' severity mapped by MapSeverity; without one, the
//     most urgent severity label among the firing alerts (all alerts when none
//     fires); without any, critical.
//   - Summary: commonAnnotations.summary, else the summary annotation of the
//     only alert, else Alertmanager's own default title, e.g.
//     "[FIRING:2] DiskFull (critical)" (group label values, then the other
//     common label values in parentheses); cut to MaxSummaryLen characters.
//   - Client "Alertmanager", ClientURL externalURL, Details {"receiver",
//     "truncatedAlerts", "droppedAlerts"} (those present).
//
// The alerts array is required and must not be empty; each alert's status is
// "firing" or "resolved". Unknown fields, and version, are ignored.
func ParseAlertmanager(body []byte) (oncall.AlertEvent, error) {
	return parseGroup(body, false)
}

// ParseGrafana reads a Grafana webhook (unified alerting, version "1"): the
// Alertmanager shape plus title, message, state, orgId, and per alert values,
// valueString, dashboardURL, panelURL, silenceURL and imageURL. It differs
// from ParseAlertmanager in that Summary prefers title; the dashboard, panel
// and silence URLs become Links (each once, at most MaxLinks), imageURLs
// Images; Details holds message, state, orgId, receiver and each alert's
// values and valueString; Client is "Grafana".
func ParseGrafana(body []byte) (oncall.AlertEvent, error) {
	return parseGroup(body, true)
}

func parseGroup(body []byte, grafana bool) (oncall.AlertEvent, error) {
	msg, client := msgAlertmanager, "Alertmanager"
	if grafana {
		msg, client = msgGrafana, "Grafana"
	}
	root, bad := parseJSON(body)
	if bad != "" {
		return oncall.AlertEvent{}, &Error{Msg: msg, Details: []string{bad}}
	}
	var p problems
	if root.kind != kObject {
		p.wrongType(nil, "a JSON object", &root)
		return oncall.AlertEvent{}, p.err(msg)
	}
	r := &root

	groupKey, _ := p.str(r, "groupKey", nil)
	status, _ := p.str(r, "status", nil)
	if status != "" && status != "firing" && status != "resolved" {
		f := jpath{key: "status", index: -1}
		p.add(&f, `want "firing" or "resolved", got %q`, truncateRunes(status, 64))
		status = ""
	}
	groupLabels := p.stringMap(r, "groupLabels", nil)
	commonLabels := p.stringMap(r, "commonLabels", nil)
	commonAnnotations := p.stringMap(r, "commonAnnotations", nil)
	externalURL, _ := p.str(r, "externalURL", nil)
	receiver, _ := p.str(r, "receiver", nil)
	truncated := p.count(r, "truncatedAlerts", nil)
	var title, message, state string
	if grafana {
		title, _ = p.str(r, "title", nil)
		message, _ = p.str(r, "message", nil)
		state, _ = p.str(r, "state", nil)
	}

	alertsAt := jpath{key: "alerts", index: -1}
	list := r.get("alerts")
	switch {
	case list == nil || list.kind == kNull:
		p.add(&alertsAt, "required")
	case list.kind != kArray:
		p.wrongType(&alertsAt, "an array of alerts", list)
	case len(list.kids) == 0:
		p.add(&alertsAt, "empty, want at least one alert")
	}
	var (
		alerts []oncall.Alert
		extras []grafanaExtra
	)
	if list != nil && list.kind == kArray {
		alerts = make([]oncall.Alert, 0, len(list.kids))
		for i := range list.kids {
			a := &list.kids[i]
			at := alertsAt.item(i)
			if a.kind != kObject {
				p.wrongType(&at, "an alert object", a)
				continue
			}
			st, ok := p.required(a, "status", &at)
			if ok && st != "firing" && st != "resolved" {
				f := at.field("status")
				p.add(&f, `want "firing" or "resolved", got %q`, truncateRunes(st, 64))
			}
			al := oncall.Alert{
				Resolved:    st == "resolved",
				Labels:      p.stringMap(a, "labels", &at),
				Annotations: p.stringMap(a, "annotations", &at),
				StartsAt:    p.time(a, "startsAt", &at),
				EndsAt:      p.time(a, "endsAt", &at),
			}
			al.Fingerprint, _ = p.str(a, "fingerprint", &at)
			al.GeneratorURL, _ = p.str(a, "generatorURL", &at)
			if grafana {
				var x grafanaExtra
				x.dashboard, _ = p.str(a, "dashboardURL", &at)
				x.panel, _ = p.str(a, "panelURL", &at)
				x.silence, _ = p.str(a, "silenceURL", &at)
				x.image, _ = p.str(a, "imageURL", &at)
				x.valueString, _ = p.str(a, "valueString", &at)
				x.values = a.get("values")
				if x.values != nil && x.values.kind == kNull {
					x.values = nil
				}
				extras = append(extras, x)
			}
			if !al.Resolved {
				al.EndsAt = time.Time{}
			}
			if strings.TrimSpace(al.Fingerprint) == "" {
				al.Fingerprint = hashKey(al.Labels)[:16]
			} else {
				al.Fingerprint = boundedKey(al.Fingerprint)
			}
			al.Summary = strings.TrimSpace(al.Annotations["summary"])
			if al.Summary == "" {
				al.Summary = al.Labels["alertname"]
			}
			al.Summary = truncateRunes(al.Summary, MaxSummaryLen)
			alerts = append(alerts, al)
		}
	}
	if !p.ok() {
		return oncall.AlertEvent{}, p.err(msg)
	}

	for i := range extras {
		extras[i].fingerprint = alerts[i].Fingerprint
	}
	alerts = uniqueFingerprints(alerts)

	firing := 0
	for i := range alerts {
		if !alerts[i].Resolved {
			firing++
		}
	}
	action := oncall.ActionResolve
	if firing > 0 || status == "firing" && truncated > 0 {
		action = oncall.ActionTrigger
	}
	if status == "" {
		status = "resolved"
		if action == oncall.ActionTrigger {
			status = "firing"
		}
	}

	ev := oncall.AlertEvent{
		Action:      action,
		Labels:      commonLabels,
		Annotations: commonAnnotations,
		Client:      client,
		ClientURL:   externalURL,
	}
	if len(ev.Labels) == 0 {
		ev.Labels = groupLabels
	}
	if strings.TrimSpace(groupKey) != "" {
		ev.DedupKey = boundedKey(groupKey)
	} else {
		ev.DedupKey = hashKey(groupLabels, "groupLabels")
	}

	ev.Severity = groupSeverity(ev.Labels, alerts, firing > 0)

	if grafana {
		ev.Summary = strings.TrimSpace(title)
	}
	if ev.Summary == "" {
		ev.Summary = strings.TrimSpace(commonAnnotations["summary"])
	}
	if ev.Summary == "" && len(alerts) == 1 {
		ev.Summary = strings.TrimSpace(alerts[0].Annotations["summary"])
	}
	if ev.Summary == "" {
		ev.Summary = subject(status, firing, groupLabels, commonLabels)
	}
	ev.Summary = truncateRunes(ev.Summary, MaxSummaryLen)

	dropped := 0
	if len(alerts) > MaxAlerts {
		slices.SortStableFunc(alerts, func(a, b oncall.Alert) int {
			switch {
			case a.Resolved == b.Resolved:
				return 0
			case !a.Resolved:
				return -1
			}
			return 1
		})
		dropped = len(alerts) - MaxAlerts
		alerts = alerts[:MaxAlerts:MaxAlerts]
	}
	ev.Alerts = alerts

	var d objWriter
	if grafana {
		d.str("message", message)
		d.str("state", state)
		if org := r.get("orgId"); org != nil && org.kind != kNull {
			d.key("orgId")
			d.b = appendJSON(d.b, org)
		}
	}
	d.str("receiver", receiver)
	d.int("truncatedAlerts", truncated)
	d.int("droppedAlerts", dropped)
	if grafana {
		ev.Links, ev.Images = grafanaLinks(extras, alerts)
		d.grafanaValues(extras)
	}
	ev.Details = d.done()
	return ev, nil
}

// uniqueFingerprints keeps the last alert of each fingerprint, in the order
// of their first appearance.
func uniqueFingerprints(alerts []oncall.Alert) []oncall.Alert {
	if len(alerts) < 2 {
		return alerts
	}
	at := make(map[string]int, len(alerts))
	out := alerts[:0]
	for _, a := range alerts {
		if i, ok := at[a.Fingerprint]; ok {
			out[i] = a
			continue
		}
		at[a.Fingerprint] = len(out)
		out = append(out, a)
	}
	return out
}

// groupSeverity: labels' severity, else the most urgent among the alerts
// (the firing ones when some fire), else critical.
func groupSeverity(labels map[string]string, alerts []oncall.Alert, someFiring bool) string {
	if w, ok := labels["severity"]; ok {
		s, _ := MapSeverity(w)
		return s
	}
	best := ""
	for i := range alerts {
		if someFiring && alerts[i].Resolved {
			continue
		}
		w, ok := alerts[i].Labels["severity"]
		if !ok {
			continue
		}
		if s, _ := MapSeverity(w); best == "" || severityRank(s) < severityRank(best) {
			best = s
		}
	}
	if best == "" {
		return oncall.SeverityCritical
	}
	return best
}

// subject is Alertmanager's default title (template __subject):
// [STATUS(:firing count)] group label values (other common label values).
func subject(status string, firing int, group, common map[string]string) string {
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(strings.ToUpper(status))
	if status == "firing" {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(firing))
	}
	b.WriteByte(']')
	if v := sortedValues(group, nil); v != "" {
		b.WriteByte(' ')
		b.WriteString(v)
	}
	if len(common) > len(group) {
		if v := sortedValues(common, group); v != "" {
			b.WriteString(" (")
			b.WriteString(v)
			b.WriteByte(')')
		}
	}
	return b.String()
}

// sortedValues joins m's values in the order of their keys, leaving out the
// keys of except.
func sortedValues(m, except map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if _, skip := except[k]; !skip {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(m[k])
	}
	return b.String()
}

// grafanaExtra is what a Grafana alert carries beyond Alertmanager's.
type grafanaExtra struct {
	fingerprint                      string
	dashboard, panel, silence, image string
	valueString                      string
	values                           *node
}

func grafanaLinks(extras []grafanaExtra, alerts []oncall.Alert) ([]oncall.Link, []oncall.Image) {
	var links []oncall.Link
	var images []oncall.Image
	seen := map[string]bool{}
	add := func(href, text string) {
		if strings.TrimSpace(href) == "" || seen[href] || len(links) >= MaxLinks {
			return
		}
		seen[href] = true
		links = append(links, oncall.Link{Href: href, Text: text})
	}
	summaries := make(map[string]string, len(alerts))
	for _, a := range alerts {
		summaries[a.Fingerprint] = a.Summary
	}
	for _, x := range extras {
		add(x.dashboard, "Dashboard")
		add(x.panel, "Panel")
		add(x.silence, "Silence")
	}
	for _, x := range extras {
		if strings.TrimSpace(x.image) == "" || seen[x.image] || len(images) >= MaxLinks {
			continue
		}
		seen[x.image] = true
		href := x.panel
		if href == "" {
			href = x.dashboard
		}
		images = append(images, oncall.Image{Src: x.image, Href: href, Alt: summaries[x.fingerprint]})
	}
	return links, images
}

// objWriter builds a JSON object of details, leaving out empty members.
type objWriter struct{ b []byte }

func (w *objWriter) key(k string) {
	if len(w.b) == 0 {
		w.b = append(w.b, '{')
	} else {
		w.b = append(w.b, ',')
	}
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *objWriter) str(k, v string) {
	if v != "" {
		w.key(k)
		w.b = appendJSONString(w.b, v)
	}
}

func (w *objWriter) int(k string, v int) {
	if v != 0 {
		w.key(k)
		w.b = strconv.AppendInt(w.b, int64(v), 10)
	}
}

func (w *objWriter) grafanaValues(extras []grafanaExtra) {
	n := 0
	for _, x := range extras {
		if x.values == nil && x.valueString == "" {
			continue
		}
		if n == 0 {
			w.key("alerts")
			w.b = append(w.b, '[')
		} else {
			w.b = append(w.b, ',')
		}
		n++
		var a objWriter
		a.str("fingerprint", x.fingerprint)
		if x.values != nil {
			a.key("values")
			a.b = appendJSON(a.b, x.values)
		}
		a.str("valueString", x.valueString)
		w.b = append(w.b, a.done()...)
	}
	if n > 0 {
		w.b = append(w.b, ']')
	}
}

func (w *objWriter) done() []byte {
	if len(w.b) == 0 {
		return nil
	}
	return append(w.b, '}')
}
