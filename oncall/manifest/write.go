package manifest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oncall/oncall/oncall"
)

// File names of Marshal's output, one per kind: sorted names are the
// dependency order.
var kindFiles = map[string]string{
	KindUser:             "01-users.yaml",
	KindTeam:             "02-teams.yaml",
	KindHolidays:         "03-holidays.yaml",
	KindSchedule:         "04-schedules.yaml",
	KindEscalationPolicy: "05-escalation-policies.yaml",
	KindService:          "06-services.yaml",
	KindAlertRule:        "07-alert-rules.yaml",
}

// Marshal writes s as manifests: one YAML file per kind that s has (named
// like "01-users.yaml", so sorted names are the dependency order) and the
// iCalendar file of each Holidays with ICalData, beside them. Defaults are
// left out; local times are written in their schedule's (or layer's) zone
// when that reads back as the same instant. Load of the result gives s
// back, normalized.
func Marshal(s *Set) (map[string][]byte, error) {
	s = s.Clone()
	s.Normalize()
	files := map[string][]byte{}

	// iCalendar files first: a name taken by different data is made unique.
	for _, h := range s.Holidays {
		if len(h.ICalData) == 0 {
			continue
		}
		name := h.ICal
		for i := 2; ; i++ {
			data, taken := files[name]
			if !taken || bytes.Equal(data, h.ICalData) {
				break
			}
			name = ICalFileName(fmt.Sprintf("%s-%d.ics", h.Name, i), h.Name)
		}
		h.ICal = name
		files[name] = h.ICalData
	}

	var docs = map[string][]*yaml.Node{}
	for _, u := range s.Users {
		docs[KindUser] = append(docs[KindUser], userNode(u))
	}
	for _, t := range s.Teams {
		docs[KindTeam] = append(docs[KindTeam], teamNode(t))
	}
	for _, h := range s.Holidays {
		docs[KindHolidays] = append(docs[KindHolidays], holidaysNode(h))
	}
	for _, sc := range s.Schedules {
		n, err := scheduleNode(sc)
		if err != nil {
			return nil, err
		}
		docs[KindSchedule] = append(docs[KindSchedule], n)
	}
	for _, p := range s.Policies {
		docs[KindEscalationPolicy] = append(docs[KindEscalationPolicy], policyNode(p))
	}
	for _, sv := range s.Services {
		docs[KindService] = append(docs[KindService], serviceNode(sv))
	}
	for _, r := range s.AlertRules {
		docs[KindAlertRule] = append(docs[KindAlertRule], alertRuleNode(r))
	}
	for kind, nodes := range docs {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		for _, n := range nodes {
			if err := enc.Encode(n); err != nil {
				return nil, fmt.Errorf("marshal %s: %w", kind, err)
			}
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("marshal %s: %w", kind, err)
		}
		files[kindFiles[kind]] = buf.Bytes()
	}
	return files, nil
}

// WriteDir writes Marshal's files into dir, creating it if needed. Other
// files in dir are left alone.
func WriteDir(dir string, s *Set) error {
	files, err := Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write manifests: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write manifests: %w", err)
		}
	}
	return nil
}

// Node builders.

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// plain is a scalar written as is (dates, durations, numbers, booleans).
func plain(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

type obj struct{ n *yaml.Node }

func newObj(flow bool) obj {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if flow {
		n.Style = yaml.FlowStyle
	}
	return obj{n}
}

func doc(kind, name string) obj {
	o := newObj(false)
	o.set("kind", str(kind))
	o.set("name", str(name))
	return o
}

func (o obj) set(key string, v *yaml.Node) { o.n.Content = append(o.n.Content, str(key), v) }

// opt sets a string unless it is empty.
func (o obj) opt(key, v string) {
	if v != "" {
		o.set(key, str(v))
	}
}

func seq(flow bool, items ...*yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Content: items}
	if flow {
		n.Style = yaml.FlowStyle
	}
	return n
}

func strSeq(list []string) *yaml.Node {
	items := make([]*yaml.Node, len(list))
	for i, s := range list {
		items[i] = str(s)
	}
	return seq(true, items...)
}

// optList sets a flow list of strings unless it is empty.
func (o obj) optList(key string, list []string) {
	if len(list) > 0 {
		o.set(key, strSeq(list))
	}
}

func userNode(u *User) *yaml.Node {
	o := doc(KindUser, u.Name)
	o.opt("full_name", u.FullName)
	o.opt("email", u.Email)
	o.opt("slack_id", u.SlackID)
	o.opt("time_zone", u.TimeZone)
	if len(u.ContactMethods) > 0 {
		var items []*yaml.Node
		for _, c := range u.ContactMethods {
			m := newObj(true)
			m.set("name", str(c.Name))
			m.set("type", str(c.Type))
			m.set("address", str(c.Address))
			items = append(items, m.n)
		}
		o.set("contact_methods", seq(false, items...))
	}
	if len(u.NotificationRules) > 0 {
		var items []*yaml.Node
		for _, r := range u.NotificationRules {
			m := newObj(true)
			m.set("after", plain(oncall.FormatDuration(r.After)))
			m.set("notify", strSeq(r.Notify))
			items = append(items, m.n)
		}
		o.set("notification_rules", seq(false, items...))
	}
	return o.n
}

func teamNode(t *Team) *yaml.Node {
	o := doc(KindTeam, t.Name)
	o.optList("members", t.Members)
	o.optList("admins", t.Admins)
	o.opt("slack_channel", t.SlackChannel)
	o.opt("slack_user_group", t.SlackUserGroup)
	return o.n
}

