package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// Hostile requests against `oncall serve` and a real Postgres (issue #7,
// "Bad input"): whatever a client sends, the answer is a 4xx or an
// accepted alert stored verbatim, never a 5xx, a hang or a crash.

const hostileConfig = `
kind: User
name: alice
email: alice@example.com
---
kind: Team
name: ops
members: [alice]
---
kind: EscalationPolicy
name: ops
team: ops
steps:
  - targets: [{user: alice}]
    escalate_after: 5m
---
kind: Service
name: api
team: ops
escalation_policy: ops
integrations:
  - {name: am, type: alertmanager}
  - {name: graf, type: grafana}
  - {name: hook, type: generic}
  - {name: pd, type: pagerduty}
  - {name: beat, type: heartbeat, timeout: 1h}
`

// Server timeouts of the hostile stack: short, so a slow client is cut
// off in about a second; long enough that a 1 MiB body over loopback on a
// loaded machine is never cut off.
const (
	hostileHeaderTimeout = 1 * time.Second
	hostileReadTimeout   = 2 * time.Second
)

type hostileStack struct {
	url  string
	addr string
	pool *pgxpool.Pool
	keys map[string]string // integration name -> key
}

// startHostile runs `oncall serve` (no Slack, no Twilio) with short HTTP
// timeouts against a fresh database.
func startHostile(t *testing.T) *hostileStack {
	t.Helper()
	dir := t.TempDir()
	pool := storetest.NewEmpty(t)
	vars := map[string]string{
		"DATABASE_URL":      storetest.URL(pool),
		"ONCALL_HTTP_ADDR":  "127.0.0.1:0",
		"ONCALL_PUBLIC_URL": "http://oncall.test",
		"ONCALL_CONFIG":     dir,
		"ONCALL_LOG_FORMAT": "json",
		"ONCALL_LOG_LEVEL":  "error",
	}
	if err := os.WriteFile(filepath.Join(dir, "company.yaml"), []byte(hostileConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] }, false)
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	e := &env{stdout: out, stderr: io.Discard, getenv: func(k string) string { return vars[k] }}
	go func() {
		done <- serve(ctx, e, cfg, serveOptions{migrate: true, clock: &oncall.OffsetClock{},
			listening: func(a string) { addr <- a },
			httpServer: func(s *http.Server) {
				s.ReadHeaderTimeout = hostileHeaderTimeout
				s.ReadTimeout = hostileReadTimeout
				s.IdleTimeout = hostileReadTimeout
			}})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	s := &hostileStack{pool: pool, keys: map[string]string{}}
	select {
	case a := <-addr:
		s.addr, s.url = a, "http://"+a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	re := regexp.MustCompile(`(?m)^\s+(\S+) \((\w+), service [^)]*\): (?:routing_key (\S+),|http://oncall\.test/v1/alerts/(\S+)|beat with POST http://oncall\.test/v1/heartbeats/(\S+))`)
	for _, m := range re.FindAllStringSubmatch(out.String(), -1) {
		s.keys[m[1]] = m[3] + m[4] + m[5]
	}
	if len(s.keys) != 5 {
		t.Fatalf("keys printed at start: %v\n%s", s.keys, out.String())
	}
	return s
}

type hostileReply struct {
	status  int
	body    string
	elapsed time.Duration
}

// do sends one request; chunked hides the length (Transfer-Encoding:
// chunked) so the server must count the bytes itself.
func (s *hostileStack) do(t *testing.T, method, path string, body []byte, chunked bool) hostileReply {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd) // not a *bytes.Reader: no ContentLength
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return hostileReply{status: resp.StatusCode, body: string(b), elapsed: time.Since(start)}
}

// endpoint is one way in for an alert: the path and a body carrying the
// given raw JSON fragments where the format keeps labels, a summary and
// anything else.
type endpoint struct {
	name string
	path string
	// wrap builds a body: summary is a JSON string literal, labels a JSON
	// object, extra a JSON value put somewhere free-form.
	wrap func(summary, labels, extra string) string
}

