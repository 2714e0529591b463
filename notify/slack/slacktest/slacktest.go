// Package slacktest is a fake Slack for tests: the Web API and Socket Mode, spoken in
// Slack's own wire formats, so that the real slack-go client (and so our code) can run
// against it without a network.
//
// Point slack-go at it with slack.OptionAPIURL(srv.APIURL()) and the tokens
// srv.BotToken() and srv.AppToken(). The fake records every call and keeps the state
// the calls build (messages, views, user groups), injects faults (rate limits, 5xx,
// dropped sockets), and pushes Socket Mode envelopes (slash commands, block actions,
// view submissions, Events API events) whose acks tests can wait for.
//
// The package deliberately does not import slack-go: every payload is written from
// Slack's documented shapes, and the package's own tests decode them with slack-go.
package slacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Identities of the fake workspace and app.
const (
	DefaultBotToken   = "xoxb-1-slacktest-bot-token"
	DefaultAppToken   = "xapp-1-A0SLACKTEST-1-slacktest-app-token"
	TeamID            = "T0SLACKTEST"
	TeamDomain        = "slacktest"
	TeamName          = "Slack Test"
	AppID             = "A0SLACKTEST"
	BotUserID         = "U0SLACKBOT"
	BotID             = "B0SLACKBOT"
	BotName           = "oncall"
	VerificationToken = "slacktest-verification-token"
)

// Envelope types Slack sends over Socket Mode.
const (
	TypeEventsAPI     = "events_api"
	TypeInteractive   = "interactive"
	TypeSlashCommands = "slash_commands"
)

type config struct {
	botToken     string
	appToken     string
	pingInterval time.Duration
	ackTimeout   time.Duration
	maxRetries   int
	redeliver    map[string]bool
	triggerTTL   time.Duration
	postInterval time.Duration
}

// Option configures a Server.
type Option func(*config)

// WithTokens sets the bot token (xoxb-) the Web API accepts and the app-level token
// (xapp-) apps.connections.open accepts.
func WithTokens(bot, app string) Option {
	return func(c *config) { c.botToken, c.appToken = bot, app }
}

// WithPingInterval sets how often the fake sends a WebSocket ping on each Socket Mode
// connection (default 2 s; slack-go reconnects after 30 s without one). Zero or less
// sends none.
func WithPingInterval(d time.Duration) Option {
	return func(c *config) { c.pingInterval = d }
}

// WithAckTimeout sets how long the fake waits for an envelope's ack before it gives up
// on that delivery (default 3 s, as Slack). Envelopes of a re-delivered type are then
// sent again; others are marked timed out. Zero or less never times out.
func WithAckTimeout(d time.Duration) Option {
	return func(c *config) { c.ackTimeout = d }
}

// WithMaxRetries sets how many times an unacked envelope is re-delivered (default 3).
func WithMaxRetries(n int) Option {
	return func(c *config) { c.maxRetries = n }
}

// WithRedelivery sets the envelope types that are re-delivered after an ack timeout.
// The default is TypeEventsAPI only: Slack retries Events API deliveries (with
// retry_attempt and retry_reason) but not slash commands or interactive payloads, whose
// user sees an error instead. Pass TypeInteractive or TypeSlashCommands to re-deliver
// those too; pass nothing to re-deliver none.
func WithRedelivery(types ...string) Option {
	return func(c *config) {
		c.redeliver = map[string]bool{}
		for _, t := range types {
			c.redeliver[t] = true
		}
	}
}

// WithTriggerTTL sets how long a trigger_id issued by the fake stays valid for
// views.open and views.push (default 3 s, as Slack). Zero or less never expires.
func WithTriggerTTL(d time.Duration) Option {
	return func(c *config) { c.triggerTTL = d }
}

// WithChannelPostInterval makes chat.postMessage answer 429 (Retry-After: 1) when the
// same channel was posted to less than d ago, like Slack's limit of about one message
// per second per channel. Off by default.
func WithChannelPostInterval(d time.Duration) Option {
	return func(c *config) { c.postInterval = d }
}

