package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oncall/oncall/oncall"
)

// Typed reads from the JSON tree. Each reports a wrong value by its path and
// returns the zero value, so a parser goes on and collects every problem.

// str reads obj[key] as a string. present is false when it is absent or null;
// a value of another type, or longer than MaxValueLen, is reported.
func (p *problems) str(obj *node, key string, at *jpath) (s string, present bool) {
	v := obj.get(key)
	if v == nil || v.kind == kNull {
		return "", false
	}
	f := at.field(key)
	if v.kind != kString {
		p.wrongType(&f, "a string", v)
		return "", false
	}
	if len(v.str) > MaxValueLen {
		p.add(&f, "%d bytes, at most %d", len(v.str), MaxValueLen)
		return "", false
	}
	return v.str, true
}

// required reads obj[key] as a string that must be there and not blank.
func (p *problems) required(obj *node, key string, at *jpath) (string, bool) {
	v := obj.get(key)
	if v == nil || v.kind == kNull {
		f := at.field(key)
		p.add(&f, "required")
		return "", false
	}
	s, ok := p.str(obj, key, at)
	if ok && strings.TrimSpace(s) == "" {
		f := at.field(key)
		p.add(&f, "must not be empty")
		return "", false
	}
	return s, ok
}

// summary checks a summary that must hold 1..MaxSummaryLen characters.
func (p *problems) summary(s string, at *jpath) bool {
	if n := utf8.RuneCountInString(s); n > MaxSummaryLen {
		p.add(at, "%d characters, at most %d", n, MaxSummaryLen)
		return false
	}
	return true
}

// object reads obj[key] as an object; nil when absent or null.
func (p *problems) object(obj *node, key string, at *jpath) *node {
	v := obj.get(key)
	if v == nil || v.kind == kNull {
		return nil
	}
	if v.kind != kObject {
		f := at.field(key)
		p.wrongType(&f, "an object", v)
		return nil
	}
	return v
}

// stringMap reads obj[key] as an object of strings: labels or annotations.
func (p *problems) stringMap(obj *node, key string, at *jpath) map[string]string {
	v := obj.get(key)
	if v == nil || v.kind == kNull {
		return nil
	}
	f := at.field(key)
	if v.kind != kObject {
		p.wrongType(&f, "an object of strings", v)
		return nil
	}
	if n := v.members(); n > MaxLabels {
		p.add(&f, "%d entries, at most %d", n, MaxLabels)
		return nil
	}
	m := make(map[string]string, v.members())
	for i := 0; i+1 < len(v.kids); i += 2 {
		k, val := v.kids[i].str, &v.kids[i+1]
		kf := f.field(k)
		switch {
		case k == "":
			p.add(&f, "empty key")
		case len(k) > MaxKeyLen:
			p.add(&kf, "key is %d bytes, at most %d", len(k), MaxKeyLen)
		case val.kind != kString:
			p.wrongType(&kf, "a string", val)
		case len(val.str) > MaxValueLen:
			p.add(&kf, "%d bytes, at most %d", len(val.str), MaxValueLen)
		default:
			m[k] = val.str
		}
	}
	return m
}

// time reads obj[key] as a time (see parseTime); zero when absent.
func (p *problems) time(obj *node, key string, at *jpath) time.Time {
	s, ok := p.str(obj, key, at)
	if !ok {
		return time.Time{}
	}
	t, ok := parseTime(s)
	if !ok {
		f := at.field(key)
		p.add(&f, "want an RFC 3339 time, got %q", truncateRunes(s, 64))
	}
	return t
}

// timeLayouts are the ISO 8601 forms senders use: RFC 3339 (Alertmanager,
// Grafana), PagerDuty's documented "2015-07-17T08:42:58.315+0000", and a
// local time without zone, read as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// count reads obj[key] as a non-negative integer; 0 when absent.
func (p *problems) count(obj *node, key string, at *jpath) int {
	v := obj.get(key)
	if v == nil || v.kind == kNull {
		return 0
	}
	n, err := strconv.Atoi(v.str)
	if v.kind != kNumber || err != nil || n < 0 {
		f := at.field(key)
		if v.kind == kNumber {
			p.add(&f, "want a non-negative integer, got %s", truncateRunes(v.str, 32))
		} else {
			p.wrongType(&f, "a non-negative integer", v)
		}
		return 0
	}
	return n
}

