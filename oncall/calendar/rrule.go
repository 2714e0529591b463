package calendar

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncall/oncall/oncall/schedule"
)

// rule is the subset of an RFC 5545 RRULE that holiday calendars use.
type rule struct {
	freq       string // DAILY, WEEKLY, MONTHLY or YEARLY
	interval   int
	count      int // 0: no COUNT
	until      *schedule.Date
	byMonth    []time.Month
	byMonthDay []int // 1..31, or -1 (last day) .. -31
	byDay      []nthDay
}

// nthDay is a BYDAY value: the nth weekday of the month or year (from the
// end when n < 0), or every such weekday when n is 0.
type nthDay struct {
	n  int
	wd time.Weekday
}

var weekdays = map[string]time.Weekday{
	"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday,
}

// parseRule reads an RRULE value. Parts it does not support are errors:
// expanding a rule wrongly would be worse than saying so.
func parseRule(p prop) (*rule, error) {
	bad := func(format string, args ...any) error {
		return errorf(p.line, "RRULE: "+format, args...)
	}
	r := &rule{interval: 1}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(p.value, ";") {
		k, v, ok := strings.Cut(part, "=")
		k = strings.ToUpper(k)
		if !ok || k == "" || v == "" {
			return nil, bad("invalid part %q", clip(part))
		}
		if seen[k] {
			return nil, bad("%s appears twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "FREQ":
			r.freq = strings.ToUpper(v)
			if !slices.Contains([]string{"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}, r.freq) {
				return nil, bad("FREQ=%s is not supported (DAILY, WEEKLY, MONTHLY or YEARLY are)", clip(v))
			}
		case "INTERVAL":
			r.interval, err = ruleInt(v, 1, 1000)
		case "COUNT":
			r.count, err = ruleInt(v, 1, 1_000_000)
		case "UNTIL":
			d, ok := datePart(v)
			if !ok {
				return nil, bad("invalid UNTIL %q: want YYYYMMDD", clip(v))
			}
			r.until = &d
		case "WKST":
			// Only matters for WEEKLY with BYDAY, which is not supported.
			if _, ok := weekdays[strings.ToUpper(v)]; !ok {
				return nil, bad("invalid WKST %q", clip(v))
			}
		case "BYMONTH":
			for s := range strings.SplitSeq(v, ",") {
				m, err := ruleInt(s, 1, 12)
				if err != nil {
					return nil, bad("BYMONTH: %v", err)
				}
				r.byMonth = append(r.byMonth, time.Month(m))
			}
		case "BYMONTHDAY":
			for s := range strings.SplitSeq(v, ",") {
				d, err := ruleInt(s, -31, 31)
				if err != nil || d == 0 {
					return nil, bad("invalid BYMONTHDAY %q", clip(s))
				}
				r.byMonthDay = append(r.byMonthDay, d)
			}
		case "BYDAY":
			for s := range strings.SplitSeq(v, ",") {
				d, ok := parseNthDay(strings.ToUpper(s))
				if !ok {
					return nil, bad("invalid BYDAY %q: want e.g. MO, 4TH or -1MO", clip(s))
				}
				r.byDay = append(r.byDay, d)
			}
		default:
			return nil, bad("%s is not supported", k)
		}
		if err != nil {
			return nil, bad("%s: %v", k, err)
		}
	}
	if r.freq == "" {
		return nil, bad("FREQ is missing")
	}
	by := len(r.byMonth) > 0 || len(r.byMonthDay) > 0 || len(r.byDay) > 0
	if by && (r.freq == "DAILY" || r.freq == "WEEKLY") {
		return nil, bad("BYMONTH, BYMONTHDAY and BYDAY are not supported with FREQ=%s", r.freq)
	}
	if len(r.byMonthDay) > 0 && slices.ContainsFunc(r.byDay, func(d nthDay) bool { return d.n != 0 }) {
		return nil, bad("BYDAY with a number (like 2MO) together with BYMONTHDAY is not supported")
	}
	// Repeats would only cost time.
	slices.Sort(r.byMonth)
	r.byMonth = slices.Compact(r.byMonth)
	slices.Sort(r.byMonthDay)
	r.byMonthDay = slices.Compact(r.byMonthDay)
	slices.SortFunc(r.byDay, func(a, b nthDay) int { return cmp.Or(cmp.Compare(a.n, b.n), cmp.Compare(a.wd, b.wd)) })
	r.byDay = slices.Compact(r.byDay)
	return r, nil
}

// ruleInt reads a decimal integer in [lo, hi], with an optional sign.
func ruleInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a number in %d..%d", clip(s), lo, hi)
	}
	return n, nil
}

