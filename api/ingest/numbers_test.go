package ingest

import (
	"strings"
	"testing"
)

// Numbers Postgres's numeric (jsonb) cannot hold are refused with a 400's
// error, not stored to fail the insert; those it holds pass. The limits
// were checked against Postgres 15 ('{"n": 1e131072}'::jsonb fails,
// 1e131071 does not; 1e-16384 fails, 1e-16383 does not).
func TestNumbersPostgresCannotHold(t *testing.T) {
	t.Parallel()
	body := func(n string) []byte { return []byte(`{"summary":"s","details":{"n":` + n + `}}`) }
	for _, n := range []string{"1e131072", "1e999999", "-0.0e-99999999999", "1e-16384", "0e-20000", "1.5e-16383",
		"0." + strings.Repeat("0", 16383) + "1"} {
		_, err := ParseGeneric(body(n))
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%.40s: %v", n, err)
		}
	}
	for _, n := range []string{"1e131071", "1e-16383", "1.5e-16382", "-1E+5", "0", "-0.5", "12345678901234567890123", "1e0000000000000000000001"} {
		if _, err := ParseGeneric(body(n)); err != nil {
			t.Errorf("%.40s: %v", n, err)
		}
	}
}
