package email

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Actions an email link can ask for.
const (
	ActionAck     = "ack"
	ActionResolve = "resolve"
)

// DefaultLinkTTL is how long an action link works.
const DefaultLinkTTL = 24 * time.Hour

// Token errors. Neither says more than that: a page that shows them must
// not help anyone forge a link.
var (
	ErrTokenInvalid = errors.New("invalid link")
	ErrTokenExpired = errors.New("expired link")
)

// Claims is what an action link lets its holder do: Action on incident
// Incident as User, until Expires.
type Claims struct {
	Incident int64
	Action   string // ActionAck or ActionResolve
	User     string // the user the email went to; the actor of the action
	Expires  time.Time
}

// Signer makes and checks action tokens: a capability that carries its
// claims in the clear and an HMAC-SHA256 over them. The format is
//
//	base64url("1:" id ":" action ":" unix-expiry ":" user) "." base64url(mac)
//
// where mac = HMAC-SHA256(key, "oncall email action\n" || payload). Tokens
// are not secret from their holder but cannot be changed or made without
// the key; every process of a deployment must use the same key
// (store.ServerSecret). Safe for concurrent use.
type Signer struct {
	key []byte
}

// macContext separates these MACs from any other use of the key.
const macContext = "oncall email action\n"

// NewSigner returns a signer with key, which must be at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("email link key: want at least 32 bytes, got %d", len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Sign returns the token of c.
func (s *Signer) Sign(c Claims) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	payload := "1:" + strconv.FormatInt(c.Incident, 10) + ":" + c.Action + ":" +
		strconv.FormatInt(c.Expires.Unix(), 10) + ":" + c.User
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(s.mac([]byte(payload))), nil
}

// Verify checks token and returns its claims: ErrTokenInvalid when it is
// malformed or was not signed with this key (changed in any way),
// ErrTokenExpired when it was but its expiry is not after now.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	enc, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 1024 {
		return Claims{}, ErrTokenInvalid
	}
	// Strict: a token has one spelling (lenient decoding ignores the
	// padding bits of the last character, so others would pass).
	payload, err1 := strictB64.DecodeString(enc)
	mac, err2 := strictB64.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(payload)) {
		return Claims{}, ErrTokenInvalid
	}
	// Signed by us: the rest can fail only for a token of another version.
	f := strings.SplitN(string(payload), ":", 5)
	if len(f) != 5 || f[0] != "1" {
		return Claims{}, ErrTokenInvalid
	}
	id, err1 := strconv.ParseInt(f[1], 10, 64)
	exp, err2 := strconv.ParseInt(f[3], 10, 64)
	c := Claims{Incident: id, Action: f[2], User: f[4], Expires: time.Unix(exp, 0).UTC()}
	if err1 != nil || err2 != nil || c.check() != nil {
		return Claims{}, ErrTokenInvalid
	}
	if !now.Before(c.Expires) {
		return Claims{}, ErrTokenExpired
	}
	return c, nil
}

var strictB64 = base64.RawURLEncoding.Strict()

func (s *Signer) mac(payload []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(macContext))
	h.Write(payload)
	return h.Sum(nil)
}

func (c Claims) check() error {
	switch {
	case c.Incident <= 0:
		return fmt.Errorf("email link: incident id %d", c.Incident)
	case c.Action != ActionAck && c.Action != ActionResolve:
		return fmt.Errorf("email link: unknown action %q", c.Action)
	case c.User == "":
		return errors.New("email link: no user")
	case c.Expires.IsZero():
		return errors.New("email link: no expiry")
	}
	return nil
}