func (s *hostileStack) endpoints() []endpoint {
	return []endpoint{
		{"alertmanager", "/v1/alerts/" + s.keys["am"], func(summary, labels, extra string) string {
			return `{"version":"4","groupKey":` + summary + `,"status":"firing","receiver":"r","groupLabels":{},"commonLabels":` + labels +
				`,"commonAnnotations":{},"externalURL":"http://am","extra":` + extra +
				`,"alerts":[{"status":"firing","labels":` + labels + `,"annotations":{"summary":` + summary + `},"fingerprint":"f1"}]}`
		}},
		{"grafana", "/v1/alerts/" + s.keys["graf"], func(summary, labels, extra string) string {
			return `{"receiver":"r","status":"firing","groupKey":` + summary + `,"title":` + summary + `,"message":"m","extra":` + extra +
				`,"commonLabels":` + labels + `,"alerts":[{"status":"firing","labels":` + labels + `,"annotations":{"summary":` + summary + `},"fingerprint":"f1"}]}`
		}},
		{"generic", "/v1/alerts/" + s.keys["hook"], func(summary, labels, extra string) string {
			return `{"summary":` + summary + `,"severity":"critical","labels":` + labels + `,"details":` + extra + `}`
		}},
		{"pagerduty", "/v2/enqueue", func(summary, labels, extra string) string {
			return `{"routing_key":"` + s.keys["pd"] + `","event_action":"trigger","payload":{"summary":` + summary +
				`,"source":"s","severity":"critical","custom_details":{"labels":` + labels + `,"extra":` + extra + `}}}`
		}},
		{"pagerduty change", "/v2/change/enqueue", func(summary, labels, extra string) string {
			return `{"routing_key":"` + s.keys["pd"] + `","payload":{"summary":` + summary + `,"custom_details":{"labels":` + labels + `,"extra":` + extra + `}}}`
		}},
	}
}

// no5xx fails on a server error, naming the request.
func no5xx(t *testing.T, what string, r hostileReply) {
	t.Helper()
	if r.status >= 500 {
		t.Errorf("%s: %d %s", what, r.status, r.body)
	}
}

