package schedule

import (
	"cmp"
	"slices"
	"time"
)

// Horizon bounds how far Current and Next look from their instant: a shift
// longer than that is cut at the horizon, and Next finds nothing beyond it.
const Horizon = 400 * 24 * time.Hour

const day = 24 * time.Hour

// Current is the whole final shift covering at (not cut at at): the same
// user's merged stretch of on-call time, looked for up to Horizon either
// side. ok is false when nobody is on call at at.
func (s *Schedule) Current(at time.Time) (Shift, bool) {
	if s == nil {
		return Shift{}, false
	}
	lo, hi := at.Add(-day), at.Add(day)
	for _, g := range s.resolve(lo, hi) {
		if !at.Before(g.start) && at.Before(g.end) {
			if g.start.Equal(lo) {
				s.extendBack(&g, at.Add(-Horizon))
			}
			if g.end.Equal(hi) {
				s.extendForward(&g, at.Add(Horizon))
			}
			return g.shift(), true
		}
	}
	return Shift{}, false
}

// Next is the first final shift that starts after at (strictly: a shift
// starting exactly at at is Current's), whole, looked for up to Horizon
// ahead. ok is false when there is none.
func (s *Schedule) Next(at time.Time) (Shift, bool) {
	if s == nil {
		return Shift{}, false
	}
	limit := at.Add(Horizon)
	p := at
	var lastUser string
	var lastEnd time.Time
	chunk := 7 * day
	for p.Before(limit) {
		q := minTime(p.Add(chunk), limit)
		for _, g := range s.resolve(p, q) {
			cont := g.start.Equal(p) && (p.Equal(at) || lastEnd.Equal(p) && lastUser == g.user)
			if !cont {
				if g.end.Equal(q) {
					s.extendForward(&g, limit)
				}
				return g.shift(), true
			}
			lastUser, lastEnd = g.user, g.end
		}
		p = q
		chunk *= 2
	}
	return Shift{}, false
}

// extendBack moves g's start back while the same user is on call right
// before it, down to min.
func (s *Schedule) extendBack(g *seg, min time.Time) {
	for chunk := 2 * day; g.start.After(min); chunk *= 2 {
		a := maxTime(g.start.Add(-chunk), min)
		segs := s.resolve(a, g.start)
		if len(segs) == 0 {
			return
		}
		last := segs[len(segs)-1]
		if last.user != g.user || !last.end.Equal(g.start) {
			return
		}
		g.start = last.start
		if last.start.After(a) {
			return
		}
	}
}

// extendForward moves g's end forward while the same user is on call right
// after it, up to max.
func (s *Schedule) extendForward(g *seg, max time.Time) {
	for chunk := 2 * day; g.end.Before(max); chunk *= 2 {
		b := minTime(g.end.Add(chunk), max)
		segs := s.resolve(g.end, b)
		if len(segs) == 0 {
			return
		}
		first := segs[0]
		if first.user != g.user || !first.start.Equal(g.end) {
			return
		}
		g.end = first.end
		if first.end.Before(b) {
			return
		}
	}
}

func (g seg) shift() Shift { return Shift{User: g.user, Start: g.start.UTC(), End: g.end.UTC()} }

// ScheduleShift is a shift of the named schedule.
type ScheduleShift struct {
	Schedule string
	Shift
}

// UserShifts is user's final shifts in [from, to) across schedules (clipped
// to the range), sorted by start, then by schedule name.
func UserShifts(schedules []*Schedule, user string, from, to time.Time) []ScheduleShift {
	var out []ScheduleShift
	for _, s := range schedules {
		if s == nil {
			continue
		}
		for _, sh := range s.Shifts(from, to) {
			if sh.User == user {
				out = append(out, ScheduleShift{Schedule: s.Name, Shift: sh})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b ScheduleShift) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Schedule, b.Schedule)
	})
	return out
}
