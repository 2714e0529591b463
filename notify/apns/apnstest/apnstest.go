// Package apnstest is a fake Apple Push Notification service for tests
// and demos: an HTTPS server speaking HTTP/2, as APNs does, that checks
// what APNs checks (the provider token's ES256 signature, key ID and team
// ID, the topic, the device token, the payload's size) and records every
// push it accepts. Tokens can be made unregistered (410 Unregistered) or
// made to fail with any status.
//
//	srv := apnstest.New(t)
//	ch, _ := apns.New(srv.Config())
//	... ch.Send(...) ...
//	pushes := srv.Pushes()
package apnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/apns"
)

// Push is one accepted push, as the fake received it.
type Push struct {
	DeviceToken   string
	Topic         string // apns-topic
	PushType      string // apns-push-type
	Priority      string // apns-priority
	CollapseID    string // apns-collapse-id
	Expiration    string // apns-expiration (Unix seconds)
	ID            string // apns-id, as answered
	Authorization string // "bearer <JWT>"
	Header        http.Header
	Body          []byte         // the payload as sent
	Payload       map[string]any // the payload, decoded
}

// APS is the payload's "aps" dictionary (empty when absent).
func (p Push) APS() map[string]any {
	aps, _ := p.Payload["aps"].(map[string]any)
	return aps
}

type failure struct {
	status int
	reason string
}

// Server is a running fake. Its fields are the credentials it accepts.
type Server struct {
	URL     string // the base URL (https://127.0.0.1:port), APNS_URL
	KeyFile string // a .p8 key the fake trusts, APNS_KEY_FILE
	KeyID   string // APNS_KEY_ID
	TeamID  string // APNS_TEAM_ID
	Topic   string // APNS_TOPIC: the bundle ID the fake accepts

	srv *httptest.Server
	pub *ecdsa.PublicKey

	mu       sync.Mutex
	pushes   []Push
	failures map[string]failure // by device token
	failNext []failure          // for any token, in order
	seq      int
}

// New starts a fake with a fresh signing key (written to a temporary
// file), stopped when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(tb.TempDir(), "AuthKey_FAKEKEY123.p8")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &Server{
		KeyFile: file, KeyID: "FAKEKEY123", TeamID: "FAKETEAM12", Topic: "com.example.oncall",
		pub: &key.PublicKey, failures: map[string]failure{},
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.EnableHTTP2 = true
	s.srv.StartTLS()
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// Client is an HTTP/2 client that trusts the fake's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Config is an apns.Config that reaches the fake.
func (s *Server) Config() apns.Config {
	return apns.Config{KeyFile: s.KeyFile, KeyID: s.KeyID, TeamID: s.TeamID, Topic: s.Topic, URL: s.URL, HTTPClient: s.Client()}
}

// Unregister makes the fake answer pushes to token 410 Unregistered, as
// APNs does once the app is uninstalled.
func (s *Server) Unregister(token string) { s.Fail(token, http.StatusGone, "Unregistered") }

// Fail makes the fake answer pushes to token with status and reason
// (e.g. 429 TooManyRequests, 500 InternalServerError).
func (s *Server) Fail(token string, status int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[strings.ToLower(token)] = failure{status, reason}
}

// FailNext makes the next push to any token fail with status and reason,
// once.
func (s *Server) FailNext(status int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, failure{status, reason})
}

// Pushes returns the accepted pushes, in order.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.pushes...)
}

// Reset forgets the recorded pushes.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushes = nil
}

// maxPayload is APNs' limit for an alert's payload.
const maxPayload = 4096

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	switch {
	case r.ProtoMajor != 2:
		http.Error(w, "APNs speaks HTTP/2 only", http.StatusHTTPVersionNotSupported)
		return
	case !ok:
		reject(w, http.StatusNotFound, "BadPath")
		return
	case r.Method != http.MethodPost:
		reject(w, http.StatusMethodNotAllowed, "MethodNotAllowed")
		return
	}
	if reason := s.checkAuth(r.Header.Get("authorization")); reason != "" {
		reject(w, http.StatusForbidden, reason)
		return
	}
	topic := r.Header.Get("apns-topic")
	switch {
	case topic == "":
		reject(w, http.StatusBadRequest, "MissingTopic")
		return
	case topic != s.Topic:
		reject(w, http.StatusBadRequest, "TopicDisallowed")
		return
	}
	if p := r.Header.Get("apns-priority"); p != "" && p != "5" && p != "10" && p != "1" {
		reject(w, http.StatusBadRequest, "BadPriority")
		return
	}
	if e := r.Header.Get("apns-expiration"); e != "" {
		if _, err := strconv.ParseInt(e, 10, 64); err != nil {
			reject(w, http.StatusBadRequest, "BadExpirationDate")
			return
		}
	}
	if len(r.Header.Get("apns-collapse-id")) > 64 {
		reject(w, http.StatusBadRequest, "BadCollapseId")
		return
	}
	if b, err := hex.DecodeString(token); err != nil || len(b) < 8 {
		reject(w, http.StatusBadRequest, "BadDeviceToken")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	switch {
	case err != nil || len(body) == 0:
		reject(w, http.StatusBadRequest, "PayloadEmpty")
		return
	case len(body) > maxPayload:
		reject(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge")
		return
	}
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil {
		reject(w, http.StatusBadRequest, "BadPayload") // not a reason APNs names; it never sees one of ours
		return
	}

	s.mu.Lock()
	f, failing := s.failures[strings.ToLower(token)]
	if !failing && len(s.failNext) > 0 {
		f, failing = s.failNext[0], true
		s.failNext = s.failNext[1:]
	}
	var id string
	if !failing {
		s.seq++
		id = r.Header.Get("apns-id")
		if id == "" {
			id = fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq)
		}
		s.pushes = append(s.pushes, Push{
			DeviceToken: token, Topic: topic, PushType: r.Header.Get("apns-push-type"),
			Priority: r.Header.Get("apns-priority"), CollapseID: r.Header.Get("apns-collapse-id"),
			Expiration: r.Header.Get("apns-expiration"), ID: id, Authorization: r.Header.Get("authorization"),
			Header: r.Header.Clone(), Body: body, Payload: payload,
		})
	}
	s.mu.Unlock()

	if failing {
		if f.status == http.StatusGone {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.status)
			_ = json.NewEncoder(w).Encode(map[string]any{"reason": f.reason, "timestamp": time.Now().UnixMilli()})
			return
		}
		reject(w, f.status, f.reason)
		return
	}
	w.Header().Set("apns-id", id)
	w.WriteHeader(http.StatusOK)
}

// checkAuth verifies a provider token as APNs does; it returns the reason
// of the refusal, or "".
func (s *Server) checkAuth(h string) string {
	jwt, ok := strings.CutPrefix(h, "bearer ")
	if !ok || jwt == "" {
		return "MissingProviderToken"
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "InvalidProviderToken"
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss string `json:"iss"`
		Iat int64  `json:"iat"`
	}
	if decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil {
		return "InvalidProviderToken"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 || header.Alg != "ES256" || header.Kid != s.KeyID || claims.Iss != s.TeamID {
		return "InvalidProviderToken"
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(s.pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "InvalidProviderToken"
	}
	if age := time.Since(time.Unix(claims.Iat, 0)); age > time.Hour || age < -time.Hour {
		return "ExpiredProviderToken"
	}
	return ""
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func reject(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"reason": reason})
}
