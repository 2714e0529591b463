package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// sh is a shift from RFC 3339 strings.
func sh(user, start, end string) Shift {
	return Shift{User: user, Start: utc(start), End: utc(end)}
}

func fmtShifts(ss []Shift) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "\n  %s %s - %s (%s)", s.User, s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339), s.End.Sub(s.Start))
	}
	return b.String()
}

func tm(s string) time.Time { return utc(s) }

func ptm(s string) *time.Time { t := utc(s); return &t }

// expectShifts checks s.Shifts(from, to) against want, and that Who agrees
// at the edges and middle of every shift and gap.
func expectShifts(t *testing.T, s *Schedule, from, to string, want ...Shift) {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	got := s.Shifts(tm(from), tm(to))
	if !equalShifts(got, want) {
		t.Errorf("Shifts(%s, %s):\ngot:%s\nwant:%s", from, to, fmtShifts(got), fmtShifts(want))
	}
	checkWhoAgrees(t, s, tm(from), tm(to), got)
}

func equalShifts(a, b []Shift) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].User != b[i].User || !a[i].Start.Equal(b[i].Start) || !a[i].End.Equal(b[i].End) {
			return false
		}
	}
	return true
}

// whoFromShifts is who the shifts say is on call at at.
func whoFromShifts(shifts []Shift, at time.Time) (string, bool) {
	for _, s := range shifts {
		if !at.Before(s.Start) && at.Before(s.End) {
			return s.User, true
		}
	}
	return "", false
}

func checkWhoAgrees(t testing.TB, s *Schedule, from, to time.Time, shifts []Shift) {
	t.Helper()
	probe := func(at time.Time) {
		if at.Before(from) || !at.Before(to) {
			return
		}
		wu, wok := whoFromShifts(shifts, at)
		u, ok := s.Who(at)
		if u != wu || ok != wok {
			t.Errorf("Who(%s) = %q, %v; Shifts say %q, %v", at.Format(time.RFC3339Nano), u, ok, wu, wok)
		}
	}
	probe(from)
	for _, sh := range shifts {
		probe(sh.Start)
		probe(sh.Start.Add(-time.Nanosecond))
		probe(sh.Start.Add(sh.End.Sub(sh.Start) / 2))
		probe(sh.End.Add(-time.Nanosecond))
		probe(sh.End)
	}
}

func TestWeeklyHandoffAcrossUSDST(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	s := &Schedule{Name: "s", Location: ny, Layers: []Layer{{
		Name: "weekly", Members: []string{"alice", "bob"}, Start: civ("2026-03-02T09:00"), Length: Length{Days: 7},
	}}}
	// Spring forward on Sunday 2026-03-08: Monday 09:00 is 14:00Z before and
	// 13:00Z after, so alice's week is 167 hours.
	expectShifts(t, s, "2026-03-02T00:00:00Z", "2026-03-23T00:00:00Z",
		sh("alice", "2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z"),
		sh("bob", "2026-03-09T13:00:00Z", "2026-03-16T13:00:00Z"),
		sh("alice", "2026-03-16T13:00:00Z", "2026-03-23T00:00:00Z"),
	)
	// Fall back on Sunday 2026-11-01: the week around it is 169 hours.
	s.Layers[0].Start = civ("2026-10-26T09:00")
	expectShifts(t, s, "2026-10-26T13:00:00Z", "2026-11-09T14:00:00Z",
		sh("alice", "2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z"),
		sh("bob", "2026-11-02T14:00:00Z", "2026-11-09T14:00:00Z"),
	)
}

