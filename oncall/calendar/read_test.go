package calendar_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oncall/oncall/oncall/calendar"
	"github.com/oncall/oncall/oncall/schedule"
)

// ics wraps VEVENT bodies (lines joined by \n) in a VCALENDAR, with CRLF
// line ends.
func ics(events ...string) string {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n")
	for _, e := range events {
		b.WriteString("BEGIN:VEVENT\nUID:x@test\nDTSTAMP:20260101T000000Z\n" + e + "\nEND:VEVENT\n")
	}
	b.WriteString("END:VCALENDAR\n")
	return strings.ReplaceAll(strings.ReplaceAll(b.String(), "\r\n", "\n"), "\n", "\r\n")
}

func dates(t *testing.T, ss ...string) []schedule.Date {
	t.Helper()
	var out []schedule.Date
	for _, s := range ss {
		d, err := schedule.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func strs(ds []schedule.Date) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

func TestAllDayDatesExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "manifests", "example", "us-holidays.ics"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := calendar.AllDayDates(data)
	if err != nil {
		t.Fatal(err)
	}
	want := dates(t, "2026-11-26", "2026-11-27", "2026-12-25", "2027-01-01")
	if !slices.Equal(got, want) {
		t.Errorf("got %v; want %v", strs(got), strs(want))
	}
}

func TestAllDayDates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data string
		want []string
	}{
		{"one day without DTEND", ics("DTSTART;VALUE=DATE:20261225"), []string{"2026-12-25"}},
		{"DTEND is exclusive", ics("DTSTART;VALUE=DATE:20261230\nDTEND;VALUE=DATE:20270102"),
			[]string{"2026-12-30", "2026-12-31", "2027-01-01"}},
		{"DTEND equal to DTSTART is one day", ics("DTSTART;VALUE=DATE:20261225\nDTEND;VALUE=DATE:20261225"), []string{"2026-12-25"}},
		{"DURATION in days", ics("DTSTART;VALUE=DATE:20261126\nDURATION:P2D"), []string{"2026-11-26", "2026-11-27"}},
		{"DURATION in weeks", ics("DTSTART;VALUE=DATE:20261228\nDURATION:+P1W"),
			[]string{"2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02", "2027-01-03"}},
		{"DURATION in hours rounds up", ics("DTSTART;VALUE=DATE:20261126\nDURATION:PT36H"), []string{"2026-11-26", "2026-11-27"}},
		{"DURATION with days and time", ics("DTSTART;VALUE=DATE:20261126\nDURATION:P1DT1M"), []string{"2026-11-26", "2026-11-27"}},
		{"date without VALUE=DATE", ics("DTSTART:20261225"), []string{"2026-12-25"}},
		{"timed events are ignored", ics("DTSTART:20261225T090000Z\nDTEND:20261226T090000Z",
			"DTSTART;TZID=America/New_York:20261224T090000", "DTSTART;VALUE=DATE:20261231"), []string{"2026-12-31"}},
		{"event without DTSTART is ignored", ics("SUMMARY:nothing", "DTSTART;VALUE=DATE:20261231"), []string{"2026-12-31"}},
		{"sorted and without repeats", ics("DTSTART;VALUE=DATE:20261231", "DTSTART;VALUE=DATE:20261225\nDTEND;VALUE=DATE:20270101"),
			[]string{"2026-12-25", "2026-12-26", "2026-12-27", "2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31"}},
		{"LF only", strings.ReplaceAll(ics("DTSTART;VALUE=DATE:20261225"), "\r\n", "\n"), []string{"2026-12-25"}},
		{"no final line break", strings.TrimSuffix(ics("DTSTART;VALUE=DATE:20261225"), "\r\n"), []string{"2026-12-25"}},
		{"folded lines", ics("DTSTART;VALUE=D\r\n ATE:2026\r\n\t1225\nSUMMARY:a very long\r\n  summary"), []string{"2026-12-25"}},
		{"folded LF only", strings.ReplaceAll(ics("DTSTART;VALUE=D\n ATE:20261225"), "\r\n", "\n"), []string{"2026-12-25"}},
		{"byte order mark and blank lines", "\xEF\xBB\xBF" + strings.Replace(ics("DTSTART;VALUE=DATE:20261225"), "VERSION", "\r\nVERSION", 1),
			[]string{"2026-12-25"}},
		{"lower case names and parameters", strings.ToLower(ics("DTSTART;VALUE=DATE:20261225")), []string{"2026-12-25"}},
		{"quoted parameters with : and ;", ics(`DTSTART;X-A="a:b;c";VALUE=DATE;X-B=1,"2:3":20261225`), []string{"2026-12-25"}},
		{"TZID on a date is ignored", ics("DTSTART;TZID=Europe/Berlin;VALUE=DATE:20261225"), []string{"2026-12-25"}},
		{"an alarm's DURATION is not the event's", ics("DTSTART;VALUE=DATE:20261225\nBEGIN:VALARM\nTRIGGER:-PT15M\nDURATION:P3D\nACTION:DISPLAY\nEND:VALARM"),
			[]string{"2026-12-25"}},
		{"cancelled events cover nothing", ics("DTSTART;VALUE=DATE:20261225\nSTATUS:CANCELLED", "DTSTART;VALUE=DATE:20261231"), []string{"2026-12-31"}},
		{"other components are skipped", strings.Replace(ics("DTSTART;VALUE=DATE:20261225"), "BEGIN:VEVENT",
			"BEGIN:VTODO\r\nDTSTART;VALUE=DATE:20260101\r\nEND:VTODO\r\nBEGIN:VEVENT", 1), []string{"2026-12-25"}},
		{"two calendars", ics("DTSTART;VALUE=DATE:20261225") + ics("DTSTART;VALUE=DATE:20261231"), []string{"2026-12-25", "2026-12-31"}},

		{"yearly with COUNT", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;COUNT=3"),
			[]string{"2026-12-25", "2027-12-25", "2028-12-25"}},
		{"yearly with UNTIL (inclusive)", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;UNTIL=20281225"),
			[]string{"2026-12-25", "2027-12-25", "2028-12-25"}},
		{"yearly with a date-time UNTIL", ics("DTSTART;VALUE=DATE:20261225\nRRULE:UNTIL=20271231T235959Z;FREQ=yearly"),
			[]string{"2026-12-25", "2027-12-25"}},
		{"yearly with INTERVAL and a two-day span", ics("DTSTART;VALUE=DATE:20261126\nDTEND;VALUE=DATE:20261128\nRRULE:FREQ=YEARLY;INTERVAL=2;COUNT=2"),
			[]string{"2026-11-26", "2026-11-27", "2028-11-26", "2028-11-27"}},
		{"yearly on February 29 skips common years", ics("DTSTART;VALUE=DATE:20280229\nRRULE:FREQ=YEARLY;COUNT=3"),
			[]string{"2028-02-29", "2032-02-29", "2036-02-29"}},
		{"Thanksgiving: fourth Thursday of November", ics("DTSTART;VALUE=DATE:20261126\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH;COUNT=3"),
			[]string{"2026-11-26", "2027-11-25", "2028-11-23"}},
		{"Memorial Day: last Monday of May", ics("DTSTART;VALUE=DATE:20260525\nRRULE:FREQ=YEARLY;BYDAY=-1MO;BYMONTH=5;UNTIL=20280601"),
			[]string{"2026-05-25", "2027-05-31", "2028-05-29"}},
		{"first and fifteenth of two months", ics("DTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1,15;COUNT=5"),
			[]string{"2026-01-01", "2026-01-15", "2026-07-01", "2026-07-15", "2027-01-01"}},
		{"the first Monday of the year", ics("DTSTART;VALUE=DATE:20260105\nRRULE:FREQ=YEARLY;BYDAY=1MO;COUNT=2"),
			[]string{"2026-01-05", "2027-01-04"}},
		{"Friday the 13th", ics("DTSTART;VALUE=DATE:20260213\nRRULE:FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR;COUNT=3"),
			[]string{"2026-02-13", "2026-03-13", "2026-11-13"}},
		{"last day of each month", ics("DTSTART;VALUE=DATE:20260131\nRRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3"),
			[]string{"2026-01-31", "2026-02-28", "2026-03-31"}},
		{"monthly on the 31st skips short months", ics("DTSTART;VALUE=DATE:20260131\nRRULE:FREQ=MONTHLY;COUNT=3"),
			[]string{"2026-01-31", "2026-03-31", "2026-05-31"}},
		{"daily", ics("DTSTART;VALUE=DATE:20261230\nRRULE:FREQ=DAILY;COUNT=3"), []string{"2026-12-30", "2026-12-31", "2027-01-01"}},
		{"weekly every other week", ics("DTSTART;VALUE=DATE:20261201\nRRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL=20261231"),
			[]string{"2026-12-01", "2026-12-15", "2026-12-29"}},
		{"DTSTART counts even when the rule does not match it", ics("DTSTART;VALUE=DATE:20261120\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH;COUNT=2"),
			[]string{"2026-11-20", "2026-11-26"}},
		{"EXDATE and RDATE", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;COUNT=3\nEXDATE;VALUE=DATE:20271225\nRDATE;VALUE=DATE:20270102,20270103"),
			[]string{"2026-12-25", "2027-01-02", "2027-01-03", "2028-12-25"}},
		{"a moved instance", ics("UID:s@t\nDTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;COUNT=3",
			"UID:s@t\nRECURRENCE-ID;VALUE=DATE:20271225\nDTSTART;VALUE=DATE:20271224"),
			[]string{"2026-12-25", "2027-12-24", "2028-12-25"}},
		{"a cancelled instance", ics("UID:s@t\nDTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;COUNT=3",
			"UID:s@t\nRECURRENCE-ID;VALUE=DATE:20271225\nDTSTART;VALUE=DATE:20271225\nSTATUS:CANCELLED"),
			[]string{"2026-12-25", "2028-12-25"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// ics() puts a UID first; a test's own UID would repeat it.
			data := tc.data
			if strings.Contains(data, "UID:s@t") {
				data = strings.ReplaceAll(data, "UID:x@test\r\n", "")
			}
			got, err := calendar.AllDayDates([]byte(data))
			if err != nil {
				t.Fatalf("AllDayDates: %v\n%s", err, data)
			}
			if !slices.Equal(strs(got), tc.want) {
				t.Errorf("got %v; want %v", strs(got), tc.want)
			}
		})
	}
}

