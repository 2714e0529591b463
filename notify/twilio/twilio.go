// Package twilio sends pages by SMS and by voice call through Twilio's REST
// API (with twilio-go), and classifies Twilio's failures for the delivery
// policy: an invalid, unreachable or unsubscribed number is permanent (the
// user's next rule is brought forward), 429 is a rate limit, 5xx and
// network failures are temporary (retried).
//
// What comes back from Twilio (replies to SMS, key presses in a call,
// delivery reports) is served by api/twilio; the URLs it serves are the
// ones the channels hand Twilio here, under Config.PublicURL:
//
//	/v1/twilio/status               StatusCallback of every message and call
//	/v1/twilio/voice?incident=<id>  the TwiML of a call about an incident
//
// Phone numbers and the auth token never appear in clear in an error or a
// log line: numbers are masked like +1415•••0100 (Mask).
package twilio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/oncall/oncall/notify"
)

// DefaultAPIURL is Twilio's REST base.
const DefaultAPIURL = "https://api.twilio.com"

// Paths under Config.PublicURL that api/twilio serves.
const (
	PathSMS    = "/v1/twilio/sms"
	PathVoice  = "/v1/twilio/voice"
	PathStatus = "/v1/twilio/status"
)

// Config is a Twilio account and where its callbacks reach us.
type Config struct {
	AccountSID string // AC…, alphanumeric
	AuthToken  string // alphanumeric; also signs the callbacks
	From       string // our Twilio number, E.164
	APIURL     string // Twilio's REST base (DefaultAPIURL when empty); a fake's in tests
	// PublicURL is our HTTP API's base as Twilio reaches it (ONCALL_PUBLIC_URL):
	// the status callbacks and a call's TwiML are fetched under it. Without
	// it, SMS go out without delivery reports and calls cannot be made.
	PublicURL string
	// HTTPClient is the base of the REST calls (its transport and timeout
	// are used, its redirects are not followed); http.DefaultTransport when
	// nil.
	HTTPClient *http.Client
	// Timeout bounds one REST call whatever its context says, so that a
	// Twilio that accepts the connection and never answers cannot hold a
	// worker: HTTPClient's timeout when set, else DefaultTimeout. The notify
	// worker's own limit (ONCALL_SEND_TIMEOUT) is usually shorter.
	Timeout time.Duration
	// OptedOut, when set, is asked before every SMS whether the number
	// opted out (replied STOP); such a send fails at once as permanent,
	// without a call to Twilio. Twilio itself refuses to text an
	// unsubscribed number (error 21610, also permanent), so this only saves
	// the round trip and keeps the refusal on our side when the account's
	// opt-out handling is off. The server wires it to store.SMSPhoneOptedOut.
	OptedOut func(ctx context.Context, phone string) (bool, error)
}

// DefaultTimeout bounds a REST call when Config sets no timeout.
const DefaultTimeout = 30 * time.Second

// conn is what both channels share: the account and the REST client.
type conn struct {
	cfg       Config
	base      *url.URL
	transport http.RoundTripper
	timeout   time.Duration
}

func newConn(cfg Config) *conn {
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	base, err := url.Parse(strings.TrimRight(cfg.APIURL, "/"))
	if err != nil || base.Host == "" {
		base = nil // every send fails as permanent: the configuration is wrong
	}
	var rt http.RoundTripper = http.DefaultTransport
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		rt = cfg.HTTPClient.Transport
	}
	timeout := cfg.Timeout
	if timeout <= 0 && cfg.HTTPClient != nil {
		timeout = cfg.HTTPClient.Timeout
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &conn{cfg: cfg, base: base, transport: rt, timeout: timeout}
}

// api is a Twilio API service for one request: twilio-go fixes its base
// URL to api.twilio.com and builds requests without a context, so each
// call gets a client whose transport moves the request to Config.APIURL,
// attaches ctx (deadline and cancellation) and keeps what twilio-go's
// error leaves out (the HTTP status, Retry-After).
func (c *conn) api(ctx context.Context) (*openapi.ApiService, *exchange, error) {
	if !alnum.MatchString(c.cfg.AccountSID) || !alnum.MatchString(c.cfg.AuthToken) || c.cfg.AccountSID == "" || c.cfg.AuthToken == "" {
		return nil, nil, notify.Permanent(errors.New("twilio: account SID and auth token must be alphanumeric"))
	}
	if c.base == nil {
		return nil, nil, notify.Permanent(errors.New("twilio: invalid API URL"))
	}
	ex := &exchange{ctx: ctx, base: c.base, next: c.transport}
	cl := &client.Client{
		Credentials: client.NewCredentials(c.cfg.AccountSID, c.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport:     ex,
			Timeout:       c.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		UserAgentExtensions: []string{"oncall"},
	}
	cl.SetAccountSid(c.cfg.AccountSID)
	// No TWILIO_EDGE / TWILIO_REGION from the environment: the host is ours to choose.
	return openapi.NewApiService(&client.RequestHandler{Client: cl}), ex, nil
}

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// exchange is the transport of one REST call.
type exchange struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper

	mu         sync.Mutex
	status     int
	retryAfter time.Duration
}

