package schedule

import (
	"errors"
	"fmt"
	"time"
)

// MinElapsed is the shortest elapsed shift length Validate accepts.
const MinElapsed = time.Minute

// Validate reports what in s the resolver cannot use, all problems joined
// (errors.Join). The resolver itself never fails: a layer it cannot use has
// nobody on call, an override with End <= Start is ignored.
func (s *Schedule) Validate() error {
	if s == nil {
		return errors.New("schedule: nil")
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Location == nil {
		add("schedule %q: no time zone", s.Name)
	}
	for _, d := range s.Holidays {
		if !d.Valid() {
			add("schedule %q: invalid holiday %04d-%02d-%02d", s.Name, d.Year, int(d.Month), d.Day)
		}
	}
	for i := range s.Layers {
		l := &s.Layers[i]
		name := l.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		where := fmt.Sprintf("schedule %q: layer %s", s.Name, name)
		if len(l.Members) == 0 {
			add("%s: no members", where)
		}
		for _, m := range l.Members {
			if m == "" {
				add("%s: empty member name", where)
			}
		}
		if !l.Start.Valid() {
			add("%s: invalid start %s", where, l.Start)
		}
		switch {
		case l.Length.Elapsed != 0 && l.Length.Days != 0:
			add("%s: shift length has both elapsed time and days", where)
		case l.Length.Elapsed < 0 || l.Length.Days < 0:
			add("%s: negative shift length", where)
		case l.Length.Elapsed == 0 && l.Length.Days == 0:
			add("%s: no shift length", where)
		case l.Length.Elapsed != 0 && l.Length.Elapsed < MinElapsed:
			add("%s: shift length under %s", where, MinElapsed)
		case l.Length.Days > maxDaysLength:
			add("%s: shift length over %d days", where, maxDaysLength)
		}
		for j, w := range l.Restrict {
			if w.From < 0 || w.From >= 24*60 {
				add("%s: window %d: from %d is not a time of day (0..1439 minutes)", where, j+1, w.From)
			}
			if w.To < 0 || w.To > 24*60 {
				add("%s: window %d: to %d is not a time of day (0..1440 minutes)", where, j+1, w.To)
			}
			for _, d := range w.Days {
				if d < time.Sunday || d > time.Saturday {
					add("%s: window %d: invalid weekday %d", where, j+1, int(d))
				}
			}
		}
		switch l.OnHolidays {
		case HolidaysInclude, HolidaysSkip, HolidaysOnly:
		default:
			add("%s: invalid holiday mode %d", where, int(l.OnHolidays))
		}
		loc := l.Location
		if loc == nil {
			loc = s.Location
		}
		if l.End != nil && loc != nil && l.Start.Valid() {
			if !l.End.After(l.Start.In(loc)) {
				add("%s: end %s is not after start %s", where, l.End.UTC().Format(time.RFC3339), l.Start)
			}
		}
	}
	for i, o := range s.Overrides {
		if o.User == "" {
			add("schedule %q: override %d: no user", s.Name, i+1)
		}
		if !o.Start.Before(o.End) {
			add("schedule %q: override %d: start %s is not before end %s", s.Name, i+1,
				o.Start.UTC().Format(time.RFC3339), o.End.UTC().Format(time.RFC3339))
		}
	}
	return errors.Join(errs...)
}
