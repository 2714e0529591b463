package store

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
)

// canonical returns a deep copy of s in the form the database stores and
// LoadConfig returns, so that two Sets meaning the same compare equal with
// reflect.DeepEqual: (*manifest.Set).Normalize's form (sorted, defaults
// filled, nil not empty), plus what storage forces on top of it: instants
// at microsecond precision (Postgres's). Everything else is stored exactly
// as given, so LoadConfig gives back what ApplyConfig was given.
func canonical(in *manifest.Set) *manifest.Set {
	if in == nil {
		return &manifest.Set{}
	}
	s := in.Clone()
	for _, sc := range s.Schedules {
		for i := range sc.Layers {
			if end := sc.Layers[i].End; end != nil {
				t := end.Truncate(time.Microsecond)
				sc.Layers[i].End = &t
			}
		}
		for i := range sc.Overrides {
			o := &sc.Overrides[i]
			o.Start, o.End = o.Start.Truncate(time.Microsecond), o.End.Truncate(time.Microsecond)
		}
	}
	s.Normalize()
	return s
}

// validate checks what the database cannot (or cannot say clearly) about a
// canonical Set: names, zones, references within an object, durations the
// schema stores in whole seconds. References to other objects are checked
// while applying, against the database. Messages name the object.
func validate(s *manifest.Set) error {
	var errs []error
	bad := func(kind, name, format string, args ...any) {
		errs = append(errs, &ObjectError{Kind: kind, Name: name, Err: &oncall.UserError{Msg: fmt.Sprintf(format, args...)}})
	}
	seen := map[string]map[string]bool{}
	object := func(kind, name string) {
		if !oncall.ValidName(name) {
			bad(kind, name, "invalid name (use [a-z0-9][a-z0-9._-]*, at most %d characters)", oncall.MaxNameLen)
		}
		if seen[kind] == nil {
			seen[kind] = map[string]bool{}
		}
		if seen[kind][name] {
			bad(kind, name, "defined twice")
		}
		seen[kind][name] = true
	}
	zone := func(kind, name, field, tz string, required bool) {
		if tz == "" {
			if required {
				bad(kind, name, "%s is required", field)
			}
			return
		}
		if tz == "Local" {
			bad(kind, name, "%s: unknown time zone %q", field, tz)
			return
		}
		if _, err := time.LoadLocation(tz); err != nil {
			bad(kind, name, "%s: unknown time zone %q", field, tz)
		}
	}
	wholeSeconds := func(kind, name, field string, d time.Duration) {
		if d < 0 || d%time.Second != 0 {
			bad(kind, name, "%s: %v is not a whole, non-negative number of seconds", field, d)
		}
	}

	for _, u := range s.Users {
		k := manifest.KindUser
		object(k, u.Name)
		zone(k, u.Name, "time_zone", u.TimeZone, false)
		methods := map[string]bool{}
		for _, cm := range u.ContactMethods {
			switch {
			case !oncall.ValidName(cm.Name) || cm.Name == manifest.NotifySlack || cm.Name == manifest.NotifyPush:
				bad(k, u.Name, "contact method %q: invalid name", cm.Name)
			case methods[cm.Name]:
				bad(k, u.Name, "contact method %q is listed twice", cm.Name)
			}
			methods[cm.Name] = true
			if cm.Type != manifest.ContactSMS && cm.Type != manifest.ContactVoice && cm.Type != manifest.ContactEmail {
				bad(k, u.Name, "contact method %q: invalid type %q", cm.Name, cm.Type)
			}
			if cm.Address == "" {
				bad(k, u.Name, "contact method %q: address is required", cm.Name)
			}
		}
		for i, r := range u.NotificationRules {
			wholeSeconds(k, u.Name, fmt.Sprintf("notification rule %d: after", i+1), r.After)
			if len(r.Notify) == 0 {
				bad(k, u.Name, "notification rule %d: notify is empty", i+1)
			}
			for _, n := range r.Notify {
				if n != manifest.NotifySlack && n != manifest.NotifyPush && !methods[n] {
					bad(k, u.Name, "notification rule %d: unknown contact method %q (name one of the user's contact methods, slack or push)", i+1, n)
				}
			}
		}
	}
	userGroup := func(kind, name, group string) {
		if group != "" && !manifest.ValidSlackUserGroup(group) {
			bad(kind, name, "slack_user_group: invalid Slack user group %q (use a user group ID like S0123ABCD or @handle)", group)
		}
	}
	for _, t := range s.Teams {
		object(manifest.KindTeam, t.Name)
		userGroup(manifest.KindTeam, t.Name, t.SlackUserGroup)
		members := map[string]bool{}
		for _, m := range t.Members {
			if members[m] {
				bad(manifest.KindTeam, t.Name, "member %q is listed twice", m)
			}
			members[m] = true
		}
		admins := map[string]bool{}
		for _, a := range t.Admins {
			if !members[a] {
				bad(manifest.KindTeam, t.Name, "admin %q is not a member of the team", a)
			}
			if admins[a] {
				bad(manifest.KindTeam, t.Name, "admin %q is listed twice", a)
			}
			admins[a] = true
		}
	}
	for _, h := range s.Holidays {
		object(manifest.KindHolidays, h.Name)
	}
	for _, sc := range s.Schedules {
		k := manifest.KindSchedule
		object(k, sc.Name)
		zone(k, sc.Name, "time_zone", sc.TimeZone, true)
		userGroup(k, sc.Name, sc.SlackUserGroup)
		hol := map[string]bool{}
		for _, h := range sc.Holidays {
			if hol[h] {
				bad(k, sc.Name, "holidays %q listed twice", h)
			}
			hol[h] = true
		}
		layers := map[string]bool{}
		for i, l := range sc.Layers {
			what := fmt.Sprintf("layer %q", l.Name)
			if !oncall.ValidName(l.Name) {
				bad(k, sc.Name, "layer %d: invalid name %q", i+1, l.Name)
			}
			if layers[l.Name] {
				bad(k, sc.Name, "%s is defined twice", what)
			}
			layers[l.Name] = true
			if len(l.Members) == 0 {
				bad(k, sc.Name, "%s has no members", what)
			}
			zone(k, sc.Name, what+": time_zone", l.TimeZone, false)
			switch {
			case (l.Shift.Elapsed > 0) == (l.Shift.Days > 0) || l.Shift.Elapsed < 0 || l.Shift.Days < 0:
				bad(k, sc.Name, "%s: shift must be either elapsed time or a positive number of days", what)
			case l.Shift.Elapsed > 0:
				wholeSeconds(k, sc.Name, what+": shift", l.Shift.Elapsed)
			}
			if l.OnHolidays != "" && l.OnHolidays != "include" && l.OnHolidays != "skip" && l.OnHolidays != "only" {
				bad(k, sc.Name, "%s: on_holidays: invalid value %q", what, l.OnHolidays)
			}
			for j, w := range l.Restrict {
				for _, d := range w.Days {
					if !slices.Contains(dayNames, d) {
						bad(k, sc.Name, "%s: restrict %d: invalid day %q", what, j+1, d)
					}
				}
				if _, ok := parseClock(w.From, false); !ok {
					bad(k, sc.Name, "%s: restrict %d: invalid from %q (HH:MM)", what, j+1, w.From)
				}
				if _, ok := parseClock(w.To, true); !ok {
					bad(k, sc.Name, "%s: restrict %d: invalid to %q (HH:MM, up to 24:00)", what, j+1, w.To)
				}
			}
		}
		for i, o := range sc.Overrides {
			if !o.Start.Before(o.End) {
				bad(k, sc.Name, "override %d: ends before it starts", i+1)
			}
		}
	}
	for _, p := range s.Policies {
		k := manifest.KindEscalationPolicy
		object(k, p.Name)
		if p.Repeat < 0 || p.Repeat > 5 {
			bad(k, p.Name, "repeat must be from 0 to 5, got %d", p.Repeat)
		}
		for i, st := range p.Steps {
			wholeSeconds(k, p.Name, fmt.Sprintf("step %d: escalate_after", i+1), st.EscalateAfter)
			for _, t := range st.Targets {
				switch t.Type {
				case manifest.TargetUser, manifest.TargetSchedule, manifest.TargetTeam, manifest.TargetSlackChannel:
				default:
					bad(k, p.Name, "step %d: invalid target type %q", i+1, t.Type)
				}
				if t.Ref == "" {
					bad(k, p.Name, "step %d: a %s target names nothing", i+1, t.Type)
				}
			}
		}
	}
	integrations := map[string]string{}
	for _, sv := range s.Services {
		k := manifest.KindService
		object(k, sv.Name)
		if sv.EscalationPolicy == "" {
			bad(k, sv.Name, "escalation_policy is required")
		}
		for _, in := range sv.Integrations {
			if !oncall.ValidName(in.Name) {
				bad(k, sv.Name, "integration %q: invalid name", in.Name)
			}
			if other, dup := integrations[in.Name]; dup {
				bad(k, sv.Name, "integration %q is also defined in service %q", in.Name, other)
			}
			integrations[in.Name] = sv.Name
			switch in.Type {
			case manifest.IntegrationAlertmanager, manifest.IntegrationGrafana, manifest.IntegrationPagerDuty, manifest.IntegrationGeneric:
				if in.Timeout != 0 {
					bad(k, sv.Name, "integration %q: only a heartbeat integration has a timeout", in.Name)
				}
			case manifest.IntegrationHeartbeat:
				switch {
				case in.Timeout < manifest.MinHeartbeatTimeout || in.Timeout > manifest.MaxHeartbeatTimeout:
					bad(k, sv.Name, "integration %q: timeout %s is not from %s to %s", in.Name, oncall.FormatDuration(in.Timeout),
						oncall.FormatDuration(manifest.MinHeartbeatTimeout), oncall.FormatDuration(manifest.MaxHeartbeatTimeout))
				case in.Timeout%time.Second != 0:
					bad(k, sv.Name, "integration %q: timeout %v is not a whole number of seconds", in.Name, in.Timeout)
				}
			default:
				bad(k, sv.Name, "integration %q: invalid type %q", in.Name, in.Type)
			}
		}
	}
	for _, r := range s.AlertRules {
		k := manifest.KindAlertRule
		object(k, r.Name)
		if r.Urgency != "high" && r.Urgency != "low" {
			bad(k, r.Name, "urgency: invalid value %q (use high or low)", r.Urgency)
		}
		seen := map[string]bool{}
		for _, in := range r.Integrations {
			if seen[in] {
				bad(k, r.Name, "integration %q is listed twice", in)
			}
			seen[in] = true
		}
	}
	return errors.Join(errs...)
}

// Day names as stored, Monday first.
var dayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// parseClock reads HH:MM as minutes after midnight; "24:00" only when allow24.
func parseClock(s string, allow24 bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if allow24 && h == 24 && m == 0 {
		return 24 * 60, true
	}
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

func formatClock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }
