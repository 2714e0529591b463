package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/calendar"
	"github.com/oncall/oncall/oncall/schedule"
)

var (
	phoneRE        = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	emailRE        = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	slackUserRE    = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	slackChannelRE = regexp.MustCompile(`^([CG][A-Z0-9]{2,}|#[^\s#]{1,80})$`)
	slackGroupRE   = regexp.MustCompile(`^(S[A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]{0,79})$`)
)

// ValidSlackUserGroup reports whether s names a Slack user group as
// slack_user_group takes it: an ID (S0123ABCD) or a handle with its @
// (@payments-oncall; Slack keeps handles in lowercase).
func ValidSlackUserGroup(s string) bool { return slackGroupRE.MatchString(s) }

func validName(s string) bool { return oncall.ValidName(s) }

// isCollection reports whether n is a list or a mapping (a wrong type,
// reported where it is read).
func isCollection(n *yaml.Node) bool {
	return n != nil && (n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode)
}

func (p *parser) user(n *yaml.Node) {
	m := p.mapping(n, "", KindUser, "kind", "name", "full_name", "email", "slack_id", "time_zone", "contact_methods", "notification_rules")
	if m == nil {
		return
	}
	name, ok := p.objectName(m)
	u := &User{Name: name.s}
	u.FullName, _ = m.str("full_name")
	var email, slackID *yaml.Node
	u.Email, email = m.str("email")
	if email != nil && !emailRE.MatchString(u.Email) {
		p.errorf(email, "email: invalid email address %q", u.Email)
	}
	u.SlackID, slackID = m.str("slack_id")
	if slackID != nil && !slackUserRE.MatchString(u.SlackID) {
		p.errorf(slackID, "slack_id: invalid Slack user ID %q (like U01ABCDEF)", u.SlackID)
	}
	if u.Email == "" && u.SlackID == "" && !isCollection(m.get("email")) && !isCollection(m.get("slack_id")) {
		m.missing("email") // found in Slack by email unless slack_id is given
	}
	if tz, n := m.str("time_zone"); n != nil {
		if _, err := loadLocation(tz); err != nil {
			p.errorf(n, "time_zone: %v", err)
		}
		u.TimeZone = tz
	}

	methods := map[string]bool{}
	for _, it := range m.list("contact_methods") {
		cm := p.mapping(it, "contact_methods", "contact method", "name", "type", "address")
		if cm == nil {
			continue
		}
		var c ContactMethod
		if s, n := cm.reqStr("name"); n != nil {
			switch {
			case s == NotifySlack || s == NotifyPush:
				p.errorf(n, "name: %q is built in; give this contact method another name", s)
			case !p.checkName("name", item{s, n}):
			case methods[s]:
				p.errorf(n, "name: contact method %q is listed twice", s)
			default:
				methods[s] = true
			}
			c.Name = s
		}
		var typ *yaml.Node
		c.Type, typ = cm.reqStr("type")
		if typ != nil && !contains(contactTypes, c.Type) {
			p.errorf(typ, "type: invalid contact method type %q%s", c.Type, hint(c.Type, contactTypes, "use sms, voice or email"))
			typ = nil
		}
		if a, n := cm.reqStr("address"); n != nil {
			c.Address = a
			if typ != nil {
				switch c.Type {
				case ContactSMS, ContactVoice:
					if !phoneRE.MatchString(a) {
						p.errorf(n, "address: invalid phone number %q (use E.164, like +14155550100)", a)
					}
				case ContactEmail:
					if !emailRE.MatchString(a) {
						p.errorf(n, "address: invalid email address %q", a)
					}
				}
			}
		}
		u.ContactMethods = append(u.ContactMethods, c)
	}

	notifiable := []string{NotifySlack, NotifyPush}
	for _, c := range u.ContactMethods {
		notifiable = append(notifiable, c.Name)
	}
	for _, it := range m.list("notification_rules") {
		rm := p.mapping(it, "notification_rules", "notification rule", "after", "notify")
		if rm == nil {
			continue
		}
		var r NotificationRule
		if d, n := rm.str("after"); n != nil {
			after, err := parseSeconds(d)
			if err != nil {
				p.errorf(n, "after: %v", err)
			}
			r.After = after
		}
		if v := rm.get("notify"); v == nil {
			rm.missing("notify")
		} else if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			p.errorf(v, "notify: must not be empty")
		}
		for _, t := range rm.strs("notify", true) {
			if t.s != NotifySlack && t.s != NotifyPush && !methods[t.s] {
				p.errorf(t.n, "notify: unknown contact method %q%s", t.s, hint(t.s, notifiable, "use one of the user's contact methods, slack or push"))
			}
			r.Notify = append(r.Notify, t.s)
		}
		u.NotificationRules = append(u.NotificationRules, r)
	}
	if ok && p.define(KindUser, name) {
		p.b.Set.Users = append(p.b.Set.Users, u)
	}
}

