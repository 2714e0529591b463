// Package fcmtest is a fake Firebase Cloud Messaging for tests and demos:
// an HTTP server with Google's OAuth 2.0 token endpoint (the JWT-bearer
// grant a service account key makes, its RS256 signature checked) and the
// FCM HTTP v1 send endpoint (POST /v1/projects/{project}/messages:send,
// answering as FCM does, errors included). It records every message it
// accepts. Tokens can be made unregistered (404 UNREGISTERED) or made to
// fail with any status and FCM error code.
//
//	srv := fcmtest.New(t)
//	ch, _ := fcm.New(srv.Config())
//	... ch.Send(...) ...
//	msgs := srv.Messages()
package fcmtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/oncall/oncall/notify/fcm"
)

// Message is one accepted message, as the fake received it.
type Message struct {
	Project string
	Token   string            // message.token
	Data    map[string]string // message.data
	Android Android           // message.android
	Raw     map[string]any    // the whole message object
}

// Android is the message's android block.
type Android struct {
	Priority    string `json:"priority"`
	TTL         string `json:"ttl"`
	CollapseKey string `json:"collapse_key"`
}

type failure struct {
	status int
	code   string // FCM's errorCode, e.g. UNREGISTERED
}

// Server is a running fake.
type Server struct {
	URL             string // the base URL, FCM_URL
	CredentialsFile string // a service account key the fake trusts, FCM_CREDENTIALS_FILE
	ProjectID       string

	srv *httptest.Server
	pub *rsa.PublicKey

	mu       sync.Mutex
	tokens   map[string]bool // access tokens issued
	messages []Message
	failures map[string]failure
	seq      int
}

// New starts a fake with a fresh service account key (written to a
// temporary file), stopped when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{ProjectID: "oncall-fake", pub: &key.PublicKey, tokens: map[string]bool{}, failures: map[string]failure{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	creds, _ := json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": s.ProjectID, "private_key_id": "fakekey1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "oncall@" + s.ProjectID + ".iam.gserviceaccount.com", "client_id": "1",
		"token_uri": s.URL + "/token",
	}, "", "  ")
	s.CredentialsFile = filepath.Join(tb.TempDir(), "firebase-service-account.json")
	if err := os.WriteFile(s.CredentialsFile, creds, 0o600); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Config is an fcm.Config that reaches the fake.
func (s *Server) Config() fcm.Config {
	return fcm.Config{CredentialsFile: s.CredentialsFile, URL: s.URL}
}

// Unregister makes the fake answer messages to token 404 UNREGISTERED, as
// FCM does once the app is uninstalled.
func (s *Server) Unregister(token string) { s.Fail(token, http.StatusNotFound, "UNREGISTERED") }

// Fail makes the fake answer messages to token with status and FCM error
// code (e.g. 429 QUOTA_EXCEEDED, 503 UNAVAILABLE).
func (s *Server) Fail(token string, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[token] = failure{status, code}
}

// Messages returns the accepted messages, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/token":
		s.token(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/projects/") && strings.HasSuffix(r.URL.Path, "/messages:send"):
		s.send(w, r, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/projects/"), "/messages:send"))
	default:
		googleError(w, http.StatusNotFound, "NOT_FOUND", "", "no such endpoint "+r.Method+" "+r.URL.Path)
	}
}

// token is Google's OAuth 2.0 token endpoint for a service account's
// signed assertion (RFC 7523).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, "unsupported_grant_type")
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		oauthError(w, "invalid_grant")
		return
	}
	var claims struct {
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || decodeSegment(parts[1], &claims) != nil ||
		rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, digest[:], sig) != nil || !strings.Contains(claims.Scope, "firebase.messaging") {
		oauthError(w, "invalid_grant")
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := "ya29.fake-" + hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, project string) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	authed := s.tokens[tok]
	s.mu.Unlock()
	if !authed {
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "", "Request had invalid authentication credentials.")
		return
	}
	if project != s.ProjectID {
		googleError(w, http.StatusForbidden, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req struct {
		ValidateOnly bool           `json:"validate_only"`
		Message      map[string]any `json:"message"`
	}
	if err != nil || json.Unmarshal(body, &req) != nil || req.Message == nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	var m struct {
		Token   string            `json:"token"`
		Data    map[string]string `json:"data"`
		Android Android           `json:"android"`
	}
	raw, _ := json.Marshal(req.Message)
	if err := json.Unmarshal(raw, &m); err != nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid value in message: "+err.Error())
		return
	}
	if m.Token == "" {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
		return
	}
	if n := len(raw); n > 4096+512 { // FCM's 4 KiB of data, with room for the rest
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", fmt.Sprintf("Message is too big (%d bytes)", n))
		return
	}
	s.mu.Lock()
	f, failing := s.failures[m.Token]
	var name string
	if !failing && !req.ValidateOnly {
		s.seq++
		name = fmt.Sprintf("projects/%s/messages/0:%d", project, s.seq)
		s.messages = append(s.messages, Message{Project: project, Token: m.Token, Data: m.Data, Android: m.Android, Raw: req.Message})
	}
	s.mu.Unlock()
	if failing {
		status := map[int]string{400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}[f.status]
		googleError(w, f.status, status, f.code, "fake failure "+f.code)
		return
	}
	if name == "" {
		name = fmt.Sprintf("projects/%s/messages/fake_message_id", project)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"name": name})
}

// googleError is a Google API error, with FCM's error code in its details.
func googleError(w http.ResponseWriter, status int, statusName, fcmCode, msg string) {
	e := map[string]any{"code": status, "message": msg, "status": statusName}
	if fcmCode != "" {
		e["details"] = []map[string]string{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcmCode}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func oauthError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
