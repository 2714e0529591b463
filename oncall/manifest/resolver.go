package manifest

import (
	"fmt"
	"slices"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/calendar"
	"github.com/oncall/oncall/oncall/schedule"
)

// Resolver is the resolver's input for the named schedule of s, with the
// holidays of every Holidays it names. It wraps oncall.ErrNotFound when s
// has no such schedule, or not a Holidays the schedule names.
func (s *Set) Resolver(scheduleName string) (*schedule.Schedule, error) {
	for _, sc := range s.Schedules {
		if sc.Name == scheduleName {
			return sc.Resolver(s.Holidays)
		}
	}
	return nil, oncall.ErrNotFound
}

// Resolver converts sc into the resolver's input: zones loaded, windows as
// weekdays and minutes, holidays the union of the dates and iCalendar dates
// of every Holidays sc names (found in holidays; others are ignored). This is
// the only conversion from manifests to the resolver.
func (sc *Schedule) Resolver(holidays []*Holidays) (*schedule.Schedule, error) {
	loc, err := loadLocation(sc.TimeZone)
	if err != nil {
		return nil, err
	}
	out := &schedule.Schedule{Name: sc.Name, Location: loc}
	for _, name := range sc.Holidays {
		i := slices.IndexFunc(holidays, func(h *Holidays) bool { return h.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("holidays %q: %w", name, oncall.ErrNotFound)
		}
		dates, err := holidays[i].AllDates()
		if err != nil {
			return nil, err
		}
		out.Holidays = append(out.Holidays, dates...)
	}
	slices.SortFunc(out.Holidays, compareDates)
	out.Holidays = slices.Compact(out.Holidays)

	for _, l := range sc.Layers {
		rl := schedule.Layer{
			Name:    l.Name,
			Members: slices.Clone(l.Members),
			Start:   l.Start,
			Length:  l.Shift,
		}
		if l.TimeZone != "" {
			if rl.Location, err = loadLocation(l.TimeZone); err != nil {
				return nil, fmt.Errorf("layer %q: %w", l.Name, err)
			}
		}
		for _, w := range l.Restrict {
			rw, err := w.resolver()
			if err != nil {
				return nil, fmt.Errorf("layer %q: %w", l.Name, err)
			}
			rl.Restrict = append(rl.Restrict, rw)
		}
		switch l.OnHolidays {
		case "", OnHolidaysInclude:
			rl.OnHolidays = schedule.HolidaysInclude
		case OnHolidaysSkip:
			rl.OnHolidays = schedule.HolidaysSkip
		case OnHolidaysOnly:
			rl.OnHolidays = schedule.HolidaysOnly
		default:
			return nil, fmt.Errorf("layer %q: invalid on_holidays %q", l.Name, l.OnHolidays)
		}
		if l.End != nil {
			end := l.End.UTC()
			rl.End = &end
		}
		out.Layers = append(out.Layers, rl)
	}
	for _, o := range sc.Overrides {
		out.Overrides = append(out.Overrides, schedule.Override{User: o.User, Start: o.Start.UTC(), End: o.End.UTC()})
	}
	return out, nil
}

// AllDates is the union of h's dates and its iCalendar's all-day dates,
// sorted, without repeats.
func (h *Holidays) AllDates() ([]schedule.Date, error) {
	dates := slices.Clone(h.Dates)
	if len(h.ICalData) > 0 {
		more, err := calendar.AllDayDates(h.ICalData)
		if err != nil {
			return nil, fmt.Errorf("holidays %q: ical %s: %w", h.Name, h.ICal, err)
		}
		dates = append(dates, more...)
	}
	slices.SortFunc(dates, compareDates)
	return slices.Compact(dates), nil
}

func (w Window) resolver() (schedule.Window, error) {
	var rw schedule.Window
	for _, d := range w.Days {
		wd, ok := dayWeekday[d]
		if !ok {
			return rw, fmt.Errorf("invalid day %q", d)
		}
		rw.Days = append(rw.Days, wd)
	}
	var ok bool
	if rw.From, ok = parseClock(w.From, false); !ok {
		return rw, fmt.Errorf("invalid window start %q", w.From)
	}
	if rw.To, ok = parseClock(w.To, true); !ok {
		return rw, fmt.Errorf("invalid window end %q", w.To)
	}
	return rw, nil
}
