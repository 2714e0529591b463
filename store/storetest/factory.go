package storetest

import (
	"fmt"
	"time"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// Factories of small valid manifest objects, with every default filled in
// (as the parser and (*manifest.Set).Normalize would), so a test states only
// what it cares about and changes fields of the returned object:
//
//	u := storetest.User("alice")
//	u.TimeZone = "Asia/Tokyo"
//	set := storetest.NewSet(u, storetest.Team("payments", "alice"))
//
// Objects refer to others by name; NewSet does not check that they exist
// (ApplyConfig does).

// User is a user with an SMS contact method "cell" and the rules "slack
// and push at once, cell after 2m".
func User(name string) *manifest.User {
	return &manifest.User{
		Name:     name,
		FullName: fmt.Sprintf("%s Example", name),
		Email:    name + "@example.com",
		TimeZone: "Europe/Berlin",
		ContactMethods: []manifest.ContactMethod{
			{Name: "cell", Type: manifest.ContactSMS, Address: phone(name)},
		},
		NotificationRules: []manifest.NotificationRule{
			{After: 0, Notify: []string{manifest.NotifySlack, manifest.NotifyPush}},
			{After: 2 * time.Minute, Notify: []string{"cell"}},
		},
	}
}

// phone is a stable, valid E.164 number for a name.
func phone(name string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return fmt.Sprintf("+1415555%04d", h%10000)
}

// Team has members, the first of them admin.
func Team(name string, members ...string) *manifest.Team {
	t := &manifest.Team{Name: name, Members: members}
	if len(members) > 0 {
		t.Admins = []string{members[0]}
	}
	return t
}

// Holidays is a holiday set of dates.
func Holidays(name string, dates ...schedule.Date) *manifest.Holidays {
	return &manifest.Holidays{Name: name, Dates: dates}
}

// Date is a schedule.Date.
func Date(year int, month time.Month, day int) schedule.Date {
	return schedule.Date{Year: year, Month: month, Day: day}
}

// Schedule is a schedule in America/New_York with one weekly layer
// "primary" of members, handing off Mondays at 09:00 from 2026-11-02.
func Schedule(name string, members ...string) *manifest.Schedule {
	return &manifest.Schedule{
		Name:     name,
		TimeZone: "America/New_York",
		Layers:   []manifest.Layer{Layer("primary", members...)},
	}
}

// Layer is a weekly rotation starting Monday 2026-11-02 09:00 local.
func Layer(name string, members ...string) manifest.Layer {
	return manifest.Layer{
		Name:       name,
		Members:    members,
		Start:      schedule.Civil{Date: Date(2026, time.November, 2), Hour: 9},
		Shift:      schedule.Length{Days: 7},
		OnHolidays: manifest.OnHolidaysInclude,
	}
}

// Policy pages one schedule, then escalates after 5 minutes to repeat it.
func Policy(name string, targets ...manifest.Target) *manifest.EscalationPolicy {
	return &manifest.EscalationPolicy{
		Name:  name,
		Steps: []manifest.Step{{Targets: targets, EscalateAfter: manifest.DefaultEscalateAfter}},
	}
}

// Target helpers.
func ScheduleTarget(name string) manifest.Target {
	return manifest.Target{Type: manifest.TargetSchedule, Ref: name}
}
func UserTarget(name string) manifest.Target {
	return manifest.Target{Type: manifest.TargetUser, Ref: name}
}
func TeamTarget(name string) manifest.Target {
	return manifest.Target{Type: manifest.TargetTeam, Ref: name}
}

// Service uses policy and has one Alertmanager integration per name.
func Service(name, policy string, integrations ...string) *manifest.Service {
	s := &manifest.Service{Name: name, EscalationPolicy: policy}
	for _, in := range integrations {
		s.Integrations = append(s.Integrations, manifest.Integration{Name: in, Type: manifest.IntegrationAlertmanager})
	}
	return s
}

// AlertRule pages service, with high urgency, for critical alerts.
func AlertRule(name, service string) *manifest.AlertRule {
	return &manifest.AlertRule{
		Name:    name,
		Match:   manifest.Match{Severity: []string{"critical"}},
		Service: service,
		Page:    true,
		Urgency: manifest.UrgencyHigh,
	}
}

// NewSet puts objects (pointers to any manifest object type) into a
// normalized Set; alert rules keep the order given.
func NewSet(objects ...any) *manifest.Set {
	s := &manifest.Set{}
	for _, o := range objects {
		switch o := o.(type) {
		case *manifest.User:
			s.Users = append(s.Users, o)
		case *manifest.Team:
			s.Teams = append(s.Teams, o)
		case *manifest.Holidays:
			s.Holidays = append(s.Holidays, o)
		case *manifest.Schedule:
			s.Schedules = append(s.Schedules, o)
		case *manifest.EscalationPolicy:
			s.Policies = append(s.Policies, o)
		case *manifest.Service:
			s.Services = append(s.Services, o)
		case *manifest.AlertRule:
			s.AlertRules = append(s.AlertRules, o)
		default:
			panic(fmt.Sprintf("storetest.NewSet: %T is not a manifest object", o))
		}
	}
	s.Normalize()
	return s
}

// Company is a small but complete configuration that uses every kind and
// most features: four users, a team, holidays, two schedules (one with
// restrictions, holidays and an override), a three-step policy, two
// services with three integrations, and two alert rules.
func Company() *manifest.Set {
	alice, bob, carol, dave := User("alice"), User("bob"), User("carol"), User("dave")
	alice.SlackID = "U01ALICE"
	alice.ContactMethods = append(alice.ContactMethods,
		manifest.ContactMethod{Name: "cell-call", Type: manifest.ContactVoice, Address: alice.ContactMethods[0].Address},
		manifest.ContactMethod{Name: "work", Type: manifest.ContactEmail, Address: alice.Email})
	alice.NotificationRules = append(alice.NotificationRules, manifest.NotificationRule{After: 5 * time.Minute, Notify: []string{"cell-call", "work"}})
	dave.TimeZone = ""

	team := Team("payments", "alice", "bob", "carol", "dave")
	team.Admins = []string{"alice", "carol"}
	team.SlackChannel = "C0PAYMENTS"

	us := Holidays("us", Date(2026, time.November, 26), Date(2026, time.December, 25))
	us.ICal = "us-holidays.ics"
	us.ICalData = []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//oncall//test//EN\r\nBEGIN:VEVENT\r\nUID:1@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260704\r\nSUMMARY:Independence Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")

	primary := Schedule("payments-primary", "alice", "bob", "carol")
	primary.Team = "payments"
	primary.Holidays = []string{"us"}
	business := primary.Layers[0]
	business.Name = "business-hours"
	business.Restrict = []manifest.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}}
	business.OnHolidays = manifest.OnHolidaysSkip
	end := time.Date(2027, time.June, 1, 4, 0, 0, 0, time.UTC)
	business.End = &end
	nights := Layer("nights", "dave", "carol")
	nights.Shift = schedule.Length{Elapsed: 12 * time.Hour}
	nights.TimeZone = "Europe/Berlin"
	nights.Restrict = []manifest.Window{{From: "17:00", To: "09:00"}, {Days: []string{"sat", "sun"}, From: "00:00", To: "24:00"}}
	primary.Layers = []manifest.Layer{business, nights}
	primary.Overrides = []manifest.Override{{
		User:  "dave",
		Start: time.Date(2026, time.November, 26, 5, 0, 0, 0, time.UTC),
		End:   time.Date(2026, time.November, 27, 5, 0, 0, 0, time.UTC),
	}}
	secondary := Schedule("payments-secondary", "bob", "alice")
	secondary.Team = "payments"

	policy := &manifest.EscalationPolicy{
		Name: "payments", Team: "payments", Repeat: 1,
		Steps: []manifest.Step{
			{Targets: []manifest.Target{ScheduleTarget("payments-primary")}, EscalateAfter: 5 * time.Minute},
			{Targets: []manifest.Target{ScheduleTarget("payments-secondary"), UserTarget("carol")}, EscalateAfter: 10 * time.Minute},
			{Targets: []manifest.Target{TeamTarget("payments"), {Type: manifest.TargetSlackChannel, Ref: "C0PAYMENTS"}}, EscalateAfter: manifest.DefaultEscalateAfter},
		},
	}
	api := Service("payments-api", "payments", "payments-prometheus")
	api.Team = "payments"
	api.Description = "The payments API"
	api.Integrations = append(api.Integrations, manifest.Integration{Name: "payments-pagerduty", Type: manifest.IntegrationPagerDuty})
	web := Service("payments-web", "payments", "payments-grafana")
	web.Integrations[0].Type = manifest.IntegrationGrafana

	byLabels := AlertRule("payments-from-labels", "payments-api")
	byLabels.Integrations = []string{"payments-prometheus"}
	byLabels.Match = manifest.Match{
		Severity: []string{"critical", "error"},
		Labels:   map[string][]string{"env": {"prod"}, "team": {"~payments.*"}},
	}
	byLabels.ServiceFrom = "labels.service"
	quiet := AlertRule("quiet-warnings", "")
	quiet.Match = manifest.Match{Severity: []string{"warning", "info"}, Annotations: map[string][]string{"runbook": {"~.+"}}}
	quiet.Page = false
	quiet.Urgency = manifest.UrgencyLow

	return NewSet(alice, bob, carol, dave, team, us, primary, secondary, policy, api, web, byLabels, quiet)
}
