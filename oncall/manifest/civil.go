package manifest

import (
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/oncall/oncall/oncall/schedule"
)

// Local times are read with schedule.Civil.In, the one implementation of the
// contract's DST rule.

var clockRE = regexp.MustCompile(`^[0-9]{2}:[0-9]{2}$`)

// parseInstant reads RFC 3339 with an offset (or Z); seconds may be left
// out.
func parseInstant(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// formatLocal writes t as a local datetime in loc when that reads back as
// the same instant, else as RFC 3339 with loc's offset.
func formatLocal(t time.Time, loc *time.Location) string {
	c := schedule.CivilOf(t, loc)
	if t.Nanosecond() == 0 && c.In(loc).Equal(t) {
		return c.String()
	}
	return t.In(loc).Format(time.RFC3339Nano)
}

// parseClock reads HH:MM as minutes after midnight; "24:00" only when
// allow24.
func parseClock(s string, allow24 bool) (int, bool) {
	if !clockRE.MatchString(s) {
		return 0, false
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

// Locations are loaded once per name: time.LoadLocation reads the zone
// database on every call. Only successes are cached, so the cache is bounded
// by the database's size.
var locCache sync.Map // string -> *time.Location

// loadLocation loads an IANA zone. "" and "Local" are refused: a manifest's
// meaning must not depend on the machine reading it.
func loadLocation(name string) (*time.Location, error) {
	if v, ok := locCache.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	locCache.Store(name, loc)
	return loc, nil
}

// Day names, Monday first.
var dayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

var dayWeekday = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
}

var longDays = map[string]string{
	"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
	"friday": "fri", "saturday": "sat", "sunday": "sun",
}

// dayIndex is the position of a canonical day name in dayNames, or -1.
func dayIndex(d string) int {
	for i, n := range dayNames {
		if n == d {
			return i
		}
	}
	return -1
}
