package bot

import (
	"strconv"
	"testing"
)

// The set of seen envelopes answers duplicates and forgets the oldest
// beyond envelopeMemory, so it never grows.
func TestEnvelopeSet(t *testing.T) {
	t.Parallel()
	var s envelopeSet
	if s.add("a") || !s.add("a") {
		t.Fatal("a: first add must be new, second a duplicate")
	}
	for i := range envelopeMemory {
		s.add(strconv.Itoa(i))
	}
	if len(s.ids) != envelopeMemory {
		t.Fatalf("%d ids remembered; want %d", len(s.ids), envelopeMemory)
	}
	if s.add("a") {
		t.Fatal("a is still remembered after envelopeMemory newer ids")
	}
	if !s.add(strconv.Itoa(envelopeMemory - 1)) {
		t.Fatal("the newest id was forgotten")
	}
}
