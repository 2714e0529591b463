package oncall

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// ParseDuration reads Go duration syntax extended with days (d) and weeks (w):
// "30s", "5m", "1h30m", "2d", "1w", "1w2d3h". A day is 24 hours here; schedule
// shifts, whose days follow the wall clock, are parsed by the schedule package.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("duration %q must not be negative", orig)
	}
	var total time.Duration
	// Peel leading "<n>w" and "<n>d" terms, then hand the rest to time.ParseDuration.
	for _, unit := range []struct {
		suffix byte
		size   time.Duration
	}{{'w', Week}, {'d', Day}} {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i > 0 && i < len(s) && s[i] == unit.suffix {
			// The sum must fit in a Duration (about 292 years): beyond
			// it the count would wrap to a negative or wrong value.
			n, err := strconv.ParseInt(s[:i], 10, 64)
			if err != nil || n > int64((math.MaxInt64-total)/unit.size) {
				return 0, fmt.Errorf("duration %q is out of range", orig)
			}
			total += time.Duration(n) * unit.size
			s = s[i+1:]
		}
	}
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || strings.ContainsAny(s, "dw") {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 5m, 1h30m, 2d, 1w)", orig)
		}
		if d < 0 {
			return 0, fmt.Errorf("duration %q must not be negative", orig)
		}
		if d > math.MaxInt64-total {
			return 0, fmt.Errorf("duration %q is out of range", orig)
		}
		total += d
	}
	return total, nil
}

// FormatDuration writes d in the shortest form ParseDuration reads back:
// "0s", "30s", "5m", "1h30m", "2d", "1w", "1d12h".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d%Week == 0 {
		fmt.Fprintf(&b, "%dw", d/Week)
		return b.String()
	}
	if d >= Day {
		fmt.Fprintf(&b, "%dd", d/Day)
		d %= Day
	}
	if d >= time.Hour {
		fmt.Fprintf(&b, "%dh", d/time.Hour)
		d %= time.Hour
	}
	if d >= time.Minute {
		fmt.Fprintf(&b, "%dm", d/time.Minute)
		d %= time.Minute
	}
	if d > 0 {
		// Seconds and below: let the standard library spell fractions.
		b.WriteString(d.String())
	}
	return b.String()
}
