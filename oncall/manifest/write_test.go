package manifest_test

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// roundTrip marshals s and loads the result back.
func roundTrip(t interface {
	Helper()
	Fatalf(string, ...any)
}, s *manifest.Set) (*manifest.Bundle, map[string][]byte) {
	t.Helper()
	files, err := manifest.Marshal(s)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	fs := map[string]string{}
	for name, data := range files {
		fs[name] = string(data)
	}
	b, err := manifest.LoadFS(mapFS(fs), ".")
	if err != nil {
		t.Fatalf("LoadFS: %v", err)
	}
	return b, files
}

func TestMarshalExample(t *testing.T) {
	t.Parallel()
	b, err := manifest.Load(exampleDir)
	if err != nil {
		t.Fatal(err)
	}
	before := dump(b.Set)
	back, files := roundTrip(t, b.Set)
	if dump(b.Set) != before {
		t.Error("Marshal changed its input")
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	want := []string{"01-users.yaml", "02-teams.yaml", "03-holidays.yaml", "04-schedules.yaml",
		"05-escalation-policies.yaml", "06-services.yaml", "07-alert-rules.yaml", "us-holidays.ics"}
	if !slices.Equal(names, want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	if errs := back.Check(nil); len(errs) > 0 {
		t.Fatalf("the export has errors:\n%v\n%s", errs, files["04-schedules.yaml"])
	}
	if !reflect.DeepEqual(back.Set, b.Set) {
		t.Errorf("round trip differs:\n got %s\nwant %s", dump(back.Set), dump(b.Set))
	}

	// Readable output: flow lists, local times, defaults left out.
	sched := string(files["04-schedules.yaml"])
	for _, s := range []string{
		"members: [alice, bob, carol, dave]",
		"start: 2026-11-02T08:00\n", // written with an offset, exported in the zone
		"- {days: [mon, tue, wed, thu, fri], from: '09:00', to: '17:00'}",
		"- {user: dave, start: '2026-11-26T00:00', end: '2026-11-27T00:00'}",
		"end: 2027-07-01T08:00\n",
	} {
		if !strings.Contains(sched, s) {
			t.Errorf("04-schedules.yaml lacks %q:\n%s", s, sched)
		}
	}
	if strings.Contains(sched, "on_holidays: include") || strings.Contains(string(files["05-escalation-policies.yaml"]), "escalate_after: 5m") {
		t.Error("defaults are written")
	}
	if users := string(files["01-users.yaml"]); !strings.Contains(users, `  - {name: cell, type: sms, address: "+14155550101"}`) {
		t.Errorf("01-users.yaml:\n%s", users)
	}
	if services := string(files["06-services.yaml"]); !strings.Contains(services, "  - {name: nightly-backup, type: heartbeat, timeout: 25h}\n") ||
		strings.Contains(services, "type: alertmanager, timeout") {
		t.Errorf("06-services.yaml:\n%s", services)
	}

	// WriteDir writes the same files.
	dir := t.TempDir()
	if err := manifest.WriteDir(dir, b.Set); err != nil {
		t.Fatal(err)
	}
	fromDir, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromDir.Set, b.Set) || len(fromDir.Check(nil)) > 0 {
		t.Errorf("WriteDir then Load differs or has errors: %v", fromDir.Check(nil))
	}
}

func TestMarshalInstants(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	// 01:30 on 2026-11-01 happens twice in New York: the second one cannot
	// be written as a local time.
	first := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)
	second := time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)
	s := &manifest.Set{Schedules: []*manifest.Schedule{{
		Name: "s", TimeZone: "America/New_York",
		Overrides: []manifest.Override{
			{User: "a", Start: first, End: second},
			{User: "a", Start: time.Date(2026, 1, 1, 0, 0, 0, 5, ny), End: time.Date(2026, 1, 1, 0, 0, 30, 0, ny)},
		},
	}}}
	b, files := roundTrip(t, s)
	out := string(files["04-schedules.yaml"])
	for _, want := range []string{
		"{user: a, start: '2026-11-01T01:30', end: '2026-11-01T01:30:00-05:00'}",
		"{user: a, start: '2026-01-01T00:00:00.000000005-05:00', end: '2026-01-01T00:00:30'}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	want := s.Clone()
	want.Normalize()
	if len(b.Errors) > 0 || !reflect.DeepEqual(b.Set, want) {
		t.Errorf("round trip: %v\n got %s\nwant %s", b.Errors, dump(b.Set), dump(want))
	}
}

