package manifest

import (
	"strings"
)

// Check returns every error of the bundle: the parse errors and each
// reference to an object that is neither defined by the files nor known to
// known (which may be nil: the files must then be complete), at the position
// of the reference. Sorted; nil when there are none.
func (b *Bundle) Check(known Known) Errors {
	errs := append(Errors(nil), b.Errors...)
	names := map[string][]string{} // kind -> defined names, for suggestions
	for k := range b.objects {
		names[k.kind] = append(names[k.kind], k.name)
	}
	for name := range b.integrations {
		names[KindIntegration] = append(names[KindIntegration], name)
	}
	for _, r := range b.refs {
		if b.defines(r.kind, r.name) || known != nil && known(r.kind, r.name) {
			continue
		}
		errs = append(errs, r.at.errorf("%s: unknown %s %q%s", r.key, kindWord(r.kind), r.name, didYouMean(r.name, names[r.kind])))
	}
	if len(errs) == 0 {
		return nil
	}
	errs.Sort()
	return errs
}

// defines reports whether the files define an object.
func (b *Bundle) defines(kind, name string) bool {
	if kind == KindIntegration {
		_, ok := b.integrations[name]
		return ok
	}
	_, ok := b.objects[objKey{kind, name}]
	return ok
}

// kindWord is a kind in a sentence: "user", "escalation policy".
func kindWord(kind string) string {
	var b strings.Builder
	for i, r := range kind {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte(' ')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
