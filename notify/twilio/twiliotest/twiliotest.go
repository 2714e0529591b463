// Package twiliotest is a fake Twilio for tests and demos. It speaks the
// REST API's wire format as twilio-go uses it (form-encoded POSTs to
// /2010-04-01/Accounts/{AccountSid}/Messages.json and Calls.json with
// basic auth, JSON resources and errors back), records what was sent, and
// plays Twilio's part of the conversation with our webhooks, every request
// signed with X-Twilio-Signature as Twilio signs it:
//
//   - an inbound SMS to our number (SendSMS), its TwiML reply read back;
//     STOP and START are honoured as Twilio's Advanced Opt-Out does (an
//     opted-out number cannot be texted: error 21610);
//   - delivery reports to a message's or call's StatusCallback
//     (Deliver, Undeliver, MessageStatus, CallStatus);
//   - answering a call (Answer): the call's Url is fetched, its TwiML run
//     (<Say> is what the phone hears, <Gather> waits for Press, <Redirect>
//     is followed, <Hangup> ends the call), and the end of the call is
//     reported to the StatusCallback.
//
// Failures are scripted with FailNext (the next requests fail with a
// status, as an outage or a rate limit) and FailNumber (a number Twilio
// refuses, as an invalid one).
package twiliotest

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/twilio"
)

// Defaults of a new server: alphanumeric, as twilio-go requires.
const (
	DefaultAccountSID = "AC00000000000000000000000000000001"
	DefaultAuthToken  = "fa4e0a07c0ffee00d15ea5ed0000beef"
	DefaultNumber     = "+15005550006"
)

// Server is a fake Twilio account with one phone number.
type Server struct {
	AccountSID string
	AuthToken  string
	Number     string // our Twilio number: the only From it accepts, the To of inbound SMS
	URL        string // the REST base (Config.APIURL)
	// SMSWebhook is where an SMS to Number is posted (our /v1/twilio/sms);
	// Connect sets it.
	SMSWebhook string
	// VoiceWebhook is where a call to Number fetches its TwiML (our
	// /v1/twilio/voice); Connect sets it.
	VoiceWebhook string

	srv    *httptest.Server
	client *http.Client

	mu       sync.Mutex
	seq      int
	messages []*Message
	calls    []*Call
	attempts []Attempt
	failures []Failure
	numbers  map[string]Failure
	optedOut map[string]bool
	now      func() time.Time
	quit     chan struct{} // closed by Close: hung requests end
	quitOnce sync.Once
}

// Message is a text message, sent by us (Direction outbound-api) or to us
// (inbound).
type Message struct {
	SID            string
	From, To       string
	Body           string
	Status         string // queued, sent, delivered, undelivered, failed; received for inbound
	ErrorCode      int
	StatusCallback string
	Direction      string
	Created        time.Time
}

// Call is a call we made, or one to our number (Direction inbound).
type Call struct {
	Direction      string // outbound-api (made through the API) or inbound
	SID            string
	From, To       string
	URL            string // where its TwiML is fetched
	Method         string // of URL: POST (default) or GET
	StatusCallback string
	CallbackMethod string
	CallbackEvents []string // StatusCallbackEvent: initiated, ringing, answered, completed
	Status         string   // queued, ringing, in-progress, completed, busy, no-answer, failed, canceled
	Created        time.Time
}

// Attempt is one create request, successful or not.
type Attempt struct {
	Kind   string // "message" or "call"
	To     string
	Status int // the HTTP status answered; 0 when the request hung (Failure.Hang)
	Code   int // the Twilio error code, 0 on success
}

// Failure is a scripted error answer.
type Failure struct {
	Status     int    // HTTP status
	Code       int    // Twilio error code; the status's usual one when 0
	Message    string // Twilio's message; a stock one when empty
	RetryAfter string // the Retry-After header of a 429 ("1" when empty)
	// Hang makes the fake answer nothing at all until the client gives up
	// (a provider that accepted the connection and hangs); the attempt is
	// recorded with Status 0 and nothing is created.
	Hang bool
}

// New starts a fake Twilio, closed when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer()
	tb.Cleanup(s.Close)
	return s
}

