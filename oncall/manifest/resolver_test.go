package manifest_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

func loadExample(t *testing.T) *manifest.Set {
	t.Helper()
	b, err := manifest.Load(exampleDir)
	if err != nil {
		t.Fatal(err)
	}
	if errs := b.Check(nil); len(errs) > 0 {
		t.Fatalf("the example has errors:\n%v", errs)
	}
	return b.Set
}

func TestResolverConversion(t *testing.T) {
	t.Parallel()
	set := loadExample(t)
	for _, sc := range set.Schedules {
		r, err := set.Resolver(sc.Name)
		if err != nil {
			t.Fatalf("Resolver(%s): %v", sc.Name, err)
		}
		if err := r.Validate(); err != nil {
			t.Errorf("Resolver(%s) is not valid: %v", sc.Name, err)
		}
	}

	r, err := set.Resolver("payments-primary")
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "payments-primary" || r.Location.String() != "America/New_York" {
		t.Errorf("name %q, zone %v", r.Name, r.Location)
	}
	// Holidays: the dates and the iCalendar file's days, in one list.
	var days []string
	for _, d := range r.Holidays {
		days = append(days, d.String())
	}
	if got, want := strings.Join(days, " "), "2026-07-03 2026-09-07 2026-11-26 2026-11-27 2026-12-25 2027-01-01 2027-05-31"; got != want {
		t.Errorf("holidays = %s, want %s", got, want)
	}
	bh := r.Layers[1]
	want := schedule.Layer{
		Name:       "business-hours",
		Members:    []string{"alice", "bob", "carol"},
		Start:      schedule.Civil{Date: schedule.Date{Year: 2026, Month: 11, Day: 2}, Hour: 9},
		Length:     schedule.Length{Days: 1},
		Restrict:   []schedule.Window{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, From: 9 * 60, To: 17 * 60}},
		OnHolidays: schedule.HolidaysSkip,
	}
	if !reflect.DeepEqual(bh, want) {
		t.Errorf("business-hours layer:\n got %+v\nwant %+v", bh, want)
	}
	if len(r.Overrides) != 2 || r.Overrides[0] != (schedule.Override{User: "dave",
		Start: time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)}) {
		t.Errorf("overrides = %+v", r.Overrides)
	}

	fts, err := set.Resolver("platform-follow-the-sun")
	if err != nil {
		t.Fatal(err)
	}
	if fts.Layers[0].Location != nil || fts.Layers[1].Location.String() != "America/New_York" || fts.Layers[3].Location.String() != "Asia/Tokyo" {
		t.Errorf("layer zones: %v %v %v", fts.Layers[0].Location, fts.Layers[1].Location, fts.Layers[3].Location)
	}

	if _, err := set.Resolver("nope"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("Resolver(nope) = %v", err)
	}
	sc := *set.Schedules[0]
	sc.Holidays = []string{"mars"}
	if _, err := sc.Resolver(set.Holidays); !errors.Is(err, oncall.ErrNotFound) || !strings.Contains(err.Error(), `holidays "mars"`) {
		t.Errorf("Resolver with unknown holidays = %v", err)
	}
}

// TestFollowTheSun resolves the example's follow-the-sun schedule around the
// clock, hour by hour in UTC, across the weeks when Europe and then the US
// leave summer time. Each letter is who is on call during that UTC hour:
// b(ob), c(arol), d(ave), e(rika), f(umiko), k(enji).
//
// Weekdays: Tokyo 08-16 JST = 23-07 UTC; Berlin 08-16 = 06-14 UTC in summer,
// 07-15 in winter; New York 10-18 = 14-22 UTC in summer, 15-23 in winter.
// A later layer wins where two overlap (apac over emea over americas); the
// weekly fallback (handoff Monday 10:00 Berlin) covers the rest. Rotations
// are weekly from Monday 2026-10-05 (week 0).
func TestFollowTheSun(t *testing.T) {
	t.Parallel()
	set := loadExample(t)
	r, err := set.Resolver("platform-follow-the-sun")
	if err != nil {
		t.Fatal(err)
	}
	initial := map[string]string{"bob": "b", "carol": "c", "dave": "d", "erika": "e", "fumiko": "f", "kenji": "k"}
	days := []struct {
		day  string
		want string // UTC hours 00..23
	}{
		// Week 0, all in summer time. 22 UTC: New York has closed and
		// Tokyo not yet opened: the fallback (erika) takes it.
		{"2026-10-07 Wed", "fffffff" + "ddddddd" + "bbbbbbbb" + "e" + "f"},
		// Week 2's last day; Berlin falls back at 01:00 UTC. Weekend:
		// fallback (dave) until Tokyo's Monday opens at 23 UTC (week 3).
		{"2026-10-25 Sun", strings.Repeat("d", 23) + "k"},
		// Week 3: Berlin is in winter time, New York still in summer time.
		// 14 UTC is both Berlin's 15:00 and New York's 10:00: emea wins.
		{"2026-10-26 Mon", "kkkkkkk" + "eeeeeeee" + "ccccccc" + "c" + "k"},
		{"2026-10-28 Wed", "kkkkkkk" + "eeeeeeee" + "ccccccc" + "c" + "k"},
		// New York falls back at 06:00 UTC; a weekend: fallback (carol).
		{"2026-11-01 Sun", strings.Repeat("c", 23) + "f"},
		// Week 4, all in winter time: no gap, no fallback.
		{"2026-11-02 Mon", "fffffff" + "dddddddd" + "bbbbbbbb" + "f"},
		{"2026-11-04 Wed", "fffffff" + "dddddddd" + "bbbbbbbb" + "f"},
		// Friday: New York closes at 23 UTC, and Tokyo's Saturday is off.
		{"2026-11-06 Fri", "fffffff" + "dddddddd" + "bbbbbbbb" + "e"},
		{"2026-11-07 Sat", strings.Repeat("e", 24)},
	}
	for _, d := range days {
		start, err := time.Parse("2006-01-02", d.day[:10])
		if err != nil {
			t.Fatal(err)
		}
		if start.Weekday().String()[:3] != d.day[11:] {
			t.Fatalf("%s is a %s", d.day, start.Weekday())
		}
		var got strings.Builder
		for h := range 24 {
			at := start.Add(time.Duration(h) * time.Hour)
			who, ok := r.Who(at)
			mid, _ := r.Who(at.Add(59 * time.Minute))
			switch {
			case !ok:
				got.WriteString(".")
			case mid != who:
				got.WriteString("?")
			default:
				got.WriteString(initial[who])
			}
		}
		if got.String() != d.want {
			t.Errorf("%s: on call by UTC hour\n got %s\nwant %s", d.day, got.String(), d.want)
		}
		// The shifts of the day say the same, and nobody is ever missing.
		shifts := r.Shifts(start, start.Add(24*time.Hour))
		var fromShifts strings.Builder
		for _, s := range shifts {
			fromShifts.WriteString(strings.Repeat(initial[s.User], int(s.End.Sub(s.Start)/time.Hour)))
		}
		if fromShifts.String() != d.want {
			t.Errorf("%s: shifts %s", d.day, fmtShifts(shifts))
		}
	}
	// A whole month without a gap.
	from := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	if gaps := r.Gaps(from, from.AddDate(0, 1, 0)); len(gaps) > 0 {
		t.Errorf("gaps: %v", gaps)
	}
}

func fmtShifts(shifts []schedule.Shift) string {
	var b strings.Builder
	for _, s := range shifts {
		fmt.Fprintf(&b, "\n\t%s %s - %s", s.User, s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339))
	}
	return b.String()
}