func holidaysNode(h *Holidays) *yaml.Node {
	o := doc(KindHolidays, h.Name)
	if len(h.Dates) > 0 {
		items := make([]*yaml.Node, len(h.Dates))
		for i, d := range h.Dates {
			items[i] = plain(d.String())
		}
		o.set("dates", seq(true, items...))
	}
	o.opt("ical", h.ICal)
	return o.n
}

func scheduleNode(sc *Schedule) (*yaml.Node, error) {
	loc, err := loadLocation(sc.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("marshal schedule %q: %w", sc.Name, err)
	}
	o := doc(KindSchedule, sc.Name)
	o.opt("team", sc.Team)
	o.opt("slack_user_group", sc.SlackUserGroup)
	o.set("time_zone", str(sc.TimeZone))
	o.optList("holidays", sc.Holidays)
	if len(sc.Layers) > 0 {
		var items []*yaml.Node
		for _, l := range sc.Layers {
			lloc := loc
			if l.TimeZone != "" {
				if lloc, err = loadLocation(l.TimeZone); err != nil {
					return nil, fmt.Errorf("marshal schedule %q layer %q: %w", sc.Name, l.Name, err)
				}
			}
			m := newObj(false)
			m.set("name", str(l.Name))
			m.set("members", strSeq(l.Members))
			m.set("start", plain(l.Start.String()))
			m.set("shift", plain(formatShift(l.Shift)))
			m.opt("time_zone", l.TimeZone)
			if len(l.Restrict) > 0 {
				var ws []*yaml.Node
				for _, w := range l.Restrict {
					wm := newObj(true)
					wm.optList("days", w.Days)
					wm.set("from", str(w.From))
					wm.set("to", str(w.To))
					ws = append(ws, wm.n)
				}
				m.set("restrict", seq(false, ws...))
			}
			if l.OnHolidays != OnHolidaysInclude {
				m.opt("on_holidays", l.OnHolidays)
			}
			if l.End != nil {
				m.set("end", plain(formatLocal(*l.End, lloc)))
			}
			items = append(items, m.n)
		}
		o.set("layers", seq(false, items...))
	}
	if len(sc.Overrides) > 0 {
		var items []*yaml.Node
		for _, ov := range sc.Overrides {
			m := newObj(true)
			m.set("user", str(ov.User))
			m.set("start", plain(formatLocal(ov.Start, loc)))
			m.set("end", plain(formatLocal(ov.End, loc)))
			items = append(items, m.n)
		}
		o.set("overrides", seq(false, items...))
	}
	return o.n, nil
}

func policyNode(p *EscalationPolicy) *yaml.Node {
	o := doc(KindEscalationPolicy, p.Name)
	o.opt("team", p.Team)
	if p.Repeat != 0 {
		o.set("repeat", plain(strconv.Itoa(p.Repeat)))
	}
	var steps []*yaml.Node
	for _, st := range p.Steps {
		m := newObj(false)
		var ts []*yaml.Node
		for _, t := range st.Targets {
			tm := newObj(true)
			tm.set(t.Type, str(t.Ref))
			ts = append(ts, tm.n)
		}
		m.set("targets", seq(true, ts...))
		if st.EscalateAfter != DefaultEscalateAfter {
			m.set("escalate_after", plain(oncall.FormatDuration(st.EscalateAfter)))
		}
		steps = append(steps, m.n)
	}
	o.set("steps", seq(false, steps...))
	return o.n
}

func serviceNode(s *Service) *yaml.Node {
	o := doc(KindService, s.Name)
	o.opt("description", s.Description)
	o.opt("team", s.Team)
	o.opt("escalation_policy", s.EscalationPolicy)
	if len(s.Integrations) > 0 {
		var items []*yaml.Node
		for _, in := range s.Integrations {
			m := newObj(true)
			m.set("name", str(in.Name))
			m.set("type", str(in.Type))
			if in.Timeout != 0 {
				m.set("timeout", plain(FormatTimeout(in.Timeout)))
			}
			items = append(items, m.n)
		}
		o.set("integrations", seq(false, items...))
	}
	return o.n
}

// FormatTimeout writes a heartbeat timeout as people write it: whole days
// and weeks as such ("2d", "1w"), anything else in hours ("25h", "1h30m").
func FormatTimeout(d time.Duration) string {
	if d > 0 && d%oncall.Day == 0 {
		return oncall.FormatDuration(d)
	}
	return formatHours(d)
}

func alertRuleNode(r *AlertRule) *yaml.Node {
	o := doc(KindAlertRule, r.Name)
	o.optList("integrations", r.Integrations)
	if mn := matchNode(r.Match); mn != nil {
		o.set("match", mn)
	}
	o.opt("service_from", r.ServiceFrom)
	o.opt("service", r.Service)
	if !r.Page {
		o.set("page", plain("false"))
	}
	if r.Urgency != UrgencyHigh {
		o.opt("urgency", r.Urgency)
	}
	return o.n
}

func matchNode(m Match) *yaml.Node {
	o := newObj(false)
	values := func(list []string) *yaml.Node {
		if len(list) == 1 {
			return str(list[0])
		}
		return strSeq(list)
	}
	if len(m.Severity) > 0 {
		o.set("severity", values(m.Severity))
	}
	if len(m.Summary) > 0 {
		o.set("summary", values(m.Summary))
	}
	for _, f := range []struct {
		key string
		m   map[string][]string
	}{{"labels", m.Labels}, {"annotations", m.Annotations}} {
		if len(f.m) == 0 {
			continue
		}
		fm := newObj(true)
		for _, k := range sortedKeys(f.m) {
			fm.set(k, values(f.m[k]))
		}
		o.set(f.key, fm.n)
	}
	if len(o.n.Content) == 0 {
		return nil
	}
	return o.n
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
