package schedule

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// zones are the time zones random schedules draw from: both hemispheres,
// half-hour and 45-minute offsets, and one without DST.
var zones = []string{
	"UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney",
	"America/St_Johns", "Pacific/Chatham", "Asia/Kolkata", "America/Santiago",
}

func drawSchedule(t *rapid.T) *Schedule {
	locs := make([]*time.Location, len(zones))
	for i, z := range zones {
		l, err := time.LoadLocation(z)
		if err != nil {
			t.Fatalf("zone %s: %v", z, err)
		}
		locs[i] = l
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Schedule{Name: "s", Location: rapid.SampledFrom(locs).Draw(t, "zone")}
	for i := range rapid.IntRange(1, 3).Draw(t, "layers") {
		l := Layer{
			Name:    string(rune('a' + i)),
			Members: rapid.SliceOfN(rapid.SampledFrom([]string{"ann", "bob", "cy", "dee"}), 1, 4).Draw(t, "members"),
			Start: Civil{
				Date: Date{2026, time.Month(rapid.IntRange(1, 12).Draw(t, "month")), rapid.IntRange(1, 28).Draw(t, "day")},
				Hour: rapid.IntRange(0, 23).Draw(t, "hour"), Minute: rapid.SampledFrom([]int{0, 15, 30, 45}).Draw(t, "minute"),
			},
			OnHolidays: HolidayMode(rapid.IntRange(0, 2).Draw(t, "holidays")),
		}
		if rapid.Bool().Draw(t, "elapsed") {
			l.Length.Elapsed = time.Duration(rapid.IntRange(1, 72).Draw(t, "hours")) * time.Hour
		} else {
			l.Length.Days = rapid.IntRange(1, 14).Draw(t, "days")
		}
		if rapid.Bool().Draw(t, "zoned") {
			l.Location = rapid.SampledFrom(locs).Draw(t, "layer zone")
		}
		for range rapid.IntRange(0, 2).Draw(t, "windows") {
			w := Window{From: rapid.IntRange(0, 47).Draw(t, "from") * 30, To: rapid.IntRange(0, 48).Draw(t, "to") * 30}
			for d := range 7 {
				if rapid.Bool().Draw(t, "weekday") {
					w.Days = append(w.Days, time.Weekday(d))
				}
			}
			l.Restrict = append(l.Restrict, w)
		}
		if rapid.Bool().Draw(t, "ends") {
			e := base.Add(time.Duration(rapid.IntRange(1, 24*400).Draw(t, "end")) * time.Hour)
			l.End = &e
		}
		s.Layers = append(s.Layers, l)
	}
	for range rapid.IntRange(0, 4).Draw(t, "overrides") {
		a := base.Add(time.Duration(rapid.IntRange(0, 24*365).Draw(t, "override start")) * time.Hour)
		s.Overrides = append(s.Overrides, Override{
			User: rapid.SampledFrom([]string{"ann", "zed"}).Draw(t, "override user"), Start: a,
			End: a.Add(time.Duration(rapid.IntRange(1, 96).Draw(t, "override hours")) * time.Hour),
		})
	}
	for range rapid.IntRange(0, 6).Draw(t, "holiday dates") {
		s.Holidays = append(s.Holidays, Date{2026, time.Month(rapid.IntRange(1, 12).Draw(t, "hmonth")), rapid.IntRange(1, 28).Draw(t, "hday")})
	}
	return s
}

// oracleWho is who is on call at an instant, computed the slow and obvious
// way: walk every handoff from the layer's start, and look at the local
// days around the instant for windows and holidays.
func oracleWho(s *Schedule, at time.Time) (string, bool) {
	for i := len(s.Overrides) - 1; i >= 0; i-- {
		if o := s.Overrides[i]; !at.Before(o.Start) && at.Before(o.End) {
			return o.User, true
		}
	}
	holiday := false
	for _, d := range s.Holidays {
		if !at.Before(d.In(s.Location)) && at.Before(d.AddDays(1).In(s.Location)) {
			holiday = true
		}
	}
	for i := len(s.Layers) - 1; i >= 0; i-- {
		l := s.Layers[i]
		loc := cmpLoc(l.Location, s.Location)
		handoff := func(k int) time.Time {
			if l.Length.Days > 0 {
				return l.Start.AddDays(k * l.Length.Days).In(loc)
			}
			return l.Start.In(loc).Add(time.Duration(k) * l.Length.Elapsed)
		}
		if at.Before(handoff(0)) || l.End != nil && !at.Before(*l.End) {
			continue
		}
		if l.OnHolidays == HolidaysSkip && holiday || l.OnHolidays == HolidaysOnly && !holiday {
			continue
		}
		if len(l.Restrict) > 0 {
			in := false
			for _, w := range l.Restrict {
				for back := range 3 {
					d := DateOf(at, loc).AddDays(-back)
					if len(w.Days) > 0 && !slices.Contains(w.Days, d.Weekday()) {
						continue
					}
					open := d.At(w.From/60, w.From%60).In(loc)
					cd := d
					if w.To <= w.From {
						cd = d.AddDays(1)
					}
					close := cd.AddDays(w.To/1440).At(w.To%1440/60, w.To%60).In(loc)
					if !at.Before(open) && at.Before(close) {
						in = true
					}
				}
			}
			if !in {
				continue
			}
		}
		k := 0
		for !handoff(k + 1).After(at) {
			k++
		}
		return l.Members[k%len(l.Members)], true
	}
	return "", false
}

func cmpLoc(a, b *time.Location) *time.Location {
	if a != nil {
		return a
	}
	return b
}

// TestResolverProperties checks, on random schedules, that Shifts and Who
// agree with the oracle at every boundary and at random instants, that
// Shifts' output is well formed, and that it does not depend on the range
// asked for.
func TestResolverProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		s := drawSchedule(t)
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.IntRange(0, 24*300).Draw(t, "from")) * time.Hour)
		to := from.Add(time.Duration(rapid.IntRange(1, 24*60).Draw(t, "span")) * time.Hour)
		shifts := s.Shifts(from, to)
		for i, sh := range shifts {
			if !sh.Start.Before(sh.End) || sh.Start.Before(from) || sh.End.After(to) || sh.Start.Location() != time.UTC {
				t.Fatalf("shift %d malformed: %+v", i, sh)
			}
			if i > 0 {
				p := shifts[i-1]
				if p.End.After(sh.Start) || p.End.Equal(sh.Start) && p.User == sh.User {
					t.Fatalf("shifts %d and %d overlap or were not merged: %+v %+v", i-1, i, p, sh)
				}
			}
		}
		probe := func(at time.Time) {
			if at.Before(from) || !at.Before(to) {
				return
			}
			wu, wok := oracleWho(s, at)
			su, sok := whoFromShifts(shifts, at)
			u, ok := s.Who(at)
			if wu != su || wok != sok || wu != u || wok != ok {
				t.Fatalf("at %s: oracle %q %v, Shifts %q %v, Who %q %v", at.Format(time.RFC3339), wu, wok, su, sok, u, ok)
			}
		}
		probe(from)
		for _, sh := range shifts {
			probe(sh.Start)
			probe(sh.Start.Add(-time.Second))
			probe(sh.End.Add(-time.Second))
			probe(sh.End)
		}
		for range 20 {
			probe(from.Add(time.Duration(rapid.Int64Range(0, int64(to.Sub(from))-1).Draw(t, "probe"))))
		}
		// Two halves joined are the whole.
		if cut := from.Add(to.Sub(from) / 2).Truncate(time.Minute); cut.After(from) {
			joined := merged(append(s.Shifts(from, cut), s.Shifts(cut, to)...))
			if !equalShifts(joined, shifts) {
				t.Fatalf("halves joined differ:\n%s\nwhole:\n%s", fmtShifts(joined), fmtShifts(shifts))
			}
		}
		// A plain rotation (no windows, holidays, end or overrides) tiles
		// [max(start, from), to) without gaps.
		if l := s.Layers[0]; len(s.Layers) == 1 && len(l.Restrict) == 0 && l.OnHolidays == HolidaysInclude && l.End == nil && len(s.Overrides) == 0 {
			lo := maxTime(l.Start.In(cmpLoc(l.Location, s.Location)), from)
			if lo.Before(to) {
				if len(shifts) == 0 || !shifts[0].Start.Equal(lo) || !shifts[len(shifts)-1].End.Equal(to) {
					t.Fatalf("plain rotation does not cover [%s, %s): %s", lo, to, fmtShifts(shifts))
				}
				for i := 1; i < len(shifts); i++ {
					if !shifts[i].Start.Equal(shifts[i-1].End) {
						t.Fatalf("gap in a plain rotation: %s", fmtShifts(shifts))
					}
				}
			}
		}
		// A sub-range gives the same shifts, clipped.
		mid := from.Add(to.Sub(from) / 3).Truncate(time.Minute)
		if mid.After(from) {
			var want []Shift
			for _, sh := range shifts {
				if sh.End.After(mid) {
					sh.Start = maxTime(sh.Start, mid)
					want = append(want, sh)
				}
			}
			if got := s.Shifts(mid, to); !equalShifts(got, want) {
				t.Fatalf("Shifts(%s, %s) differs from the clipped whole:\n%s\nwant\n%s", mid, to, fmtShifts(got), fmtShifts(want))
			}
		}
	})
}

// merged joins adjacent shifts of the same user.
func merged(in []Shift) []Shift {
	var out []Shift
	for _, sh := range in {
		if n := len(out); n > 0 && out[n-1].User == sh.User && out[n-1].End.Equal(sh.Start) {
			out[n-1].End = sh.End
			continue
		}
		out = append(out, sh)
	}
	return out
}
