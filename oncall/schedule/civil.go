package schedule

import (
	"fmt"
	"time"
)

// Local dates and times, and the contract's DST rule for reading them in a
// zone.

// DateOf is the local day of t in loc (nil: UTC).
func DateOf(t time.Time, loc *time.Location) Date {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	return Date{Year: y, Month: m, Day: d}
}

// ParseDate reads "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || !digits(s[0:4]) || s[4] != '-' || !digits(s[5:7]) || s[7] != '-' || !digits(s[8:10]) {
		return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	d := Date{Year: atoi(s[0:4]), Month: time.Month(atoi(s[5:7])), Day: atoi(s[8:10])}
	if !d.Valid() {
		return Date{}, fmt.Errorf("invalid date %q: no such day", s)
	}
	return d, nil
}

// String is "YYYY-MM-DD".
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Valid reports whether d names a real day (month 1-12, day within the
// month).
func (d Date) Valid() bool {
	return d.Month >= time.January && d.Month <= time.December && d.Day >= 1 && d.normalized() == d
}

func (d Date) normalized() Date {
	y, m, dd := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Date()
	return Date{Year: y, Month: m, Day: dd}
}

// AddDays is the day n days after d (before when n < 0).
func (d Date) AddDays(n int) Date {
	y, m, dd := time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC).Date()
	return Date{Year: y, Month: m, Day: dd}
}

// Weekday is d's day of the week.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Weekday()
}

// Compare is -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	return cmpInt(d.dayNumber(), e.dayNumber())
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// DaysSince is the number of days from e to d (d - e).
func (d Date) DaysSince(e Date) int { return int(d.dayNumber() - e.dayNumber()) }