func TestDailyHandoffInSpringForwardGap(t *testing.T) {
	t.Parallel()
	s := &Schedule{Name: "s", Location: mustLoc(t, "America/New_York"), Layers: []Layer{{
		Members: []string{"a", "b", "c"}, Start: civ("2026-03-06T02:30"), Length: Length{Days: 1},
	}}}
	// 2026-03-08 02:30 does not exist: that handoff is at 03:30 EDT
	// (07:30Z); the next day's is 02:30 EDT again (06:30Z).
	expectShifts(t, s, "2026-03-06T00:00:00Z", "2026-03-10T00:00:00Z",
		sh("a", "2026-03-06T07:30:00Z", "2026-03-07T07:30:00Z"),
		sh("b", "2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z"),
		sh("c", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"),
		sh("a", "2026-03-09T06:30:00Z", "2026-03-10T00:00:00Z"),
	)
}

func TestDailyHandoffOnFallBackDay(t *testing.T) {
	t.Parallel()
	s := &Schedule{Name: "s", Location: mustLoc(t, "America/New_York"), Layers: []Layer{{
		Members: []string{"a", "b"}, Start: civ("2026-10-31T01:30"), Length: Length{Days: 1},
	}}}
	// 01:30 happens twice on 2026-11-01: the handoff is the first, 01:30
	// EDT = 05:30Z; the shift that starts there lasts 25 hours.
	expectShifts(t, s, "2026-10-31T05:30:00Z", "2026-11-03T00:00:00Z",
		sh("a", "2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z"),
		sh("b", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"),
		sh("a", "2026-11-02T06:30:00Z", "2026-11-03T00:00:00Z"),
	)
}

func TestTwelveHourRotationAcrossDST(t *testing.T) {
	t.Parallel()
	s := &Schedule{Name: "s", Location: mustLoc(t, "America/New_York"), Layers: []Layer{{
		Members: []string{"day", "night"}, Start: civ("2026-03-07T08:00"), Length: Length{Elapsed: 12 * time.Hour},
	}}}
	// Exactly 12 elapsed hours: 08:00 EST, 20:00 EST, then 09:00 EDT.
	expectShifts(t, s, "2026-03-07T13:00:00Z", "2026-03-09T01:00:00Z",
		sh("day", "2026-03-07T13:00:00Z", "2026-03-08T01:00:00Z"),
		sh("night", "2026-03-08T01:00:00Z", "2026-03-08T13:00:00Z"),
		sh("day", "2026-03-08T13:00:00Z", "2026-03-09T01:00:00Z"),
	)
	if got := tm("2026-03-08T13:00:00Z").In(s.Location).Hour(); got != 9 {
		t.Errorf("third handoff at %d:00 local, want 9:00", got)
	}
}

func TestWeekendWindows(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	weekend := []Window{
		{Days: []time.Weekday{time.Friday}, From: 17 * 60, To: 24 * 60},
		{Days: []time.Weekday{time.Saturday, time.Sunday}, From: 0, To: 24 * 60},
		{Days: []time.Weekday{time.Monday}, From: 0, To: 9 * 60},
	}
	s := &Schedule{Name: "s", Location: ny, Layers: []Layer{{
		Members: []string{"a", "b"}, Start: civ("2026-10-23T17:00"), Length: Length{Days: 7}, Restrict: weekend,
	}}}
	// Friday 17:00 EDT to Monday 09:00 EST across the fall-back, as one
	// shift; then the next weekend for b.
	expectShifts(t, s, "2026-10-26T00:00:00Z", "2026-11-10T00:00:00Z",
		sh("a", "2026-10-26T00:00:00Z", "2026-10-26T13:00:00Z"),
		sh("b", "2026-10-30T21:00:00Z", "2026-11-02T14:00:00Z"),
		sh("a", "2026-11-06T22:00:00Z", "2026-11-09T14:00:00Z"),
	)

	// One window that wraps past midnight closes the next day: Friday
	// 17:00 to Saturday 09:00 only.
	s.Layers[0].Restrict = []Window{{Days: []time.Weekday{time.Friday}, From: 17 * 60, To: 9 * 60}}
	expectShifts(t, s, "2026-11-02T00:00:00Z", "2026-11-16T00:00:00Z",
		sh("a", "2026-11-06T22:00:00Z", "2026-11-07T14:00:00Z"),
		sh("b", "2026-11-13T22:00:00Z", "2026-11-14T14:00:00Z"),
	)

	// The same weekend as wrapping windows: fri 17:00-00:00 (To <= From),
	// sat and sun 00:00-00:00 (a whole day each), mon 00:00-09:00.
	s.Layers[0].Restrict = []Window{
		{Days: []time.Weekday{time.Friday}, From: 17 * 60, To: 0},
		{Days: []time.Weekday{time.Saturday, time.Sunday}, From: 0, To: 0},
		{Days: []time.Weekday{time.Monday}, From: 0, To: 9 * 60},
	}
	expectShifts(t, s, "2026-11-02T00:00:00Z", "2026-11-10T00:00:00Z",
		sh("b", "2026-11-02T00:00:00Z", "2026-11-02T14:00:00Z"),
		sh("a", "2026-11-06T22:00:00Z", "2026-11-09T14:00:00Z"),
	)
}

func TestWindow2400(t *testing.T) {
	t.Parallel()
	s := &Schedule{Name: "s", Location: mustLoc(t, "Europe/Berlin"), Layers: []Layer{{
		Members: []string{"evening"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1},
		Restrict: []Window{{From: 18 * 60, To: 24 * 60}},
	}}}
	// 18:00 to midnight, every day; on the EU fall-back (2026-10-25) the
	// window is still 18:00-24:00 local.
	expectShifts(t, s, "2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z",
		sh("evening", "2026-10-24T16:00:00Z", "2026-10-24T22:00:00Z"),
		sh("evening", "2026-10-25T17:00:00Z", "2026-10-25T23:00:00Z"),
	)
	// A window 02:00-03:00 is empty on the spring-forward day (both ends
	// are 03:00 CEST) and an hour on the others.
	s.Layers[0].Restrict = []Window{{From: 2 * 60, To: 3 * 60}}
	expectShifts(t, s, "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z",
		sh("evening", "2026-03-28T01:00:00Z", "2026-03-28T02:00:00Z"),
		sh("evening", "2026-03-30T00:00:00Z", "2026-03-30T01:00:00Z"),
	)
}

func TestSouthernHemisphereDST(t *testing.T) {
	t.Parallel()
	syd := mustLoc(t, "Australia/Sydney")
	s := &Schedule{Name: "s", Location: syd, Layers: []Layer{{
		Members: []string{"a", "b"}, Start: civ("2026-03-30T09:00"), Length: Length{Days: 7},
	}}}
	// Clocks go back on Sunday 2026-04-05 (AEDT +11 -> AEST +10).
	expectShifts(t, s, "2026-03-29T22:00:00Z", "2026-04-12T23:00:00Z",
		sh("a", "2026-03-29T22:00:00Z", "2026-04-05T23:00:00Z"),
		sh("b", "2026-04-05T23:00:00Z", "2026-04-12T23:00:00Z"),
	)
	// Forward on Sunday 2026-10-04 (AEST +10 -> AEDT +11).
	s.Layers[0].Start = civ("2026-09-28T09:00")
	expectShifts(t, s, "2026-09-27T23:00:00Z", "2026-10-11T22:00:00Z",
		sh("a", "2026-09-27T23:00:00Z", "2026-10-04T22:00:00Z"),
		sh("b", "2026-10-04T22:00:00Z", "2026-10-11T22:00:00Z"),
	)
	// A daily 02:30 handoff: 03:30 AEDT on 2026-10-04, the first 02:30 on
	// 2026-04-05. Handoff 0 is 2026-10-02 02:30 AEST (16:30Z the day
	// before), so b has 10-03 and a the short 10-04.
	s.Layers[0].Start, s.Layers[0].Length = civ("2026-10-02T02:30"), Length{Days: 1}
	expectShifts(t, s, "2026-10-02T16:00:00Z", "2026-10-04T16:00:00Z",
		sh("a", "2026-10-02T16:00:00Z", "2026-10-02T16:30:00Z"),
		sh("b", "2026-10-02T16:30:00Z", "2026-10-03T16:30:00Z"),
		sh("a", "2026-10-03T16:30:00Z", "2026-10-04T15:30:00Z"),
		sh("b", "2026-10-04T15:30:00Z", "2026-10-04T16:00:00Z"),
	)
	s.Layers[0].Start = civ("2026-04-04T02:30")
	expectShifts(t, s, "2026-04-03T15:30:00Z", "2026-04-05T17:00:00Z",
		sh("a", "2026-04-03T15:30:00Z", "2026-04-04T15:30:00Z"),
		sh("b", "2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"),
		sh("a", "2026-04-05T16:30:00Z", "2026-04-05T17:00:00Z"),
	)
}

func TestHalfHourAndFortyFiveMinuteZones(t *testing.T) {
	t.Parallel()
	// St. John's: -03:30 (NST), -02:30 (NDT from 2026-03-08).
	s := &Schedule{Name: "s", Location: mustLoc(t, "America/St_Johns"), Layers: []Layer{{
		Members: []string{"a", "b"}, Start: civ("2026-03-06T09:00"), Length: Length{Days: 1},
		Restrict: []Window{{From: 9 * 60, To: 17 * 60}},
	}}}
	expectShifts(t, s, "2026-03-06T00:00:00Z", "2026-03-10T00:00:00Z",
		sh("a", "2026-03-06T12:30:00Z", "2026-03-06T20:30:00Z"),
		sh("b", "2026-03-07T12:30:00Z", "2026-03-07T20:30:00Z"),
		sh("a", "2026-03-08T11:30:00Z", "2026-03-08T19:30:00Z"),
		sh("b", "2026-03-09T11:30:00Z", "2026-03-09T19:30:00Z"),
	)
	// Chatham: +13:45 (CHADT) until 2026-04-05 03:45, then +12:45.
	s = &Schedule{Name: "s", Location: mustLoc(t, "Pacific/Chatham"), Layers: []Layer{{
		Members: []string{"a", "b"}, Start: civ("2026-04-04T09:00"), Length: Length{Days: 1},
	}}}
	expectShifts(t, s, "2026-04-03T00:00:00Z", "2026-04-06T00:00:00Z",
		sh("a", "2026-04-03T19:15:00Z", "2026-04-04T20:15:00Z"),
		sh("b", "2026-04-04T20:15:00Z", "2026-04-05T20:15:00Z"),
		sh("a", "2026-04-05T20:15:00Z", "2026-04-06T00:00:00Z"),
	)
	// India (+05:30, no DST) in an elapsed rotation.
	s = &Schedule{Name: "s", Location: mustLoc(t, "Asia/Kolkata"), Layers: []Layer{{
		Members: []string{"a", "b"}, Start: civ("2026-01-01T09:00"), Length: Length{Elapsed: 8 * time.Hour},
	}}}
	expectShifts(t, s, "2026-01-01T00:00:00Z", "2026-01-01T20:00:00Z",
		sh("a", "2026-01-01T03:30:00Z", "2026-01-01T11:30:00Z"),
		sh("b", "2026-01-01T11:30:00Z", "2026-01-01T19:30:00Z"),
		sh("a", "2026-01-01T19:30:00Z", "2026-01-01T20:00:00Z"),
	)
}

func TestOverrideSpanningTwoLayers(t *testing.T) {
	t.Parallel()
	s := &Schedule{Name: "s", Location: time.UTC, Layers: []Layer{
		{Name: "base", Members: []string{"a", "b"}, Start: civ("2026-01-05T00:00"), Length: Length{Days: 1}},
		{Name: "business", Members: []string{"c"}, Start: civ("2026-01-05T00:00"), Length: Length{Days: 7},
			Restrict: []Window{{Days: []time.Weekday{time.Monday, time.Tuesday}, From: 9 * 60, To: 17 * 60}}},
	}, Overrides: []Override{
		{User: "d", Start: tm("2026-01-05T12:00:00Z"), End: tm("2026-01-06T10:00:00Z")},
		{User: "e", Start: tm("2026-01-06T08:00:00Z"), End: tm("2026-01-06T09:00:00Z")}, // later wins
	}}
	expectShifts(t, s, "2026-01-05T00:00:00Z", "2026-01-07T00:00:00Z",
		sh("a", "2026-01-05T00:00:00Z", "2026-01-05T09:00:00Z"),
		sh("c", "2026-01-05T09:00:00Z", "2026-01-05T12:00:00Z"),
		sh("d", "2026-01-05T12:00:00Z", "2026-01-06T08:00:00Z"),
		sh("e", "2026-01-06T08:00:00Z", "2026-01-06T09:00:00Z"),
		sh("d", "2026-01-06T09:00:00Z", "2026-01-06T10:00:00Z"),
		sh("c", "2026-01-06T10:00:00Z", "2026-01-06T17:00:00Z"),
		sh("b", "2026-01-06T17:00:00Z", "2026-01-07T00:00:00Z"),
	)
	// An override merges with the same user's adjacent layer shift.
	s.Overrides = []Override{{User: "a", Start: tm("2026-01-05T09:00:00Z"), End: tm("2026-01-05T10:00:00Z")}}
	expectShifts(t, s, "2026-01-05T00:00:00Z", "2026-01-05T18:00:00Z",
		sh("a", "2026-01-05T00:00:00Z", "2026-01-05T10:00:00Z"),
		sh("c", "2026-01-05T10:00:00Z", "2026-01-05T17:00:00Z"),
		sh("a", "2026-01-05T17:00:00Z", "2026-01-05T18:00:00Z"),
	)
}

func TestHolidayCoverLayer(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	s := &Schedule{Name: "s", Location: ny, Holidays: []Date{{2026, 11, 26}, {2026, 12, 25}}, Layers: []Layer{
		{Name: "weekdays", Members: []string{"a", "b"}, Start: civ("2026-11-23T09:00"), Length: Length{Days: 7},
			Restrict:   []Window{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, From: 9 * 60, To: 17 * 60}},
			OnHolidays: HolidaysSkip},
		{Name: "holiday-cover", Members: []string{"h1", "h2"}, Start: civ("2026-11-01T00:00"), Length: Length{Days: 28},
			OnHolidays: HolidaysOnly},
	}}
	// Thanksgiving: the cover layer has the whole local day (05:00Z to
	// 05:00Z), the weekday layer none of it.
	expectShifts(t, s, "2026-11-25T00:00:00Z", "2026-11-28T00:00:00Z",
		sh("a", "2026-11-25T14:00:00Z", "2026-11-25T22:00:00Z"),
		sh("h1", "2026-11-26T05:00:00Z", "2026-11-27T05:00:00Z"),
		sh("a", "2026-11-27T14:00:00Z", "2026-11-27T22:00:00Z"),
	)
	// Christmas, in the cover layer's second shift (the weekday layer is
	// in its fifth week: a again).
	expectShifts(t, s, "2026-12-24T00:00:00Z", "2026-12-26T00:00:00Z",
		sh("a", "2026-12-24T14:00:00Z", "2026-12-24T22:00:00Z"),
		sh("h2", "2026-12-25T05:00:00Z", "2026-12-26T00:00:00Z"),
	)
	// Holidays are the schedule's local days even when the layer's zone
	// differs.
	s.Layers[1].Location = mustLoc(t, "Asia/Tokyo")
	got := s.Shifts(tm("2026-11-26T00:00:00Z"), tm("2026-11-27T12:00:00Z"))
	if u, ok := whoFromShifts(got, tm("2026-11-26T05:00:00Z")); !ok || u[0] != 'h' {
		t.Errorf("holiday in the schedule's zone: %s", fmtShifts(got))
	}
}

func TestLayerEndAndStart(t *testing.T) {
	t.Parallel()
	s := &Schedule{Name: "s", Location: mustLoc(t, "America/New_York"), Layers: []Layer{
		{Members: []string{"a", "b"}, Start: civ("2026-11-02T09:00"), Length: Length{Days: 1}, End: ptm("2026-11-04T00:00:00Z")},
	}}
	// Nobody before the start, nobody from the end on.
	expectShifts(t, s, "2026-11-01T00:00:00Z", "2026-11-10T00:00:00Z",
		sh("a", "2026-11-02T14:00:00Z", "2026-11-03T14:00:00Z"),
		sh("b", "2026-11-03T14:00:00Z", "2026-11-04T00:00:00Z"),
	)
	if _, ok := s.Who(tm("2026-11-02T13:59:59Z")); ok {
		t.Error("someone on call before the start")
	}
	if _, ok := s.Who(tm("2026-11-04T00:00:00Z")); ok {
		t.Error("someone on call at the end")
	}
	// A later layer that has ended lets the earlier one through.
	s.Layers = append([]Layer{{Members: []string{"base"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1}}}, s.Layers...)
	expectShifts(t, s, "2026-11-02T00:00:00Z", "2026-11-05T00:00:00Z",
		sh("base", "2026-11-02T00:00:00Z", "2026-11-02T14:00:00Z"),
		sh("a", "2026-11-02T14:00:00Z", "2026-11-03T14:00:00Z"),
		sh("b", "2026-11-03T14:00:00Z", "2026-11-04T00:00:00Z"),
		sh("base", "2026-11-04T00:00:00Z", "2026-11-05T00:00:00Z"),
	)
}

func TestLayerZoneDiffersFromSchedule(t *testing.T) {
	t.Parallel()
	s := &Schedule{Name: "s", Location: mustLoc(t, "America/New_York"), Holidays: []Date{{2026, 12, 25}}, Layers: []Layer{{
		Members: []string{"a", "b"}, Start: civ("2026-12-21T09:00"), Length: Length{Days: 1},
		Location: mustLoc(t, "Europe/Berlin"), OnHolidays: HolidaysSkip,
	}}}
	// Handoffs at 09:00 Berlin (08:00Z); the holiday is Christmas in New
	// York: 2026-12-25T05:00Z to 2026-12-26T05:00Z.
	expectShifts(t, s, "2026-12-24T00:00:00Z", "2026-12-27T00:00:00Z",
		sh("a", "2026-12-24T00:00:00Z", "2026-12-24T08:00:00Z"),
		sh("b", "2026-12-24T08:00:00Z", "2026-12-25T05:00:00Z"),
		sh("a", "2026-12-26T05:00:00Z", "2026-12-26T08:00:00Z"),
		sh("b", "2026-12-26T08:00:00Z", "2026-12-27T00:00:00Z"),
	)
	// Windows are the layer's local days: 09:00-18:00 Berlin.
	s.Layers[0].Restrict = []Window{{From: 9 * 60, To: 18 * 60}}
	expectShifts(t, s, "2026-12-24T00:00:00Z", "2026-12-27T00:00:00Z",
		sh("b", "2026-12-24T08:00:00Z", "2026-12-24T17:00:00Z"),
		sh("b", "2026-12-26T08:00:00Z", "2026-12-26T17:00:00Z"),
	)
}

func TestSkippedLocalDay(t *testing.T) {
	t.Parallel()
	// Samoa skipped 2011-12-30: the daily 09:00 handoff of that day (c's)
	// moves forward by the 24-hour gap onto the next day's (a's), so c's
	// shift is empty; the rotation still advances.
	s := &Schedule{Name: "s", Location: mustLoc(t, "Pacific/Apia"), Layers: []Layer{{
		Members: []string{"a", "b", "c"}, Start: civ("2011-12-28T09:00"), Length: Length{Days: 1},
	}}}
	expectShifts(t, s, "2011-12-28T00:00:00Z", "2012-01-01T00:00:00Z",
		sh("a", "2011-12-28T19:00:00Z", "2011-12-29T19:00:00Z"),
		sh("b", "2011-12-29T19:00:00Z", "2011-12-30T19:00:00Z"),
		sh("a", "2011-12-30T19:00:00Z", "2011-12-31T19:00:00Z"),
		sh("b", "2011-12-31T19:00:00Z", "2012-01-01T00:00:00Z"),
	)
}

func TestInvalidLayersDoNotPanic(t *testing.T) {
	t.Parallel()
	from, to := tm("2026-01-01T00:00:00Z"), tm("2026-02-01T00:00:00Z")
	bad := []Layer{
		{Members: nil, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1}},
		{Members: []string{"a"}, Start: civ("2026-01-01T00:00")},
		{Members: []string{"a"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1, Elapsed: time.Hour}},
		{Members: []string{"a"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: -1}},
		{Members: []string{"a"}, Start: civ("2026-01-01T00:00"), Length: Length{Elapsed: -time.Hour}},
		{Members: []string{"a"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1}, Restrict: []Window{{From: 1440, To: 10}}},
		{Members: []string{"a"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1}, Restrict: []Window{{From: 0, To: 1441}}},
		{Members: []string{"a"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1}, OnHolidays: 7},
		{Members: []string{"a"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1}, End: ptm("2025-01-01T00:00:00Z")},
		{Members: []string{"a"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1 << 40}},
	}
	for i, l := range bad {
		s := &Schedule{Name: "s", Location: time.UTC, Layers: []Layer{l}}
		if got := s.Shifts(from, to); len(got) != 0 {
			t.Errorf("layer %d: %s", i, fmtShifts(got))
		}
		if _, ok := s.Who(from.Add(time.Hour)); ok {
			t.Errorf("layer %d: Who found someone", i)
		}
		if s.Validate() == nil {
			t.Errorf("layer %d: Validate passed", i)
		}
	}
	// Far-away and tiny inputs stay bounded.
	s := &Schedule{Name: "s", Layers: []Layer{
		{Members: []string{"a", "b"}, Start: civ("0001-01-01T00:00"), Length: Length{Elapsed: time.Nanosecond}},
	}}
	got := s.Shifts(tm("2026-01-01T00:00:00Z"), tm("2026-01-01T00:00:00.000000010Z"))
	if len(got) != 10 {
		t.Errorf("nanosecond rotation from year 1: %s", fmtShifts(got))
	}
	checkWhoAgrees(t, s, tm("2026-01-01T00:00:00Z"), tm("2026-01-01T00:00:00.000000010Z"), got)
	s.Layers[0].Length = Length{Elapsed: 1<<63 - 1}
	if got := s.Shifts(from, to); len(got) != 1 || got[0].User != "a" {
		t.Errorf("huge rotation: %s", fmtShifts(got))
	}
	var nilSched *Schedule
	if nilSched.Shifts(from, to) != nil || nilSched.Gaps(from, to) != nil {
		t.Error("nil schedule")
	}
	if got := (&Schedule{}).Shifts(to, from); len(got) != 0 {
		t.Error("reversed range")
	}
}

