package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/slack/slacktest"
)

// syncBuffer collects a child's output for the test's failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// server is one `oncall serve` child process.
type server struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	url  string
	out  *syncBuffer // stdout: the integration keys printed at start
	log  *syncBuffer // stderr: JSON logs
	done chan struct{}
	err  error // the process's exit, once done is closed
}

// ourEnv are the variables of CONTRACT §3 (and more): they are not
// inherited from the test's environment, only set by the test.
var ourEnv = regexp.MustCompile(`^(DATABASE_URL|ONCALL_|SLACK_|TWILIO_|SMTP_|EMAIL_|APNS_|FCM_)`)

var listening = regexp.MustCompile(`"addr":"([^"]+)"[^\n]*"message":"serving HTTP"|"message":"serving HTTP"[^\n]*"addr":"([^"]+)"`)

// startServer starts `oncall serve` with vars as its environment (on top of
// the test's PATH and HOME) and returns once it listens. It is killed when
// the test ends if still running.
func startServer(t testing.TB, name string, vars map[string]string) *server {
	t.Helper()
	if binary == "" {
		t.Fatal("no oncall binary (TestMain did not build it)")
	}
	s := &server{t: t, name: name, out: &syncBuffer{}, log: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, "serve")
	for _, kv := range os.Environ() {
		if !ourEnv.MatchString(kv) {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	vars = withDefaults(vars, map[string]string{
		"ONCALL_HTTP_ADDR":  "127.0.0.1:0",
		"ONCALL_LOG_FORMAT": "json",
		"ONCALL_LOG_LEVEL":  "info",
	})
	for k, v := range vars {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	s.cmd.Stdout = s.out
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.log.Write([]byte(line + "\n"))
			if m := listening.FindStringSubmatch(line); m != nil && !found {
				found = true
				addr <- m[1] + m[2]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, tail(s.log.String(), 40))
		}
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.done:
		t.Fatalf("%s exited at start: %v\n%s", name, s.err, tail(s.log.String(), 40))
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start listening\n%s", name, tail(s.log.String(), 40))
	}
	return s
}

func withDefaults(vars, defaults map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range vars {
		out[k] = v
	}
	return out
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatalf("kill %s: %v", s.name, err)
	}
	<-s.done
}

// alive fails the test if the process has exited.
func (s *server) alive() {
	s.t.Helper()
	select {
	case <-s.done:
		s.t.Fatalf("%s exited: %v\n%s", s.name, s.err, tail(s.log.String(), 40))
	default:
	}
}

var keyLine = regexp.MustCompile(`(?m)^\s+(\S+) \((\w+), service [^)]*\): \S+/v1/alerts/(\S+)$`)

// key is the key of integration name, as printed at start.
func (s *server) key(name string) string {
	s.t.Helper()
	for _, m := range keyLine.FindAllStringSubmatch(s.out.String(), -1) {
		if m[1] == name {
			return m[3]
		}
	}
	s.t.Fatalf("%s printed no key for %s:\n%s", s.name, name, s.out.String())
	return ""
}

// writeConfig writes a manifest into a new directory for ONCALL_CONFIG.
func writeConfig(t testing.TB, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "company.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fakeSlack is the fake Slack with users U0<NAME> for names, and the URL
// the server should use as SLACK_API_URL: a proxy in front of the fake that
// holds each chat.postMessage answer for postDelay after the fake has
// recorded the message, as a slow Slack would. A process killed in that
// window has sent a page whose delivery it never recorded.
func fakeSlack(t testing.TB, postDelay time.Duration, names ...string) (*slacktest.Server, string) {
	t.Helper()
	sl := slacktest.New(t)
	for _, n := range names {
		sl.AddUser(slackID(n), n+"@example.com", n, "UTC")
	}
	target, err := url.Parse(sl.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if strings.HasSuffix(r.Request.URL.Path, "/chat.postMessage") {
			time.Sleep(postDelay)
		}
		return nil
	}
	proxy.ErrorLog = nil
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	return sl, ps.URL + "/api/"
}

func slackID(name string) string { return "U0" + strings.ToUpper(name) }

func slackEnv(sl *slacktest.Server, apiURL string) map[string]string {
	return map[string]string{
		"SLACK_APP_TOKEN": sl.AppToken(),
		"SLACK_BOT_TOKEN": sl.BotToken(),
		"SLACK_API_URL":   apiURL,
	}
}

var blockIncident = regexp.MustCompile(`"block_id":"incident:(\d+)"`)

// page is one page as the fake Slack received it: a DM to a user (not a
// thread reply, not an update).
type page struct {
	incident int64
	user     string // Slack user id
	at       time.Time
}

// pages lists the DMs the fake received and answered OK, in order.
func pages(sl *slacktest.Server) []page {
	var out []page
	for _, c := range sl.Calls("chat.postMessage") {
		ch := c.Params.Get("channel")
		if !c.OK() || c.Params.Get("thread_ts") != "" || !strings.HasPrefix(ch, "U") && !strings.HasPrefix(ch, "DU") {
			continue
		}
		m := blockIncident.FindStringSubmatch(c.Params.Get("blocks"))
		if m == nil {
			continue
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, page{incident: id, user: strings.TrimPrefix(ch, "D"), at: c.Time})
	}
	return out
}

// pageKey is one page that should go out: incident and user.
type pageKey struct {
	incident int64
	user     string
}

// countPages counts the pages per incident and user.
func countPages(ps []page) map[pageKey]int {
	n := map[pageKey]int{}
	for _, p := range ps {
		n[pageKey{p.incident, p.user}]++
	}
	return n
}

// alertResult is the server's answer to one alert.
type alertResult struct {
	code       int
	incidentID int64
	dedupKey   string
	retryAfter string
}

// postAlert posts a generic alert with dedup key.
func postAlert(ctx context.Context, client *http.Client, base, key, dedup string) (alertResult, error) {
	body := fmt.Sprintf(`{"summary":"e2e %s","dedup_key":%q,"severity":"critical"}`, dedup, dedup)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/alerts/"+key, strings.NewReader(body))
	if err != nil {
		return alertResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return alertResult{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := alertResult{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode == http.StatusAccepted {
		var v struct {
			IncidentID int64  `json:"incident_id"`
			DedupKey   string `json:"dedup_key"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return r, fmt.Errorf("202 with body %q: %w", b, err)
		}
		r.incidentID, r.dedupKey = v.IncidentID, v.DedupKey
	}
	return r, nil
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
