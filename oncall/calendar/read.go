// Package calendar reads and writes iCalendar (RFC 5545): holiday dates from
// all-day events, and on-call shift feeds.
//
// It is pure: no I/O beyond the io.Writer it is given, no clock.
package calendar

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/oncall/oncall/oncall/schedule"
)

// Limits that keep AllDayDates fast on any input. Real holiday calendars
// stay far below them.
const (
	// maxOccurrences caps the instances of one recurring event; a rule
	// without COUNT or UNTIL ("every year, forever") stops there.
	maxOccurrences = 200
	// maxEventDays caps the days one instance may cover.
	maxEventDays = 366
	// maxDates caps the days of a whole file, before removing repeats.
	maxDates = 100_000
	// maxWork caps the candidate days that recurrence rules may look at in
	// a whole file, so that a rule matching nothing ("every February 30")
	// cannot spin.
	maxWork = 2_000_000
)

// Error is a problem in an iCalendar file, at a line (1-based, the first
// physical line of a folded content line).
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func errorf(line int, format string, args ...any) error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// AllDayDates returns the local days covered by the all-day events
// (DTSTART;VALUE=DATE) of an iCalendar file, sorted and without duplicates.
// Timed events are ignored.
//
// An event covers [DTSTART, DTEND) (DTEND is exclusive), or DURATION days
// (rounded up), or the single day DTSTART. Recurring events are expanded:
// RRULE with FREQ=DAILY or WEEKLY (no BY parts), MONTHLY or YEARLY (with
// BYMONTH, BYMONTHDAY, BYDAY such as 4TH or -1MO), INTERVAL, COUNT and
// UNTIL, up to 200 instances per event; RDATE and EXDATE of dates;
// instances moved or cancelled by an event with the same UID and a
// RECURRENCE-ID. Events with STATUS:CANCELLED cover nothing. Anything else
// in a rule is an error rather than a silently wrong set of holidays.
//
// Errors are *Error, naming the line.
func AllDayDates(data []byte) ([]schedule.Date, error) {
	_, events, err := readEvents(data)
	if err != nil {
		return nil, err
	}
	// Instances that another event (same UID, RECURRENCE-ID) replaces.
	replaced := map[string][]prop{}
	for _, ev := range events {
		if id, ok := ev.one["RECURRENCE-ID"]; ok && ev.uid() != "" {
			replaced[ev.uid()] = append(replaced[ev.uid()], id)
		}
	}
	x := expander{work: maxWork}
	var out []schedule.Date
	for _, ev := range events {
		if strings.EqualFold(ev.one["STATUS"].value, "CANCELLED") {
			continue
		}
		if err := x.add(&out, ev, replaced[ev.uid()]); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, schedule.Date.Compare)
	return slices.Compact(out), nil
}

// prop is one content line: NAME;PARAM=value:value.
type prop struct {
	line   int
	name   string            // upper case
	params map[string]string // upper-case names; a list stays joined by ","
	value  string
}

// param is the named parameter's value, upper case ("" when absent).
func (p prop) param(name string) string { return strings.ToUpper(p.params[name]) }

// event is a VEVENT's properties. Properties that may appear once are in
// one; RDATE and EXDATE may repeat.
type event struct {
	line          int
	one           map[string]prop
	rdate, exdate []prop
}

func (ev *event) uid() string { return ev.one["UID"].value }

// single are the VEVENT properties read here that RFC 5545 allows once.
var single = map[string]bool{
	"UID": true, "DTSTAMP": true, "DTSTART": true, "DTEND": true, "DURATION": true,
	"RRULE": true, "RECURRENCE-ID": true, "STATUS": true, "SUMMARY": true, "DESCRIPTION": true,
}