func TestMarshalICalNames(t *testing.T) {
	t.Parallel()
	data := []byte(testICS)
	other := []byte(strings.Replace(testICS, "20261225", "20261224", 1))
	s := &manifest.Set{Holidays: []*manifest.Holidays{
		{Name: "a", ICal: "../../etc/cal endar.ics", ICalData: data},
		{Name: "b", ICal: "sub/cal-endar.ics", ICalData: data}, // same name, same data: one file
		{Name: "c", ICal: "x/cal-endar.ics", ICalData: other},  // same name, other data: renamed
		{Name: "d", ICal: "holidays.yaml", ICalData: other},    // never a manifest
		{Name: "e", ICal: "..", ICalData: data},                // nothing left: the holidays' name
		{Name: "f", ICal: "unused.ics"},                        // no data: no file
	}}
	files, err := manifest.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	if want := []string{"03-holidays.yaml", "c-2.ics", "cal-endar.ics", "e.ics", "holidays.yaml.ics"}; !slices.Equal(names, want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	for _, want := range []string{"ical: cal-endar.ics", "ical: c-2.ics", "ical: holidays.yaml.ics", "ical: e.ics"} {
		if !strings.Contains(string(files["03-holidays.yaml"]), want+"\n") {
			t.Errorf("03-holidays.yaml lacks %q:\n%s", want, files["03-holidays.yaml"])
		}
	}
}

// TestMarshalRapid: for any valid Set s, Load(Marshal(s)) is s normalized.
func TestMarshalRapid(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		s := genSet(t)
		want := s.Clone()
		want.Normalize()
		if reflect.DeepEqual(want, &manifest.Set{}) {
			if files, err := manifest.Marshal(s); err != nil || len(files) > 0 {
				t.Fatalf("Marshal of nothing = %v, %v", files, err)
			}
			return
		}
		b, files := roundTrip(t, s)
		if len(b.Errors) > 0 {
			t.Fatalf("errors reading back:\n%v\n%s", b.Errors, joinFiles(files))
		}
		if !reflect.DeepEqual(b.Set, want) {
			t.Fatalf("round trip differs:\n got %s\nwant %s\n%s", dump(b.Set), dump(want), joinFiles(files))
		}
		// Normalize is idempotent, and Marshal is stable.
		again := b.Set.Clone()
		again.Normalize()
		files2, err := manifest.Marshal(b.Set)
		if err != nil || !reflect.DeepEqual(again, b.Set) || !reflect.DeepEqual(files, files2) {
			t.Fatalf("not stable: %v", err)
		}
	})
}

func joinFiles(files map[string][]byte) string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "=== %s\n%s", n, files[n])
	}
	return b.String()
}

// Generators of valid Sets (references need not resolve: Marshal and Load
// do not check them).

