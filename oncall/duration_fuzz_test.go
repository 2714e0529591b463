package oncall

import (
	"strings"
	"testing"
)

// FuzzParseDuration: any text reads without panicking to an error or a
// duration that is not negative, and FormatDuration writes it back in a
// form that reads as the same duration.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"", "0s", "30s", "5m", "1h30m", "2d", "1w", "1w2d3h", "1.5h", "-5m", "1d1w", "2dd",
		"99999999w", "100000w", "100000w100000d2562047h", "2562047h47m16.854775807s", "9223372036854775807ns",
		"1e9h", ".5s", "0.000000001s", "1µs", "\x00", "1d\xff", strings.Repeat("9", 400) + "d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("ParseDuration(%q) = %v and %v", s, d, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		text := FormatDuration(d)
		back, err := ParseDuration(text)
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v; written %q, read back %v, %v", s, d, text, back, err)
		}
	})
}