var contactTypes = []string{ContactSMS, ContactVoice, ContactEmail}

func (p *parser) team(n *yaml.Node) {
	m := p.mapping(n, "", KindTeam, "kind", "name", "members", "admins", "slack_channel", "slack_user_group")
	if m == nil {
		return
	}
	name, ok := p.objectName(m)
	t := &Team{Name: name.s}
	members := map[string]bool{}
	for _, it := range m.names("members") {
		p.ref(KindUser, "members", it)
		members[it.s] = true
		t.Members = append(t.Members, it.s)
	}
	for _, it := range m.names("admins") {
		if !members[it.s] {
			p.errorf(it.n, "admins: %q is not a member of the team", it.s)
		}
		t.Admins = append(t.Admins, it.s)
	}
	t.SlackChannel = p.slackChannel(m, "slack_channel")
	t.SlackUserGroup = p.slackUserGroup(m, "slack_user_group")
	if ok && p.define(KindTeam, name) {
		p.b.Set.Teams = append(p.b.Set.Teams, t)
	}
}

func (p *parser) slackChannel(m *mapping, key string) string {
	s, n := m.str(key)
	if n != nil && !slackChannelRE.MatchString(s) {
		p.errorf(n, "%s: invalid Slack channel %q (use a channel ID like C0123ABCD or #name)", key, s)
	}
	return s
}

func (p *parser) slackUserGroup(m *mapping, key string) string {
	s, n := m.str(key)
	if n != nil && !slackGroupRE.MatchString(s) {
		p.errorf(n, "%s: invalid Slack user group %q (use a user group ID like S0123ABCD or @handle)", key, s)
	}
	return s
}

func (p *parser) holidays(n *yaml.Node) {
	m := p.mapping(n, "", KindHolidays, "kind", "name", "dates", "ical")
	if m == nil {
		return
	}
	name, ok := p.objectName(m)
	h := &Holidays{Name: name.s}
	for _, it := range m.strs("dates", false) {
		d, err := schedule.ParseDate(it.s)
		if err != nil {
			p.errorf(it.n, "dates: invalid date %q (use YYYY-MM-DD)", it.s)
			continue
		}
		h.Dates = append(h.Dates, d)
	}
	if file, n := m.str("ical"); n != nil {
		h.ICal = file
		h.ICalData = p.readICal(file, n)
	}
	if ok && p.define(KindHolidays, name) {
		p.b.Set.Holidays = append(p.b.Set.Holidays, h)
	}
}

func (p *parser) readICal(file string, n *yaml.Node) []byte {
	full, err := p.src.resolve(p.file, file)
	var data []byte
	if err == nil {
		data, err = p.src.readFile(full)
	}
	if err != nil {
		msg := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "file does not exist"
		}
		p.errorf(n, "ical: cannot read %q: %s", file, msg)
		return nil
	}
	if _, err := calendar.AllDayDates(data); err != nil {
		p.errorf(n, "ical: %q is not a valid iCalendar file: %v", file, err)
	}
	return data
}