// parseNthDay reads a BYDAY value: [+|-][1-53]WD.
func parseNthDay(s string) (nthDay, bool) {
	if len(s) < 2 {
		return nthDay{}, false
	}
	wd, ok := weekdays[s[len(s)-2:]]
	if !ok {
		return nthDay{}, false
	}
	d := nthDay{wd: wd}
	if num := s[:len(s)-2]; num != "" {
		digits := strings.TrimLeft(num, "+-")
		if len(num)-len(digits) > 1 || len(digits) == 0 || len(digits) > 2 || !allDigits(digits) {
			return nthDay{}, false
		}
		n, err := strconv.Atoi(num)
		if err != nil || n == 0 || n < -53 || n > 53 {
			return nthDay{}, false
		}
		d.n = n
	}
	return d, true
}

// expand returns the instances of the all-day event starting on start
// under the RRULE p, sorted: start itself first (RFC 5545 counts it as the
// first instance), then the dates the rule yields after it, up to COUNT,
// UNTIL (inclusive), maxOccurrences or the year 9999.
func (x *expander) expand(p prop, start schedule.Date) ([]schedule.Date, error) {
	r, err := parseRule(p)
	if err != nil {
		return nil, err
	}
	limit := maxOccurrences
	if r.count > 0 {
		limit = min(r.count, limit)
	}
	out := []schedule.Date{start}
	for k := 0; len(out) < limit; k++ {
		first, cands := r.period(start, k)
		if first.Year > 9999 || r.until != nil && r.until.Before(first) {
			break
		}
		if x.work -= len(cands) + 1; x.work < 0 {
			return nil, errorf(p.line, "RRULE: the recurrence rules of this file expand to too many days")
		}
		for _, d := range cands {
			if !start.Before(d) {
				continue
			}
			if d.Year > 9999 || r.until != nil && r.until.Before(d) {
				return out, nil
			}
			if out = append(out, d); len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

// period returns the first day of the k-th period of r after the one of
// start (a day, a week, a month or a year, times INTERVAL) and the
// candidate dates in it, sorted.
func (r *rule) period(start schedule.Date, k int) (schedule.Date, []schedule.Date) {
	step := k * r.interval
	switch r.freq {
	case "DAILY":
		d := start.AddDays(step)
		return d, []schedule.Date{d}
	case "WEEKLY":
		d := start.AddDays(7 * step)
		return d, []schedule.Date{d}
	}
	var months []time.Month
	var year int
	if r.freq == "MONTHLY" {
		t := time.Date(start.Year, start.Month+time.Month(step), 1, 0, 0, 0, 0, time.UTC)
		year = t.Year()
		first := schedule.Date{Year: year, Month: t.Month(), Day: 1}
		if len(r.byMonth) > 0 && !slices.Contains(r.byMonth, t.Month()) {
			return first, nil
		}
		months = []time.Month{t.Month()}
	} else { // YEARLY
		year = start.Year + step
		switch {
		case len(r.byMonth) > 0:
			months = r.byMonth
		case len(r.byDay) > 0 && len(r.byMonthDay) == 0:
			// The nth weekday of the whole year.
			first := schedule.Date{Year: year, Month: time.January, Day: 1}
			return first, r.weekdays(first, schedule.Date{Year: year, Month: time.December, Day: 31})
		case len(r.byMonthDay) > 0:
			months = []time.Month{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
		default:
			months = []time.Month{start.Month}
		}
	}
	var out []schedule.Date
	for _, m := range months {
		first := schedule.Date{Year: year, Month: m, Day: 1}
		n := daysIn(year, m)
		if len(r.byDay) > 0 && len(r.byMonthDay) == 0 {
			out = append(out, r.weekdays(first, first.AddDays(n-1))...)
			continue
		}
		days := r.byMonthDay
		if len(days) == 0 {
			days = []int{start.Day}
		}
		for _, d := range days {
			if d < 0 {
				d += n + 1
			}
			if d < 1 || d > n {
				continue // e.g. the 31st of a short month: no instance (RFC 5545)
			}
			date := schedule.Date{Year: year, Month: m, Day: d}
			if len(r.byDay) > 0 && !slices.ContainsFunc(r.byDay, func(b nthDay) bool { return b.wd == date.Weekday() }) {
				continue
			}
			out = append(out, date)
		}
	}
	slices.SortFunc(out, schedule.Date.Compare)
	return schedule.Date{Year: year, Month: months[0], Day: 1}, slices.Compact(out)
}

// weekdays are the days of r.byDay in [first, last].
func (r *rule) weekdays(first, last schedule.Date) []schedule.Date {
	var out []schedule.Date
	for _, b := range r.byDay {
		switch {
		case b.n > 0:
			d := first.AddDays((int(b.wd-first.Weekday())+7)%7 + 7*(b.n-1))
			if !last.Before(d) {
				out = append(out, d)
			}
		case b.n < 0:
			d := last.AddDays(-(int(last.Weekday()-b.wd)+7)%7 - 7*(-b.n-1))
			if !d.Before(first) {
				out = append(out, d)
			}
		default:
			for d := first.AddDays((int(b.wd-first.Weekday()) + 7) % 7); !last.Before(d); d = d.AddDays(7) {
				out = append(out, d)
			}
		}
	}
	slices.SortFunc(out, schedule.Date.Compare)
	return slices.Compact(out)
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
