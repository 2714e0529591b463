package store

import (
	"slices"
	"strings"
	"testing"
)

func TestMovedItems(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ cur, order, moved string }{
		{"", "", ""},
		{"a,b,c", "a,b,c", ""},
		{"a,b,c", "c,a,b", "c"},
		{"c,a,b", "a,b,c", "c"},
		{"a,b,c,d", "d,c,b,a", "b,c,d"},
		{"a,b,c,d,e", "a,c,d,b,e", "b"},
	} {
		index := map[string]int{}
		for i, n := range split(c.cur) {
			index[n] = i
		}
		moved := movedItems(split(c.order), index)
		var got []string
		for n := range moved {
			got = append(got, n)
		}
		slices.Sort(got)
		if strings.Join(got, ",") != c.moved {
			t.Errorf("movedItems(%s -> %s) = %v; want %s", c.cur, c.order, got, c.moved)
		}
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func TestParseClock(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{"00:00": 0, "09:30": 570, "23:59": 1439} {
		if got, ok := parseClock(s, false); !ok || got != want || formatClock(got) != s {
			t.Errorf("parseClock(%q) = %d, %v", s, got, ok)
		}
	}
	if got, ok := parseClock("24:00", true); !ok || got != 1440 || formatClock(got) != "24:00" {
		t.Errorf("24:00 = %d, %v", got, ok)
	}
	for _, s := range []string{"24:00", "9:00", "12:60", "ab:cd", ""} {
		if _, ok := parseClock(s, false); ok {
			t.Errorf("parseClock(%q) ok", s)
		}
	}
}