var onHolidays = []string{"include", "skip", "only"}

func (p *parser) schedule(n *yaml.Node) {
	m := p.mapping(n, "", KindSchedule, "kind", "name", "team", "slack_user_group", "time_zone", "holidays", "layers", "overrides")
	if m == nil {
		return
	}
	name, ok := p.objectName(m)
	s := &Schedule{Name: name.s}
	s.Team = p.optRef(m, "team", KindTeam)
	s.SlackUserGroup = p.slackUserGroup(m, "slack_user_group")
	var loc *time.Location
	if tz, n := m.reqStr("time_zone"); n != nil {
		s.TimeZone = tz
		var err error
		if loc, err = loadLocation(tz); err != nil {
			p.errorf(n, "time_zone: %v", err)
		}
	}
	for _, it := range m.names("holidays") {
		p.ref(KindHolidays, "holidays", it)
		s.Holidays = append(s.Holidays, it.s)
	}
	layerNames := map[string]pos{}
	for _, it := range m.list("layers") {
		l, at, ok := p.layer(it, loc)
		if !ok {
			continue
		}
		if first, dup := layerNames[l.Name]; dup {
			p.b.Errors = append(p.b.Errors, at.errorf("duplicate layer %q (first defined at %s)", l.Name, first))
		} else if l.Name != "" {
			layerNames[l.Name] = at
		}
		s.Layers = append(s.Layers, l)
	}
	for _, it := range m.list("overrides") {
		om := p.mapping(it, "overrides", "override", "user", "start", "end")
		if om == nil {
			continue
		}
		var o Override
		if u, n := om.reqStr("user"); n != nil {
			if p.checkName("user", item{u, n}) {
				p.ref(KindUser, "user", item{u, n})
			}
			o.User = u
		}
		start, sn := p.instant(om, "start", loc, true)
		end, en := p.instant(om, "end", loc, true)
		if sn != nil && en != nil && !end.After(start) {
			p.errorf(en, "end: the override ends before it starts")
		}
		o.Start, o.End = start, end
		s.Overrides = append(s.Overrides, o)
	}
	if ok && p.define(KindSchedule, name) {
		p.b.Set.Schedules = append(p.b.Set.Schedules, s)
	}
}

// optRef is an optional reference by name.
func (p *parser) optRef(m *mapping, key, kind string) string {
	s, n := m.str(key)
	if n == nil {
		return ""
	}
	if p.checkName(key, item{s, n}) {
		p.ref(kind, key, item{s, n})
	}
	return s
}

// layer reads a layer; at is the position of its name.
func (p *parser) layer(n *yaml.Node, schedLoc *time.Location) (l Layer, at pos, ok bool) {
	m := p.mapping(n, "layers", "layer", "name", "members", "start", "shift", "time_zone", "restrict", "on_holidays", "end")
	if m == nil {
		return Layer{}, pos{}, false
	}
	if s, n := m.reqStr("name"); n != nil && p.checkName("name", item{s, n}) {
		l.Name, at = s, p.at(n)
	}
	for _, it := range m.reqStrs("members") {
		if p.checkName("members", it) {
			p.ref(KindUser, "members", it)
		}
		l.Members = append(l.Members, it.s)
	}
	loc := schedLoc
	if tz, n := m.str("time_zone"); n != nil {
		l.TimeZone = tz
		var err error
		if loc, err = loadLocation(tz); err != nil {
			p.errorf(n, "time_zone: %v", err)
		}
	}
	var startAt time.Time
	if s, n := m.reqStr("start"); n != nil {
		if c, err := schedule.ParseCivil(s); err == nil {
			l.Start = c
			if loc != nil {
				startAt = c.In(loc)
			}
		} else if t, ok := parseInstant(s); ok {
			startAt = t
			if loc != nil {
				l.Start = schedule.CivilOf(t, loc)
			}
		} else {
			p.errorf(n, "start: %s", badDatetime(s))
		}
	}
	if s, n := m.reqStr("shift"); n != nil {
		length, err := parseShift(s)
		if err != nil {
			p.errorf(n, "shift: %v", err)
		}
		l.Shift = length
	}
	for _, it := range m.list("restrict") {
		if w, ok := p.window(it); ok {
			l.Restrict = append(l.Restrict, w)
		}
	}
	if s, n := m.str("on_holidays"); n != nil {
		if !contains(onHolidays, s) {
			p.errorf(n, "on_holidays: invalid value %q%s", s, hint(s, onHolidays, "use include, skip or only"))
		}
		l.OnHolidays = s
	}
	if end, n := p.instant(m, "end", loc, false); n != nil {
		l.End = &end
		if !startAt.IsZero() && !end.After(startAt) {
			p.errorf(n, "end: the layer ends before it starts")
		}
	}
	return l, at, true
}