func TestHostileRequests(t *testing.T) {
	t.Parallel()
	s := startHostile(t)
	eps := s.endpoints()

	t.Run("body over 1 MiB", func(t *testing.T) {
		// Valid JSON all the way, so only the size is wrong.
		big := `"` + strings.Repeat("x", 1<<20) + `"`
		for _, ep := range eps {
			body := []byte(ep.wrap(`"s"`, `{}`, big))
			for _, chunked := range []bool{false, true} {
				r := s.do(t, "POST", ep.path, body, chunked)
				if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "1 MiB") {
					t.Errorf("%s (chunked %v): %d %s", ep.name, chunked, r.status, r.body)
				}
			}
		}
		for _, path := range []string{"/v1/heartbeats/" + s.keys["beat"], "/v1/mobile/pair", "/v1/alerts/nokey"} {
			r := s.do(t, "POST", path, []byte(`{"a":"`+strings.Repeat("x", 1<<20)+`"}`), true)
			if r.status != http.StatusRequestEntityTooLarge && r.status != http.StatusNotFound {
				t.Errorf("%s: %d %s", path, r.status, r.body)
			}
			no5xx(t, path, r)
		}
	})

	t.Run("huge header", func(t *testing.T) {
		// Over the server's MaxHeaderBytes (64 KiB): 431, not a 5xx.
		status := s.raw(t, "POST /v1/alerts/"+s.keys["hook"]+" HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 200<<10)+
			"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
		if status != http.StatusRequestHeaderFieldsTooLarge && status != 0 {
			t.Errorf("200 KiB header: %d", status)
		}
	})

	t.Run("deep nesting", func(t *testing.T) {
		deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
		open := strings.Repeat(`{"a":`, 100_000) // never closed
		for _, ep := range eps {
			for name, extra := range map[string]string{"arrays": deep, "unclosed objects": open} {
				r := s.do(t, "POST", ep.path, []byte(ep.wrap(`"s"`, `{}`, extra)), false)
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, "nested deeper than") {
					t.Errorf("%s, %s: %d %.300s", ep.name, name, r.status, r.body)
				}
			}
		}
		r := s.do(t, "POST", "/v1/mobile/pair", []byte(`{"code":`+deep+`}`), false)
		if r.status != http.StatusBadRequest {
			t.Errorf("mobile pair: %d %.300s", r.status, r.body)
		}
	})

	t.Run("invalid UTF-8", func(t *testing.T) {
		for _, ep := range eps {
			for name, body := range map[string]string{
				"summary":   ep.wrap("\"caf\xe9\"", `{}`, `1`),
				"label key": ep.wrap(`"s"`, "{\"\xff\xfe\":\"v\"}", `1`),
				"overlong":  ep.wrap("\"\xc0\xaf\"", `{}`, `1`),
				"surrogate": ep.wrap("\"\xed\xa0\x80\"", `{}`, `1`),
			} {
				r := s.do(t, "POST", ep.path, []byte(body), false)
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, "invalid UTF-8") {
					t.Errorf("%s, %s: %d %.300s", ep.name, name, r.status, r.body)
				}
			}
		}
		r := s.do(t, "POST", "/v1/mobile/pair", []byte("{\"code\":\"\xff\",\"label\":\"\xfe\"}"), false)
		if r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized {
			t.Errorf("mobile pair: %d %.300s", r.status, r.body)
		}
	})

	t.Run("numbers Postgres cannot hold", func(t *testing.T) {
		for _, ep := range eps {
			for _, n := range []string{"1e999999", "-1e-16384", "0.0e-99999999999"} {
				r := s.do(t, "POST", ep.path, []byte(ep.wrap(`"s"`, `{}`, n)), false)
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, "out of range") {
					t.Errorf("%s, %s: %d %.300s", ep.name, n, r.status, r.body)
				}
			}
		}
	})

	t.Run("10,000 labels", func(t *testing.T) {
		var b strings.Builder
		b.WriteByte('{')
		for i := range 10_000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"label%d":"value %d"`, i, i)
		}
		b.WriteByte('}')
		labels := b.String()
		for _, ep := range eps {
			r := s.do(t, "POST", ep.path, []byte(ep.wrap(`"s"`, labels, `1`)), false)
			no5xx(t, ep.name, r)
			switch {
			case r.status == http.StatusBadRequest && strings.Contains(r.body, "at most"):
				// the limit is named
			case (ep.name == "pagerduty" || ep.name == "pagerduty change") && r.status == http.StatusAccepted:
				// custom_details are free-form: stored as they came
			default:
				t.Errorf("%s: %d %.300s", ep.name, r.status, r.body)
			}
			// Bounded: generous for a loaded CI machine, far below a hang.
			if r.elapsed > 10*time.Second {
				t.Errorf("%s: answered after %s", ep.name, r.elapsed)
			}
		}
	})

	t.Run("SQL metacharacters stored verbatim", func(t *testing.T) {
		for i, evil := range sqlish {
			lit := jsonString(evil)
			evilLabels := `{` + lit + `:` + lit + `,"k":` + lit + `}`
			for _, ep := range eps {
				// A summary unique to the request, so each one opens an incident.
				summary := fmt.Sprintf("%s #%d", evil, i)
				r := s.do(t, "POST", ep.path, []byte(ep.wrap(jsonString(summary), evilLabels, `{"v":`+lit+`}`)), false)
				if r.status != http.StatusAccepted {
					t.Errorf("%s, %q: %d %.300s", ep.name, evil, r.status, r.body)
					continue
				}
				if ep.name == "pagerduty change" {
					continue // change events are kept on no incident
				}
				in := s.incidentOf(t, ep.name, r.body)
				if in == nil {
					continue
				}
				if !strings.Contains(in.Summary, summary) {
					t.Errorf("%s: summary %q, want %q in it", ep.name, in.Summary, summary)
				}
				if ep.name == "pagerduty" {
					var d map[string]map[string]any
					if err := json.Unmarshal(in.Details, &d); err != nil || d["labels"][evil] != evil || d["extra"]["v"] != evil {
						t.Errorf("%s: details %s (%v)", ep.name, in.Details, err)
					}
					continue
				}
				if in.Labels[evil] != evil || in.Labels["k"] != evil {
					t.Errorf("%s: labels %q", ep.name, in.Labels)
				}
			}
		}
		// Every string field of the generic format and of PagerDuty's
		// events, read back from the incident.
		for i, evil := range sqlish {
			lit := jsonString(evil)
			href := jsonString("https://example.com/" + evil)
			generic := `{"summary":` + jsonString(fmt.Sprintf("%s generic #%d", evil, i)) + `,"dedup_key":` + lit + `,"source":` + lit +
				`,"severity":"critical","client":` + lit + `,"client_url":` + href + `,"labels":{` + lit + `:` + lit + `},"annotations":{` + lit + `:` + lit +
				`},"links":[{"href":` + href + `,"text":` + lit + `}],"images":[{"src":` + href + `,"href":` + href + `,"alt":` + lit + `}],"details":{` + lit + `:` + lit + `}}`
			pd := `{"routing_key":"` + s.keys["pd"] + `","event_action":"trigger","dedup_key":` + jsonString(fmt.Sprintf("%s pd #%d", evil, i)) +
				`,"client":` + lit + `,"client_url":` + href + `,"links":[{"href":` + href + `,"text":` + lit + `}],"images":[{"src":` + href + `,"href":` + href + `,"alt":` + lit + `}]` +
				`,"payload":{"summary":` + lit + `,"source":` + lit + `,"severity":"critical","component":` + lit + `,"group":` + lit + `,"class":` + lit + `,"custom_details":{` + lit + `:` + lit + `}}}`
			for _, req := range []struct{ name, path, body string }{{"generic", "/v1/alerts/" + s.keys["hook"], generic}, {"pagerduty", "/v2/enqueue", pd}} {
				r := s.do(t, "POST", req.path, []byte(req.body), false)
				if r.status != http.StatusAccepted {
					t.Errorf("%s every field %q: %d %.300s", req.name, evil, r.status, r.body)
					continue
				}
				in := s.incidentOf(t, req.name, r.body)
				if in == nil {
					continue
				}
				var details map[string]any
				_ = json.Unmarshal(in.Details, &details)
				got := []string{in.Source, in.Client, in.ClientURL}
				if req.name == "generic" {
					got = append(got, in.DedupKey, in.Labels[evil], in.Annotations[evil])
				} else {
					got = append(got, in.Labels["component"], in.Labels["group"], in.Labels["class"], in.Summary)
				}
				if d, _ := details[evil].(string); d != evil {
					t.Errorf("%s: details %s", req.name, in.Details)
				}
				want := []string{evil, evil, "https://example.com/" + evil}
				for range got[3:] {
					want = append(want, evil)
				}
				if len(in.Links) != 1 || in.Links[0].Href != "https://example.com/"+evil || in.Links[0].Text != evil ||
					len(in.Images) != 1 || in.Images[0].Alt != evil || in.Images[0].Src != "https://example.com/"+evil {
					t.Errorf("%s: links %+v, images %+v", req.name, in.Links, in.Images)
				}
				for j := range got {
					if got[j] != want[j] {
						t.Errorf("%s: field %d is %q, want %q", req.name, j, got[j], want[j])
					}
				}
			}
		}
		// Keys and paths made of the same: unknown, not an error.
		for _, evil := range sqlish {
			esc := strings.NewReplacer("%", "%25", "/", "%2F", "?", "%3F", "#", "%23", " ", "%20", `"`, "%22", `\`, "%5C", "{", "%7B", "}", "%7D").Replace(evil)
			for _, req := range []struct{ method, path, body string }{
				{"POST", "/v1/alerts/" + esc, `{"summary":"s"}`},
				{"POST", "/v1/heartbeats/" + esc, ``},
				{"GET", "/v1/calendars/" + esc + ".ics", ``},
				{"POST", "/v2/enqueue", `{"routing_key":` + jsonString(evil) + `,"event_action":"trigger","payload":{"summary":"s","source":"s","severity":"info"}}`},
				{"POST", "/v1/mobile/pair", `{"code":` + jsonString(evil) + `,"label":` + jsonString(evil) + `}`},
			} {
				r := s.do(t, req.method, req.path, []byte(req.body), false)
				if r.status < 400 || r.status >= 500 {
					t.Errorf("%s %s: %d %.300s", req.method, req.path, r.status, r.body)
				}
			}
		}
	})

	t.Run("NUL", func(t *testing.T) {
		// Postgres text and jsonb take no NUL: the escape becomes U+FFFD,
		// a raw NUL byte is a control character JSON forbids.
		for _, ep := range eps {
			r := s.do(t, "POST", ep.path, []byte(ep.wrap(`"nul\u0000here"`, `{"k\u0000":"v\u0000"}`, `{"\u0000":"\u0000"}`)), false)
			if r.status != http.StatusAccepted {
				t.Errorf("%s, escaped: %d %.300s", ep.name, r.status, r.body)
			} else if ep.name != "pagerduty change" {
				if in := s.incidentOf(t, ep.name, r.body); in != nil && !strings.Contains(in.Summary, "nul\uFFFDhere") {
					t.Errorf("%s: summary %q", ep.name, in.Summary)
				}
			}
			r = s.do(t, "POST", ep.path, []byte(ep.wrap("\"nul\x00here\"", `{}`, `1`)), false)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s, raw: %d %.300s", ep.name, r.status, r.body)
			}
		}
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/v1/alerts/%00", `{"summary":"s"}`},
			{"POST", "/v1/alerts/" + s.keys["hook"] + "%00", `{"summary":"s"}`},
			{"POST", "/v1/heartbeats/%00", ``},
			{"GET", "/v1/calendars/%00.ics", ``},
			{"POST", "/v2/enqueue", `{"routing_key":"\u0000","event_action":"trigger","payload":{"summary":"s","source":"s","severity":"info"}}`},
			{"POST", "/v1/mobile/pair", `{"code":"\u0000","label":"\u0000"}`},
			{"POST", "/v1/mobile/pair", `{"code":"ABCD\u0000EFGH","label":"x"}`},
		} {
			r := s.do(t, req.method, req.path, []byte(req.body), false)
			if r.status < 400 || r.status >= 500 {
				t.Errorf("%s %s: %d %.300s", req.method, req.path, r.status, r.body)
			}
		}
		// Bearer keys are header values: Go refuses NUL in them, so send
		// the bytes by hand.
		if status := s.raw(t, "POST /v1/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x00b\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"); status >= 500 || status == 0 {
			t.Errorf("NUL in a bearer key: %d", status)
		}
	})

	t.Run("slow loris", func(t *testing.T) {
		t.Parallel()
		// Headers one byte at a time, forever.
		headers := "POST /v1/alerts/" + s.keys["hook"] + " HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 10_000)
		s.cutOff(t, "headers a byte at a time", func(ctx context.Context, c net.Conn) error {
			for i := range len(headers) {
				if _, err := c.Write([]byte{headers[i]}); err != nil {
					return err
				}
				if !sleep(ctx, 20*time.Millisecond) {
					return nil
				}
			}
			return errors.New("sent every header byte without being cut off")
		})
		// Nothing at all after connecting.
		s.cutOff(t, "silent", func(ctx context.Context, c net.Conn) error {
			if !sleep(ctx, time.Minute) {
				return nil
			}
			return errors.New("silent for a minute without being cut off")
		})
		// A body that never finishes.
		s.cutOff(t, "body never finishes", func(ctx context.Context, c net.Conn) error {
			req := "POST /v1/alerts/" + s.keys["hook"] + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"summary\":"
			if _, err := io.WriteString(c, req); err != nil {
				return err
			}
			if !sleep(ctx, time.Minute) {
				return nil
			}
			return errors.New("half a body held for a minute without being cut off")
		})
	})
}

