package calendar

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultProdID is the PRODID of a Feed that names none.
const DefaultProdID = "-//oncall//oncall//EN"

// refresh is how often subscribers are asked to fetch a feed again
// (REFRESH-INTERVAL of RFC 7986, and X-PUBLISHED-TTL, which Outlook and
// Apple Calendar read).
const refresh = "PT1H"

// utcLayout is an RFC 5545 DATE-TIME in UTC ("form #2").
const utcLayout = "20060102T150405Z"

// Event is one event of a feed: [Start, End), written in UTC to the
// second.
type Event struct {
	UID         string // stable across fetches, so calendar apps update rather than duplicate
	Start, End  time.Time
	Summary     string
	Description string // optional
}

// Feed is a published calendar (METHOD:PUBLISH), as served to calendar
// apps that subscribe to a URL.
type Feed struct {
	Name   string    // X-WR-CALNAME and NAME; optional
	ProdID string    // PRODID; DefaultProdID when empty
	Stamp  time.Time // DTSTAMP of every event: when the feed's data was made
	Events []Event
}

// WriteTo writes f as an RFC 5545 iCalendar object: CRLF line ends, lines
// folded at 75 octets (never inside a UTF-8 character), TEXT values
// escaped, times in UTC. An event whose End is not after its Start gets no
// DTEND. It implements io.WriterTo.
func (f Feed) WriteTo(w io.Writer) (int64, error) {
	var b []byte
	prodID := f.ProdID
	if prodID == "" {
		prodID = DefaultProdID
	}
	b = appendLine(b, "BEGIN:VCALENDAR")
	b = appendLine(b, "VERSION:2.0")
	b = appendLine(b, "PRODID:"+escapeText(prodID))
	b = appendLine(b, "CALSCALE:GREGORIAN")
	b = appendLine(b, "METHOD:PUBLISH")
	if f.Name != "" {
		b = appendLine(b, "X-WR-CALNAME:"+escapeText(f.Name))
		b = appendLine(b, "NAME:"+escapeText(f.Name))
	}
	b = appendLine(b, "REFRESH-INTERVAL;VALUE=DURATION:"+refresh)
	b = appendLine(b, "X-PUBLISHED-TTL:"+refresh)
	stamp := f.Stamp.UTC().Format(utcLayout)
	for _, e := range f.Events {
		b = appendLine(b, "BEGIN:VEVENT")
		b = appendLine(b, "UID:"+escapeText(e.UID))
		b = appendLine(b, "DTSTAMP:"+stamp)
		b = appendLine(b, "DTSTART:"+e.Start.UTC().Format(utcLayout))
		if e.End.After(e.Start) {
			b = appendLine(b, "DTEND:"+e.End.UTC().Format(utcLayout))
		}
		b = appendLine(b, "SUMMARY:"+escapeText(e.Summary))
		if e.Description != "" {
			b = appendLine(b, "DESCRIPTION:"+escapeText(e.Description))
		}
		// Being on call does not make one busy: keep free/busy clear.
		b = appendLine(b, "TRANSP:TRANSPARENT")
		b = appendLine(b, "END:VEVENT")
	}
	b = appendLine(b, "END:VCALENDAR")
	n, err := w.Write(b)
	return int64(n), err
}

// maxLine is the longest a physical line may be, in octets, without its
// CRLF (RFC 5545 §3.1).
const maxLine = 75

// appendLine appends a content line folded at maxLine octets: each
// continuation starts with a space, which counts toward its length. A
// UTF-8 character is never split.
func appendLine(b []byte, s string) []byte {
	limit := maxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 { // not UTF-8 (escapeText prevents it); cut anyway
			cut = limit
		}
		b = append(b, s[:cut]...)
		b = append(b, "\r\n "...)
		s = s[cut:]
		limit = maxLine - 1
	}
	b = append(b, s...)
	return append(b, "\r\n"...)
}

// escapeText escapes a TEXT value (RFC 5545 §3.3.11): backslash,
// semicolon, comma and line breaks (CRLF, LF or CR, written as \n). Other
// control characters, which TEXT may not hold, are dropped, and invalid
// UTF-8 becomes U+FFFD.
func escapeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ';', ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString(`\n`)
		case '\n':
			b.WriteString(`\n`)
		default:
			if c < 0x20 && c != '\t' || c == 0x7f {
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ShiftUID is a stable UID for a shift of user starting at start, in a
// scope (a feed, e.g. "schedule:payments-primary"): the same shift gets
// the same UID on every fetch, so calendar apps update it rather than add
// a copy, and different scopes never share UIDs.
func ShiftUID(scope, user string, start time.Time) string {
	h := sha256.New()
	// NULs keep ("a", "bc") and ("ab", "c") apart.
	h.Write([]byte(scope + "\x00" + user + "\x00" + strconv.FormatInt(start.Unix(), 10)))
	return hex.EncodeToString(h.Sum(nil)[:16]) + "@oncall"
}
