package schedule

import (
	"fmt"
	"testing"
	"time"
)

// benchSchedule is a realistic busy schedule: a weekly base rotation, a
// daily business-hours layer, a follow-the-sun layer in another zone, 50
// overrides and a dozen holidays.
func benchSchedule(b testing.TB, i int) *Schedule {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		b.Fatal(err)
	}
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	s := &Schedule{Name: fmt.Sprintf("s%d", i), Location: ny, Layers: []Layer{
		{Name: "base", Members: []string{"a", "b", "c", "d", "e"}, Start: Civil{Date: Date{2025, 1, 6}, Hour: 9}, Length: Length{Days: 7}},
		{Name: "day", Members: []string{"f", "g", "h"}, Start: Civil{Date: Date{2025, 1, 6}, Hour: 9}, Length: Length{Days: 1},
			Restrict: []Window{{Days: weekdays, From: 9 * 60, To: 17 * 60}}, OnHolidays: HolidaysSkip},
		{Name: "apac", Members: []string{"i", "j"}, Start: Civil{Date: Date{2025, 1, 6}, Hour: 8}, Length: Length{Elapsed: 12 * time.Hour},
			Location: tokyo, Restrict: []Window{{Days: weekdays, From: 8 * 60, To: 16 * 60}}},
	}}
	for m := range 12 {
		s.Holidays = append(s.Holidays, Date{2026, time.Month(m + 1), 10 + i%10})
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for o := range 50 {
		a := start.Add(time.Duration(o*173+i%97) * time.Hour)
		s.Overrides = append(s.Overrides, Override{User: "z", Start: a, End: a.Add(6 * time.Hour)})
	}
	return s
}

// BenchmarkWhoNow1000 is "who is on call now" for 1,000 schedules: the
// figure is per 1,000 (target: under 50 ms).
func BenchmarkWhoNow1000(b *testing.B) {
	scheds := make([]*Schedule, 1000)
	for i := range scheds {
		scheds[i] = benchSchedule(b, i)
	}
	at := time.Date(2026, 7, 15, 13, 30, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range scheds {
			s.Who(at)
		}
	}
}

// BenchmarkShiftsYear is one schedule's final shifts for a year (target:
// under 5 ms).
func BenchmarkShiftsYear(b *testing.B) {
	s := benchSchedule(b, 1)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(1, 0, 0)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(s.Shifts(from, to))
	}
	b.ReportMetric(float64(n), "shifts")
}