// cutOff runs a slow client on a fresh connection and wants the server to
// end it (closing, or answering with no 5xx) well before the client would
// have given up.
func (s *hostileStack) cutOff(t *testing.T, name string, client func(context.Context, net.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	ended := make(chan string, 1)
	go func() {
		// The server ends it: EOF, a reset, or an answer.
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			ended <- ""
			return
		}
		resp.Body.Close()
		ended <- resp.Status
	}()
	clientErr := make(chan error, 1)
	go func() { clientErr <- client(ctx, c) }()
	select {
	case status := <-ended:
		elapsed := time.Since(start)
		if strings.HasPrefix(status, "5") {
			t.Errorf("%s: answered %s", name, status)
		}
		if elapsed < hostileHeaderTimeout/2 {
			t.Errorf("%s: cut off after %s, before any timeout", name, elapsed)
		}
		t.Logf("%s: cut off after %s (%q)", name, elapsed, status)
	case err := <-clientErr:
		t.Errorf("%s: %v", name, err)
	case <-time.After(30 * time.Second):
		t.Errorf("%s: still connected after 30 s", name)
	}
}

// raw writes a request as bytes and returns the response's status (0 when
// the server closed the connection without one).
func (s *hostileStack) raw(t *testing.T, req string) int {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// incidentOf reads back the incident an accepted request opened.
func (s *hostileStack) incidentOf(t *testing.T, format, body string) *store.Incident {
	t.Helper()
	var r struct {
		IncidentID int64  `json:"incident_id"`
		DedupKey   string `json:"dedup_key"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Errorf("%s: answer %s: %v", format, body, err)
		return nil
	}
	ctx := context.Background()
	id := r.IncidentID
	if id == 0 { // PagerDuty's answer names the dedup key only
		err := s.pool.QueryRow(ctx, `SELECT id FROM incidents WHERE dedup_key = $1 ORDER BY id DESC LIMIT 1`, r.DedupKey).Scan(&id)
		if err != nil {
			t.Errorf("%s: incident of dedup key %q: %v", format, r.DedupKey, err)
			return nil
		}
	}
	in, err := store.IncidentGet(ctx, s.pool, id, store.LockNone)
	if err != nil {
		t.Errorf("%s: incident %d: %v", format, id, err)
		return nil
	}
	return in
}

// sqlish are strings that break SQL built by hand.
var sqlish = []string{
	`'; DROP TABLE users; --`,
	`Robert'); DELETE FROM incidents; --`,
	`" OR "1"="1`,
	`' OR 1=1 --`,
	`\'; SELECT pg_sleep(10); --`,
	`back\\slash\`,
	`$1 $2::text $$dollar$$ $tag$x$tag$`,
	`%_ LIKE '%'`,
	`E'\x27' U&'\0041'`,
	`/* comment */ ; COMMIT; --`,
}

// sleep waits for d, or less when ctx ends (then false).
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