// Server is a fake Slack. Create it with New; it is safe for concurrent use.
type Server struct {
	t   testing.TB
	cfg config
	hs  *httptest.Server

	quit chan struct{}
	kick chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{}
	closed  bool
	seq     int64 // for ids
	tsSeq   int64 // for message timestamps

	calls       []Call
	faults      map[string][]fault
	users       map[string]*user
	userOrder   []string
	channels    map[string]string // id -> name
	messages    map[string][]*message
	byTS        map[[2]string]*message // {channel, ts}: a run that posts 10,000 pages looks each up
	lostAnswers map[string]int         // method -> calls carried out whose answer is lost
	ephemerals  map[string][]Ephemeral
	dms         map[string]bool
	lastPost    map[string]time.Time
	views       map[string]*view
	homes       map[string]string // user -> view id
	triggers    map[string]*trigger
	groups      map[string]*userGroup
	groupOrder  []string

	tickets     map[string]bool
	conns       map[int]*sockConn
	connSeq     int
	handshaking int
	connects    int
	connLog     []ConnInfo
	rr          int
	envs        map[string]*envelope
	envOrder    []string
	queue       []*envelope
	strayAcks   []Ack
	loseAcks    int // acks still to lose (LoseNextAcks)
}

// New starts a fake Slack and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config{
		botToken:     DefaultBotToken,
		appToken:     DefaultAppToken,
		pingInterval: 2 * time.Second,
		ackTimeout:   3 * time.Second,
		maxRetries:   3,
		redeliver:    map[string]bool{TypeEventsAPI: true},
		triggerTTL:   3 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		t:           t,
		cfg:         cfg,
		quit:        make(chan struct{}),
		kick:        make(chan struct{}, 1),
		changed:     make(chan struct{}),
		faults:      map[string][]fault{},
		users:       map[string]*user{},
		channels:    map[string]string{},
		messages:    map[string][]*message{},
		byTS:        map[[2]string]*message{},
		lostAnswers: map[string]int{},
		ephemerals:  map[string][]Ephemeral{},
		dms:         map[string]bool{},
		lastPost:    map[string]time.Time{},
		views:       map[string]*view{},
		homes:       map[string]string{},
		triggers:    map[string]*trigger{},
		groups:      map[string]*userGroup{},
		tickets:     map[string]bool{},
		conns:       map[int]*sockConn{},
		envs:        map[string]*envelope{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/link/", s.serveSocket)
	mux.HandleFunc("/commands/", s.serveResponseURL)
	mux.HandleFunc("/actions/", s.serveResponseURL)
	s.hs = httptest.NewServer(mux)
	s.wg.Add(1)
	go s.dispatch()
	t.Cleanup(s.Close)
	return s
}

// Close closes every Socket Mode connection, stops the server and waits for its
// goroutines. It is called when the test ends; calling it again does nothing.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := s.takeConnsLocked()
	close(s.quit)
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.kill()
	}
	s.hs.CloseClientConnections()
	s.hs.Close()
	s.wg.Wait()
}

// URL is the server's base URL (http://127.0.0.1:port, no trailing slash).
func (s *Server) URL() string { return s.hs.URL }

// APIURL is the Web API base for slack.OptionAPIURL; it ends in "/".
func (s *Server) APIURL() string { return s.hs.URL + "/api/" }

// BotToken is the bot token (xoxb-) the Web API accepts.
func (s *Server) BotToken() string { return s.cfg.botToken }

// AppToken is the app-level token (xapp-) apps.connections.open accepts.
func (s *Server) AppToken() string { return s.cfg.appToken }

