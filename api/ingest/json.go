package ingest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON reader of our own, so that every format gets, in one pass over
// the body: the nesting limit (checked while reading, so recursion is bounded
// by MaxDepth), the value-count limit, every string decoded to valid UTF-8
// without NUL (Postgres text and jsonb refuse "\u0000" and lone surrogates),
// and a tree the format code walks to report each wrong field by its path.
// The grammar is RFC 8259's, the same as encoding/json accepts (the fuzz test
// FuzzJSON checks the two agree).

type kind uint8

const (
	kNull kind = iota + 1
	kBool
	kNumber
	kString
	kArray
	kObject
)

func (k kind) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNumber:
		return "number"
	case kString:
		return "string"
	case kArray:
		return "array"
	case kObject:
		return "object"
	}
	return "nothing"
}

// node is one JSON value. Objects keep their members in order as
// key, value, key, value...; a repeated key's last value wins (as in
// encoding/json).
type node struct {
	kind kind
	str  string // a string's decoded value, a number's literal, "true"/"false"
	kids []node
}

// get returns the value of an object's member, nil when absent.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kObject {
		return nil
	}
	for i := len(n.kids) - 2; i >= 0; i -= 2 {
		if n.kids[i].str == key {
			return &n.kids[i+1]
		}
	}
	return nil
}

// members is an object's member count, repeated keys counted once each time.
func (n *node) members() int { return len(n.kids) / 2 }

type jsonReader struct {
	s      string
	i      int
	values int
	err    string
	stack  []node // the members of the containers being read
	arena  []node // where finished containers' members are kept
	want   int    // the guess of how many members there are in all
	kept   int    // how many were kept
}

// push stacks a member, doubling the stack when full (append grows large
// slices by only a quarter, which costs a 1 MiB array of numbers dear).
func (r *jsonReader) push(n node) {
	if len(r.stack) == cap(r.stack) {
		s := make([]node, len(r.stack), 2*cap(r.stack)+16)
		copy(s, r.stack)
		r.stack = s
	}
	r.stack = append(r.stack, n)
}

// keep moves the members stacked since base into the arena and returns them.
// Containers are sliced out of a few shared allocations instead of each
// growing its own slice.
func (r *jsonReader) keep(base int) []node {
	k := len(r.stack) - base
	if k == 0 {
		return nil
	}
	if cap(r.arena)-len(r.arena) < k {
		if r.arena == nil {
			// A guess of the members of all containers: a key and a value
			// per object member (a ':' and most often a ','), an element
			// per ',' in arrays. Capped: ',' and ':' inside strings count too.
			r.want = min(strings.Count(r.s, ":")+strings.Count(r.s, ",")+2, 4096)
		}
		r.arena = make([]node, 0, max(k, 16, r.want-r.kept, r.kept/2))
	}
	r.kept += k
	start := len(r.arena)
	r.arena = append(r.arena, r.stack[base:]...)
	r.stack = r.stack[:base]
	return r.arena[start:len(r.arena):len(r.arena)]
}