var (
	genName  = rapid.StringMatching(`[a-z0-9][a-z0-9._-]{0,7}`)
	genText  = rapid.StringMatching(`[ -~]{0,16}|[a-zA-Zé東 \n:#'"-]{1,12}`)
	genZone  = rapid.SampledFrom([]string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Lord_Howe", "America/St_Johns", "Asia/Kolkata"})
	genPhone = rapid.StringMatching(`\+1415555[0-9]{4}`)
	// Handles may start with a digit or hold '.', both of which YAML could
	// read as something other than a string were they not quoted.
	genUserGroup = rapid.SampledFrom([]string{"", "S0ABC123", "@payments-oncall", "@1.5", "@ops_2"})
	genDur       = rapid.SampledFrom([]time.Duration{0, time.Second, 2 * time.Second, 30 * time.Second, time.Minute, 90 * time.Second,
		5 * time.Minute, time.Hour, 36 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 25*time.Hour + time.Minute})
)

func genSet(t *rapid.T) *manifest.Set {
	s := &manifest.Set{}
	for _, name := range rapid.SliceOfNDistinct(genName, 0, 3, rapid.ID).Draw(t, "users") {
		s.Users = append(s.Users, genUser(t, name))
	}
	for _, name := range rapid.SliceOfNDistinct(genName, 0, 2, rapid.ID).Draw(t, "teams") {
		members := rapid.SliceOfNDistinct(genName, 0, 4, rapid.ID).Draw(t, "members")
		var admins []string
		for _, m := range members {
			if rapid.Bool().Draw(t, "admin") {
				admins = append(admins, m)
			}
		}
		s.Teams = append(s.Teams, &manifest.Team{
			Name: name, Members: members, Admins: admins,
			SlackChannel:   rapid.SampledFrom([]string{"", "C0ABC123", "#ops", "#payments-oncall"}).Draw(t, "channel"),
			SlackUserGroup: genUserGroup.Draw(t, "user group"),
		})
	}
	for _, name := range rapid.SliceOfNDistinct(genName, 0, 2, rapid.ID).Draw(t, "holidays") {
		h := &manifest.Holidays{Name: name, Dates: rapid.SliceOfN(genDate, 0, 4).Draw(t, "dates")}
		if rapid.Bool().Draw(t, "ical") {
			h.ICal = rapid.SampledFrom([]string{"us.ics", "cal/x y.ics", "plain"}).Draw(t, "file")
			h.ICalData = []byte(testICS)
		}
		s.Holidays = append(s.Holidays, h)
	}
	for _, name := range rapid.SliceOfNDistinct(genName, 0, 2, rapid.ID).Draw(t, "schedules") {
		s.Schedules = append(s.Schedules, genSchedule(t, name))
	}
	for _, name := range rapid.SliceOfNDistinct(genName, 0, 2, rapid.ID).Draw(t, "policies") {
		p := &manifest.EscalationPolicy{Name: name, Team: optName(t, "team"), Repeat: rapid.IntRange(0, 5).Draw(t, "repeat")}
		for range rapid.IntRange(1, 3).Draw(t, "steps") {
			st := manifest.Step{EscalateAfter: rapid.SampledFrom([]time.Duration{0, time.Minute, 5 * time.Minute, 90 * time.Second, 2 * time.Hour}).Draw(t, "after")}
			for range rapid.IntRange(1, 3).Draw(t, "targets") {
				typ := rapid.SampledFrom([]string{"user", "schedule", "team", "slack_channel"}).Draw(t, "type")
				ref := genName.Draw(t, "ref")
				if typ == "slack_channel" {
					ref = rapid.SampledFrom([]string{"C0PAY", "#ops"}).Draw(t, "channel")
				}
				st.Targets = append(st.Targets, manifest.Target{Type: typ, Ref: ref})
			}
			p.Steps = append(p.Steps, st)
		}
		s.Policies = append(s.Policies, p)
	}
	integrations := rapid.SliceOfNDistinct(genName, 0, 4, rapid.ID).Draw(t, "integrations")
	for i, name := range rapid.SliceOfNDistinct(genName, 0, 2, rapid.ID).Draw(t, "services") {
		sv := &manifest.Service{Name: name, Description: genText.Draw(t, "description"), Team: optName(t, "team"), EscalationPolicy: genName.Draw(t, "policy")}
		for j, in := range integrations {
			if j%2 == i {
				integ := manifest.Integration{Name: in, Type: rapid.SampledFrom([]string{"alertmanager", "grafana", "pagerduty", "generic", "heartbeat"}).Draw(t, "type")}
				if integ.Type == "heartbeat" {
					integ.Timeout = rapid.SampledFrom([]time.Duration{time.Minute, 90 * time.Second, 25 * time.Hour, 7 * 24 * time.Hour,
						36*time.Hour + time.Second, manifest.MaxHeartbeatTimeout}).Draw(t, "timeout")
				}
				sv.Integrations = append(sv.Integrations, integ)
			}
		}
		s.Services = append(s.Services, sv)
	}
	for _, name := range rapid.SliceOfNDistinct(genName, 0, 3, rapid.ID).Draw(t, "rules") {
		r := &manifest.AlertRule{
			Name:         name,
			Integrations: rapid.SliceOfNDistinct(genName, 0, 2, rapid.ID).Draw(t, "integrations"),
			ServiceFrom:  rapid.SampledFrom([]string{"", "labels.service", "annotations.svc name"}).Draw(t, "from"),
			Service:      optName(t, "service"),
			Page:         rapid.Bool().Draw(t, "page"),
			Urgency:      rapid.SampledFrom([]string{"", "high", "low"}).Draw(t, "urgency"),
		}
		r.Match.Severity = rapid.SliceOfN(rapid.SampledFrom([]string{"critical", "error", "warning", "info", "~crit.*", "~(?i)ERR"}), 0, 2).Draw(t, "severity")
		r.Match.Summary = rapid.SliceOfN(genValue, 0, 2).Draw(t, "summary")
		r.Match.Labels = genPatternMap(t, "labels")
		r.Match.Annotations = genPatternMap(t, "annotations")
		s.AlertRules = append(s.AlertRules, r)
	}
	return s
}

var genValue = rapid.OneOf(rapid.StringMatching(`[ -}]{0,10}`), rapid.SampledFrom([]string{"~.*", "~pay(ments)?-.+", "~", "~~x"}))

var genDate = rapid.Custom(func(t *rapid.T) schedule.Date {
	d := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rapid.IntRange(0, 2000).Draw(t, "day"))
	return schedule.Date{Year: d.Year(), Month: d.Month(), Day: d.Day()}
})

