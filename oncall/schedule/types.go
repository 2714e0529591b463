package schedule

import "time"

// Date is a local calendar day, with no zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// Civil is a local wall-clock date and time, with no zone. It becomes an
// instant only in a zone, by the DST rule of the contract (see In).
type Civil struct {
	Date
	Hour, Minute, Second int
}

// Shift length: exactly one of Elapsed or Days is set. Elapsed ("12h") adds
// real time; Days ("1d", "1w" = 7) keeps the handoff at the same local time.
type Length struct {
	Elapsed time.Duration
	Days    int
}

// HolidayMode says what a layer does on holidays.
type HolidayMode int

const (
	HolidaysInclude HolidayMode = iota // holidays are ordinary days
	HolidaysSkip                       // the layer is empty during holidays
	HolidaysOnly                       // the layer is empty outside holidays
)

// Window is a restriction window: it opens on each listed local weekday (all
// days when Days is empty) at From and closes at To the same day, or the next
// day when To <= From. From and To are minutes after local midnight; To may be
// 1440 (24:00).
type Window struct {
	Days     []time.Weekday
	From, To int
}

// Layer is one rotation.
type Layer struct {
	Name       string
	Members    []string       // shift k belongs to Members[k mod len]
	Start      Civil          // first handoff, local time in Location
	Length     Length         // shift length
	Location   *time.Location // nil: the schedule's
	Restrict   []Window       // empty: always on
	OnHolidays HolidayMode
	End        *time.Time // nobody from then on; nil: never ends
}

// Override replaces the final result in [Start, End). A later override in the
// list wins where two overlap.
type Override struct {
	User       string
	Start, End time.Time
}

// Schedule is the resolver's input.
type Schedule struct {
	Name      string
	Location  *time.Location // the schedule's zone: holidays and the default for layers
	Layers    []Layer        // the last layer with someone on call at an instant wins
	Overrides []Override
	Holidays  []Date // local days in Location
}

// Shift is a span of time with one person on call: [Start, End), UTC.
type Shift struct {
	User  string
	Start time.Time
	End   time.Time
}

// Interval is a span of time [Start, End), UTC.
type Interval struct {
	Start, End time.Time
}
