package twilio

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// SMS text is kept to the GSM 03.38 alphabet, so that a page fits one
// segment of 160 characters: one character outside it switches the whole
// message to UCS-2, whose segments hold 70.

// SegmentSeptets is what one GSM-7 SMS segment holds.
const SegmentSeptets = 160

// The GSM 03.38 default alphabet (one septet each) and its extension table
// (an escape and a septet: two each).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtended = "^{}\\[~]|€"
)

var gsmCost = func() map[rune]int {
	m := map[rune]int{}
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtended {
		m[r] = 2
	}
	return m
}()

// gsmLookalikes are the characters outside the alphabet that alerts use
// most, with what stands in for them.
var gsmLookalikes = map[rune]string{
	'‘': "'", '’': "'", '‚': "'", '‛': "'", '′': "'", '`': "'", '´': "'",
	'“': `"`, '”': `"`, '„': `"`, '‟': `"`, '″': `"`, '«': `"`, '»': `"`,
	'‐': "-", '‑': "-", '‒': "-", '–': "-", '—': "-", '―': "-", '−': "-",
	'…': "...", '•': "*", '·': "-", '→': "->", '←': "<-", '⇒': "=>",
	'≥': ">=", '≤': "<=", '≠': "!=", '×': "x", '÷': "/", '¢': "c",
	'ç': "c", // Ç is in the alphabet, ç is not
}

// septets is the length of s in GSM-7 septets; s must be GSM text (gsmText).
func septets(s string) int {
	n := 0
	for _, r := range s {
		if c := gsmCost[r]; c > 0 {
			n += c
		} else {
			n++
		}
	}
	return n
}

// gsmText puts s on one line in the GSM alphabet: look-alikes replace
// typographic characters, accents the alphabet lacks are dropped (á → a),
// symbols and emoji go, anything else becomes "?".
func gsmText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t' || unicode.IsSpace(r):
			b.WriteByte(' ')
			continue
		case r < ' ' || r == 0x7f || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Mn, r):
			continue // control, zero-width and combining characters
		}
		if gsmCost[r] > 0 {
			b.WriteRune(r)
			continue
		}
		if s, ok := gsmLookalikes[r]; ok {
			b.WriteString(s)
			continue
		}
		if base := []rune(norm.NFD.String(string(r))); len(base) > 1 && gsmCost[base[0]] == 1 {
			b.WriteRune(base[0])
			continue
		}
		if unicode.In(r, unicode.So, unicode.Sk, unicode.Cs, unicode.Co) {
			continue // emoji and other pictures
		}
		b.WriteByte('?')
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// truncate cuts GSM text s to at most limit septets, ending in "..." when it
// cut, at a word boundary when one is near.
func truncate(s string, limit int) string {
	if septets(s) <= limit {
		return s
	}
	if limit <= 3 {
		return strings.Repeat(".", max(limit, 0))
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		c := max(gsmCost[r], 1)
		if n+c > limit-3 {
			break
		}
		b.WriteRune(r)
		n += c
	}
	out := b.String()
	if i := strings.LastIndexByte(out, ' '); i > 0 && i >= len(out)-12 {
		out = out[:i]
	}
	return strings.TrimRight(out, " ,;:-") + "..."
}

// Fit is s on one line in the GSM alphabet, cut to at most limit septets:
// for replies to SMS, which should cost one segment.
func Fit(s string, limit int) string { return truncate(gsmText(s), limit) }