// dayNumber counts days since 1970-01-01.
func (d Date) dayNumber() int64 {
	return floorDiv(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

// At is the local time hh:mm on d.
func (d Date) At(hour, minute int) Civil {
	return Civil{Date: d, Hour: hour, Minute: minute}
}

// In is the instant d starts in loc: its 00:00 by the DST rule (see
// Civil.In).
func (d Date) In(loc *time.Location) time.Time { return Civil{Date: d}.In(loc) }

// CivilOf is the local wall time of t in loc (nil: UTC), to the second.
func CivilOf(t time.Time, loc *time.Location) Civil {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return Civil{Date: Date{Year: y, Month: m, Day: d}, Hour: hh, Minute: mm, Second: ss}
}

// ParseCivil reads "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS".
func ParseCivil(s string) (Civil, error) {
	bad := func(why string) (Civil, error) {
		return Civil{}, fmt.Errorf("invalid local time %q: %s", s, why)
	}
	if (len(s) != 16 && len(s) != 19) || s[10] != 'T' {
		return bad("want YYYY-MM-DDTHH:MM")
	}
	d, err := ParseDate(s[:10])
	if err != nil {
		return bad("no such day")
	}
	c := Civil{Date: d}
	if !digits(s[11:13]) || s[13] != ':' || !digits(s[14:16]) {
		return bad("want YYYY-MM-DDTHH:MM")
	}
	c.Hour, c.Minute = atoi(s[11:13]), atoi(s[14:16])
	if len(s) == 19 {
		if s[16] != ':' || !digits(s[17:19]) {
			return bad("want YYYY-MM-DDTHH:MM:SS")
		}
		c.Second = atoi(s[17:19])
	}
	if c.Hour > 23 || c.Minute > 59 || c.Second > 59 {
		return bad("no such time of day")
	}
	return c, nil
}

// String is "YYYY-MM-DDTHH:MM", with ":SS" when the seconds are not zero.
func (c Civil) String() string {
	s := fmt.Sprintf("%sT%02d:%02d", c.Date, c.Hour, c.Minute)
	if c.Second != 0 {
		s += fmt.Sprintf(":%02d", c.Second)
	}
	return s
}

// Valid reports whether c is a real date and a time of day in
// 00:00:00..23:59:59.
func (c Civil) Valid() bool {
	return c.Date.Valid() && c.Hour >= 0 && c.Hour <= 23 && c.Minute >= 0 && c.Minute <= 59 &&
		c.Second >= 0 && c.Second <= 59
}

// AddDays is the same wall time n days later (earlier when n < 0). Out of
// range fields are normalized as time.Date does.
func (c Civil) AddDays(n int) Civil {
	return c.norm(n, 0)
}

// AddMinutes is the wall time m minutes later, on the wall clock (no zone).
func (c Civil) AddMinutes(m int) Civil {
	return c.norm(0, m)
}

func (c Civil) norm(days, minutes int) Civil {
	t := time.Date(c.Year, c.Month, c.Day+days, c.Hour, c.Minute+minutes, c.Second, 0, time.UTC)
	return CivilOf(t, time.UTC)
}

// Compare is -1, 0 or +1 as c is before, equal to or after e on the wall
// clock.
func (c Civil) Compare(e Civil) int {
	return cmpInt(c.wallUnix(), e.wallUnix())
}

// wallUnix is c read as if it were UTC, in Unix seconds (out of range
// fields normalized).
func (c Civil) wallUnix() int64 {
	return time.Date(c.Year, c.Month, c.Day, c.Hour, c.Minute, c.Second, 0, time.UTC).Unix()
}

// In is the instant of wall time c in loc (nil: UTC), by the contract's DST
// rule:
//   - a wall time that occurs once is that instant;
//   - one that occurs twice (clocks set back) is its first occurrence, so
//     01:30 on the New York fall-back day is 01:30 EDT (05:30Z);
//   - one that does not exist (clocks set forward) moves forward by the
//     length of the gap, so 02:30 on the New York spring-forward day is
//     03:30 EDT (07:30Z): it is read with the offset in force before the gap.
//
// Out of range fields are normalized as time.Date does. The result is in
// UTC.
func (c Civil) In(loc *time.Location) time.Time {
	w := c.wallUnix()
	if loc == nil || loc == time.UTC {
		return time.Unix(w, 0).UTC()
	}
	// Every instant with wall time w lies in [w-maxOff, w-minOff]; UTC
	// offsets stay within -12h..+14h (historically a little more), so walk
	// the zone's periods over [w-16h, w+16h] and keep the earliest instant
	// that reads w, or note the gap w falls in.
	const span = 16 * 3600
	t := time.Unix(w-span, 0).In(loc)
	best := int64(0)
	found := false
	gapAt := int64(0)
	gap := false
	prevOff, havePrev := 0, false
	for range 8 { // a handful of periods at most; bounded for safety
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		s, e := int64(minInt64), int64(maxInt64)
		if !start.IsZero() {
			s = start.Unix()
		}
		if !end.IsZero() {
			e = end.Unix()
		}
		if havePrev && off > prevOff && !found && !gap {
			// Clocks moved forward at s: walls [s+prevOff, s+off) do not
			// exist.
			if w >= s+int64(prevOff) && w < s+int64(off) {
				gap, gapAt = true, w-int64(prevOff)
			}
		}
		if cand := w - int64(off); cand >= s && cand < e {
			if !found || cand < best {
				best, found = cand, true
			}
		}
		if e == maxInt64 || e > w+span {
			break
		}
		prevOff, havePrev = off, true
		t = time.Unix(e, 0).In(loc)
	}
	switch {
	case found:
		return time.Unix(best, 0).UTC()
	case gap:
		return time.Unix(gapAt, 0).UTC()
	default:
		// Not reachable with real zone data; fall back on time.Date's
		// choice rather than fail.
		return time.Date(c.Year, c.Month, c.Day, c.Hour, c.Minute, c.Second, 0, loc).UTC()
	}
}

const (
	minInt64 = -1 << 63
	maxInt64 = 1<<63 - 1
)

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