// NewServer starts a fake Twilio; Close it when done.
func NewServer() *Server {
	s := &Server{
		AccountSID: DefaultAccountSID,
		AuthToken:  DefaultAuthToken,
		Number:     DefaultNumber,
		client:     &http.Client{Timeout: 30 * time.Second},
		numbers:    map[string]Failure{},
		optedOut:   map[string]bool{},
		now:        func() time.Time { return time.Now().UTC() },
		quit:       make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.createMessage)
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Calls.json", s.createCall)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages/{id}", s.fetchMessage)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Calls/{id}", s.fetchCall)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		restError(w, Failure{Status: http.StatusNotFound, Code: 20404, Message: "The requested resource " + r.URL.Path + " was not found"})
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.quitOnce.Do(func() { close(s.quit) })
	s.srv.Close()
}

// HangNext makes the next n create requests hang until the client gives up
// (FailNextWith with Failure{Hang: true}).
func (s *Server) HangNext(n int) { s.FailNextWith(n, Failure{Hang: true}) }

// Connect points the number's SMS webhook at publicURL (our server) and
// returns the channels' configuration for this account.
func (s *Server) Connect(publicURL string) twilio.Config {
	publicURL = strings.TrimRight(publicURL, "/")
	s.mu.Lock()
	s.SMSWebhook = publicURL + twilio.PathSMS
	s.VoiceWebhook = publicURL + twilio.PathVoice
	s.mu.Unlock()
	return twilio.Config{AccountSID: s.AccountSID, AuthToken: s.AuthToken, From: s.Number, APIURL: s.URL, PublicURL: publicURL}
}

// DialWebhooksTo makes every request to our server (webhooks, status
// callbacks, TwiML) connect to addr (host:port) whatever its URL's host,
// as a load balancer in front of the server would: the URLs, and so the
// signatures, stay the public ones (ONCALL_PUBLIC_URL), which need not
// resolve in a test.
func (s *Server) DialWebhooksTo(addr string) {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}
	s.mu.Lock()
	s.client = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	s.mu.Unlock()
}

// FailNext makes the next n create requests (messages or calls) fail with
// the HTTP status and its usual Twilio error (500 → 20500, 503 → 20503,
// 429 → 20429 with Retry-After: 1, 400 → 21211).
func (s *Server) FailNext(n, status int) { s.FailNextWith(n, Failure{Status: status}) }

// FailNextWith makes the next n create requests fail with f.
func (s *Server) FailNextWith(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// FailNumber makes every message and call to number fail with code
// (HTTP 400): 21211 invalid number, 21614 not a mobile number, 21408
// region not enabled... FailNumber(number, 0) lifts it.
func (s *Server) FailNumber(number string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.numbers, number)
		return
	}
	s.numbers[number] = Failure{Status: http.StatusBadRequest, Code: code}
}

// OptedOut reports whether number replied STOP (and not START since).
func (s *Server) OptedOut(number string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.optedOut[number]
}

// Messages lists the messages sent through the API, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages))
	for _, m := range s.messages {
		if m.Direction != "inbound" {
			out = append(out, *m)
		}
	}
	return out
}

// MessagesTo lists the messages sent to number, oldest first.
func (s *Server) MessagesTo(number string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.To == number {
			out = append(out, m)
		}
	}
	return out
}

// Calls lists the calls made, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, 0, len(s.calls))
	for _, c := range s.calls {
		if c.Direction != "inbound" {
			out = append(out, *c)
		}
	}
	return out
}

// Attempts lists every create request, failed ones too, oldest first.
func (s *Server) Attempts() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts)
}

// --- the REST API ---

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// stockErrors are the usual Twilio errors of a status.
var stockErrors = map[int]Failure{
	400: {Code: 21211, Message: "The 'To' number is not a valid phone number."},
	401: {Code: 20003, Message: "Authenticate"},
	404: {Code: 20404, Message: "The requested resource was not found"},
	429: {Code: 20429, Message: "Too Many Requests"},
	500: {Code: 20500, Message: "An internal server error has occurred"},
	503: {Code: 20503, Message: "Service unavailable"},
}

// codeMessages are Twilio's messages for the codes FailNumber takes.
var codeMessages = map[int]string{
	21211: "The 'To' number %s is not a valid phone number.",
	21214: "'To' phone number cannot be reached",
	21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: %s.",
	21610: "Attempt to send to unsubscribed recipient",
	21612: "The 'To' phone number: %s, is not currently reachable using the 'From' phone number via SMS.",
	21614: "'To' number %s is not a valid mobile number",
}