// parseJSON reads body as one JSON value. The problem, when there is one, is
// a detail line such as "body: invalid JSON at byte 12: ...".
func parseJSON(body []byte) (node, string) {
	if len(body) == 0 {
		return node{}, "body: empty, want a JSON object"
	}
	if !utf8.Valid(body) {
		return node{}, fmt.Sprintf("body: invalid UTF-8 at byte %d", invalidUTF8At(body))
	}
	r := jsonReader{s: string(body), stack: make([]node, 0, 32)}
	if strings.HasPrefix(r.s, "\uFEFF") { // a byte order mark: tolerated
		r.i = 3
	}
	r.space()
	root, ok := r.value(0)
	if !ok {
		return node{}, r.err
	}
	r.space()
	if r.i < len(r.s) {
		r.fail("unexpected " + r.what() + " after the top-level value")
		return node{}, r.err
	}
	return root, ""
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func (r *jsonReader) fail(msg string) bool {
	if r.err == "" {
		r.err = fmt.Sprintf("body: invalid JSON at byte %d: %s", r.i, msg)
	}
	return false
}

// what names the character at r.i for an error message.
func (r *jsonReader) what() string {
	if r.i >= len(r.s) {
		return "end of input"
	}
	c, _ := utf8.DecodeRuneInString(r.s[r.i:])
	return strconv.QuoteRune(c)
}

func (r *jsonReader) space() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jsonReader) value(depth int) (node, bool) {
	if r.i >= len(r.s) {
		return node{}, r.fail("unexpected end of input")
	}
	r.values++
	if r.values > MaxValues {
		r.err = fmt.Sprintf("body: more than %d JSON values", MaxValues)
		return node{}, false
	}
	switch c := r.s[r.i]; {
	case c == '{' || c == '[':
		if depth >= MaxDepth {
			r.err = fmt.Sprintf("body: JSON nested deeper than %d levels", MaxDepth)
			return node{}, false
		}
		if c == '{' {
			return r.object(depth + 1)
		}
		return r.array(depth + 1)
	case c == '"':
		s, ok := r.string()
		return node{kind: kString, str: s}, ok
	case c == 't':
		return r.literal("true", kBool)
	case c == 'f':
		return r.literal("false", kBool)
	case c == 'n':
		return r.literal("null", kNull)
	case c == '-' || ('0' <= c && c <= '9'):
		return r.number()
	}
	return node{}, r.fail("unexpected " + r.what())
}

func (r *jsonReader) literal(word string, k kind) (node, bool) {
	if !strings.HasPrefix(r.s[r.i:], word) {
		return node{}, r.fail("unexpected " + r.what())
	}
	n := node{kind: k}
	if k == kBool {
		n.str = word
	}
	r.i += len(word)
	return n, true
}

func (r *jsonReader) object(depth int) (node, bool) {
	r.i++ // {
	r.space()
	if r.i < len(r.s) && r.s[r.i] == '}' {
		r.i++
		return node{kind: kObject}, true
	}
	base := len(r.stack)
	for {
		if r.i >= len(r.s) || r.s[r.i] != '"' {
			return node{}, r.fail("unexpected " + r.what() + ", want a string key")
		}
		r.values++
		key, ok := r.string()
		if !ok {
			return node{}, false
		}
		r.space()
		if r.i >= len(r.s) || r.s[r.i] != ':' {
			return node{}, r.fail("unexpected " + r.what() + ", want ':'")
		}
		r.i++
		r.space()
		v, ok := r.value(depth)
		if !ok {
			return node{}, false
		}
		r.push(node{kind: kString, str: key})
		r.push(v)
		r.space()
		if r.i < len(r.s) {
			switch r.s[r.i] {
			case ',':
				r.i++
				r.space()
				continue
			case '}':
				r.i++
				return node{kind: kObject, kids: r.keep(base)}, true
			}
		}
		return node{}, r.fail("unexpected " + r.what() + ", want ',' or '}'")
	}
}

func (r *jsonReader) array(depth int) (node, bool) {
	r.i++ // [
	r.space()
	if r.i < len(r.s) && r.s[r.i] == ']' {
		r.i++
		return node{kind: kArray}, true
	}
	base := len(r.stack)
	for {
		v, ok := r.value(depth)
		if !ok {
			return node{}, false
		}
		r.push(v)
		r.space()
		if r.i < len(r.s) {
			switch r.s[r.i] {
			case ',':
				r.i++
				r.space()
				continue
			case ']':
				r.i++
				return node{kind: kArray, kids: r.keep(base)}, true
			}
		}
		return node{}, r.fail("unexpected " + r.what() + ", want ',' or ']'")
	}
}

func (r *jsonReader) number() (node, bool) {
	s, i := r.s, r.i
	start := i
	if s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		digits()
	default:
		r.i = i
		return node{}, r.fail("unexpected " + r.what() + " in a number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			r.i = i
			return node{}, r.fail("unexpected " + r.what() + " in a number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			r.i = i
			return node{}, r.fail("unexpected " + r.what() + " in a number")
		}
	}
	r.i = i
	if !numberFits(s[start:i]) {
		r.i = start
		if r.err == "" {
			r.err = fmt.Sprintf("body: number at byte %d out of range (at most %d digits before the point and %d after)",
				start, maxNumberWeight, maxNumberScale)
		}
		return node{}, false
	}
	return node{kind: kNumber, str: s[start:i]}, true
}