// links reads PagerDuty-style links: [{"href", "text"}]; a bare string is
// taken as an href.
func (p *problems) links(obj *node, key string, at *jpath) []oncall.Link {
	v := p.array(obj, key, at)
	if v == nil {
		return nil
	}
	f := at.field(key)
	out := make([]oncall.Link, 0, len(v.kids))
	for i := range v.kids {
		e := &v.kids[i]
		ef := f.item(i)
		switch e.kind {
		case kString:
			if strings.TrimSpace(e.str) == "" || len(e.str) > MaxValueLen {
				p.add(&ef, "want a URL")
				continue
			}
			out = append(out, oncall.Link{Href: e.str})
		case kObject:
			href, ok := p.required(e, "href", &ef)
			text, _ := p.str(e, "text", &ef)
			if ok {
				out = append(out, oncall.Link{Href: href, Text: text})
			}
		default:
			p.wrongType(&ef, "an object or a string", e)
		}
	}
	return out
}

// images reads PagerDuty-style images: [{"src", "href", "alt"}].
func (p *problems) images(obj *node, key string, at *jpath) []oncall.Image {
	v := p.array(obj, key, at)
	if v == nil {
		return nil
	}
	f := at.field(key)
	out := make([]oncall.Image, 0, len(v.kids))
	for i := range v.kids {
		e := &v.kids[i]
		ef := f.item(i)
		switch e.kind {
		case kString:
			if strings.TrimSpace(e.str) == "" || len(e.str) > MaxValueLen {
				p.add(&ef, "want a URL")
				continue
			}
			out = append(out, oncall.Image{Src: e.str})
		case kObject:
			src, ok := p.required(e, "src", &ef)
			href, _ := p.str(e, "href", &ef)
			alt, _ := p.str(e, "alt", &ef)
			if ok {
				out = append(out, oncall.Image{Src: src, Href: href, Alt: alt})
			}
		default:
			p.wrongType(&ef, "an object or a string", e)
		}
	}
	return out
}

// array reads obj[key] as an array of at most MaxLinks entries.
func (p *problems) array(obj *node, key string, at *jpath) *node {
	v := obj.get(key)
	if v == nil || v.kind == kNull {
		return nil
	}
	f := at.field(key)
	if v.kind != kArray {
		p.wrongType(&f, "an array", v)
		return nil
	}
	if len(v.kids) > MaxLinks {
		p.add(&f, "%d entries, at most %d", len(v.kids), MaxLinks)
		return nil
	}
	if len(v.kids) == 0 {
		return nil
	}
	return v
}

// details encodes free-form details as a JSON object: an object as it is,
// anything else as {"details": value}; nil when absent or null.
func details(v *node) json.RawMessage {
	if v == nil || v.kind == kNull {
		return nil
	}
	if v.kind == kObject {
		return appendJSON(nil, v)
	}
	b := append([]byte(nil), `{"details":`...)
	b = appendJSON(b, v)
	return append(b, '}')
}

// hashKey is a stable key made of parts and the sorted pairs of m: the same
// input always gives the same key, so retries dedupe.
func hashKey(m map[string]string, parts ...string) string {
	h := sha256.New()
	var n [8]byte
	write := func(s string) {
		l := len(s)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, s := range parts {
		write(s)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		write(k)
		write(m[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// boundedKey keeps a sender's key when it fits in MaxDedupKeyLen and
// replaces a longer one by "sha256:" and its hash, so a key always fits an
// index.
func boundedKey(k string) string {
	if len(k) <= MaxDedupKeyLen {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// truncateRunes cuts s to at most n characters, the last an ellipsis.
func truncateRunes(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return s[:i] + "…"
}
