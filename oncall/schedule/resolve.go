package schedule

import (
	"math/big"
	"math/bits"
	"slices"
	"time"
)

// The resolver works on intervals: each layer's handoffs are computed
// arithmetically (never by sampling), intersected with its restriction
// windows and holiday mask, and the layers and overrides are painted over
// one another in order. Who answers for one instant with the same
// primitives (handoff, window and holiday instants), so it agrees with
// Shifts everywhere.

// maxDaysLength bounds Length.Days (about 270 years): larger values are
// treated as invalid rather than risk overflow.
const maxDaysLength = 100_000

// seg is a span [start, end) with one user.
type seg struct {
	user       string
	start, end time.Time
}

// span is [start, end).
type span struct{ start, end time.Time }

// Shifts is the final on-call shifts in [from, to): sorted by start,
// disjoint, clipped to the range, adjacent intervals of the same user merged,
// covering only the times when someone is on call. Times are UTC.
func (s *Schedule) Shifts(from, to time.Time) []Shift {
	segs := s.resolve(from, to)
	if len(segs) == 0 {
		return nil
	}
	out := make([]Shift, len(segs))
	for i, g := range segs {
		out[i] = Shift{User: g.user, Start: g.start.UTC(), End: g.end.UTC()}
	}
	return out
}

// Gaps is the intervals in [from, to) when nobody is on call, sorted. Times
// are UTC.
func (s *Schedule) Gaps(from, to time.Time) []Interval {
	if s == nil || !from.Before(to) {
		return nil
	}
	var out []Interval
	at := from
	for _, g := range s.resolve(from, to) {
		if at.Before(g.start) {
			out = append(out, Interval{Start: at.UTC(), End: g.start.UTC()})
		}
		at = g.end
	}
	if at.Before(to) {
		out = append(out, Interval{Start: at.UTC(), End: to.UTC()})
	}
	return out
}

// Who is the user on call at an instant: the last override covering it,
// else the last layer with someone on call, else nobody (ok false). It
// agrees with Shifts at every instant.
func (s *Schedule) Who(at time.Time) (user string, ok bool) {
	if s == nil {
		return "", false
	}
	for i := len(s.Overrides) - 1; i >= 0; i-- {
		o := &s.Overrides[i]
		if !at.Before(o.Start) && at.Before(o.End) {
			return o.User, true
		}
	}
	for i := len(s.Layers) - 1; i >= 0; i-- {
		if u, ok := s.layerAt(&s.Layers[i], at); ok {
			return u, true
		}
	}
	return "", false
}

// resolve computes the final merged segments in [from, to).
func (s *Schedule) resolve(from, to time.Time) []seg {
	if s == nil || !from.Before(to) {
		return nil
	}
	var hol []span // the schedule's holidays near the range, built lazily
	holBuilt := false
	var out []seg
	for i := range s.Layers {
		l := &s.Layers[i]
		if l.OnHolidays != HolidaysInclude && !holBuilt {
			hol, holBuilt = s.holidaySpans(from, to), true
		}
		out = paint(out, s.layerSegs(l, from, to, hol))
	}
	if ov := s.overrideSegs(from, to); len(ov) > 0 {
		out = paint(out, ov)
	}
	return merge(out)
}

// overrideSegs is the overrides clipped to [from, to), later ones painted
// over earlier ones.
func (s *Schedule) overrideSegs(from, to time.Time) []seg {
	var out []seg
	for _, o := range s.Overrides {
		a, b := maxTime(o.Start, from), minTime(o.End, to)
		if !a.Before(b) {
			continue
		}
		out = paint(out, []seg{{user: o.User, start: a, end: b}})
	}
	return out
}

// paint lays upper over lower: the result has all of upper and the parts of
// lower it does not cover. Both are sorted and disjoint, and so is the
// result.
func paint(lower, upper []seg) []seg {
	if len(upper) == 0 {
		return lower
	}
	if len(lower) == 0 {
		return upper
	}
	out := make([]seg, 0, len(lower)+len(upper)+4)
	j := 0
	emitUpperBefore := func(t time.Time) {
		for j < len(upper) && !t.Before(upper[j].end) {
			out = append(out, upper[j])
			j++
		}
	}
	k := 0 // first upper seg that may overlap the current lower piece
	for _, r := range lower {
		cur := r.start
		for k < len(upper) && !upper[k].end.After(cur) {
			k++
		}
		for m := k; m < len(upper) && upper[m].start.Before(r.end); m++ {
			u := upper[m]
			if cur.Before(u.start) {
				emitUpperBefore(cur)
				out = append(out, seg{user: r.user, start: cur, end: u.start})
			}
			if u.end.After(cur) {
				cur = u.end
			}
		}
		if cur.Before(r.end) {
			emitUpperBefore(cur)
			out = append(out, seg{user: r.user, start: cur, end: r.end})
		}
	}
	out = append(out, upper[j:]...)
	return out
}

