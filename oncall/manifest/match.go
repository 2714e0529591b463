package manifest

import (
	"regexp"
	"strings"
	"sync"
)

// CompiledMatch is a Match with its regular expressions compiled, for
// matching many alerts.
type CompiledMatch struct {
	severity, summary patterns
	labels            map[string]patterns
	annotations       map[string]patterns
}

// patterns is an any-of list; nil matches anything.
type patterns []pattern

type pattern struct {
	exact string
	re    *regexp.Regexp // non-nil for "~regex"
}

// CompileMatch compiles m's patterns. A value starting with "~" is an RE2
// regular expression that must match the whole value; anything else must be
// equal to it.
func CompileMatch(m Match) (*CompiledMatch, error) {
	c := &CompiledMatch{}
	var err error
	if c.severity, err = compileList(m.Severity); err != nil {
		return nil, err
	}
	if c.summary, err = compileList(m.Summary); err != nil {
		return nil, err
	}
	if c.labels, err = compileMap(m.Labels); err != nil {
		return nil, err
	}
	if c.annotations, err = compileMap(m.Annotations); err != nil {
		return nil, err
	}
	return c, nil
}

func compileList(list []string) (patterns, error) {
	if len(list) == 0 {
		return nil, nil
	}
	ps := make(patterns, len(list))
	for i, s := range list {
		if re, ok := strings.CutPrefix(s, "~"); ok {
			r, err := compilePattern(re)
			if err != nil {
				return nil, err
			}
			ps[i].re = r
		} else {
			ps[i].exact = s
		}
	}
	return ps, nil
}

func compileMap(m map[string][]string) (map[string]patterns, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]patterns, len(m))
	for k, list := range m {
		ps, err := compileList(list)
		if err != nil {
			return nil, err
		}
		if ps == nil {
			ps = patterns{} // an empty list: nothing matches
		}
		out[k] = ps
	}
	return out, nil
}

// match reports whether v matches any pattern (nil: anything).
func (ps patterns) match(v string) bool {
	if ps == nil {
		return true
	}
	for _, p := range ps {
		if p.re != nil {
			if p.re.MatchString(v) {
				return true
			}
		} else if p.exact == v {
			return true
		}
	}
	return false
}

// Matches reports whether an alert satisfies every field of the match. A
// label or annotation the alert lacks is read as "" (as Prometheus does), so
// "~.*" matches it and an exact value does not.
func (c *CompiledMatch) Matches(severity, summary string, labels, annotations map[string]string) bool {
	if !c.severity.match(severity) || !c.summary.match(summary) {
		return false
	}
	for k, ps := range c.labels {
		if !ps.match(labels[k]) {
			return false
		}
	}
	for k, ps := range c.annotations {
		if !ps.match(annotations[k]) {
			return false
		}
	}
	return true
}

// Matches is CompileMatch(m).Matches, with regular expressions compiled
// once per process; a match whose regexp does not compile matches nothing
// (the parser reports such regexps).
func (m Match) Matches(severity, summary string, labels, annotations map[string]string) bool {
	c, err := CompileMatch(m)
	if err != nil {
		return false
	}
	return c.Matches(severity, summary, labels, annotations)
}

// ServiceFor is the service an alert goes to by this rule: the value of the
// label or annotation named by ServiceFrom when the alert has it, else
// Service (which may be "": the integration's own service).
func (r *AlertRule) ServiceFor(labels, annotations map[string]string) string {
	if isLabel, key, ok := parseServiceFrom(r.ServiceFrom); ok {
		m := annotations
		if isLabel {
			m = labels
		}
		if v := m[key]; v != "" {
			return v
		}
	}
	return r.Service
}

// Compiled regular expressions, anchored. The cache is bounded; past the
// bound patterns are compiled each time.
var (
	reMu    sync.Mutex
	reCache = map[string]*regexp.Regexp{}
)

const reCacheMax = 4096

func compilePattern(re string) (*regexp.Regexp, error) {
	reMu.Lock()
	r, ok := reCache[re]
	reMu.Unlock()
	if ok {
		return r, nil
	}
	// The pattern must compile alone: "a)|(b" would compile once wrapped.
	if _, err := regexp.Compile(re); err != nil {
		return nil, err
	}
	r, err := regexp.Compile(`\A(?:` + re + `)\z`)
	if err != nil {
		return nil, err
	}
	reMu.Lock()
	if len(reCache) < reCacheMax {
		reCache[re] = r
	}
	reMu.Unlock()
	return r, nil
}