// readEvents checks the structure of an iCalendar stream (one or more
// VCALENDARs, BEGIN and END balanced) and returns its VEVENTs.
// Properties directly inside the first VCALENDAR go to cal (the first of
// each name).
func readEvents(data []byte) (cal map[string]prop, events []*event, err error) {
	lines := unfold(data)
	cal = map[string]prop{}
	var (
		stack []string
		cur   *event
		seen  bool // a VCALENDAR began
		ended bool // the first VCALENDAR ended
		last  = 1
	)
	for _, l := range lines {
		last = l.n
		if len(bytes.TrimSpace(l.text)) == 0 {
			continue
		}
		if !seen && !bytes.EqualFold(bytes.TrimSpace(l.text), []byte("BEGIN:VCALENDAR")) {
			return nil, nil, errorf(l.n, "not an iCalendar file: it does not begin with BEGIN:VCALENDAR")
		}
		p, err := parseProp(l.n, string(l.text))
		if err != nil {
			return nil, nil, err
		}
		switch p.name {
		case "BEGIN":
			comp := strings.ToUpper(p.value)
			if comp == "" {
				return nil, nil, errorf(p.line, "BEGIN without a component name")
			}
			if len(stack) == 0 && comp != "VCALENDAR" {
				return nil, nil, errorf(p.line, "BEGIN:%s outside a VCALENDAR", comp)
			}
			seen = true
			stack = append(stack, comp)
			if comp == "VEVENT" && len(stack) == 2 {
				cur = &event{line: p.line, one: map[string]prop{}}
			}
		case "END":
			comp := strings.ToUpper(p.value)
			if len(stack) == 0 {
				return nil, nil, errorf(p.line, "END:%s without BEGIN:%s", comp, comp)
			}
			if top := stack[len(stack)-1]; top != comp {
				return nil, nil, errorf(p.line, "END:%s inside %s (want END:%s)", comp, top, top)
			}
			if comp == "VEVENT" && len(stack) == 2 {
				events = append(events, cur)
				cur = nil
			}
			stack = stack[:len(stack)-1]
			ended = ended || len(stack) == 0
		default:
			if len(stack) == 0 {
				return nil, nil, errorf(p.line, "%s after END:VCALENDAR", p.name)
			}
			if len(stack) == 1 && !ended {
				if _, dup := cal[p.name]; !dup {
					cal[p.name] = p
				}
			}
			if cur == nil || len(stack) != 2 { // not directly in a VEVENT (e.g. in its VALARM)
				continue
			}
			switch {
			case p.name == "RDATE":
				cur.rdate = append(cur.rdate, p)
			case p.name == "EXDATE":
				cur.exdate = append(cur.exdate, p)
			case single[p.name]:
				if prev, dup := cur.one[p.name]; dup {
					return nil, nil, errorf(p.line, "%s appears twice in one VEVENT (first at line %d)", p.name, prev.line)
				}
				cur.one[p.name] = p
			}
		}
	}
	if !seen {
		return nil, nil, errorf(1, "not an iCalendar file: no BEGIN:VCALENDAR")
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return nil, nil, errorf(last, "the file ends inside %s (END:%s is missing)", top, top)
	}
	return cal, events, nil
}

// line is a logical (unfolded) line and the number of its first physical
// line.
type line struct {
	n    int
	text []byte
}

// unfold joins folded lines (RFC 5545 §3.1): a line break followed by a
// space or a tab continues the line, and both are removed. Line breaks are
// CRLF or a bare LF. A UTF-8 byte order mark is skipped.
func unfold(data []byte) []line {
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	var out []line
	for n := 1; len(data) > 0; n++ {
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(l) > 0 && (l[0] == ' ' || l[0] == '\t') && len(out) > 0 {
			last := &out[len(out)-1]
			last.text = append(last.text, l[1:]...)
			continue
		}
		// The full slice expression makes a later append copy instead of
		// writing over data.
		out = append(out, line{n: n, text: l[:len(l):len(l)]})
	}
	return out
}

