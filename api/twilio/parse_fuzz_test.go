package twilio

import "testing"

// Any text parses without panicking, to a command with an incident only
// for the three actions.
func FuzzParseSMS(f *testing.F) {
	for _, s := range []string{"ack 12", "a", "res #7", "ack all", "STOP", "help", "e 99999999999999999999", "\x00", "ack\u00a012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c := parseSMS(body)
		if c.id < 0 || (c.id > 0 && c.kind != cmdAck && c.kind != cmdResolve && c.kind != cmdEscalate) || (c.all && c.kind != cmdAck) {
			t.Fatalf("parse %q = %+v", body, c)
		}
	})
}
