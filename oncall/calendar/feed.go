package calendar

import (
	"strings"
	"time"
)

// ReadFeed reads a feed as WriteTo writes it, strictly: VERSION:2.0 and
// PRODID, BEGIN and END balanced, and every VEVENT with a UID, a DTSTAMP
// and a DTSTART, its times in UTC (…Z). It is WriteTo's inverse, for tests
// and tools that check feeds; it is not a general iCalendar reader (no
// time zones, no recurrence). Feed.Stamp is the first event's DTSTAMP.
// Errors are *Error, naming the line.
func ReadFeed(data []byte) (Feed, error) {
	cal, events, err := readEvents(data)
	if err != nil {
		return Feed{}, err
	}
	var f Feed
	if v, ok := cal["VERSION"]; !ok {
		return Feed{}, errorf(1, "VERSION is missing")
	} else if v.value != "2.0" {
		return Feed{}, errorf(v.line, "VERSION is %q; want 2.0", clip(v.value))
	}
	p, ok := cal["PRODID"]
	if !ok {
		return Feed{}, errorf(1, "PRODID is missing")
	}
	if f.ProdID, err = unescapeText(p); err != nil {
		return Feed{}, err
	}
	if p, ok := cal["X-WR-CALNAME"]; ok {
		if f.Name, err = unescapeText(p); err != nil {
			return Feed{}, err
		}
	}
	for i, ev := range events {
		var e Event
		for _, name := range []string{"UID", "DTSTAMP", "DTSTART"} {
			if _, ok := ev.one[name]; !ok {
				return Feed{}, errorf(ev.line, "VEVENT without %s", name)
			}
		}
		stamp, err := utcTime(ev.one["DTSTAMP"])
		if err != nil {
			return Feed{}, err
		}
		if i == 0 {
			f.Stamp = stamp
		}
		if e.Start, err = utcTime(ev.one["DTSTART"]); err != nil {
			return Feed{}, err
		}
		if p, ok := ev.one["DTEND"]; ok {
			if e.End, err = utcTime(p); err != nil {
				return Feed{}, err
			}
		}
		for name, dst := range map[string]*string{"UID": &e.UID, "SUMMARY": &e.Summary, "DESCRIPTION": &e.Description} {
			if p, ok := ev.one[name]; ok {
				if *dst, err = unescapeText(p); err != nil {
					return Feed{}, err
				}
			}
		}
		f.Events = append(f.Events, e)
	}
	return f, nil
}

// utcTime reads a DATE-TIME in UTC: 20261102T140000Z.
func utcTime(p prop) (time.Time, error) {
	t, err := time.Parse(utcLayout, p.value)
	if err != nil || len(p.params) > 0 {
		return time.Time{}, errorf(p.line, "%s: want a UTC date-time like 20261102T140000Z, got %q", p.name, clip(p.value))
	}
	return t, nil
}

// unescapeText undoes escapeText: \\ \; \, and \n (or \N). A bare ";"
// or "," is an error: in a single TEXT value RFC 5545 wants them escaped.
func unescapeText(p prop) (string, error) {
	s := p.value
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ';' || s[i] == ',' {
			return "", errorf(p.line, "%s: unescaped %q", p.name, s[i])
		}
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i++; i == len(s) {
			return "", errorf(p.line, "%s: a lone backslash at the end", p.name)
		}
		switch s[i] {
		case '\\', ';', ',':
			b.WriteByte(s[i])
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			return "", errorf(p.line, "%s: invalid escape \\%c", p.name, s[i])
		}
	}
	return b.String(), nil
}