func restError(w http.ResponseWriter, f Failure) {
	if stock, ok := stockErrors[f.Status]; ok {
		if f.Code == 0 {
			f.Code = stock.Code
		}
		if f.Message == "" {
			f.Message = stock.Message
		}
	}
	if f.Message == "" {
		f.Message = http.StatusText(f.Status)
	}
	if f.Status == http.StatusTooManyRequests {
		ra := f.RetryAfter
		if ra == "" {
			ra = "1"
		}
		w.Header().Set("Retry-After", ra)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"code": f.Code, "message": f.Message, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", f.Code), "status": f.Status,
	})
}

// begin checks a create request's credentials and form, and applies a
// scripted failure; ok false when it answered.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, kind string) (form url.Values, ok bool) {
	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth || user != s.AccountSID || pass != s.AuthToken {
		restError(w, Failure{Status: http.StatusUnauthorized})
		return nil, false
	}
	if r.PathValue("sid") != s.AccountSID {
		restError(w, Failure{Status: http.StatusNotFound, Message: "The requested resource /2010-04-01/Accounts/" + r.PathValue("sid") + " was not found"})
		return nil, false
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		restError(w, Failure{Status: http.StatusBadRequest, Code: 20001, Message: "Content-Type must be application/x-www-form-urlencoded"})
		return nil, false
	}
	if err := r.ParseForm(); err != nil {
		restError(w, Failure{Status: http.StatusBadRequest, Code: 20001, Message: "unreadable form"})
		return nil, false
	}
	s.mu.Lock()
	var f *Failure
	if len(s.failures) > 0 {
		f = &s.failures[0]
		s.failures = s.failures[1:]
	} else if nf, ok := s.numbers[r.PostForm.Get("To")]; ok {
		f = &nf
	} else if kind == "message" && s.optedOut[r.PostForm.Get("To")] {
		f = &Failure{Status: http.StatusBadRequest, Code: 21610}
	}
	if f != nil && f.Hang {
		s.attempts = append(s.attempts, Attempt{Kind: kind, To: r.PostForm.Get("To")})
		s.mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
		return nil, false
	}
	if f != nil {
		ff := *f
		if stock, ok := stockErrors[ff.Status]; ok && ff.Code == 0 {
			ff.Code = stock.Code
		}
		if ff.Message == "" && codeMessages[ff.Code] != "" {
			ff.Message = codeMessages[ff.Code]
			if strings.Contains(ff.Message, "%s") {
				ff.Message = fmt.Sprintf(ff.Message, r.PostForm.Get("To"))
			}
		}
		s.attempts = append(s.attempts, Attempt{Kind: kind, To: r.PostForm.Get("To"), Status: ff.Status, Code: ff.Code})
		s.mu.Unlock()
		restError(w, ff)
		return nil, false
	}
	s.mu.Unlock()
	return r.PostForm, true
}

func (s *Server) refuse(w http.ResponseWriter, kind, to string, f Failure) {
	s.mu.Lock()
	s.attempts = append(s.attempts, Attempt{Kind: kind, To: to, Status: f.Status, Code: f.Code})
	s.mu.Unlock()
	restError(w, f)
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	form, ok := s.begin(w, r, "message")
	if !ok {
		return
	}
	to, from, body := form.Get("To"), form.Get("From"), form.Get("Body")
	switch {
	case to == "":
		s.refuse(w, "message", to, Failure{Status: 400, Code: 21604, Message: "A 'To' phone number is required."})
		return
	case from == "" && form.Get("MessagingServiceSid") == "":
		s.refuse(w, "message", to, Failure{Status: 400, Code: 21603, Message: "A 'From' phone number is required."})
		return
	case body == "" && form.Get("MediaUrl") == "" && form.Get("ContentSid") == "":
		s.refuse(w, "message", to, Failure{Status: 400, Code: 21602, Message: "Message body is required."})
		return
	case !e164.MatchString(to):
		s.refuse(w, "message", to, Failure{Status: 400, Code: 21211, Message: fmt.Sprintf("The 'To' number %s is not a valid phone number.", to)})
		return
	case from != s.Number:
		s.refuse(w, "message", to, Failure{Status: 400, Code: 21606,
			Message: fmt.Sprintf("The From phone number %s is not a valid, SMS-capable inbound phone number or short code for your account.", from)})
		return
	case len([]rune(body)) > 1600:
		s.refuse(w, "message", to, Failure{Status: 400, Code: 21617, Message: "The concatenated message body exceeds the 1600 character limit."})
		return
	}
	if cb := form.Get("StatusCallback"); cb != "" {
		if u, err := url.Parse(cb); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			s.refuse(w, "message", to, Failure{Status: 400, Code: 21609, Message: "Invalid StatusCallback URL"})
			return
		}
	}
	s.mu.Lock()
	s.seq++
	m := &Message{SID: fmt.Sprintf("SM%032x", s.seq), From: from, To: to, Body: body, Status: "queued",
		StatusCallback: form.Get("StatusCallback"), Direction: "outbound-api", Created: s.now()}
	s.messages = append(s.messages, m)
	s.attempts = append(s.attempts, Attempt{Kind: "message", To: to, Status: http.StatusCreated})
	res := s.messageJSON(m)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, res)
}

