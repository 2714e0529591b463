package schedule

import (
	"testing"
	"time"
)

// fuzzZones are zones with odd clocks: 30-minute DST (Lord Howe), a skipped
// day (Apia, 2011), negative DST (Dublin, Casablanca), 2-hour DST (Troll),
// quarter-hour offsets (Kathmandu, Chatham).
var fuzzZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia",
	"Europe/Dublin", "Africa/Casablanca", "Antarctica/Troll", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns"}

func fuzzZone(t *testing.T, i uint8) *time.Location {
	loc, err := time.LoadLocation(fuzzZones[int(i)%len(fuzzZones)])
	if err != nil {
		t.Skip(err) // no zone database here
	}
	return loc
}

// FuzzParseCivil: any text reads to an error or a valid local time that
// writes back as itself; read in any zone, it lands on that wall time, or
// after it when the wall time falls in a gap (clocks set forward), by no
// more than the gap.
func FuzzParseCivil(f *testing.F) {
	for _, s := range []string{"2026-03-29T02:30", "2026-10-25T02:30:00", "2011-12-30T12:00", "2026-02-29T00:00",
		"2024-02-29T23:59:59", "0000-01-01T00:00", "9999-12-31T23:59:59", "2026-13-01T00:00", "2026-01-01T24:00",
		"2026-01-01 09:00", "2026-01-01T09:00Z", "", "\x00\x00\x00\x00-\x00\x00-\x00\x00T\x00\x00:\x00\x00", "2026-01-01T0\xff:00"} {
		f.Add(s, uint8(len(s)))
	}
	f.Fuzz(func(t *testing.T, s string, zone uint8) {
		if d, err := ParseDate(s); err == nil {
			if !d.Valid() || d.String() != s {
				t.Fatalf("ParseDate(%q) = %v", s, d)
			}
		}
		c, err := ParseCivil(s)
		if err != nil {
			return
		}
		if !c.Valid() {
			t.Fatalf("ParseCivil(%q) = %+v, not valid", s, c)
		}
		if back, err := ParseCivil(c.String()); err != nil || back != c {
			t.Fatalf("ParseCivil(%q) = %+v; written %q, read back %+v, %v", s, c, c.String(), back, err)
		}
		loc := fuzzZone(t, zone)
		at := c.In(loc)
		wall := CivilOf(at, loc)
		switch d := wall.Compare(c); {
		case d == 0:
			// The first occurrence: an hour (or whatever the shift) earlier
			// reads an earlier wall time.
			if CivilOf(at.Add(-time.Second), loc).Compare(c) >= 0 {
				t.Fatalf("%s in %s = %s: not the first occurrence", c, loc, at)
			}
		case d < 0:
			t.Fatalf("%s in %s = %s, which reads %s: earlier", c, loc, at, wall)
		default:
			// In a gap: moved forward by its length, the offset's jump at
			// a transition just before the instant.
			gap := wall.wallUnix() - c.wallUnix()
			_, after := at.In(loc).Zone()
			_, before := at.Add(-time.Duration(gap) * time.Second).In(loc).Zone()
			if int64(after-before) != gap || gap > 25*3600 {
				t.Fatalf("%s in %s = %s (%s): not a gap of %ds (offsets %d, %d)", c, loc, at, wall, gap, before, after)
			}
		}
	})
}

// FuzzWindows: restriction windows, 24:00 included, agree with themselves
// across DST: the point test (inWindow) and the spans (windowSpans) say
// the same of any instant.
func FuzzWindows(f *testing.F) {
	f.Add(uint16(9*60), uint16(17*60), uint8(0b0011111), uint8(1), int64(1774746000)) // Berlin, spring forward
	f.Add(uint16(22*60), uint16(24*60), uint8(0), uint8(2), int64(1793512800))        // New York, fall back
	f.Add(uint16(0), uint16(0), uint8(0x7f), uint8(4), int64(1325239200))             // Apia's missing day
	f.Add(uint16(2*60), uint16(2*60+30), uint8(0), uint8(3), int64(1775318400))       // Lord Howe
	f.Add(uint16(23*60+59), uint16(1), uint8(0x40), uint8(6), int64(0))
	f.Fuzz(func(t *testing.T, from, to uint16, days uint8, zone uint8, unix int64) {
		w := Window{From: int(from) % (24 * 60), To: int(to) % (24*60 + 1)}
		for d := range 7 {
			if days&(1<<d) != 0 {
				w.Days = append(w.Days, time.Weekday(d))
			}
		}
		if !w.valid() {
			t.Fatalf("%+v not valid", w)
		}
		loc := fuzzZone(t, zone)
		// Between 1900 and 2200: the zone data's range and then some.
		const lo, hi = -2208988800, 7258118400
		at := time.Unix(lo+((unix%(hi-lo))+(hi-lo))%(hi-lo), 0).UTC()
		ws := []Window{w}
		spans := windowSpans(ws, loc, at.Add(-48*time.Hour), at.Add(48*time.Hour))
		in := false
		for _, sp := range spans {
			if !sp.start.Before(sp.end) {
				t.Fatalf("empty span %v", sp)
			}
			in = in || (!at.Before(sp.start) && at.Before(sp.end))
		}
		if got := inWindow(ws, loc, at); got != in {
			t.Fatalf("window %+v in %s at %s: inWindow %v, spans %v", w, loc, at, got, spans)
		}
	})
}
