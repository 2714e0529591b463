package manifest

import (
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/oncall/schedule"
)

// FuzzTimes: the manifest's times, durations, shift lengths, restriction
// windows and time zones read any text without panicking, to an error or
// to a value they write back as the same value.
func FuzzTimes(f *testing.F) {
	for _, s := range []string{"00:00", "23:59", "24:00", "24:01", "9:00", "09:60", "-1:00", "12h", "1d", "1w", "1d12h",
		"0s", "1.5s", "100000d", "100001d", "15250w", "2026-03-29T02:30", "2026-03-29T02:30+02:00", "2026-03-29T02:30:00.5Z",
		"Europe/Berlin", "Local", "", "../../../etc/passwd", "UTC\x00", "\xff\xfe", "mon", "Sunday"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := parseClock(s, false)
		m24, ok24 := parseClock(s, true)
		if ok && (m < 0 || m >= 24*60 || !ok24 || m24 != m) {
			t.Fatalf("parseClock(%q) = %d, %v (allowing 24:00: %d, %v)", s, m, ok, m24, ok24)
		}
		if ok24 && (m24 < 0 || m24 > 24*60) {
			t.Fatalf("parseClock(%q, 24:00) = %d", s, m24)
		}
		// A window of the text as its day and both ends.
		w := Window{Days: []string{strings.ToLower(s)}, From: s, To: s}
		if rw, err := w.resolver(); err == nil && (rw.From != m || rw.To != m24 || len(rw.Days) != 1) {
			t.Fatalf("window of %q = %+v", s, rw)
		}

		if l, err := parseShift(s); err == nil {
			if (l.Days > 0) == (l.Elapsed > 0) || l.Days < 0 || l.Elapsed < 0 || l.Days > maxShiftDays || l.Elapsed%time.Second != 0 {
				t.Fatalf("parseShift(%q) = %+v", s, l)
			}
			text := formatShift(l)
			if back, err := parseShift(text); err != nil || back != l {
				t.Fatalf("parseShift(%q) = %+v; written %q, read back %+v, %v", s, l, text, back, err)
			}
		}
		if d, err := parseSeconds(s); err == nil && (d < 0 || d%time.Second != 0) {
			t.Fatalf("parseSeconds(%q) = %v", s, d)
		}
		if at, ok := parseInstant(s); ok && at.Location() != time.UTC {
			t.Fatalf("parseInstant(%q) = %v, not UTC", s, at)
		}

		if len(s) > 64 {
			return // zone names are short; spare the zone database
		}
		loc, err := loadLocation(s)
		if err != nil {
			return
		}
		if s == "" || s == "Local" || loc == nil {
			t.Fatalf("loadLocation(%q) = %v", s, loc)
		}
		// A local time in the zone writes back as the same instant.
		for _, c := range []string{"2026-03-29T02:30", "2026-10-25T02:30", "2026-01-01T00:00"} {
			civil, _ := schedule.ParseCivil(c)
			at := civil.In(loc)
			text := formatLocal(at, loc)
			back, ok := parseInstant(text)
			if lc, err := schedule.ParseCivil(text); err == nil {
				back, ok = lc.In(loc), true
			}
			if !ok || !back.Equal(at) {
				t.Fatalf("%s in %s = %s, written %q, read back %s", c, s, at, text, back)
			}
		}
	})
}