// merge joins adjacent segments of the same user and drops empty ones.
func merge(in []seg) []seg {
	out := in[:0]
	for _, g := range in {
		if !g.start.Before(g.end) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].user == g.user && out[n-1].end.Equal(g.start) {
			out[n-1].end = g.end
			continue
		}
		out = append(out, g)
	}
	return out
}

// ---- one layer ----

// rot is a layer's rotation prepared for computing handoffs.
type rot struct {
	l     *Layer
	loc   *time.Location
	start time.Time // handoff 0
	n     int       // members
	step  time.Duration
	days  int
}

// prepare checks what the resolver needs of l; ok is false for a layer
// that can have nobody on call (no members, invalid length or windows).
func (s *Schedule) prepare(l *Layer) (r rot, ok bool) {
	if len(l.Members) == 0 {
		return r, false
	}
	if (l.Length.Elapsed > 0) == (l.Length.Days > 0) || l.Length.Elapsed < 0 || l.Length.Days < 0 ||
		l.Length.Days > maxDaysLength {
		return r, false
	}
	for _, w := range l.Restrict {
		if !w.valid() {
			return r, false
		}
	}
	r = rot{l: l, loc: l.Location, n: len(l.Members), step: l.Length.Elapsed, days: l.Length.Days}
	if r.loc == nil {
		r.loc = s.loc()
	}
	r.start = l.Start.In(r.loc)
	return r, true
}

func (s *Schedule) loc() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// handoff is the instant of handoff k >= 0 (far future when it cannot be
// represented).
func (r *rot) handoff(k int64) time.Time {
	if r.days > 0 {
		if k > maxInt64/int64(r.days) || k*int64(r.days) > 1<<28 {
			return farFuture
		}
		return r.l.Start.AddDays(int(k) * r.days).In(r.loc)
	}
	// start + k*step, exactly, in 128 bits.
	hi, lo := bits.Mul64(uint64(k), uint64(r.step))
	if hi >= 1e9 {
		return farFuture
	}
	secs, ns := bits.Div64(hi, lo, 1e9)
	if secs > 1<<44 {
		return farFuture
	}
	return time.Unix(r.start.Unix()+int64(secs), int64(r.start.Nanosecond())+int64(ns)).UTC()
}

var farFuture = time.Date(1<<20, 1, 1, 0, 0, 0, 0, time.UTC)

// index is the k of the handoff in force at t (t >= r.start): handoff(k) <=
// t < handoff(k+1).
func (r *rot) index(t time.Time) int64 {
	if !t.After(r.start) {
		return 0
	}
	if r.days > 0 {
		diff := int64(CivilOf(t, r.loc).Date.DaysSince(r.l.Start.Date))
		k := max(floorDiv(diff, int64(r.days)), 0)
		for k > 0 && r.handoff(k).After(t) {
			k--
		}
		for !r.handoff(k + 1).After(t) {
			k++
		}
		return k
	}
	// floor((t - start) / step), exactly, in 128 bits.
	secs := t.Unix() - r.start.Unix()
	ns := int64(t.Nanosecond()) - int64(r.start.Nanosecond())
	if ns < 0 {
		secs--
		ns += 1e9
	}
	hi, lo := bits.Mul64(uint64(secs), 1e9)
	lo, carry := bits.Add64(lo, uint64(ns), 0)
	hi += carry
	if hi < uint64(r.step) {
		if k, _ := bits.Div64(hi, lo, uint64(r.step)); k <= maxInt64/4 {
			return int64(k)
		}
	}
	// t is too far from the start for an int64 k (tiny steps, starts
	// centuries ago): move the start forward by whole cycles of the
	// members, which changes no one's shift, and count from there.
	r.rebase(secs, ns)
	return r.index(t)
}

