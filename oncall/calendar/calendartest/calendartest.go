// Package calendartest checks iCalendar feeds strictly, for tests of the
// code that serves them.
package calendartest

import (
	"bytes"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/oncall/oncall/oncall/calendar"
)

// Check fails tb unless data passes Lint and calendar.ReadFeed, and returns
// the feed read back.
func Check(tb testing.TB, data []byte) calendar.Feed {
	tb.Helper()
	if err := Lint(data); err != nil {
		tb.Fatalf("feed is not strict RFC 5545: %v\n%s", err, data)
	}
	f, err := calendar.ReadFeed(data)
	if err != nil {
		tb.Fatalf("ReadFeed: %v\n%s", err, data)
	}
	return f
}

// Lint checks the physical lines of an iCalendar object (RFC 5545 §3.1):
// every line ends with CRLF (and there is no other CR or LF), none is
// empty, none is longer than 75 octets, a fold never splits a UTF-8
// character, and the first line is not a continuation.
func Lint(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("empty")
	}
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		return fmt.Errorf("does not end with CRLF")
	}
	lines := bytes.Split(data[:len(data)-2], []byte("\r\n"))
	for i, l := range lines {
		n := i + 1
		switch {
		case bytes.ContainsAny(l, "\r\n"):
			return fmt.Errorf("line %d: a CR or LF that is not part of a CRLF", n)
		case len(l) == 0:
			return fmt.Errorf("line %d: empty", n)
		case len(l) > 75:
			return fmt.Errorf("line %d: %d octets, more than 75", n, len(l))
		case !utf8.Valid(l):
			return fmt.Errorf("line %d: not UTF-8 on its own (a fold splits a character?)", n)
		case i == 0 && (l[0] == ' ' || l[0] == '\t'):
			return fmt.Errorf("line 1: a continuation")
		}
	}
	return nil
}