func badDatetime(s string) string {
	return fmt.Sprintf("invalid datetime %q (use a local YYYY-MM-DDTHH:MM, or RFC 3339 with an offset)", s)
}

// instant reads a datetime: local in loc, or RFC 3339 with an offset. n is
// nil when absent or invalid (reported). With loc nil (an invalid zone,
// reported elsewhere) a local value is checked but not converted.
func (p *parser) instant(m *mapping, key string, loc *time.Location, required bool) (time.Time, *yaml.Node) {
	var s string
	var n *yaml.Node
	if required {
		s, n = m.reqStr(key)
	} else {
		s, n = m.str(key)
	}
	if n == nil {
		return time.Time{}, nil
	}
	if c, err := schedule.ParseCivil(s); err == nil {
		if loc == nil {
			return time.Time{}, nil
		}
		return c.In(loc), n
	}
	if t, ok := parseInstant(s); ok {
		return t, n
	}
	p.errorf(n, "%s: %s", key, badDatetime(s))
	return time.Time{}, nil
}

// parseSeconds reads a duration of whole seconds (what the database keeps).
func parseSeconds(s string) (time.Duration, error) {
	d, err := oncall.ParseDuration(s)
	if err == nil && d%time.Second != 0 {
		return 0, fmt.Errorf("duration %q is not a whole number of seconds", s)
	}
	return d, err
}

// maxShiftDays is the longest calendar shift the resolver takes.
const maxShiftDays = 100_000

// parseShift reads a shift length: elapsed (h, m, s) or calendar days and
// weeks (d, w), not both.
func parseShift(s string) (schedule.Length, error) {
	d, err := oncall.ParseDuration(s)
	switch {
	case err != nil && strings.HasPrefix(s, "-"):
		return schedule.Length{}, fmt.Errorf("invalid shift %q: must be positive", s)
	case err != nil:
		return schedule.Length{}, fmt.Errorf("invalid shift %q (use e.g. 12h, 1d, 1w)", s)
	case d%time.Second != 0:
		return schedule.Length{}, fmt.Errorf("invalid shift %q: not a whole number of seconds", s)
	}
	if d <= 0 {
		return schedule.Length{}, fmt.Errorf("invalid shift %q: must be positive", s)
	}
	if strings.ContainsAny(s, "dw") {
		if strings.ContainsAny(s, "hmsnuµ.") {
			return schedule.Length{}, fmt.Errorf("%q mixes days and elapsed time; use hours (%s)", s, formatHours(d))
		}
		if d > maxShiftDays*oncall.Day {
			return schedule.Length{}, fmt.Errorf("invalid shift %q: longer than %d days", s, maxShiftDays)
		}
		return schedule.Length{Days: int(d / oncall.Day)}, nil
	}
	return schedule.Length{Elapsed: d}, nil
}

// formatHours writes an elapsed duration with hours as its largest unit.
func formatHours(d time.Duration) string {
	if d < time.Hour {
		return oncall.FormatDuration(d)
	}
	s := strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	if rest := d % time.Hour; rest > 0 {
		s += oncall.FormatDuration(rest)
	}
	return s
}