func TestGaps(t *testing.T) {
	t.Parallel()
	s := &Schedule{Name: "s", Location: time.UTC, Layers: []Layer{{
		Members: []string{"a"}, Start: civ("2026-01-05T00:00"), Length: Length{Days: 1},
		Restrict: []Window{{From: 9 * 60, To: 17 * 60}},
	}}}
	got := s.Gaps(tm("2026-01-04T00:00:00Z"), tm("2026-01-06T12:00:00Z"))
	want := []Interval{
		{tm("2026-01-04T00:00:00Z"), tm("2026-01-05T09:00:00Z")},
		{tm("2026-01-05T17:00:00Z"), tm("2026-01-06T09:00:00Z")},
	}
	if len(got) != len(want) {
		t.Fatalf("Gaps = %v", got)
	}
	for i := range got {
		if !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) {
			t.Errorf("gap %d = %v, want %v", i, got[i], want[i])
		}
	}
	if g := (&Schedule{}).Gaps(tm("2026-01-04T00:00:00Z"), tm("2026-01-05T00:00:00Z")); len(g) != 1 {
		t.Errorf("empty schedule gaps = %v", g)
	}
}

func TestCurrentAndNext(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	s := &Schedule{Name: "s", Location: ny, Layers: []Layer{{
		Members: []string{"a", "b"}, Start: civ("2026-01-05T09:00"), Length: Length{Days: 14},
		Restrict: []Window{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, From: 9 * 60, To: 17 * 60}},
	}}, Overrides: []Override{{User: "c", Start: tm("2026-01-07T20:00:00Z"), End: tm("2026-01-08T22:00:00Z")}}}
	cur, ok := s.Current(tm("2026-01-06T15:00:00Z"))
	if want := sh("a", "2026-01-06T14:00:00Z", "2026-01-06T22:00:00Z"); !ok || cur != want {
		t.Errorf("Current = %v, %v", cur, ok)
	}
	next, ok := s.Next(tm("2026-01-06T15:00:00Z"))
	if want := sh("a", "2026-01-07T14:00:00Z", "2026-01-07T20:00:00Z"); !ok || next != want {
		t.Errorf("Next = %v, %v", next, ok)
	}
	next, ok = s.Next(tm("2026-01-07T14:00:00Z")) // a shift starting exactly then is Current's
	if want := sh("c", "2026-01-07T20:00:00Z", "2026-01-08T22:00:00Z"); !ok || next != want {
		t.Errorf("Next = %v, %v", next, ok)
	}
	if _, ok := s.Current(tm("2026-01-06T23:00:00Z")); ok {
		t.Error("Current in a gap")
	}
	next, ok = s.Next(tm("2026-01-16T23:00:00Z")) // Friday night: Monday, b
	if want := sh("b", "2026-01-19T14:00:00Z", "2026-01-19T22:00:00Z"); !ok || next != want {
		t.Errorf("Next over the weekend = %v, %v", next, ok)
	}

	// A layer that never hands off (one member, 24/7): Current spans the
	// whole horizon back to the start, and there is no Next.
	one := &Schedule{Name: "one", Location: time.UTC, Layers: []Layer{{
		Members: []string{"solo"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 1},
	}}}
	at := tm("2026-06-01T12:00:00Z")
	cur, ok = one.Current(at)
	if !ok || !cur.Start.Equal(tm("2026-01-01T00:00:00Z")) || !cur.End.Equal(at.Add(Horizon)) {
		t.Errorf("Current solo = %v, %v", cur, ok)
	}
	if n, ok := one.Next(at); ok {
		t.Errorf("Next solo = %v", n)
	}
	// A long shift crossing Next's chunks is returned whole.
	long := &Schedule{Name: "long", Location: time.UTC, Layers: []Layer{{
		Members: []string{"a", "b"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 30},
	}}}
	next, ok = long.Next(tm("2026-01-02T00:00:00Z"))
	if want := sh("b", "2026-01-31T00:00:00Z", "2026-03-02T00:00:00Z"); !ok || next != want {
		t.Errorf("Next long = %v, %v", next, ok)
	}
	cur, ok = long.Current(tm("2026-02-15T00:00:00Z"))
	if !ok || cur != next {
		t.Errorf("Current long = %v, %v", cur, ok)
	}
	if _, ok := (&Schedule{}).Next(at); ok {
		t.Error("Next on empty")
	}
}