// parseProp reads a content line: name *(";" param) ":" value, where a
// parameter is name=value[,value...] and a value may be "quoted".
func parseProp(n int, s string) (prop, error) {
	bad := func(why string) (prop, error) {
		return prop{}, errorf(n, "not a valid content line (%s): %q", why, clip(s))
	}
	i := strings.IndexAny(s, ";:")
	if i < 0 {
		return bad("no ':'")
	}
	p := prop{line: n, name: strings.ToUpper(s[:i])}
	if !isName(p.name) {
		return bad("bad property name")
	}
	s = s[i:]
	for s[0] == ';' {
		s = s[1:]
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || !isName(s[:eq]) {
			return bad("bad parameter")
		}
		name := strings.ToUpper(s[:eq])
		s = s[eq+1:]
		var vals []string
		for {
			if strings.HasPrefix(s, `"`) {
				end := strings.IndexByte(s[1:], '"')
				if end < 0 {
					return bad("unterminated quoted parameter")
				}
				vals, s = append(vals, s[1:1+end]), s[2+end:]
			} else {
				j := strings.IndexAny(s, `;:,"`)
				if j < 0 || s[j] == '"' {
					return bad("bad parameter")
				}
				vals, s = append(vals, s[:j]), s[j:]
			}
			if s == "" {
				return bad("no ':'")
			}
			if s[0] != ',' {
				break
			}
			s = s[1:]
		}
		if s[0] != ';' && s[0] != ':' {
			return bad("bad parameter")
		}
		if p.params == nil {
			p.params = map[string]string{}
		}
		p.params[name] = strings.Join(vals, ",")
	}
	p.value = s[1:]
	return p, nil
}

// isName reports whether s is an iana-token or x-name: letters, digits and
// "-".
func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return s != ""
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// isDate reports whether p's value is a DATE (VALUE=DATE, or eight digits
// with no VALUE, which RFC 5545 does not allow but some producers write).
func isDate(p prop) bool {
	switch p.param("VALUE") {
	case "DATE":
		return true
	case "":
		return len(p.value) == 8 && allDigits(p.value)
	}
	return false
}

// parseDate reads a DATE, YYYYMMDD.
func parseDate(s string) (schedule.Date, bool) {
	if len(s) != 8 || !allDigits(s) {
		return schedule.Date{}, false
	}
	d, err := schedule.ParseDate(s[0:4] + "-" + s[4:6] + "-" + s[6:8])
	return d, err == nil
}

