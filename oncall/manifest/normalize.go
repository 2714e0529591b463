package manifest

import (
	"cmp"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/oncall/oncall/oncall/schedule"
)

// Values of Layer.OnHolidays and AlertRule.Urgency.
const (
	OnHolidaysInclude = "include"
	OnHolidaysSkip    = "skip"
	OnHolidaysOnly    = "only"

	UrgencyHigh = "high"
	UrgencyLow  = "low"
)

// Normalize puts s into its canonical form, so that two Sets that mean the
// same are reflect.DeepEqual. Load returns normalized Sets; call Normalize on
// a Set built any other way (e.g. from database rows) before comparing.
//
//   - Absent and empty lists and maps are nil.
//   - Objects of each kind are sorted by name, except alert rules, which
//     keep their order (they are evaluated in it).
//   - Lists whose order means nothing are sorted: contact methods and
//     integrations by name; team members and admins, a schedule's holidays
//     and an alert rule's integrations (repeats removed); holiday dates
//     (repeats removed); a window's days in week order from Monday (all
//     seven days = nil); notification rules by After (then by Notify).
//     Everything else keeps its order: layers, layer members, overrides,
//     steps, targets, notify lists, match values.
//   - Defaults are filled: Layer.OnHolidays "include", Step.EscalateAfter
//     DefaultEscalateAfter (for 0: a step must wait), AlertRule.Urgency
//     "high". AlertRule.Page cannot be told from false and is left alone:
//     the parser sets it true when absent.
//   - A layer's TimeZone equal to its schedule's is "".
//   - Instants are UTC without monotonic readings.
//   - Holidays.ICal is the base name of the file (see ICalFileName), "" with
//     no ICalData.
func (s *Set) Normalize() {
	slices.SortStableFunc(s.Users, func(a, b *User) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(s.Teams, func(a, b *Team) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(s.Holidays, func(a, b *Holidays) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(s.Schedules, func(a, b *Schedule) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(s.Policies, func(a, b *EscalationPolicy) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(s.Services, func(a, b *Service) int { return strings.Compare(a.Name, b.Name) })
	s.Users = nilIfEmpty(s.Users)
	s.Teams = nilIfEmpty(s.Teams)
	s.Holidays = nilIfEmpty(s.Holidays)
	s.Schedules = nilIfEmpty(s.Schedules)
	s.Policies = nilIfEmpty(s.Policies)
	s.Services = nilIfEmpty(s.Services)
	s.AlertRules = nilIfEmpty(s.AlertRules)
	for _, u := range s.Users {
		u.normalize()
	}
	for _, t := range s.Teams {
		t.Members = sortedSet(t.Members)
		t.Admins = sortedSet(t.Admins)
	}
	for _, h := range s.Holidays {
		h.normalize()
	}
	for _, sc := range s.Schedules {
		sc.normalize()
	}
	for _, p := range s.Policies {
		p.Steps = nilIfEmpty(p.Steps)
		for i := range p.Steps {
			st := &p.Steps[i]
			st.Targets = nilIfEmpty(st.Targets)
			if st.EscalateAfter == 0 {
				st.EscalateAfter = DefaultEscalateAfter
			}
		}
	}
	for _, sv := range s.Services {
		sv.Integrations = nilIfEmpty(sv.Integrations)
		slices.SortStableFunc(sv.Integrations, func(a, b Integration) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, r := range s.AlertRules {
		r.Integrations = sortedSet(r.Integrations)
		r.Match.normalize()
		if r.Urgency == "" {
			r.Urgency = UrgencyHigh
		}
	}
}

func (u *User) normalize() {
	u.ContactMethods = nilIfEmpty(u.ContactMethods)
	slices.SortStableFunc(u.ContactMethods, func(a, b ContactMethod) int { return strings.Compare(a.Name, b.Name) })
	u.NotificationRules = nilIfEmpty(u.NotificationRules)
	for i := range u.NotificationRules {
		u.NotificationRules[i].Notify = nilIfEmpty(u.NotificationRules[i].Notify)
	}
	slices.SortStableFunc(u.NotificationRules, func(a, b NotificationRule) int {
		if c := cmp.Compare(a.After, b.After); c != 0 {
			return c
		}
		return slices.Compare(a.Notify, b.Notify)
	})
}

func (h *Holidays) normalize() {
	slices.SortFunc(h.Dates, compareDates)
	h.Dates = nilIfEmpty(slices.Compact(h.Dates))
	if len(h.ICalData) == 0 {
		h.ICal, h.ICalData = "", nil
	} else {
		h.ICal = ICalFileName(h.ICal, h.Name)
	}
}

func compareDates(a, b schedule.Date) int {
	if c := cmp.Compare(a.Year, b.Year); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Month, b.Month); c != 0 {
		return c
	}
	return cmp.Compare(a.Day, b.Day)
}

func (sc *Schedule) normalize() {
	sc.Holidays = sortedSet(sc.Holidays)
	sc.Layers = nilIfEmpty(sc.Layers)
	for i := range sc.Layers {
		l := &sc.Layers[i]
		l.Members = nilIfEmpty(l.Members)
		if l.TimeZone == sc.TimeZone {
			l.TimeZone = ""
		}
		l.Restrict = nilIfEmpty(l.Restrict)
		for j := range l.Restrict {
			l.Restrict[j].Days = normalizeDays(l.Restrict[j].Days)
		}
		if l.OnHolidays == "" {
			l.OnHolidays = OnHolidaysInclude
		}
		if l.End != nil {
			end := utc(*l.End)
			l.End = &end
		}
	}
	sc.Overrides = nilIfEmpty(sc.Overrides)
	for i := range sc.Overrides {
		o := &sc.Overrides[i]
		o.Start, o.End = utc(o.Start), utc(o.End)
	}
}

// normalizeDays sorts days Monday first, removes repeats, and makes all
// seven days nil (no restriction by day). Unknown names go last, sorted.
func normalizeDays(days []string) []string {
	if len(days) == 0 {
		return nil
	}
	out := slices.Clone(days)
	for i, d := range out {
		d = strings.ToLower(d)
		if long, ok := longDays[d]; ok {
			d = long
		}
		out[i] = d
	}
	slices.SortFunc(out, func(a, b string) int {
		ia, ib := dayIndex(a), dayIndex(b)
		if ia < 0 {
			ia = 7
		}
		if ib < 0 {
			ib = 7
		}
		if c := cmp.Compare(ia, ib); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out = slices.Compact(out)
	if slices.Equal(out, dayNames) {
		return nil
	}
	return out
}

func (m *Match) normalize() {
	m.Severity = nilIfEmpty(m.Severity)
	m.Summary = nilIfEmpty(m.Summary)
	m.Labels = normalizePatternMap(m.Labels)
	m.Annotations = normalizePatternMap(m.Annotations)
}

func normalizePatternMap(in map[string][]string) map[string][]string {
	if len(in) == 0 {
		return nil
	}
	for k, v := range in {
		in[k] = nilIfEmpty(v)
	}
	return in
}

// utc is t in UTC without a monotonic reading, so equal instants are
// DeepEqual.
func utc(t time.Time) time.Time { return t.UTC().Round(0) }

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

func sortedSet(s []string) []string {
	slices.Sort(s)
	return nilIfEmpty(slices.Compact(s))
}

// ICalFileName is the file name under which export writes a Holidays'
// iCalendar data: the base name of ical with characters other than letters,
// digits, '.', '_' and '-' replaced by '-', ending in ".ics"; the Holidays'
// name when that leaves nothing.
func ICalFileName(ical, holidays string) string {
	base := path.Base(strings.ReplaceAll(ical, `\`, "/"))
	base = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, base)
	base = strings.TrimLeft(base, ".")
	if strings.TrimSuffix(base, ".ics") == "" {
		base = holidays
	}
	if !strings.HasSuffix(base, ".ics") {
		base += ".ics"
	}
	return base
}

// Clone is a deep copy of s.
func (s *Set) Clone() *Set {
	if s == nil {
		return nil
	}
	c := &Set{}
	for _, u := range s.Users {
		v := *u
		v.ContactMethods = slices.Clone(u.ContactMethods)
		v.NotificationRules = slices.Clone(u.NotificationRules)
		for i := range v.NotificationRules {
			v.NotificationRules[i].Notify = slices.Clone(v.NotificationRules[i].Notify)
		}
		c.Users = append(c.Users, &v)
	}
	for _, t := range s.Teams {
		v := *t
		v.Members, v.Admins = slices.Clone(t.Members), slices.Clone(t.Admins)
		c.Teams = append(c.Teams, &v)
	}
	for _, h := range s.Holidays {
		v := *h
		v.Dates, v.ICalData = slices.Clone(h.Dates), slices.Clone(h.ICalData)
		c.Holidays = append(c.Holidays, &v)
	}
	for _, sc := range s.Schedules {
		v := *sc
		v.Holidays = slices.Clone(sc.Holidays)
		v.Layers = slices.Clone(sc.Layers)
		for i := range v.Layers {
			l := &v.Layers[i]
			l.Members = slices.Clone(l.Members)
			l.Restrict = slices.Clone(l.Restrict)
			for j := range l.Restrict {
				l.Restrict[j].Days = slices.Clone(l.Restrict[j].Days)
			}
			if l.End != nil {
				end := *l.End
				l.End = &end
			}
		}
		v.Overrides = slices.Clone(sc.Overrides)
		c.Schedules = append(c.Schedules, &v)
	}
	for _, p := range s.Policies {
		v := *p
		v.Steps = slices.Clone(p.Steps)
		for i := range v.Steps {
			v.Steps[i].Targets = slices.Clone(v.Steps[i].Targets)
		}
		c.Policies = append(c.Policies, &v)
	}
	for _, sv := range s.Services {
		v := *sv
		v.Integrations = slices.Clone(sv.Integrations)
		c.Services = append(c.Services, &v)
	}
	for _, r := range s.AlertRules {
		v := *r
		v.Integrations = slices.Clone(r.Integrations)
		v.Match = r.Match.clone()
		c.AlertRules = append(c.AlertRules, &v)
	}
	return c
}

func (m Match) clone() Match {
	c := Match{Severity: slices.Clone(m.Severity), Summary: slices.Clone(m.Summary)}
	if m.Labels != nil {
		c.Labels = make(map[string][]string, len(m.Labels))
		for k, v := range m.Labels {
			c.Labels[k] = slices.Clone(v)
		}
	}
	if m.Annotations != nil {
		c.Annotations = make(map[string][]string, len(m.Annotations))
		for k, v := range m.Annotations {
			c.Annotations[k] = slices.Clone(v)
		}
	}
	return c
}
