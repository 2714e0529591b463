package email_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/email"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func newSigner(t *testing.T, b byte) *email.Signer {
	t.Helper()
	s, err := email.NewSigner(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSigner(t, 1)
	for _, c := range []email.Claims{
		{Incident: 12, Action: email.ActionAck, User: "alice", Expires: t0.Add(24 * time.Hour)},
		{Incident: 1 << 40, Action: email.ActionResolve, User: "bob.smith_2-x", Expires: t0.Add(time.Minute)},
		{Incident: 3, Action: email.ActionAck, User: "a:b:c", Expires: t0.Add(time.Second)}, // the user is the last field
	} {
		tok, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(tok, "+/=?&# ") {
			t.Errorf("token %q is not URL-safe", tok)
		}
		got, err := s.Verify(tok, t0)
		if err != nil || got != c {
			t.Errorf("Verify(Sign(%+v)) = %+v, %v", c, got, err)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	s := newSigner(t, 1)
	tok, _ := s.Sign(email.Claims{Incident: 12, Action: email.ActionAck, User: "alice", Expires: t0.Add(24 * time.Hour)})
	if _, err := s.Verify(tok, t0.Add(24*time.Hour-time.Second)); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	for _, at := range []time.Time{t0.Add(24 * time.Hour), t0.Add(25 * time.Hour)} {
		if _, err := s.Verify(tok, at); !errors.Is(err, email.ErrTokenExpired) {
			t.Errorf("at %s: %v; want ErrTokenExpired", at, err)
		}
	}
}

func TestTokenTampered(t *testing.T) {
	t.Parallel()
	s := newSigner(t, 1)
	claims := email.Claims{Incident: 12, Action: email.ActionAck, User: "alice", Expires: t0.Add(24 * time.Hour)}
	tok, _ := s.Sign(claims)
	payload, mac, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)

	// Re-encode a changed payload with the original MAC.
	with := func(old, new string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), old, new, 1))) + "." + mac
	}
	other, _ := newSigner(t, 2).Sign(claims)
	flipped := []byte(tok)
	flipped[len(flipped)-3] ^= 0x01

	for name, bad := range map[string]string{
		"empty":              "",
		"no mac":             payload,
		"no payload":         "." + mac,
		"garbage":            "not a token",
		"bit flipped in mac": string(flipped),
		"mac cut":            tok[:len(tok)-4],
		"other key":          other,
		"action changed":     with(":ack:", ":resolve:"),
		"incident changed":   with("1:12:", "1:13:"),
		"user changed":       with(":alice", ":mallory"),
		"expiry moved":       with(":"+itoa(t0.Add(24*time.Hour).Unix())+":", ":"+itoa(t0.Add(48*time.Hour).Unix())+":"),
		"extra dot":          tok + ".x",
		"long":               strings.Repeat("A", 2000) + "." + mac,
	} {
		if _, err := s.Verify(bad, t0); !errors.Is(err, email.ErrTokenInvalid) {
			t.Errorf("%s: %v; want ErrTokenInvalid", name, err)
		}
	}
}

// A token is valid in one spelling only: the last character of a base64
// string carries padding bits, which lenient decoding ignores, so without
// strict decoding three other spellings of a token would pass too.
func TestTokenHasOneSpelling(t *testing.T) {
	t.Parallel()
	s := newSigner(t, 1)
	tok, _ := s.Sign(email.Claims{Incident: 12, Action: email.ActionAck, User: "alice", Expires: t0.Add(24 * time.Hour)})
	payload, _, _ := strings.Cut(tok, ".")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, at := range []int{len(tok) - 1, len(payload) - 1} {
		for _, c := range []byte(alphabet) {
			if c == tok[at] {
				continue
			}
			other := []byte(tok)
			other[at] = c
			if _, err := s.Verify(string(other), t0); !errors.Is(err, email.ErrTokenInvalid) {
				t.Errorf("%q (character %d changed to %c) verified: %v", other, at, c, err)
			}
		}
	}
}

func TestSignRefusesBadClaims(t *testing.T) {
	t.Parallel()
	s := newSigner(t, 1)
	for _, c := range []email.Claims{
		{Incident: 0, Action: email.ActionAck, User: "alice", Expires: t0},
		{Incident: 1, Action: "escalate", User: "alice", Expires: t0},
		{Incident: 1, Action: email.ActionAck, User: "", Expires: t0},
		{Incident: 1, Action: email.ActionAck, User: "alice"},
	} {
		if _, err := s.Sign(c); err == nil {
			t.Errorf("Sign(%+v) succeeded", c)
		}
	}
	if _, err := email.NewSigner(make([]byte, 16)); err == nil {
		t.Error("NewSigner accepted a 16-byte key")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