func (s *Server) createCall(w http.ResponseWriter, r *http.Request) {
	form, ok := s.begin(w, r, "call")
	if !ok {
		return
	}
	to, from := form.Get("To"), form.Get("From")
	switch {
	case to == "":
		s.refuse(w, "call", to, Failure{Status: 400, Code: 21201, Message: "No 'To' number is specified"})
		return
	case from == "":
		s.refuse(w, "call", to, Failure{Status: 400, Code: 21213, Message: "No 'From' number is specified"})
		return
	case form.Get("Url") == "" && form.Get("Twiml") == "" && form.Get("ApplicationSid") == "":
		s.refuse(w, "call", to, Failure{Status: 400, Code: 21205, Message: "Url parameter is required."})
		return
	case !e164.MatchString(to):
		s.refuse(w, "call", to, Failure{Status: 400, Code: 21211, Message: fmt.Sprintf("Invalid 'To' Phone Number: %s", to)})
		return
	case from != s.Number:
		s.refuse(w, "call", to, Failure{Status: 400, Code: 21210, Message: fmt.Sprintf("The source phone number provided, %s, is not yet verified for your account.", from)})
		return
	}
	method := strings.ToUpper(form.Get("Method"))
	if method == "" {
		method = http.MethodPost
	}
	cbMethod := strings.ToUpper(form.Get("StatusCallbackMethod"))
	if cbMethod == "" {
		cbMethod = http.MethodPost
	}
	s.mu.Lock()
	s.seq++
	c := &Call{Direction: "outbound-api", SID: fmt.Sprintf("CA%032x", s.seq), From: from, To: to, URL: form.Get("Url"), Method: method,
		StatusCallback: form.Get("StatusCallback"), CallbackMethod: cbMethod, CallbackEvents: form["StatusCallbackEvent"],
		Status: "queued", Created: s.now()}
	s.calls = append(s.calls, c)
	s.attempts = append(s.attempts, Attempt{Kind: "call", To: to, Status: http.StatusCreated})
	res := s.callJSON(c)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, res)
}

