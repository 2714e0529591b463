package manifest_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

func TestExample(t *testing.T) {
	t.Parallel()
	b, err := manifest.Load(exampleDir)
	if err != nil {
		t.Fatal(err)
	}
	if errs := b.Check(nil); len(errs) > 0 {
		t.Fatalf("the example has errors:\n%v", errs)
	}
	s := b.Set
	counts := map[string]int{
		"users": len(s.Users), "teams": len(s.Teams), "holidays": len(s.Holidays), "schedules": len(s.Schedules),
		"policies": len(s.Policies), "services": len(s.Services), "alert rules": len(s.AlertRules),
	}
	want := map[string]int{"users": 7, "teams": 2, "holidays": 2, "schedules": 3, "policies": 2, "services": 3, "alert rules": 4}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}

	// Alert rules keep file order; other kinds are sorted by name.
	var rules []string
	for _, r := range s.AlertRules {
		rules = append(rules, r.Name)
	}
	if got := strings.Join(rules, " "); got != "infra-warnings-quiet infra-by-service-label payments-critical build-farm-low" {
		t.Errorf("alert rules in order %s", got)
	}
	if s.Users[0].Name != "alice" || s.Users[len(s.Users)-1].Name != "kenji" {
		t.Errorf("users not sorted: %s .. %s", s.Users[0].Name, s.Users[len(s.Users)-1].Name)
	}

	// The secondary's start is written with an offset: it becomes local time
	// in the schedule's zone.
	sec := find(t, s, "payments-secondary")
	if got, want := sec.Layers[0].Start, civil(2026, 11, 2, 8, 0); got != want {
		t.Errorf("payments-secondary start = %v, want %v", got, want)
	}
	if got, want := *sec.Layers[0].End, time.Date(2027, 7, 1, 15, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("payments-secondary end = %v, want %v", got, want)
	}
	if sec.Layers[0].Shift != (schedule.Length{Elapsed: 12 * time.Hour}) {
		t.Errorf("payments-secondary shift = %+v", sec.Layers[0].Shift)
	}
	// The holidays' iCalendar data is kept for export.
	if h := s.Holidays[1]; h.Name != "us" || h.ICal != "us-holidays.ics" || !strings.Contains(string(h.ICalData), "BEGIN:VCALENDAR") {
		t.Errorf("holidays us = %+v", h)
	}
}

func find(t *testing.T, s *manifest.Set, name string) *manifest.Schedule {
	t.Helper()
	for _, sc := range s.Schedules {
		if sc.Name == name {
			return sc
		}
	}
	t.Fatalf("no schedule %q", name)
	return nil
}

func civil(y int, m time.Month, d, h, min int) schedule.Civil {
	return schedule.Civil{Date: schedule.Date{Year: y, Month: m, Day: d}, Hour: h, Minute: min}
}

// refs is a file whose every reference is to something it does not define.
var refs = doc(
	"kind: Team",
	"name: payments",
	"members: [alice, zoe]",
	"---",
	"kind: Schedule",
	"name: primary",
	"team: payment",
	"time_zone: UTC",
	"holidays: [us]",
	"layers:",
	"  - {name: a, members: [alice, bob], start: 2026-01-01T00:00, shift: 1d}",
	"overrides:",
	"  - {user: carol, start: 2026-01-01T00:00, end: 2026-01-02T00:00}",
	"---",
	"kind: EscalationPolicy",
	"name: p",
	"team: ops",
	"steps:",
	"  - targets: [{schedule: primary}, {schedule: secondary}, {user: dave}, {team: ops}, {slack_channel: '#ops'}]",
	"---",
	"kind: Service",
	"name: api",
	"team: ops",
	"escalation_policy: q",
	"integrations: [{name: prom, type: alertmanager}]",
	"---",
	"kind: AlertRule",
	"name: r",
	"integrations: [prom, graf]",
	"service: web",
)