func TestUserShifts(t *testing.T) {
	t.Parallel()
	a := &Schedule{Name: "primary", Location: time.UTC, Layers: []Layer{{
		Members: []string{"alice", "bob"}, Start: civ("2026-01-05T00:00"), Length: Length{Days: 1},
	}}}
	b := &Schedule{Name: "secondary", Location: time.UTC, Layers: []Layer{{
		Members: []string{"bob", "alice"}, Start: civ("2026-01-05T12:00"), Length: Length{Elapsed: 12 * time.Hour},
	}}}
	got := UserShifts([]*Schedule{b, nil, a}, "alice", tm("2026-01-05T00:00:00Z"), tm("2026-01-07T00:00:00Z"))
	want := []ScheduleShift{
		{"primary", sh("alice", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z")},
		{"secondary", sh("alice", "2026-01-06T00:00:00Z", "2026-01-06T12:00:00Z")},
	}
	if len(got) != len(want) {
		t.Fatalf("UserShifts = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("UserShifts[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := &Schedule{Name: "s", Location: time.UTC, Holidays: []Date{{2026, 12, 25}}, Layers: []Layer{{
		Name: "l", Members: []string{"a"}, Start: civ("2026-01-01T00:00"), Length: Length{Days: 7},
		Restrict: []Window{{Days: []time.Weekday{time.Monday}, From: 0, To: 1440}},
	}}, Overrides: []Override{{User: "b", Start: tm("2026-01-01T00:00:00Z"), End: tm("2026-01-02T00:00:00Z")}}}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate good: %v", err)
	}
	bad := *good
	bad.Location = nil
	bad.Holidays = []Date{{2026, 2, 30}}
	bad.Overrides = []Override{{User: "", Start: tm("2026-01-02T00:00:00Z"), End: tm("2026-01-01T00:00:00Z")}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate bad passed")
	}
	for _, want := range []string{"no time zone", "invalid holiday 2026-02-30", "override 1: no user", "is not before end"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %q lacks %q", err, want)
		}
	}
}