func (s *Server) fetchMessage(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	sid := strings.TrimSuffix(r.PathValue("id"), ".json")
	s.mu.Lock()
	m := s.message(sid)
	var res map[string]any
	if m != nil {
		res = s.messageJSON(m)
	}
	s.mu.Unlock()
	if m == nil {
		restError(w, Failure{Status: http.StatusNotFound})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) fetchCall(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	sid := strings.TrimSuffix(r.PathValue("id"), ".json")
	s.mu.Lock()
	c := s.call(sid)
	var res map[string]any
	if c != nil {
		res = s.callJSON(c)
	}
	s.mu.Unlock()
	if c == nil {
		restError(w, Failure{Status: http.StatusNotFound})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.AccountSID || pass != s.AuthToken || r.PathValue("sid") != s.AccountSID {
		restError(w, Failure{Status: http.StatusUnauthorized})
		return false
	}
	return true
}

func (s *Server) message(sid string) *Message {
	for _, m := range s.messages {
		if m.SID == sid {
			return m
		}
	}
	return nil
}

func (s *Server) call(sid string) *Call {
	for _, c := range s.calls {
		if c.SID == sid {
			return c
		}
	}
	return nil
}

// twilioTime is Twilio's RFC 2822 date.
func twilioTime(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func (s *Server) messageJSON(m *Message) map[string]any {
	uri := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + m.SID
	var errCode any
	if m.ErrorCode != 0 {
		errCode = m.ErrorCode
	}
	return map[string]any{
		"sid": m.SID, "account_sid": s.AccountSID, "messaging_service_sid": nil,
		"from": m.From, "to": m.To, "body": m.Body, "status": m.Status, "direction": m.Direction,
		"num_segments": strconv.Itoa(segments(m.Body)), "num_media": "0",
		"date_created": twilioTime(m.Created), "date_updated": twilioTime(m.Created), "date_sent": nil,
		"price": nil, "price_unit": "USD", "error_code": errCode, "error_message": nil,
		"api_version": "2010-04-01", "uri": uri + ".json",
		"subresource_uris": map[string]any{"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
	}
}

func (s *Server) callJSON(c *Call) map[string]any {
	uri := "/2010-04-01/Accounts/" + s.AccountSID + "/Calls/" + c.SID
	return map[string]any{
		"sid": c.SID, "account_sid": s.AccountSID, "parent_call_sid": nil,
		"to": c.To, "to_formatted": c.To, "from": c.From, "from_formatted": c.From,
		"status": c.Status, "direction": "outbound-api", "answered_by": nil, "api_version": "2010-04-01",
		"date_created": twilioTime(c.Created), "date_updated": twilioTime(c.Created),
		"start_time": nil, "end_time": nil, "duration": nil, "price": nil, "price_unit": "USD",
		"caller_name": nil, "forwarded_from": nil, "group_sid": nil, "phone_number_sid": "PN" + strings.Repeat("0", 32),
		"queue_time": "0", "trunk_sid": nil, "uri": uri + ".json",
		"subresource_uris": map[string]any{"notifications": uri + "/Notifications.json", "recordings": uri + "/Recordings.json"},
	}
}

// segments is how many SMS segments body takes (GSM-7 when every
// character is in the alphabet, else UCS-2).
func segments(body string) int {
	n, gsm := 0, true
	for _, r := range body {
		if strings.ContainsRune(gsmExtended, r) {
			n += 2
		} else if strings.ContainsRune(gsmBasic, r) {
			n++
		} else {
			gsm = false
		}
	}
	if !gsm {
		n = len([]rune(body))
		if n <= 70 {
			return 1
		}
		return (n + 66) / 67
	}
	if n <= 160 {
		return 1
	}
	return (n + 152) / 153
}

const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtended = "^{}\\[~]|€"
)

// Segments is how many SMS segments body takes, as Twilio counts them.
func Segments(body string) int { return segments(body) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// --- Twilio's requests to us ---

// Signature is X-Twilio-Signature of a POST to url with params: the
// base64 HMAC-SHA1, keyed with the auth token, of the URL followed by each
// parameter's name and value, sorted by name.
func Signature(authToken, url string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(url)
	for _, k := range keys {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Post sends a form POST to url as Twilio does, with signature as its
// X-Twilio-Signature ("" for none), and returns the answer's status and
// body. For tests of forged requests; the other methods sign.
func (s *Server) Post(ctx context.Context, url string, params url.Values, signature string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(params.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	s.mu.Lock()
	client := s.client
	s.mu.Unlock()
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// post signs and posts; a non-2xx answer is an error, as Twilio logs it.
func (s *Server) post(ctx context.Context, url string, params url.Values) ([]byte, error) {
	status, body, err := s.Post(ctx, url, params, Signature(s.AuthToken, url, params))
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		return body, &HTTPError{Status: status, Body: string(body)}
	}
	return body, nil
}

// HTTPError is a webhook's non-2xx answer.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("webhook answered %d: %s", e.Status, e.Body) }

// Opt-out keywords of Twilio's Advanced Opt-Out.
var (
	stopWords  = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
	startWords = []string{"START", "YES", "UNSTOP"}
)

// SendSMS delivers an SMS from the phone from to our number: it is posted
// to SMSWebhook and the texts of the TwiML reply's <Message> verbs are
// returned (none when it said nothing). STOP and START keywords change the
// number's opt-out first, as Twilio does before the webhook sees them.
func (s *Server) SendSMS(ctx context.Context, from, body string) ([]string, error) {
	s.mu.Lock()
	hook := s.SMSWebhook
	s.seq++
	sid := fmt.Sprintf("SM%032x", s.seq)
	word := strings.ToUpper(strings.TrimSpace(body))
	optOut := ""
	switch {
	case slices.Contains(stopWords, word):
		s.optedOut[from], optOut = true, "STOP"
	case slices.Contains(startWords, word):
		delete(s.optedOut, from)
		optOut = "START"
	}
	s.messages = append(s.messages, &Message{SID: sid, From: from, To: s.Number, Body: body, Status: "received", Direction: "inbound", Created: s.now()})
	s.mu.Unlock()
	if hook == "" {
		return nil, errors.New("twiliotest: no SMS webhook (Connect)")
	}
	params := url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {sid}, "NumMedia": {"0"}, "ToCity": {""},
		"FromZip": {""}, "SmsSid": {sid}, "FromState": {""}, "SmsStatus": {"received"}, "FromCity": {""},
		"Body": {body}, "FromCountry": {"US"}, "To": {s.Number}, "ToZip": {""}, "NumSegments": {strconv.Itoa(segments(body))},
		"MessageSid": {sid}, "AccountSid": {s.AccountSID}, "From": {from}, "ApiVersion": {"2010-04-01"},
	}
	if optOut != "" {
		params.Set("OptOutType", optOut)
	}
	reply, err := s.post(ctx, hook, params)
	if err != nil {
		return nil, err
	}
	return parseMessages(reply)
}

func parseMessages(reply []byte) ([]string, error) {
	if len(strings.TrimSpace(string(reply))) == 0 {
		return nil, nil
	}
	doc, err := parseTwiML(reply)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range doc.Nodes {
		if n.XMLName.Local != "Message" {
			continue
		}
		text := n.Content
		for _, c := range n.Nodes { // <Message><Body>text</Body></Message>
			if c.XMLName.Local == "Body" {
				text += c.Content
			}
		}
		out = append(out, strings.TrimSpace(text))
	}
	return out, nil
}

// Deliver reports the message sid sent, then delivered.
func (s *Server) Deliver(ctx context.Context, sid string) error {
	if err := s.MessageStatus(ctx, sid, "sent", 0); err != nil {
		return err
	}
	return s.MessageStatus(ctx, sid, "delivered", 0)
}

// Undeliver reports the message sid sent, then undelivered with code
// (30003 unreachable handset, 30005 unknown destination, 30006 landline...).
func (s *Server) Undeliver(ctx context.Context, sid string, code int) error {
	if err := s.MessageStatus(ctx, sid, "sent", 0); err != nil {
		return err
	}
	return s.MessageStatus(ctx, sid, "undelivered", code)
}

// MessageStatus sets the message's status and reports it to its
// StatusCallback (nothing to report when it has none).
func (s *Server) MessageStatus(ctx context.Context, sid, status string, errorCode int) error {
	s.mu.Lock()
	m := s.message(sid)
	if m == nil {
		s.mu.Unlock()
		return fmt.Errorf("twiliotest: no message %s", sid)
	}
	m.Status, m.ErrorCode = status, errorCode
	cb, msg := m.StatusCallback, *m
	s.mu.Unlock()
	if cb == "" {
		return nil
	}
	params := url.Values{
		"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}, "From": {msg.From}, "To": {msg.To},
		"MessageSid": {sid}, "SmsSid": {sid}, "MessageStatus": {status}, "SmsStatus": {status},
	}
	if errorCode != 0 {
		params.Set("ErrorCode", strconv.Itoa(errorCode))
	}
	_, err := s.post(ctx, cb, params)
	return err
}

// CallStatus sets the call's status and reports it to its StatusCallback.
// Twilio reports the end of every call (completed, busy, no-answer,
// failed, canceled); the progress before it (ringing, in-progress) only
// when the call asked for those events (StatusCallbackEvent).
func (s *Server) CallStatus(ctx context.Context, sid, status string) error {
	s.mu.Lock()
	c := s.call(sid)
	if c == nil {
		s.mu.Unlock()
		return fmt.Errorf("twiliotest: no call %s", sid)
	}
	c.Status = status
	call := *c
	s.mu.Unlock()
	if call.StatusCallback == "" || !reported(call, status) {
		return nil
	}
	params := s.callParams(call)
	params.Set("CallStatus", status)
	params.Set("CallbackSource", "call-progress-events")
	params.Set("Timestamp", twilioTime(s.now()))
	if status == "completed" {
		params.Set("CallDuration", "12")
		params.Set("Duration", "1")
	}
	_, err := s.post(ctx, call.StatusCallback, params)
	return err
}

// reported reports whether Twilio tells the call's StatusCallback of status.
func reported(c Call, status string) bool {
	switch status {
	case "completed", "busy", "no-answer", "failed", "canceled":
		return true
	case "queued":
		return slices.Contains(c.CallbackEvents, "initiated")
	case "in-progress":
		return slices.Contains(c.CallbackEvents, "answered")
	}
	return slices.Contains(c.CallbackEvents, status)
}

func (s *Server) callParams(c Call) url.Values {
	return url.Values{
		"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}, "CallSid": {c.SID}, "CallStatus": {c.Status},
		"Called": {c.To}, "Caller": {c.From}, "Direction": {c.Direction}, "From": {c.From}, "To": {c.To},
		"CalledCountry": {"US"}, "CallerCountry": {"US"},
	}
}

// Session is an answered call.
type Session struct {
	s    *Server
	call Call
	url  string // of the TwiML being run

	mu     sync.Mutex
	said   []string // everything heard so far
	last   []string // heard since the last action
	gather *gather  // waiting for digits
	after  []node   // the verbs after the <Gather>, run on silence
	ended  bool
	hops   int
}

type gather struct {
	action    string
	method    string
	numDigits int
}

// maxHops bounds the TwiML documents one step of a call may fetch (a
// <Redirect> loop).
const maxHops = 10

// Answer picks up the call sid: it rings, is answered, and its TwiML is
// fetched from the call's Url and run until it waits for digits or ends.
func (s *Server) Answer(ctx context.Context, sid string) (*Session, error) {
	if err := s.CallStatus(ctx, sid, "ringing"); err != nil {
		return nil, err
	}
	if err := s.CallStatus(ctx, sid, "in-progress"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	call := *s.call(sid)
	s.mu.Unlock()
	sess := &Session{s: s, call: call}
	return sess, sess.fetch(ctx, call.URL, call.Method, nil)
}

// Dial calls our number from the phone from: the number's VoiceWebhook is
// fetched and its TwiML run, as Answer does for a call we made. The call
// is not in Calls (those we made).
func (s *Server) Dial(ctx context.Context, from string) (*Session, error) {
	s.mu.Lock()
	hook := s.VoiceWebhook
	s.seq++
	c := &Call{Direction: "inbound", SID: fmt.Sprintf("CA%032x", s.seq), From: from, To: s.Number, URL: hook,
		Method: http.MethodPost, Status: "in-progress", Created: s.now()}
	s.calls = append(s.calls, c)
	call := *c
	s.mu.Unlock()
	if hook == "" {
		return nil, errors.New("twiliotest: no voice webhook (Connect)")
	}
	sess := &Session{s: s, call: call}
	return sess, sess.fetch(ctx, call.URL, call.Method, nil)
}

// Said is everything the call said since the last action (Answer, Press,
// Silence), one <Say> per element.
func (c *Session) Said() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.last)
}

// Transcript is everything the call said.
func (c *Session) Transcript() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.said, " ")
}

// Waiting reports whether the call waits for digits (a <Gather>).
func (c *Session) Waiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gather != nil
}

// Ended reports whether the call is over.
func (c *Session) Ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

// Press enters digits while the call gathers: they are posted (Digits) to
// the <Gather>'s action and the answer is run. It returns what was said.
func (c *Session) Press(ctx context.Context, digits string) ([]string, error) {
	c.mu.Lock()
	g := c.gather
	c.mu.Unlock()
	if g == nil {
		return nil, errors.New("twiliotest: the call is not waiting for digits")
	}
	if g.numDigits > 0 && len(digits) > g.numDigits {
		digits = digits[:g.numDigits]
	}
	c.mu.Lock()
	c.gather, c.after, c.last, c.hops = nil, nil, nil, 0
	c.mu.Unlock()
	extra := url.Values{"Digits": {digits}, "FinishedOnKey": {""}}
	if err := c.fetch(ctx, g.action, g.method, extra); err != nil {
		return nil, err
	}
	return c.Said(), nil
}

// Silence lets the <Gather> time out: the verbs after it run. It returns
// what was said.
func (c *Session) Silence(ctx context.Context) ([]string, error) {
	c.mu.Lock()
	if c.gather == nil {
		c.mu.Unlock()
		return nil, errors.New("twiliotest: the call is not waiting for digits")
	}
	after := c.after
	c.gather, c.after, c.last, c.hops = nil, nil, nil, 0
	c.mu.Unlock()
	if err := c.run(ctx, after); err != nil {
		return nil, err
	}
	return c.Said(), nil
}

// Hangup ends the call from the phone's side.
func (c *Session) Hangup(ctx context.Context) error {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return c.end(ctx)
}

func (c *Session) end(ctx context.Context) error {
	c.mu.Lock()
	c.ended, c.gather, c.after = true, nil, nil
	c.mu.Unlock()
	return c.s.CallStatus(ctx, c.call.SID, "completed")
}

// fetch requests TwiML from target (relative to the current document) and
// runs it.
func (c *Session) fetch(ctx context.Context, target, method string, extra url.Values) error {
	c.mu.Lock()
	c.hops++
	hops := c.hops
	base := c.url
	c.mu.Unlock()
	if hops > maxHops {
		return errors.New("twiliotest: too many redirects")
	}
	u, err := resolve(base, target)
	if err != nil {
		return err
	}
	params := c.s.callParams(c.call)
	params.Set("CallStatus", "in-progress")
	for k, v := range extra {
		params[k] = v
	}
	var body []byte
	if method == http.MethodGet {
		return errors.New("twiliotest: GET TwiML URLs are not supported")
	}
	body, err = c.s.post(ctx, u, params)
	if err != nil {
		return err
	}
	doc, err := parseTwiML(body)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.url = u
	c.mu.Unlock()
	return c.run(ctx, doc.Nodes)
}

// run plays verbs until the call waits for digits or ends.
func (c *Session) run(ctx context.Context, verbs []node) error {
	for i, v := range verbs {
		switch v.XMLName.Local {
		case "Say":
			c.say(v.Content)
		case "Gather":
			for _, inner := range v.Nodes {
				if inner.XMLName.Local == "Say" {
					c.say(inner.Content)
				}
			}
			g := &gather{action: v.attr("action"), method: strings.ToUpper(v.attr("method")), numDigits: atoi(v.attr("numDigits"))}
			if g.method == "" {
				g.method = http.MethodPost
			}
			if g.action == "" {
				c.mu.Lock()
				g.action = c.url // Twilio posts to the current document when no action is given
				c.mu.Unlock()
			}
			c.mu.Lock()
			c.gather, c.after = g, verbs[i+1:]
			c.mu.Unlock()
			return nil
		case "Redirect":
			method := strings.ToUpper(v.attr("method"))
			if method == "" {
				method = http.MethodPost
			}
			return c.fetch(ctx, strings.TrimSpace(v.Content), method, nil)
		case "Hangup", "Reject":
			return c.end(ctx)
		case "Pause", "Play":
		default:
			return fmt.Errorf("twiliotest: unsupported TwiML verb <%s>", v.XMLName.Local)
		}
	}
	return c.end(ctx) // the document ran out: Twilio hangs up
}

func (c *Session) say(text string) {
	text = strings.Join(strings.Fields(text), " ")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.said = append(c.said, text)
	c.last = append(c.last, text)
}

func resolve(base, target string) (string, error) {
	t, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("twiliotest: bad TwiML URL %q: %w", target, err)
	}
	if t.IsAbs() || base == "" {
		return target, nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(t).String(), nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// node is a TwiML element.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Content string     `xml:",chardata"`
	Nodes   []node     `xml:",any"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func parseTwiML(body []byte) (*node, error) {
	var doc node
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("twiliotest: TwiML: %w", err)
	}
	if doc.XMLName.Local != "Response" {
		return nil, fmt.Errorf("twiliotest: TwiML: root is <%s>, want <Response>", doc.XMLName.Local)
	}
	return &doc, nil
}