// datePart reads a DATE, or the date of a DATE-TIME (YYYYMMDDTHHMMSS with
// an optional Z): where RFC 5545 wants a date, producers sometimes write a
// date-time.
func datePart(s string) (schedule.Date, bool) {
	if len(s) == 15 || len(s) == 16 && s[15] == 'Z' {
		if s[8] != 'T' || !allDigits(s[9:15]) {
			return schedule.Date{}, false
		}
		s = s[:8]
	}
	return parseDate(s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// expander turns all-day events into days, within a budget of work.
type expander struct {
	work  int // candidate days recurrence rules may still look at
	dates int // days produced so far
}

// add appends the days ev covers to out. replaced are RECURRENCE-IDs of
// other events with ev's UID: instances of ev that they move or cancel.
func (x *expander) add(out *[]schedule.Date, ev *event, replaced []prop) error {
	dtstart, ok := ev.one["DTSTART"]
	if !ok || !isDate(dtstart) {
		return nil // timed, or no start: not a holiday
	}
	start, ok := parseDate(dtstart.value)
	if !ok {
		return errorf(dtstart.line, "DTSTART: invalid date %q: want YYYYMMDD", clip(dtstart.value))
	}
	days, err := length(ev, start)
	if err != nil {
		return err
	}

	starts := []schedule.Date{start}
	if _, isOverride := ev.one["RECURRENCE-ID"]; !isOverride {
		if rule, ok := ev.one["RRULE"]; ok {
			if starts, err = x.expand(rule, start); err != nil {
				return err
			}
		}
		for _, p := range ev.rdate {
			if p.param("VALUE") == "PERIOD" || strings.Contains(p.value, "/") {
				return errorf(p.line, "RDATE: periods are not supported in an all-day event")
			}
			ds, err := dateList(p)
			if err != nil {
				return err
			}
			starts = append(starts, ds...)
		}
		gone := map[schedule.Date]bool{}
		for _, p := range append(slices.Clone(ev.exdate), replaced...) {
			ds, err := dateList(p)
			if err != nil {
				return err
			}
			for _, d := range ds {
				gone[d] = true
			}
		}
		starts = slices.DeleteFunc(starts, func(d schedule.Date) bool { return gone[d] })
	}

	for _, s := range starts {
		if x.dates += days; x.dates > maxDates {
			return errorf(ev.line, "too many holiday days in this file (more than %d)", maxDates)
		}
		for i := range days {
			*out = append(*out, s.AddDays(i))
		}
	}
	return nil
}

// length is the number of days each instance of ev covers: from DTEND
// (exclusive) or DURATION, else one.
func length(ev *event, start schedule.Date) (int, error) {
	end, hasEnd := ev.one["DTEND"]
	dur, hasDur := ev.one["DURATION"]
	days, at := 1, ev.line
	switch {
	case hasEnd && hasDur:
		return 0, errorf(dur.line, "DURATION and DTEND in one VEVENT (line %d): keep one", end.line)
	case hasEnd:
		if !isDate(end) {
			return 0, errorf(end.line, "DTEND: want a date (VALUE=DATE) like DTSTART, got %q", clip(end.value))
		}
		e, ok := parseDate(end.value)
		if !ok {
			return 0, errorf(end.line, "DTEND: invalid date %q: want YYYYMMDD", clip(end.value))
		}
		if e.Before(start) {
			return 0, errorf(end.line, "DTEND %s is before DTSTART %s", e, start)
		}
		days, at = max(e.DaysSince(start), 1), end.line // DTEND = DTSTART: one day, as calendar apps show it
	case hasDur:
		secs, ok := parseDuration(dur.value)
		if !ok {
			return 0, errorf(dur.line, "DURATION: invalid duration %q: want e.g. P1D or P2W", clip(dur.value))
		}
		days, at = max(int((secs+86399)/86400), 1), dur.line
	}
	if days > maxEventDays {
		return 0, errorf(at, "an all-day event of %d days: at most %d are allowed", days, maxEventDays)
	}
	return days, nil
}

// dateList reads the comma-separated dates of an RDATE, EXDATE or
// RECURRENCE-ID.
func dateList(p prop) ([]schedule.Date, error) {
	var out []schedule.Date
	for v := range strings.SplitSeq(p.value, ",") {
		d, ok := datePart(v)
		if !ok {
			return nil, errorf(p.line, "%s: invalid date %q: want YYYYMMDD", p.name, clip(v))
		}
		out = append(out, d)
	}
	return out, nil
}

// parseDuration reads an RFC 5545 dur-value without a sign or with "+"
// (PnW, PnD, PTnHnMnS, PnDTnH...) and returns its length in seconds.
func parseDuration(s string) (int64, bool) {
	s, ok := strings.CutPrefix(strings.TrimPrefix(s, "+"), "P")
	if !ok || s == "" {
		return 0, false
	}
	// next reads a number and its unit letter.
	next := func() (n int64, unit byte, ok bool) {
		i := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 || i == len(s) {
			return 0, 0, false
		}
		n, _ = strconv.ParseInt(s[:i], 10, 64)
		unit, s = s[i], s[i+1:]
		return n, unit, true
	}
	var total int64
	if s[0] != 'T' {
		n, unit, ok := next()
		switch {
		case !ok:
			return 0, false
		case unit == 'W':
			return n * 7 * 86400, s == ""
		case unit != 'D':
			return 0, false
		}
		total = n * 86400
		if s == "" {
			return total, true
		}
		if s[0] != 'T' {
			return 0, false
		}
	}
	s = s[1:]
	if s == "" {
		return 0, false
	}
	units, secs := "HMS", []int64{3600, 60, 1}
	for s != "" {
		n, unit, ok := next()
		if !ok {
			return 0, false
		}
		i := strings.IndexByte(units, unit) // H, M, S in this order, each at most once
		if i < 0 {
			return 0, false
		}
		total += n * secs[i]
		units, secs = units[i+1:], secs[i+1:]
	}
	return total, true
}