func genPatternMap(t *rapid.T, label string) map[string][]string {
	keys := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z_]{1,6}|[a-z]+ [a-z]+`), 0, 2, rapid.ID).Draw(t, label)
	if len(keys) == 0 {
		return nil
	}
	m := map[string][]string{}
	for _, k := range keys {
		m[k] = rapid.SliceOfN(genValue, 1, 2).Draw(t, "values")
	}
	return m
}

func optName(t *rapid.T, label string) string {
	if rapid.Bool().Draw(t, label+"?") {
		return genName.Draw(t, label)
	}
	return ""
}

func genUser(t *rapid.T, name string) *manifest.User {
	u := &manifest.User{Name: name, FullName: genText.Draw(t, "full_name"), TimeZone: rapid.SampledFrom([]string{"", "Europe/Berlin", "UTC"}).Draw(t, "tz")}
	switch rapid.IntRange(0, 2).Draw(t, "id") {
	case 0:
		u.Email = name + "@example.com"
	case 1:
		u.SlackID = "U0" + strings.ToUpper(rapid.StringMatching(`[A-Z0-9]{3,8}`).Draw(t, "slack"))
	default:
		u.Email, u.SlackID = name+"@example.com", "W012345"
	}
	methods := rapid.SliceOfNDistinct(genName.Filter(func(s string) bool { return s != "slack" && s != "push" }), 0, 3, rapid.ID).Draw(t, "methods")
	for _, m := range methods {
		c := manifest.ContactMethod{Name: m, Type: rapid.SampledFrom([]string{"sms", "voice", "email"}).Draw(t, "type")}
		if c.Type == "email" {
			c.Address = m + "@example.com"
		} else {
			c.Address = genPhone.Draw(t, "phone")
		}
		u.ContactMethods = append(u.ContactMethods, c)
	}
	targets := append([]string{"slack", "push"}, methods...)
	for range rapid.IntRange(0, 3).Draw(t, "rules") {
		u.NotificationRules = append(u.NotificationRules, manifest.NotificationRule{
			After:  genDur.Draw(t, "after"),
			Notify: rapid.SliceOfN(rapid.SampledFrom(targets), 1, 3).Draw(t, "notify"),
		})
	}
	return u
}

func genSchedule(t *rapid.T, name string) *manifest.Schedule {
	sc := &manifest.Schedule{Name: name, Team: optName(t, "team"), TimeZone: genZone.Draw(t, "tz"),
		Holidays: rapid.SliceOfNDistinct(genName, 0, 2, rapid.ID).Draw(t, "holidays"), SlackUserGroup: genUserGroup.Draw(t, "user group")}
	loc, _ := time.LoadLocation(sc.TimeZone)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, lname := range rapid.SliceOfNDistinct(genName, 0, 3, rapid.ID).Draw(t, "layers") {
		l := manifest.Layer{
			Name:       lname,
			Members:    rapid.SliceOfN(genName, 1, 4).Draw(t, "members"),
			TimeZone:   rapid.SampledFrom([]string{"", sc.TimeZone, "Asia/Tokyo", "America/New_York"}).Draw(t, "layer tz"),
			OnHolidays: rapid.SampledFrom([]string{"", "include", "skip", "only"}).Draw(t, "on_holidays"),
		}
		lloc := loc
		if l.TimeZone != "" {
			lloc, _ = time.LoadLocation(l.TimeZone)
		}
		start := base.Add(time.Duration(rapid.IntRange(0, 400*24*60).Draw(t, "start")) * time.Minute)
		if rapid.Bool().Draw(t, "seconds") {
			start = start.Add(time.Duration(rapid.IntRange(1, 59).Draw(t, "sec")) * time.Second)
		}
		start = start.In(lloc)
		l.Start = schedule.Civil{Date: schedule.Date{Year: start.Year(), Month: start.Month(), Day: start.Day()}, Hour: start.Hour(), Minute: start.Minute(), Second: start.Second()}
		if rapid.Bool().Draw(t, "elapsed") {
			l.Shift = schedule.Length{Elapsed: rapid.SampledFrom([]time.Duration{time.Hour, 90 * time.Minute, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 168 * time.Hour, 30 * time.Second}).Draw(t, "shift")}
		} else {
			l.Shift = schedule.Length{Days: rapid.IntRange(1, 21).Draw(t, "days")}
		}
		for range rapid.IntRange(0, 2).Draw(t, "windows") {
			clock := func(label string, max int) string {
				m := rapid.IntRange(0, max).Draw(t, label)
				return fmt.Sprintf("%02d:%02d", m/60, m%60)
			}
			w := manifest.Window{
				Days: rapid.SliceOfN(rapid.SampledFrom([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}), 0, 8).Draw(t, "days"),
				From: clock("from", 24*60-1), To: clock("to", 24*60),
			}
			l.Restrict = append(l.Restrict, w)
		}
		if rapid.Bool().Draw(t, "end?") {
			// The end comes after the start, as the parser checks.
			end := start.Add(time.Duration(rapid.IntRange(1, 1000*24*60).Draw(t, "end")) * time.Minute)
			if rapid.Bool().Draw(t, "odd end") {
				end = end.Add(time.Duration(rapid.IntRange(1, 1e9).Draw(t, "ns")))
			}
			l.End = &end
		}
		sc.Layers = append(sc.Layers, l)
	}
	for range rapid.IntRange(0, 3).Draw(t, "overrides") {
		start := base.Add(time.Duration(rapid.IntRange(0, 400*24*60).Draw(t, "start")) * time.Minute)
		end := start.Add(time.Duration(rapid.IntRange(1, 10*24*60).Draw(t, "len")) * time.Minute)
		sc.Overrides = append(sc.Overrides, manifest.Override{User: genName.Draw(t, "user"), Start: start.In(loc), End: end})
	}
	return sc
}

func TestFormatTimeout(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		time.Minute:                   "1m",
		90 * time.Minute:              "1h30m",
		25 * time.Hour:                "25h",
		36*time.Hour + time.Second:    "36h1s",
		48 * time.Hour:                "2d",
		7 * 24 * time.Hour:            "1w",
		manifest.MaxHeartbeatTimeout:  "1000d",
		200*time.Hour + 5*time.Minute: "200h5m",
	} {
		if got := manifest.FormatTimeout(d); got != want {
			t.Errorf("FormatTimeout(%v) = %q, want %q", d, got, want)
		}
	}
}
