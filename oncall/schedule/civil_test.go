package schedule

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func civ(s string) Civil {
	c, err := ParseCivil(s)
	if err != nil {
		panic(err)
	}
	return c
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestCivilIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, zone, civil, want string
	}{
		{"ordinary winter", "America/New_York", "2026-01-05T09:00", "2026-01-05T14:00:00Z"},
		{"ordinary summer", "America/New_York", "2026-07-06T09:00", "2026-07-06T13:00:00Z"},
		{"spring-forward gap moves forward", "America/New_York", "2026-03-08T02:30", "2026-03-08T07:30:00Z"},
		{"gap start", "America/New_York", "2026-03-08T02:00", "2026-03-08T07:00:00Z"},
		{"just after gap", "America/New_York", "2026-03-08T03:00", "2026-03-08T07:00:00Z"},
		{"fall-back first occurrence", "America/New_York", "2026-11-01T01:30", "2026-11-01T05:30:00Z"},
		{"fall-back 01:00 first occurrence", "America/New_York", "2026-11-01T01:00", "2026-11-01T05:00:00Z"},
		{"after fall-back", "America/New_York", "2026-11-01T02:00", "2026-11-01T07:00:00Z"},
		{"sydney april repeated", "Australia/Sydney", "2026-04-05T02:30", "2026-04-04T15:30:00Z"},
		{"sydney october gap", "Australia/Sydney", "2026-10-04T02:30", "2026-10-03T16:30:00Z"},
		{"st johns half hour", "America/St_Johns", "2026-01-05T09:00", "2026-01-05T12:30:00Z"},
		{"st johns gap", "America/St_Johns", "2026-03-08T02:30", "2026-03-08T06:00:00Z"},
		{"chatham 45 minutes", "Pacific/Chatham", "2026-01-05T09:00", "2026-01-04T19:15:00Z"},
		{"chatham gap", "Pacific/Chatham", "2026-09-27T03:00", "2026-09-26T14:15:00Z"},
		{"apia skipped day", "Pacific/Apia", "2011-12-30T09:00", "2011-12-30T19:00:00Z"},
		{"utc", "UTC", "2026-03-08T02:30", "2026-03-08T02:30:00Z"},
		{"seconds", "Europe/Berlin", "2026-01-05T09:00:30", "2026-01-05T08:00:30Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := civ(tt.civil).In(mustLoc(t, tt.zone))
			if want := utc(tt.want); !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("%s in %s = %s, want %s", tt.civil, tt.zone, got, want)
			}
		})
	}
	if got := civ("2026-03-08T02:30").In(nil); !got.Equal(utc("2026-03-08T02:30:00Z")) {
		t.Errorf("nil zone: %s", got)
	}
}

// TestCivilInOracle compares In with Python's zoneinfo (fold=0, which is the
// contract's rule) around every transition of a dozen zones; see
// testdata/gen_civil_in.py.
func TestCivilInOracle(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/civil_in.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("bad line %q", line)
		}
		got := civ(fields[1]).In(mustLoc(t, fields[0]))
		if want := utc(fields[2]); !got.Equal(want) {
			t.Errorf("%s in %s = %s, want %s", fields[1], fields[0], got.Format(time.RFC3339), fields[2])
		}
		n++
	}
	if n < 500 {
		t.Fatalf("only %d cases", n)
	}
}

func TestCivilOfRoundTrip(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	for _, s := range []string{"2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"} {
		at := utc(s)
		c := CivilOf(at, ny)
		back := c.In(ny)
		// The second occurrence of a repeated wall time reads back as the
		// first; everything else round-trips.
		if s == "2026-11-01T06:30:00Z" {
			if want := utc("2026-11-01T05:30:00Z"); !back.Equal(want) {
				t.Errorf("%s -> %s -> %s, want first occurrence %s", s, c, back, want)
			}
			continue
		}
		if !back.Equal(at) {
			t.Errorf("%s -> %s -> %s", s, c, back)
		}
	}
}

func TestParseCivilAndDate(t *testing.T) {
	t.Parallel()
	good := map[string]Civil{
		"2026-11-02T09:00":    {Date: Date{2026, 11, 2}, Hour: 9},
		"2026-11-02T09:00:05": {Date: Date{2026, 11, 2}, Hour: 9, Second: 5},
		"2024-02-29T23:59":    {Date: Date{2024, 2, 29}, Hour: 23, Minute: 59},
	}
	for s, want := range good {
		got, err := ParseCivil(s)
		if err != nil || got != want {
			t.Errorf("ParseCivil(%q) = %v, %v; want %v", s, got, err, want)
		}
		if back := got.String(); back != s {
			t.Errorf("String() = %q, want %q", back, s)
		}
	}
	for _, s := range []string{"", "2026-11-02", "2026-11-02 09:00", "2026-11-02T9:00", "2026-11-02T24:00",
		"2026-02-29T09:00", "2026-13-01T00:00", "2026-11-02T09:60", "2026-11-02T09:00:61", "2026-11-02T09:00Z",
		"2026-11-02T09:00:00-05:00", "+026-11-02T09:00"} {
		if c, err := ParseCivil(s); err == nil {
			t.Errorf("ParseCivil(%q) = %v, want error", s, c)
		}
	}
	d, err := ParseDate("2026-12-25")
	if err != nil || d != (Date{2026, 12, 25}) || d.String() != "2026-12-25" {
		t.Errorf("ParseDate = %v, %v", d, err)
	}
	for _, s := range []string{"2026-2-01", "2026-02-30", "20261225", "2026-12-25T00:00"} {
		if _, err := ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q): want error", s)
		}
	}
}

func TestDateHelpers(t *testing.T) {
	t.Parallel()
	d := Date{2026, 12, 31}
	if got := d.AddDays(1); got != (Date{2027, 1, 1}) {
		t.Errorf("AddDays(1) = %v", got)
	}
	if got := d.AddDays(-365); got != (Date{2025, 12, 31}) {
		t.Errorf("AddDays(-365) = %v", got)
	}
	if got := (Date{2027, 1, 1}).DaysSince(Date{2026, 1, 1}); got != 365 {
		t.Errorf("DaysSince = %d", got)
	}
	if got := (Date{2026, 11, 6}).Weekday(); got != time.Friday {
		t.Errorf("Weekday = %v", got)
	}
	if got := civ("2026-03-07T02:30").AddDays(1); got != civ("2026-03-08T02:30") {
		t.Errorf("Civil.AddDays = %v", got)
	}
	if got := civ("2026-03-07T23:30").AddMinutes(45); got != civ("2026-03-08T00:15") {
		t.Errorf("Civil.AddMinutes = %v", got)
	}
	if !(Date{2026, 1, 1}).Before(Date{2026, 1, 2}) || civ("2026-01-01T10:00").Compare(civ("2026-01-01T09:59")) != 1 {
		t.Error("Compare")
	}
	if (Date{2026, 2, 29}).Valid() || !(Date{2024, 2, 29}).Valid() {
		t.Error("Valid")
	}
}
