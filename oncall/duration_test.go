package oncall

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	good := map[string]time.Duration{
		"0s": 0, "30s": 30 * time.Second, "5m": 5 * time.Minute, "1h30m": 90 * time.Minute,
		"2d": 2 * Day, "1w": Week, "1w2d3h": Week + 2*Day + 3*time.Hour, "1d12h": 36 * time.Hour,
		"1.5h": 90 * time.Minute,
	}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
		back, err := ParseDuration(FormatDuration(got))
		if err != nil || back != got {
			t.Errorf("round trip of %q via %q = %v, %v", in, FormatDuration(got), back, err)
		}
	}
	for _, in := range []string{"", "5", "-5m", "1x", "d", "1d1w", "2dd", "5m2d", "99999999w"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): want error", in)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	cases := map[time.Duration]string{
		0: "0s", 30 * time.Second: "30s", 5 * time.Minute: "5m", 90 * time.Minute: "1h30m",
		2 * Day: "2d", Week: "1w", 36 * time.Hour: "1d12h", 8 * Day: "8d",
	}
	for d, want := range cases {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q; want %q", d, got, want)
		}
	}
}
