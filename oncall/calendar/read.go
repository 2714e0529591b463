// Package calendar reads and writes iCalendar (RFC 5545): holiday dates from
// all-day events, and on-call shift feeds.
package calendar

import (
	"errors"

	"github.com/oncall/oncall/oncall/schedule"
)

// AllDayDates returns the local days covered by the all-day events
// (DTSTART;VALUE=DATE) of an iCalendar file, sorted and without duplicates.
func AllDayDates(data []byte) ([]schedule.Date, error) {
	return nil, errors.New("calendar: AllDayDates not implemented yet")
}
