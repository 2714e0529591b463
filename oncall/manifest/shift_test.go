package manifest

import (
	"testing"
	"time"

	"github.com/oncall/oncall/oncall/schedule"
)

func TestParseShift(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]schedule.Length{
		"12h": {Elapsed: 12 * time.Hour}, "90m": {Elapsed: 90 * time.Minute}, "1d": {Days: 1},
		"1w": {Days: 7}, "2w3d": {Days: 17}, "36h": {Elapsed: 36 * time.Hour}, "1h30m": {Elapsed: 90 * time.Minute},
	} {
		got, err := parseShift(s)
		if err != nil || got != want {
			t.Errorf("parseShift(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if back, _ := parseShift(formatShift(got)); back != got {
			t.Errorf("formatShift(%+v) = %q reads back as %+v", got, formatShift(got), back)
		}
	}
	for _, s := range []string{"", "0h", "-1h", "1d12h", "1w1s", "x", "1.5d", "100001d", "20000w", "1.5s", "1h0.5s"} {
		if _, err := parseShift(s); err == nil {
			t.Errorf("parseShift(%q): no error", s)
		}
	}
}