// notifyLocked wakes every waiter. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitUntil blocks until cond returns true, re-evaluating it (without the server's lock
// held, so it may call the server's accessors) after every change of the fake's state:
// a call, an ack, a delivery, a connection, a pong. It returns ctx's error if ctx ends
// first.
func (s *Server) WaitUntil(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Call is one Web API request as the fake received it.
type Call struct {
	Method      string    // e.g. "chat.postMessage"; "response_url" for posts to a response_url
	Time        time.Time // when it arrived
	HTTPMethod  string    // GET or POST
	ContentType string    // media type of the body, e.g. "application/x-www-form-urlencoded"
	Token       string    // from the Authorization header, else the "token" form field
	// Params holds the form or query fields (without "token"), or for a JSON body its
	// top-level fields: strings as they are, other values as JSON text.
	Params url.Values
	JSON   []byte // the raw body of a JSON request
	Status int    // the HTTP status answered
	Error  string // the "error" answered when ok was false
	// Response is the JSON body answered.
	Response []byte
}

// Param returns the named parameter.
func (c Call) Param(name string) string { return c.Params.Get(name) }

// OK reports whether the call was answered 200 with "ok": true.
func (c Call) OK() bool { return c.Status == http.StatusOK && c.Error == "" }

// Calls returns the recorded calls of a method, or all calls when method is "".
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitFor blocks until a call (already recorded or still to come) satisfies pred and
// returns the first such call.
func (s *Server) WaitFor(ctx context.Context, pred func(Call) bool) (Call, error) {
	next := 0
	for {
		s.mu.Lock()
		calls := s.calls[next:len(s.calls):len(s.calls)]
		ch := s.changed
		s.mu.Unlock()
		for _, c := range calls {
			if pred(c) {
				return c, nil
			}
		}
		next += len(calls)
		select {
		case <-ch:
		case <-ctx.Done():
			return Call{}, fmt.Errorf("slacktest: no matching call (%d calls seen: %s): %w", next, s.callSummary(), ctx.Err())
		}
	}
}

// WaitForMethod blocks until a successful call of method arrives or has arrived.
func (s *Server) WaitForMethod(ctx context.Context, method string) (Call, error) {
	return s.WaitFor(ctx, func(c Call) bool { return c.Method == method && c.OK() })
}

func (s *Server) callSummary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for i, c := range s.calls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Method)
		if c.Error != "" {
			b.WriteString("=" + c.Error)
		} else if c.Status != http.StatusOK {
			fmt.Fprintf(&b, "=%d", c.Status)
		}
	}
	return b.String()
}

type fault struct {
	status     int
	retryAfter time.Duration
	slackErr   string
}

// FailNext makes the next n calls of method (or of every method, for "*") answer the
// HTTP status without doing anything. For 429 the answer carries Retry-After in whole
// seconds (rounded up) and the body {"ok":false,"error":"ratelimited"}, which slack-go
// turns into *slack.RateLimitedError; 5xx answers carry a plain-text body, which
// slack-go turns into slack.StatusCodeError.
func (s *Server) FailNext(method string, n int, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], fault{status: status, retryAfter: retryAfter})
	}
}

// LoseNextAnswers makes the next n calls of method be carried out (a message
// is posted) and their answers lost: the connection is closed without a
// response, as when the caller's network fails or its process dies while
// Slack answers.
func (s *Server) LoseNextAnswers(method string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lostAnswers[method] += n
}

// FailNextWith makes the next n calls of method (or "*") answer 200 with
// {"ok":false,"error":slackErr}, e.g. "channel_not_found" or "not_in_channel".
func (s *Server) FailNextWith(method string, n int, slackErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], fault{status: http.StatusOK, slackErr: slackErr})
	}
}

// FailNextIn is FailNext for the calls of method whose channel parameter is
// channel (as sent: a user id for a DM by chat.postMessage), so that one
// destination fails while others work. These faults come before FailNext's.
func (s *Server) FailNextIn(method, channel string, n int, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := method + " " + channel
	for range n {
		s.faults[key] = append(s.faults[key], fault{status: status, retryAfter: retryAfter})
	}
}

// takeFaultLocked takes the next fault scripted for a call of method in
// channel ("" when the call has none).
func (s *Server) takeFaultLocked(method, channel string) *fault {
	keys := []string{method, "*"}
	if channel != "" {
		keys = append([]string{method + " " + channel}, keys...)
	}
	for _, key := range keys {
		if fs := s.faults[key]; len(fs) > 0 {
			f := fs[0]
			s.faults[key] = fs[1:]
			return &f
		}
	}
	return nil
}

// AddChannel names a channel; the name is used in the payloads the fake pushes
// (channel_name, channel.name). Posting does not require it.
func (s *Server) AddChannel(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = name
}

// newIDLocked returns prefix followed by a zero-padded counter, e.g. "V0000000007".
func (s *Server) newIDLocked(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%010d", prefix, s.seq)
}

// nextTSLocked returns a unique, increasing message timestamp: "1700000000.000100",
// "1700000000.000200", ...
func (s *Server) nextTSLocked() string {
	s.tsSeq++
	micros := s.tsSeq * 100
	return fmt.Sprintf("%d.%06d", 1700000000+micros/1_000_000, micros%1_000_000)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random RFC 4122 version 4 UUID, the shape of Slack's envelope ids.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