// formatShift writes a shift length so parseShift reads it back.
func formatShift(l schedule.Length) string {
	if l.Days > 0 {
		if l.Days%7 == 0 {
			return strconv.Itoa(l.Days/7) + "w"
		}
		return strconv.Itoa(l.Days) + "d"
	}
	return formatHours(l.Elapsed)
}

func (p *parser) window(n *yaml.Node) (Window, bool) {
	m := p.mapping(n, "restrict", "restrict window", "days", "from", "to")
	if m == nil {
		return Window{}, false
	}
	var w Window
	for _, it := range m.strs("days", false) {
		d := strings.ToLower(it.s)
		if long, ok := longDays[d]; ok {
			d = long
		}
		if dayIndex(d) < 0 {
			p.errorf(it.n, "days: invalid day %q%s", it.s, hint(it.s, dayNames, "use mon, tue, wed, thu, fri, sat or sun"))
			continue
		}
		w.Days = append(w.Days, d)
	}
	if s, n := m.reqStr("from"); n != nil {
		if _, ok := parseClock(s, false); !ok {
			p.errorf(n, "from: invalid time %q (use HH:MM, 00:00 to 23:59)", s)
		}
		w.From = s
	}
	if s, n := m.reqStr("to"); n != nil {
		if _, ok := parseClock(s, true); !ok {
			p.errorf(n, "to: invalid time %q (use HH:MM, 00:00 to 24:00)", s)
		}
		w.To = s
	}
	return w, true
}

func (p *parser) policy(n *yaml.Node) {
	m := p.mapping(n, "", KindEscalationPolicy, "kind", "name", "team", "repeat", "steps")
	if m == nil {
		return
	}
	name, ok := p.objectName(m)
	e := &EscalationPolicy{Name: name.s}
	e.Team = p.optRef(m, "team", KindTeam)
	if s, n := m.str("repeat"); n != nil {
		r, err := strconv.Atoi(s)
		if err != nil || r < 0 || r > 5 {
			p.errorf(n, "repeat: must be a whole number from 0 to 5, got %s", s)
		}
		e.Repeat = r
	}
	for _, it := range m.reqList("steps") {
		sm := p.mapping(it, "steps", "step", "targets", "escalate_after")
		if sm == nil {
			continue
		}
		var st Step
		if s, n := sm.str("escalate_after"); n != nil {
			d, err := parseSeconds(s)
			switch {
			case err != nil:
				p.errorf(n, "escalate_after: %v", err)
			case d <= 0:
				p.errorf(n, "escalate_after: must be positive")
			}
			st.EscalateAfter = d
		}
		for _, tn := range sm.reqList("targets") {
			if t, ok := p.target(tn); ok {
				st.Targets = append(st.Targets, t)
			}
		}
		e.Steps = append(e.Steps, st)
	}
	if ok && p.define(KindEscalationPolicy, name) {
		p.b.Set.Policies = append(p.b.Set.Policies, e)
	}
}

var targetTypes = []string{TargetUser, TargetSchedule, TargetTeam, TargetSlackChannel}

var targetKinds = map[string]string{TargetUser: KindUser, TargetSchedule: KindSchedule, TargetTeam: KindTeam}

func (p *parser) target(n *yaml.Node) (Target, bool) {
	m := p.mapping(n, "targets", "target", targetTypes...)
	if m == nil {
		return Target{}, false
	}
	var present []string
	for _, t := range targetTypes {
		if _, ok := m.keys[t]; ok {
			present = append(present, t)
		}
	}
	if len(present) == 0 && m.unknown > 0 {
		return Target{}, false // the unknown key says enough
	}
	if len(present) != 1 {
		got := "none"
		if len(present) > 0 {
			got = strings.Join(present, " and ")
		}
		p.errorf(m.n, "a target names exactly one of user, schedule, team or slack_channel (got %s)", got)
		return Target{}, false
	}
	t := Target{Type: present[0]}
	if t.Type == TargetSlackChannel {
		if m.get(t.Type) == nil {
			m.missing(t.Type)
		}
		t.Ref = p.slackChannel(m, t.Type)
		return t, true
	}
	s, sn := m.reqStr(t.Type)
	if sn != nil && p.checkName(t.Type, item{s, sn}) {
		p.ref(targetKinds[t.Type], t.Type, item{s, sn})
	}
	t.Ref = s
	return t, true
}