func TestReferences(t *testing.T) {
	t.Parallel()
	b := loadFiles(t, map[string]string{"refs.yaml": refs})
	if len(b.Errors) != 0 {
		t.Fatalf("parse errors: %v", b.Errors)
	}
	diffLines(t, lines(b.Check(nil)), []string{
		`refs.yaml:3:11: members: unknown user "alice"`,
		`refs.yaml:3:18: members: unknown user "zoe"`,
		`refs.yaml:7:7: team: unknown team "payment" (did you mean "payments"?)`,
		`refs.yaml:9:12: holidays: unknown holidays "us"`,
		`refs.yaml:11:25: members: unknown user "alice"`,
		`refs.yaml:11:32: members: unknown user "bob"`,
		`refs.yaml:13:12: user: unknown user "carol"`,
		`refs.yaml:17:7: team: unknown team "ops"`,
		`refs.yaml:19:47: schedule: unknown schedule "secondary"`,
		`refs.yaml:19:66: user: unknown user "dave"`,
		`refs.yaml:19:80: team: unknown team "ops"`,
		`refs.yaml:23:7: team: unknown team "ops"`,
		`refs.yaml:24:20: escalation_policy: unknown escalation policy "q"`,
		`refs.yaml:29:22: integrations: unknown integration "graf"`,
		`refs.yaml:30:10: service: unknown service "web"`,
	})

	// apply knows what the database holds.
	db := map[string][]string{
		manifest.KindUser:             {"alice", "bob", "carol", "dave"},
		manifest.KindTeam:             {"ops"},
		manifest.KindHolidays:         {"us"},
		manifest.KindSchedule:         {"secondary"},
		manifest.KindEscalationPolicy: {"q"},
		manifest.KindIntegration:      {"graf"},
	}
	var asked []string
	known := func(kind, name string) bool {
		asked = append(asked, kind+"/"+name)
		for _, n := range db[kind] {
			if n == name {
				return true
			}
		}
		return false
	}
	diffLines(t, lines(b.Check(known)), []string{
		`refs.yaml:3:18: members: unknown user "zoe"`,
		`refs.yaml:7:7: team: unknown team "payment" (did you mean "payments"?)`,
		`refs.yaml:30:10: service: unknown service "web"`,
	})
	for _, a := range asked {
		if a == "Schedule/primary" || a == "Integration/prom" {
			t.Errorf("Known was asked about %s, which the files define", a)
		}
	}
	// Check does not change the bundle.
	if len(b.Errors) != 0 {
		t.Errorf("Check added to b.Errors: %v", b.Errors)
	}
}

