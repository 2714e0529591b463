package ingest

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is a rejected body: the client's fault, answered with 400. Msg names
// the format ("invalid Alertmanager webhook"); Details says what is wrong,
// one line per problem, each starting with the field's path:
//
//	alerts[1].status: want "firing" or "resolved", got "pending"
//	payload.summary: 1025 characters, at most 1024
//	body: invalid JSON at byte 17: unexpected '}'
//
// It maps onto CONTRACT.md §4's {"error": Msg, "details": Details} and onto
// PagerDuty's {"status": "invalid event", "message": ..., "errors": Details}.
type Error struct {
	Msg     string
	Details []string
}

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return e.Msg
	}
	return e.Msg + ": " + strings.Join(e.Details, "; ")
}

// problems collects what is wrong with a body, up to MaxProblems lines.
type problems struct {
	list []string
	more int
}

func (p *problems) add(at *jpath, format string, args ...any) {
	if len(p.list) >= MaxProblems {
		p.more++
		return
	}
	p.list = append(p.list, at.String()+": "+fmt.Sprintf(format, args...))
}

func (p *problems) ok() bool { return len(p.list) == 0 }

func (p *problems) err(msg string) *Error {
	d := p.list
	if p.more > 0 {
		d = append(d, fmt.Sprintf("and %d more problems", p.more))
	}
	return &Error{Msg: msg, Details: d}
}

// wrongType reports a value of the wrong JSON type.
func (p *problems) wrongType(at *jpath, want string, got *node) {
	p.add(at, "want %s, got %s", want, got.kind)
}

// jpath is where a value sits in the body, built only when a problem is
// reported: alerts[1].labels.severity. A nil *jpath is the body itself.
type jpath struct {
	up    *jpath
	key   string
	index int // -1 for an object member
}

func (p *jpath) field(key string) jpath { return jpath{up: p, key: key, index: -1} }
func (p *jpath) item(i int) jpath       { return jpath{up: p, index: i} }

func (p *jpath) String() string {
	if p == nil {
		return "body"
	}
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p *jpath) write(b *strings.Builder) {
	if p.up != nil {
		p.up.write(b)
	}
	if p.index >= 0 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(p.index))
		b.WriteByte(']')
		return
	}
	if plainKey(p.key) {
		if p.up != nil {
			b.WriteByte('.')
		}
		b.WriteString(p.key)
		return
	}
	k := p.key
	if len(k) > 64 {
		k = truncateRunes(k, 64)
	}
	b.WriteByte('[')
	b.WriteString(strconv.Quote(k))
	b.WriteByte(']')
}

// plainKey reports whether key can be written after a dot: labels.severity
// rather than labels["a b"].
func plainKey(key string) bool {
	if key == "" || len(key) > 64 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
