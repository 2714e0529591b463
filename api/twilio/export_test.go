package twilio

import "strconv"

// ParseSMSForTest shows a parsed reply as "kind id", "ack all" or "".
func ParseSMSForTest(body string) string {
	c := parseSMS(body)
	switch {
	case c.kind == cmdUnknown:
		return ""
	case c.all:
		return c.kind + " all"
	case c.kind == cmdAck || c.kind == cmdResolve || c.kind == cmdEscalate:
		return c.kind + " " + strconv.FormatInt(c.id, 10)
	}
	return c.kind
}