func TestNormalizeDefaults(t *testing.T) {
	t.Parallel()
	b := loadFiles(t, map[string]string{"a.yaml": doc(
		"kind: User",
		"name: zed",
		"email: zed@example.com",
		"contact_methods: []",
		"notification_rules:",
		"  - {after: 5m, notify: [push]}",
		"  - {notify: slack}",
		"---",
		"kind: User",
		"name: amy",
		"slack_id: U0AMY",
		"contact_methods:",
		"  - {name: work, type: email, address: amy@example.com}",
		"  - {name: cell, type: sms, address: '+14155550100'}",
		"---",
		"kind: Team",
		"name: t",
		"members: [zed, amy]",
		"admins: [zed, amy]",
		"---",
		"kind: Holidays",
		"name: h",
		"dates: [2026-12-25, 2026-01-01, 2026-12-25]",
		"---",
		"kind: Schedule",
		"name: s",
		"time_zone: America/New_York",
		"holidays: [h]",
		"layers:",
		"  - name: a",
		"    members: [zed, amy, zed]",
		"    start: 2026-03-08T02:30",
		"    shift: 2w",
		"    time_zone: America/New_York",
		"    restrict:",
		"      - {days: [sun, Saturday, fri, thu, wed, tue, mon], from: '09:00', to: '17:00'}",
		"      - {days: [fri, mon, fri], from: '22:00', to: '06:00'}",
		"  - name: b",
		"    members: [amy]",
		"    start: 2026-11-01T09:00:00+09:00",
		"    shift: 90m",
		"    time_zone: Asia/Tokyo",
		"    on_holidays: only",
		"    end: 2026-11-02T01:30",
		"overrides:",
		"  - {user: amy, start: 2026-03-08T02:30, end: 2026-11-01T01:30}",
		"  - {user: zed, start: '2026-03-08T02:30:00-05:00', end: '2026-03-09T00:00Z'}",
		"---",
		"kind: EscalationPolicy",
		"name: p",
		"steps:",
		"  - targets: [{user: zed}]",
		"  - targets: [{team: t}]",
		"    escalate_after: 1h",
		"---",
		"kind: Service",
		"name: svc",
		"escalation_policy: p",
		"integrations: [{name: z, type: generic}, {name: a, type: grafana}, {name: m, type: heartbeat, timeout: 1d1h}]",
		"---",
		"kind: AlertRule",
		"name: r2",
		"---",
		"kind: AlertRule",
		"name: r1",
		"integrations: [z, a]",
		"match: {severity: critical, labels: {env: prod, team: [a, '~b.*']}}",
		"page: false",
		"urgency: low",
	)})
	if errs := b.Check(nil); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	ny, _ := time.LoadLocation("America/New_York")
	end := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC) // 01:30 EDT, the first of the two
	want := &manifest.Set{
		Users: []*manifest.User{
			{Name: "amy", SlackID: "U0AMY", ContactMethods: []manifest.ContactMethod{
				{Name: "cell", Type: "sms", Address: "+14155550100"},
				{Name: "work", Type: "email", Address: "amy@example.com"},
			}},
			{Name: "zed", Email: "zed@example.com", NotificationRules: []manifest.NotificationRule{
				{After: 0, Notify: []string{"slack"}},
				{After: 5 * time.Minute, Notify: []string{"push"}},
			}},
		},
		Teams:    []*manifest.Team{{Name: "t", Members: []string{"amy", "zed"}, Admins: []string{"amy", "zed"}}},
		Holidays: []*manifest.Holidays{{Name: "h", Dates: []schedule.Date{{Year: 2026, Month: 1, Day: 1}, {Year: 2026, Month: 12, Day: 25}}}},
		Schedules: []*manifest.Schedule{{
			Name: "s", TimeZone: "America/New_York", Holidays: []string{"h"},
			Layers: []manifest.Layer{
				{
					Name: "a", Members: []string{"zed", "amy", "zed"},
					Start: civil(2026, 3, 8, 2, 30), Shift: schedule.Length{Days: 14},
					Restrict: []manifest.Window{
						{From: "09:00", To: "17:00"},
						{Days: []string{"mon", "fri"}, From: "22:00", To: "06:00"},
					},
					OnHolidays: "include",
				},
				{
					Name: "b", Members: []string{"amy"},
					Start: civil(2026, 11, 1, 9, 0), Shift: schedule.Length{Elapsed: 90 * time.Minute},
					TimeZone: "Asia/Tokyo", OnHolidays: "only",
					End: ptr(time.Date(2026, 11, 1, 16, 30, 0, 0, time.UTC)), // local to Tokyo
				},
			},
			Overrides: []manifest.Override{
				// 02:30 does not exist on 2026-03-08 in New York: it is 03:30 EDT.
				{User: "amy", Start: time.Date(2026, 3, 8, 3, 30, 0, 0, ny).UTC(), End: end},
				{User: "zed", Start: time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC), End: time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)},
			},
		}},
		Policies: []*manifest.EscalationPolicy{{Name: "p", Steps: []manifest.Step{
			{Targets: []manifest.Target{{Type: "user", Ref: "zed"}}, EscalateAfter: 5 * time.Minute},
			{Targets: []manifest.Target{{Type: "team", Ref: "t"}}, EscalateAfter: time.Hour},
		}}},
		Services: []*manifest.Service{{Name: "svc", EscalationPolicy: "p", Integrations: []manifest.Integration{
			{Name: "a", Type: "grafana"}, {Name: "m", Type: "heartbeat", Timeout: 25 * time.Hour}, {Name: "z", Type: "generic"},
		}}},
		AlertRules: []*manifest.AlertRule{
			{Name: "r2", Page: true, Urgency: "high"},
			{Name: "r1", Integrations: []string{"a", "z"}, Match: manifest.Match{
				Severity: []string{"critical"},
				Labels:   map[string][]string{"env": {"prod"}, "team": {"a", "~b.*"}},
			}, Urgency: "low"},
		},
	}
	if !reflect.DeepEqual(b.Set, want) {
		t.Errorf("set:\n got %s\nwant %s", dump(b.Set), dump(want))
	}

	// Normalize makes a Set built by hand (as the store does) the same.
	hand := &manifest.Set{
		Users: []*manifest.User{want.Users[1], want.Users[0]},
		Teams: []*manifest.Team{{Name: "t", Members: []string{"zed", "amy"}, Admins: []string{"zed", "amy", "zed"}}},
	}
	hand.Users[1] = &manifest.User{Name: "amy", SlackID: "U0AMY", NotificationRules: []manifest.NotificationRule{}, ContactMethods: []manifest.ContactMethod{
		want.Users[0].ContactMethods[1], want.Users[0].ContactMethods[0],
	}}
	hand.Normalize()
	if !reflect.DeepEqual(hand.Users, want.Users) || !reflect.DeepEqual(hand.Teams, want.Teams) {
		t.Errorf("normalized by hand:\n got %s\nwant %s", dump(hand), dump(&manifest.Set{Users: want.Users, Teams: want.Teams}))
	}
	sc := want.Schedules[0]
	sc2 := *sc
	sc2.Layers = []manifest.Layer{sc.Layers[0], sc.Layers[1]}
	sc2.Layers[0].TimeZone = "America/New_York"
	sc2.Layers[0].OnHolidays = ""
	sc2.Layers[0].Restrict = []manifest.Window{{Days: []string{"sun", "sat", "fri", "thu", "wed", "tue", "mon"}, From: "09:00", To: "17:00"}, sc.Layers[0].Restrict[1]}
	sc2.Overrides = append([]manifest.Override(nil), sc.Overrides...)
	sc2.Overrides[0].Start = sc2.Overrides[0].Start.In(ny)
	s2 := &manifest.Set{Schedules: []*manifest.Schedule{&sc2}, Policies: []*manifest.EscalationPolicy{{Name: "p", Steps: []manifest.Step{
		{Targets: []manifest.Target{{Type: "user", Ref: "zed"}}},
		{Targets: []manifest.Target{{Type: "team", Ref: "t"}}, EscalateAfter: time.Hour},
	}}}, AlertRules: []*manifest.AlertRule{{Name: "r2", Page: true}}}
	s2.Normalize()
	if !reflect.DeepEqual(s2.Schedules, want.Schedules) || !reflect.DeepEqual(s2.Policies, want.Policies) || !reflect.DeepEqual(s2.AlertRules, want.AlertRules[:1]) {
		t.Errorf("normalized by hand:\n got %s", dump(s2))
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yml", doc("kind: User", "name: bob", "email: bob@example.com", "---", "kind: Holidays", "name: us", "ical: cal/us.ics"))
	write("a.yaml", doc("kind: User", "name: amy", "email: amy@example.com"))
	write("notes.txt", "kind: nonsense")
	if err := os.Mkdir(filepath.Join(dir, "cal"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cal", "us.ics"), []byte(testICS), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(t.TempDir(), "extra.yaml")
	if err := os.WriteFile(extra, []byte(doc("kind: User", "name: amy", "email: amy@example.com")), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := manifest.Load(dir, extra)
	if err != nil {
		t.Fatal(err)
	}
	// The duplicate is reported in the file read last: directories' files
	// are read in name order, then the next path.
	diffLines(t, lines(b.Check(nil)), []string{icalLine(filepath.Join(dir, "b.yml")+":7:7: ", "cal/us.ics", testICS), extra + `:2:7: duplicate User "amy" (first defined at ` + filepath.Join(dir, "a.yaml") + `:2:7)`})
	if h := b.Set.Holidays[0]; h.ICal != "us.ics" || string(h.ICalData) != testICS {
		t.Errorf("holidays = %q, %q", h.ICal, h.ICalData)
	}

	// Parse reads ical beside the file too.
	p := manifest.Parse(filepath.Join(dir, "b.yml"), []byte(doc("kind: Holidays", "name: us", "ical: cal/us.ics")))
	if string(p.Set.Holidays[0].ICalData) != testICS {
		t.Errorf("Parse did not read the ical file")
	}

	if _, err := manifest.Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("Load of a missing file: no error")
	}
	if _, err := manifest.Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.yaml or *.yml files") {
		t.Errorf("Load of an empty directory: %v", err)
	}
}

// icalLine is the error line for an ical file that does not parse, or
// nothing when it does (the calendar package may not read it yet).
func icalLine(prefix, name, data string) string {
	if msg := icalErr(data); msg != "<no error>" {
		return prefix + `ical: "` + name + `" is not a valid iCalendar file: ` + msg
	}
	return ""
}

func TestErrorsType(t *testing.T) {
	t.Parallel()
	errs := manifest.Errors{
		{File: "b.yaml", Line: 1, Col: 1, Msg: "two"},
		{File: "a.yaml", Line: 10, Col: 2, Msg: "one"},
		{File: "a.yaml", Line: 9, Col: 5, Msg: "zero"},
	}
	errs.Sort()
	if got := errs.Error(); got != "a.yaml:9:5: zero\na.yaml:10:2: one\nb.yaml:1:1: two" {
		t.Errorf("Errors = %q", got)
	}
	if manifest.Errors(nil).Err() != nil || errs.Err() == nil {
		t.Error("Err: wrong nil-ness")
	}
	b := loadFiles(t, map[string]string{"u.yaml": users})
	if e := b.Errorf(manifest.KindUser, "bob", "no permission to change %s", "bob"); e.Error() != "u.yaml:6:7: no permission to change bob" {
		t.Errorf("Errorf = %q", e.Error())
	}
}