// rebase moves handoff 0 forward to the last handoff of member 0 at or
// before start + secs s + ns ns.
func (r *rot) rebase(secs, ns int64) {
	d := new(big.Int).Mul(big.NewInt(secs), big.NewInt(1e9))
	d.Add(d, big.NewInt(ns))
	cycle := new(big.Int).Mul(big.NewInt(int64(r.step)), big.NewInt(int64(r.n)))
	d.Quo(d, cycle).Mul(d, cycle) // whole cycles, in ns
	s, n := new(big.Int).QuoRem(d, big.NewInt(1e9), new(big.Int))
	r.start = time.Unix(r.start.Unix()+s.Int64(), int64(r.start.Nanosecond())+n.Int64()).UTC()
}

func (r *rot) member(k int64) string { return r.l.Members[k%int64(r.n)] }

// bounds is where a layer can have someone on call: [start, End).
func (r *rot) bounds() (time.Time, time.Time, bool) {
	hi := farFuture
	if r.l.End != nil {
		hi = *r.l.End
	}
	return r.start, hi, r.start.Before(hi)
}

// layerSegs is layer l's on-call segments in [from, to), with hol the
// schedule's holiday spans covering the range.
func (s *Schedule) layerSegs(l *Layer, from, to time.Time, hol []span) []seg {
	r, ok := s.prepare(l)
	if !ok {
		return nil
	}
	lo, hi, ok := r.bounds()
	if !ok {
		return nil
	}
	lo, hi = maxTime(lo, from), minTime(hi, to)
	if !lo.Before(hi) {
		return nil
	}
	mask := []span{{lo, hi}}
	if len(l.Restrict) > 0 {
		mask = intersect(mask, windowSpans(l.Restrict, r.loc, lo, hi))
	}
	switch l.OnHolidays {
	case HolidaysSkip:
		mask = subtract(mask, hol)
	case HolidaysOnly:
		mask = intersect(mask, hol)
	case HolidaysInclude:
	default:
		return nil
	}
	var out []seg
	k := int64(-1)
	var hk, hk1 time.Time
	for _, m := range mask {
		if k < 0 || !m.start.Before(hk1) {
			k = r.index(m.start)
			hk, hk1 = r.handoff(k), r.handoff(k+1)
		}
		for {
			a, b := maxTime(hk, m.start), minTime(hk1, m.end)
			if a.Before(b) {
				out = append(out, seg{user: r.member(k), start: a, end: b})
			}
			if !hk1.Before(m.end) {
				break
			}
			k++
			hk, hk1 = hk1, r.handoff(k+1)
		}
	}
	return out
}

// layerAt is who layer l has on call at t.
func (s *Schedule) layerAt(l *Layer, at time.Time) (string, bool) {
	r, ok := s.prepare(l)
	if !ok {
		return "", false
	}
	lo, hi, ok := r.bounds()
	if !ok || at.Before(lo) || !at.Before(hi) {
		return "", false
	}
	if len(l.Restrict) > 0 && !inWindow(l.Restrict, r.loc, at) {
		return "", false
	}
	switch l.OnHolidays {
	case HolidaysSkip:
		if s.isHoliday(at) {
			return "", false
		}
	case HolidaysOnly:
		if !s.isHoliday(at) {
			return "", false
		}
	case HolidaysInclude:
	default:
		return "", false
	}
	k := r.index(at)
	return r.member(k), true
}

// ---- windows ----

func (w Window) valid() bool {
	if w.From < 0 || w.From >= 24*60 || w.To < 0 || w.To > 24*60 {
		return false
	}
	for _, d := range w.Days {
		if d < time.Sunday || d > time.Saturday {
			return false
		}
	}
	return true
}

func (w Window) onDay(d time.Weekday) bool {
	return len(w.Days) == 0 || slices.Contains(w.Days, d)
}

// span is the window opening on local day d in loc: from From on d to To the
// same day, or the next day when To <= From. Either end follows the DST
// rule; a window whose close is not after its open (e.g. 02:00-03:00 on a
// spring-forward day) is empty.
func (w Window) span(d Date, loc *time.Location) span {
	open := Civil{Date: d, Hour: w.From / 60, Minute: w.From % 60}.In(loc)
	cd := d
	if w.To <= w.From {
		cd = d.AddDays(1)
	}
	// To = 1440 normalizes to 00:00 the next day.
	close := Civil{Date: cd, Hour: w.To / 60, Minute: w.To % 60}.In(loc)
	return span{open, close}
}