func TestAllDayDatesUnboundedRuleStops(t *testing.T) {
	t.Parallel()
	got, err := calendar.AllDayDates([]byte(ics("DTSTART;VALUE=DATE:19001225\nRRULE:FREQ=YEARLY")))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 200 || got[199].String() != "2099-12-25" {
		t.Errorf("got %d dates, last %v; want 200 up to 2099-12-25", len(got), got[len(got)-1])
	}
	// A rule that matches nothing ends at the year 9999, quickly.
	got, err = calendar.AllDayDates([]byte(ics("DTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")))
	if err != nil || len(got) != 1 {
		t.Errorf("got %v, %v; want only DTSTART", strs(got), err)
	}
}

func TestAllDayDatesErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "line 1: not an iCalendar file"},
		{"HTML", "<!DOCTYPE html>\n<html></html>\n", "line 1: not an iCalendar file"},
		{"blank", "\n\n  \n", "line 1: not an iCalendar file"},
		{"a vCard", "BEGIN:VCARD\nEND:VCARD\n", "line 1: not an iCalendar file"},
		{"truncated", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\n", "line 3: the file ends inside VEVENT"},
		{"END mismatch", "BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VCALENDAR\n", "line 3: END:VCALENDAR inside VEVENT"},
		{"END without BEGIN", "BEGIN:VCALENDAR\nEND:VCALENDAR\nEND:VEVENT\n", "line 3: END:VEVENT without BEGIN:VEVENT"},
		{"after the end", "BEGIN:VCALENDAR\nEND:VCALENDAR\nDTSTART:1\n", "line 3: DTSTART after END:VCALENDAR"},
		{"no colon", ics("DTSTART;VALUE=DATE:20261225\nthis is not a content line"), "line 8: not a valid content line"},
		{"bad parameter", ics("DTSTART;VALUE:20261225"), "line 7: not a valid content line"},
		{"unterminated quote", ics(`DTSTART;X="a:20261225`), "line 7: not a valid content line"},
		{"invalid date", ics("SUMMARY:x\nDTSTART;VALUE=DATE:20261331"), `line 8: DTSTART: invalid date "20261331"`},
		{"short date", ics("DTSTART;VALUE=DATE:2026125"), `line 7: DTSTART: invalid date "2026125"`},
		{"error line counts folds", ics("SUMMARY:a\r\n b\r\n c\nDTSTART;VALUE=DATE:2026-12-25"), "line 10: DTSTART: invalid date"},
		{"invalid DTEND", ics("DTSTART;VALUE=DATE:20261225\nDTEND;VALUE=DATE:20261232"), `line 8: DTEND: invalid date "20261232"`},
		{"DTEND before DTSTART", ics("DTSTART;VALUE=DATE:20261225\nDTEND;VALUE=DATE:20261224"), "line 8: DTEND 2026-12-24 is before DTSTART 2026-12-25"},
		{"DTEND a date-time", ics("DTSTART;VALUE=DATE:20261225\nDTEND:20261226T000000Z"), "line 8: DTEND: want a date"},
		{"DTEND and DURATION", ics("DTSTART;VALUE=DATE:20261225\nDTEND;VALUE=DATE:20261226\nDURATION:P1D"), "line 9: DURATION and DTEND"},
		{"bad DURATION", ics("DTSTART;VALUE=DATE:20261225\nDURATION:P1H"), `line 8: DURATION: invalid duration "P1H"`},
		{"negative DURATION", ics("DTSTART;VALUE=DATE:20261225\nDURATION:-P1D"), "line 8: DURATION: invalid duration"},
		{"too long", ics("DTSTART;VALUE=DATE:20261225\nDURATION:P400D"), "line 8: an all-day event of 400 days"},
		{"twice DTSTART", ics("DTSTART;VALUE=DATE:20261225\nDTSTART;VALUE=DATE:20261226"), "line 8: DTSTART appears twice in one VEVENT (first at line 7)"},
		{"FREQ=HOURLY", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=HOURLY"), "line 8: RRULE: FREQ=HOURLY is not supported"},
		{"no FREQ", ics("DTSTART;VALUE=DATE:20261225\nRRULE:COUNT=2"), "line 8: RRULE: FREQ is missing"},
		{"BYSETPOS", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1"), "line 8: RRULE: BYSETPOS is not supported"},
		{"weekly BYDAY", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU"), "line 8: RRULE: BYMONTH, BYMONTHDAY and BYDAY are not supported with FREQ=WEEKLY"},
		{"bad BYDAY", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;BYDAY=0MO"), `line 8: RRULE: invalid BYDAY "0MO"`},
		{"bad BYMONTH", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;BYMONTH=13"), "line 8: RRULE: BYMONTH: \"13\" is not a number in 1..12"},
		{"bad COUNT", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;COUNT=x"), "line 8: RRULE: COUNT:"},
		{"bad UNTIL", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;UNTIL=2027"), `line 8: RRULE: invalid UNTIL "2027"`},
		{"repeated part", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;FREQ=YEARLY"), "line 8: RRULE: FREQ appears twice"},
		{"bad EXDATE", ics("DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY;COUNT=2\nEXDATE;VALUE=DATE:20271225,2028"), `line 9: EXDATE: invalid date "2028"`},
		{"RDATE period", ics("DTSTART;VALUE=DATE:20261225\nRDATE;VALUE=PERIOD:20261201T000000Z/P1D"), "line 8: RDATE: periods are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := calendar.AllDayDates([]byte(tc.data))
			if err == nil {
				t.Fatalf("got %v, no error; want %q", strs(got), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want it to contain %q", err, tc.want)
			}
			var ce *calendar.Error
			if !errors.As(err, &ce) || ce.Line < 1 {
				t.Errorf("error %v is not a *calendar.Error with a line", err)
			}
		})
	}
}

func TestAllDayDatesLimits(t *testing.T) {
	t.Parallel()
	// Many long, endlessly repeating events: an error, soon.
	ev := "DTSTART;VALUE=DATE:20260101\nDURATION:P300D\nRRULE:FREQ=DAILY"
	_, err := calendar.AllDayDates([]byte(ics(ev, ev, ev)))
	if err == nil || !strings.Contains(err.Error(), "too many holiday days") {
		t.Errorf("err = %v; want too many holiday days", err)
	}
	// Rules that match nothing, many times over.
	nothing := "DTSTART;VALUE=DATE:00010101\nRRULE:FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2"
	_, err = calendar.AllDayDates([]byte(ics(slices.Repeat([]string{nothing}, 40)...)))
	if err == nil || !strings.Contains(err.Error(), "too many days") {
		t.Errorf("err = %v; want too many days", err)
	}
}

func FuzzAllDayDates(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("..", "..", "manifests", "example", "us-holidays.ics")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(ics("DTSTART;VALUE=DATE:20261126\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH;COUNT=3\nEXDATE;VALUE=DATE:20271125")))
	f.Add([]byte(ics("DTSTART;VALUE=DATE:20260131\nDURATION:P1DT2H\nRRULE:FREQ=MONTHLY;BYMONTHDAY=-1,1;UNTIL=20270101")))
	f.Add([]byte(ics("UID:a\nDTSTART;VALUE=DATE:20261225\nRRULE:FREQ=DAILY;INTERVAL=3", "UID:a\nRECURRENCE-ID;VALUE=DATE:20261228\nDTSTART;VALUE=D\r\n ATE:20261229")))
	f.Add([]byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;X=\"a:b\":20261225\nEND:VEVENT\nEND:VCALENDAR"))
	f.Add([]byte("BEGIN:VCALENDAR\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := calendar.AllDayDates(data)
		if err != nil {
			var ce *calendar.Error
			if !errors.As(err, &ce) || ce.Line < 1 {
				t.Fatalf("error %v is not a *calendar.Error with a line", err)
			}
			return
		}
		for i, d := range got {
			if !d.Valid() {
				t.Fatalf("invalid date %v", d)
			}
			if i > 0 && !got[i-1].Before(d) {
				t.Fatalf("not sorted or repeated: %v then %v", got[i-1], d)
			}
		}
	})
}