// Postgres keeps JSON numbers (jsonb) as numeric, which holds at most
// 131072 digits before the decimal point and 16383 after; a number beyond
// would fail the insert (a 5xx) instead of being refused (a 400).
const (
	maxNumberWeight = 131072
	maxNumberScale  = 16383
)

// numberFits reports whether the valid JSON number lit fits Postgres's
// numeric: its digits before the point plus the exponent, and its digits
// after the point minus the exponent, within the limits (counted as
// written, so a zero or a leading "0." may be refused that Postgres would
// take).
func numberFits(lit string) bool {
	lit = strings.TrimPrefix(lit, "-")
	mant, exp, _ := strings.Cut(strings.ToLower(lit), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	e := 0
	if exp != "" {
		exp = strings.TrimPrefix(exp, "+")
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
		if len(exp) > 7 {
			return false // beyond any limit, and beyond int on 32 bits
		}
		e, _ = strconv.Atoi("0" + exp)
		if neg {
			e = -e
		}
	}
	return len(intPart)+e <= maxNumberWeight && len(frac)-e <= maxNumberScale
}

// string reads the string at r.i (a '"'). Without escapes its value is a
// substring of the body (no copy).
func (r *jsonReader) string() (string, bool) {
	s := r.s
	start := r.i + 1
	// Fast path: up to the next quote, no escape and no control character.
	if j := strings.IndexByte(s[start:], '"'); j >= 0 {
		seg := s[start : start+j]
		plain := true
		for k := 0; k < len(seg); k++ {
			if c := seg[k]; c < 0x20 || c == '\\' {
				plain = false
				break
			}
		}
		if plain {
			r.i = start + j + 1
			return seg, true
		}
	}
	escaped := false
	i := start
	for {
		if i >= len(s) {
			r.i = i
			return "", r.fail("unterminated string")
		}
		c := s[i]
		switch {
		case c == '"':
			r.i = i + 1
			if !escaped {
				return s[start:i], true
			}
			return unescape(s[start:i]), true
		case c < 0x20:
			r.i = i
			return "", r.fail(fmt.Sprintf("control character %U in a string", c))
		case c == '\\':
			escaped = true
			if i+1 >= len(s) {
				r.i = i + 1
				return "", r.fail("unterminated string")
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex4(s[i+2:i+6]) {
					r.i = i
					return "", r.fail(`invalid \u escape`)
				}
				i += 6
			default:
				r.i = i
				return "", r.fail("invalid escape " + strconv.Quote(s[i:i+2]))
			}
		default:
			i++
		}
	}
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(s string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape decodes a string body already checked by jsonReader.string. Like
// encoding/json it turns lone surrogates into U+FFFD; unlike it, it also turns
// \u0000 into U+FFFD, which Postgres can store.
func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := strings.IndexByte(s[i:], '\\')
			if j < 0 {
				b.WriteString(s[i:])
				break
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		switch s[i+1] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if r < 0xDC00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := hex4(s[i+2 : i+6]); 0xDC00 <= r2 && r2 <= 0xDFFF {
						b.WriteRune(utf16.DecodeRune(r, r2))
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			if r == 0 {
				r = utf8.RuneError
			}
			b.WriteRune(r)
			continue
		default: // " \ /
			b.WriteByte(s[i+1])
		}
		i += 2
	}
	return b.String()
}

// appendJSON writes n as compact JSON. Strings come out valid UTF-8 without
// NUL, so the result is fit for a jsonb column.
func appendJSON(b []byte, n *node) []byte {
	switch n.kind {
	case kObject:
		b = append(b, '{')
		for i := 0; i+1 < len(n.kids); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, n.kids[i].str)
			b = append(b, ':')
			b = appendJSON(b, &n.kids[i+1])
		}
		return append(b, '}')
	case kArray:
		b = append(b, '[')
		for i := range n.kids {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, &n.kids[i])
		}
		return append(b, ']')
	case kString:
		return appendJSONString(b, n.str)
	case kNumber, kBool:
		return append(b, n.str...)
	}
	return append(b, "null"...)
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case 0:
			b = append(b, `\ufffd`...)
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