var integrationTypes = []string{IntegrationAlertmanager, IntegrationGrafana, IntegrationPagerDuty, IntegrationGeneric, IntegrationHeartbeat}

func (p *parser) service(n *yaml.Node) {
	m := p.mapping(n, "", KindService, "kind", "name", "description", "team", "escalation_policy", "integrations")
	if m == nil {
		return
	}
	name, ok := p.objectName(m)
	s := &Service{Name: name.s}
	s.Description, _ = m.str("description")
	s.Team = p.optRef(m, "team", KindTeam)
	if e, n := m.reqStr("escalation_policy"); n != nil {
		if p.checkName("escalation_policy", item{e, n}) {
			p.ref(KindEscalationPolicy, "escalation_policy", item{e, n})
		}
		s.EscalationPolicy = e
	}
	for _, it := range m.list("integrations") {
		im := p.mapping(it, "integrations", "integration", "name", "type", "timeout")
		if im == nil {
			continue
		}
		var in Integration
		if s, n := im.reqStr("name"); n != nil {
			in.Name = s
			if p.checkName("name", item{s, n}) {
				if first, dup := p.b.integrations[s]; dup {
					p.errorf(n, "duplicate integration %q (first defined at %s)", s, first)
				} else {
					p.b.integrations[s] = p.at(n)
				}
			}
		}
		var tn *yaml.Node
		if in.Type, tn = im.reqStr("type"); tn != nil && !contains(integrationTypes, in.Type) {
			p.errorf(tn, "type: invalid integration type %q%s", in.Type, hint(in.Type, integrationTypes, "use alertmanager, grafana, pagerduty, generic or heartbeat"))
			tn = nil
		}
		p.heartbeatTimeout(im, &in, tn != nil)
		s.Integrations = append(s.Integrations, in)
	}
	if ok && p.define(KindService, name) {
		p.b.Set.Services = append(p.b.Set.Services, s)
	}
}

// heartbeatTimeout reads an integration's timeout: required for a
// heartbeat, an error on any other type (known says the type is valid).
func (p *parser) heartbeatTimeout(im *mapping, in *Integration, known bool) {
	s, n := im.str("timeout")
	if n == nil {
		if known && in.Type == IntegrationHeartbeat && !isCollection(im.get("timeout")) {
			im.missing("timeout")
		}
		return
	}
	if known && in.Type != IntegrationHeartbeat {
		p.errorf(n, "timeout: only a heartbeat integration has a timeout (this one is %s)", in.Type)
		return
	}
	d, err := parseSeconds(s)
	switch {
	case err != nil:
		p.errorf(n, "timeout: %v", err)
	case d < MinHeartbeatTimeout:
		p.errorf(n, "timeout: must be at least %s", oncall.FormatDuration(MinHeartbeatTimeout))
	case d > MaxHeartbeatTimeout:
		p.errorf(n, "timeout: must be at most %s", oncall.FormatDuration(MaxHeartbeatTimeout))
	}
	in.Timeout = d
}

var urgencies = []string{UrgencyHigh, UrgencyLow}