func (e *exchange) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(e.ctx)
	r.URL.Scheme, r.URL.Host = e.base.Scheme, e.base.Host
	if p := strings.TrimRight(e.base.Path, "/"); p != "" {
		r.URL.Path = p + r.URL.Path
		r.URL.RawPath = ""
	}
	r.Host = ""
	resp, err := e.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.status = resp.StatusCode
	e.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	e.mu.Unlock()
	return resp, nil
}

func (e *exchange) result() (int, time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status, e.retryAfter
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// defaultRetryAfter is the wait after a 429 that names none.
const defaultRetryAfter = 2 * time.Second

// Twilio error codes that say why a number cannot be reached. Every 4xx
// answer but 429 is permanent; these only get a plainer reason.
var errorReasons = map[int]string{
	20003: "authentication failed (check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)",
	13223: "invalid phone number",
	13224: "invalid phone number",
	21211: "invalid phone number",
	21214: "the number cannot be reached",
	21215: "calls to this region are not enabled (geo permissions)",
	21216: "the number is blocked",
	21217: "invalid phone number",
	21219: "trial accounts may only call verified numbers",
	21401: "invalid phone number",
	21408: "SMS to this region are not enabled (geo permissions)",
	21421: "invalid phone number",
	21606: "the From number cannot send SMS",
	21608: "trial accounts may only text verified numbers",
	21610: "the recipient unsubscribed (replied STOP)",
	21612: "SMS to this number cannot be routed",
	21614: "not a mobile number",
}

// classify turns a failed REST call into an error the delivery policy
// understands, with numbers and the token masked.
func (c *conn) classify(what, to string, ex *exchange, err error) error {
	status, retryAfter := 0, time.Duration(0)
	if ex != nil {
		status, retryAfter = ex.result()
	}
	var rest *client.TwilioRestError
	var restV1 *client.RestErrorV1
	code, msg := 0, ""
	switch {
	case errors.As(err, &rest):
		code, msg = rest.Code, rest.Message
		if rest.Status != 0 {
			status = rest.Status
		}
	case errors.As(err, &restV1):
		code, msg = restV1.Code, restV1.Message
		if restV1.HttpStatusCode != 0 {
			status = restV1.HttpStatusCode
		}
	}
	prefix := "twilio: " + what + " to " + Mask(to) + ": "
	if status == 0 || status < 400 { // never answered: a network failure, a timeout, an unreadable answer
		if ctxErr := ctxError(err); ctxErr != nil {
			return fmt.Errorf("%s%w", prefix, ctxErr)
		}
		return fmt.Errorf("%s%s", prefix, c.redact(err.Error()))
	}
	detail := fmt.Sprintf("HTTP %d", status)
	if code != 0 {
		detail += fmt.Sprintf(", error %d", code)
	}
	reason := errorReasons[code]
	if reason == "" {
		reason = c.redact(msg)
	}
	if reason == "" {
		reason = http.StatusText(status)
	}
	e := &Error{Status: status, Code: code, msg: prefix + reason + " (" + detail + ")"}
	switch {
	case status == http.StatusTooManyRequests || code == 20429:
		if retryAfter <= 0 {
			retryAfter = defaultRetryAfter
		}
		return &notify.RateLimitedError{RetryAfter: retryAfter, Err: e}
	case status >= 500:
		return e
	default:
		return notify.Permanent(e)
	}
}

// ctxError is the context's error when err is a cancellation or deadline
// (the client's own timeout counts as the deadline: the call timed out).
func ctxError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	}
	return nil
}

// Error is Twilio's answer to a failed request, as the channels report it.
type Error struct {
	Status int // HTTP status
	Code   int // Twilio error code (https://www.twilio.com/docs/api/errors), 0 when none
	msg    string
}

func (e *Error) Error() string { return e.msg }

// phoneRE finds what looks like a phone number in a provider's message.
var phoneRE = regexp.MustCompile(`\+?[0-9][0-9 ()./-]{5,}[0-9]`)

// redact masks phone numbers and the auth token in s.
func (c *conn) redact(s string) string {
	if c.cfg.AuthToken != "" {
		s = strings.ReplaceAll(s, c.cfg.AuthToken, "•••")
	}
	return phoneRE.ReplaceAllStringFunc(s, func(m string) string {
		digits := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits < 7 {
			return m // a date, a count
		}
		return Mask(m)
	})
}

// Mask shows a phone number as its country and area code and its last four
// digits: +14155550100 as +1415•••0100. Short strings lose all but two
// characters at each end.
func Mask(phone string) string {
	switch n := len(phone); {
	case n == 0:
		return ""
	case n >= 10:
		return phone[:5] + "•••" + phone[n-4:]
	case n > 4:
		return phone[:2] + "•••" + phone[n-2:]
	default:
		return "•••"
	}
}

// statusCallback is the URL Twilio reports a message's or call's progress to.
func (c *conn) statusCallback() string {
	if c.cfg.PublicURL == "" {
		return ""
	}
	return c.cfg.PublicURL + PathStatus
}

// VoiceURL is the TwiML URL of a call about incident id under publicURL.
func VoiceURL(publicURL string, id int64) string {
	return strings.TrimRight(publicURL, "/") + PathVoice + "?incident=" + strconv.FormatInt(id, 10)
}