// windowSpans is the union of the windows' openings in loc that meet [lo,
// hi), clipped to it.
func windowSpans(ws []Window, loc *time.Location, lo, hi time.Time) []span {
	first := DateOf(lo, loc).AddDays(-3)
	last := DateOf(hi, loc).AddDays(2)
	var out []span
	for d := first; !last.Before(d); d = d.AddDays(1) {
		wd := d.Weekday()
		for _, w := range ws {
			if !w.onDay(wd) {
				continue
			}
			sp := w.span(d, loc)
			sp.start, sp.end = maxTime(sp.start, lo), minTime(sp.end, hi)
			if sp.start.Before(sp.end) {
				out = append(out, sp)
			}
		}
	}
	return union(out)
}

// inWindow reports whether one of the windows' openings in loc covers at.
func inWindow(ws []Window, loc *time.Location, at time.Time) bool {
	d0 := DateOf(at, loc)
	for i := -2; i <= 1; i++ {
		d := d0.AddDays(i)
		wd := d.Weekday()
		for _, w := range ws {
			if w.onDay(wd) && w.span(d, loc).contains(at) {
				return true
			}
		}
	}
	return false
}

// ---- holidays ----

// holidaySpan is holiday d: its local day [00:00, next day 00:00) in the
// schedule's zone, by the DST rule.
func (s *Schedule) holidaySpan(d Date) span {
	loc := s.loc()
	return span{d.In(loc), d.AddDays(1).In(loc)}
}

// holidaySpans is the union of the holidays that meet [from, to) (not
// clipped).
func (s *Schedule) holidaySpans(from, to time.Time) []span {
	loc := s.loc()
	first := DateOf(from, loc).AddDays(-2)
	last := DateOf(to, loc).AddDays(1)
	var out []span
	for _, d := range s.Holidays {
		if d.Before(first) || last.Before(d) {
			continue
		}
		if sp := s.holidaySpan(d); sp.start.Before(sp.end) {
			out = append(out, sp)
		}
	}
	return union(out)
}

// isHoliday reports whether a holiday covers at.
func (s *Schedule) isHoliday(at time.Time) bool {
	if len(s.Holidays) == 0 {
		return false
	}
	d0 := DateOf(at, s.loc())
	for _, d := range s.Holidays {
		if diff := d.DaysSince(d0); diff >= -1 && diff <= 1 && s.holidaySpan(d).contains(at) {
			return true
		}
	}
	return false
}

// ---- spans ----

func (p span) contains(t time.Time) bool { return !t.Before(p.start) && t.Before(p.end) }

// union sorts spans and joins those that overlap or touch.
func union(in []span) []span {
	slices.SortFunc(in, func(a, b span) int { return a.start.Compare(b.start) })
	out := in[:0]
	for _, p := range in {
		if !p.start.Before(p.end) {
			continue
		}
		if n := len(out); n > 0 && !p.start.After(out[n-1].end) {
			out[n-1].end = maxTime(out[n-1].end, p.end)
			continue
		}
		out = append(out, p)
	}
	return out
}

// intersect is a ∩ b, both sorted and disjoint.
func intersect(a, b []span) []span {
	var out []span
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := maxTime(a[i].start, b[j].start), minTime(a[i].end, b[j].end)
		if lo.Before(hi) {
			out = append(out, span{lo, hi})
		}
		if a[i].end.Before(b[j].end) {
			i++
		} else {
			j++
		}
	}
	return out
}

// subtract is a \ b, both sorted and disjoint.
func subtract(a, b []span) []span {
	if len(b) == 0 {
		return a
	}
	var out []span
	j := 0
	for _, p := range a {
		cur := p.start
		for j < len(b) && !b[j].end.After(cur) {
			j++
		}
		for m := j; m < len(b) && b[m].start.Before(p.end); m++ {
			if cur.Before(b[m].start) {
				out = append(out, span{cur, b[m].start})
			}
			cur = maxTime(cur, b[m].end)
		}
		if cur.Before(p.end) {
			out = append(out, span{cur, p.end})
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