func (p *parser) alertRule(n *yaml.Node) {
	m := p.mapping(n, "", KindAlertRule, "kind", "name", "integrations", "match", "service_from", "service", "page", "urgency")
	if m == nil {
		return
	}
	name, ok := p.objectName(m)
	r := &AlertRule{Name: name.s, Page: true, Urgency: UrgencyHigh}
	for _, it := range m.names("integrations") {
		p.ref(KindIntegration, "integrations", it)
		r.Integrations = append(r.Integrations, it.s)
	}
	if mn := m.get("match"); mn != nil {
		r.Match = p.match(mn)
	}
	if s, n := m.str("service_from"); n != nil {
		if _, _, ok := parseServiceFrom(s); !ok {
			p.errorf(n, "service_from: must be labels.<key> or annotations.<key>, got %q", s)
		}
		r.ServiceFrom = s
	}
	r.Service = p.optRef(m, "service", KindService)
	if v := m.get("page"); v != nil {
		switch {
		case v.Kind == yaml.ScalarNode && strings.EqualFold(v.Value, "true"):
		case v.Kind == yaml.ScalarNode && strings.EqualFold(v.Value, "false"):
			r.Page = false
		default:
			p.errorf(v, "page: expected true or false, got %s", typeName(v))
		}
	}
	if s, n := m.str("urgency"); n != nil {
		if !contains(urgencies, s) {
			p.errorf(n, "urgency: invalid value %q%s", s, hint(s, urgencies, "use high or low"))
		}
		r.Urgency = s
	}
	if ok && p.define(KindAlertRule, name) {
		p.b.Set.AlertRules = append(p.b.Set.AlertRules, r)
	}
}

func (p *parser) match(n *yaml.Node) Match {
	m := p.mapping(n, "match", "match", "severity", "summary", "labels", "annotations")
	if m == nil {
		return Match{}
	}
	var out Match
	out.Severity = p.patterns(m, "severity", "severity", true)
	out.Summary = p.patterns(m, "summary", "summary", false)
	out.Labels = p.patternMap(m, "labels")
	out.Annotations = p.patternMap(m, "annotations")
	return out
}

var severities = []string{oncall.SeverityCritical, oncall.SeverityError, oncall.SeverityWarning, oncall.SeverityInfo}

// patterns reads a string or a list of strings, checking regexps (and, for
// severities, that exact values are severities).
func (p *parser) patterns(m *mapping, key, label string, severity bool) []string {
	v := m.get(key)
	if v != nil && v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
		p.errorf(v, "%s: an empty list matches nothing; leave the key out to match anything", label)
	}
	var out []string
	for _, it := range m.strs(key, true) {
		if re, ok := strings.CutPrefix(it.s, "~"); ok {
			if _, err := compilePattern(re); err != nil {
				p.errorf(it.n, "%s: invalid regular expression %q: %v", label, re, err)
			}
		} else if severity && !contains(severities, it.s) {
			p.errorf(it.n, "%s: invalid severity %q%s", label, it.s, hint(it.s, severities, "use critical, error, warning, info or ~regex"))
		}
		out = append(out, it.s)
	}
	return out
}

func (p *parser) patternMap(m *mapping, key string) map[string][]string {
	v := m.get(key)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "%s: expected a mapping of names to values, got %s", key, typeName(v))
		return nil
	}
	out := map[string][]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k := p.deref(v.Content[i])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			p.errorf(k, "%s: keys must be non-empty strings, got %s", key, typeName(k))
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errorf(k, "duplicate key %q", k.Value)
			continue
		}
		label := key + "." + k.Value
		sub := &mapping{p: p, n: v, what: key, vals: map[string]*yaml.Node{label: v.Content[i+1]}}
		switch val := sub.get(label); {
		case val == nil:
			p.errorf(k, "%s: expected a value or a list of values, got nothing", label)
			continue
		case val.Kind == yaml.MappingNode:
			p.errorf(val, "%s: expected a value or a list of values, got a mapping", label)
			continue
		}
		out[k.Value] = p.patterns(sub, label, label, false)
	}
	return out
}

// parseServiceFrom splits "labels.<key>" or "annotations.<key>".
func parseServiceFrom(s string) (labels bool, key string, ok bool) {
	if k, found := strings.CutPrefix(s, "labels."); found && k != "" {
		return true, k, true
	}
	if k, found := strings.CutPrefix(s, "annotations."); found && k != "" {
		return false, k, true
	}
	return false, "", false
}
