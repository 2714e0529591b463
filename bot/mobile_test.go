package bot_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/oncall/oncall/store"
)

var (
	codeRE = regexp.MustCompile(`\b[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}\b`)
	timeRE = regexp.MustCompile(`\b\d\d:\d\d\b`)
)

// stable hides what changes between runs: the code and the clock times.
func stable(raw json.RawMessage) json.RawMessage {
	s := codeRE.ReplaceAllString(string(raw), "CODE-CODE")
	return json.RawMessage(timeRE.ReplaceAllString(s, "HH:MM"))
}

func TestMobilePairing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	ctx := context.Background()

	got := h.slash("U0ALICE", "mobile")
	golden(t, "mobile", stable(got))
	code := codeRE.FindString(string(got))
	if code == "" {
		t.Fatalf("no code in %s", got)
	}
	// The code is alice's, once.
	_, user, err := store.PairingCodeRedeem(ctx, h.b.Pool, code, "Alice's Pixel", h.b.Clock.Now())
	if err != nil || user != "alice" {
		t.Fatalf("redeem: %q %v", user, err)
	}
	if _, _, err := store.PairingCodeRedeem(ctx, h.b.Pool, code, "again", h.b.Clock.Now()); err == nil {
		t.Fatal("a code redeemed twice")
	}

	// Now the phone is listed, with a Revoke button.
	got = h.slash("U0ALICE", "mobile")
	golden(t, "mobile_phones", stable(got))
	phones, err := store.MobileTokenList(ctx, h.b.Pool, "alice")
	if err != nil || len(phones) != 1 {
		t.Fatalf("phones: %v %v", phones, err)
	}
	id := strconv.FormatInt(phones[0].ID, 10)

	// Someone else cannot revoke it.
	if got := h.slash("U0CAROL", "mobile revoke "+id); !strings.Contains(string(got), "no paired phone") {
		t.Errorf("carol revoking alice's phone: %s", got)
	}
	c := h.pcClick("U0ALICE", "", "mobile_revoke", id, "response_url")
	if !strings.Contains(string(c.JSON), "is unpaired") || !strings.Contains(string(c.JSON), `"replace_original":true`) {
		t.Errorf("revoke: %s", c.JSON)
	}
	if phones, _ := store.MobileTokenList(ctx, h.b.Pool, "alice"); len(phones) != 0 {
		t.Errorf("phones after revoke: %v", phones)
	}
	if got := h.slash("U0ALICE", "mobile revoke x"); !strings.Contains(string(got), "Usage") {
		t.Errorf("bad revoke: %s", got)
	}
	if got := h.slash("U0STRANGER", "mobile"); !strings.Contains(string(got), "not a user") {
		t.Errorf("stranger: %s", got)
	}
}
