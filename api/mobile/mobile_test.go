package mobile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/api/mobile"
	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// fixture is the mobile API over a running engine: alice is on team ops
// (service api, paging schedule ops-primary where she is on call), bob on
// team web (service web, paging him).
type fixture struct {
	t   *testing.T
	b   *jobstest.Bundle
	srv *httptest.Server
}

func setup(t *testing.T) *fixture {
	t.Helper()
	web := storetest.Service("web", "web", "web-hook")
	web.Team = "web"
	api := storetest.Service("api", "ops", "hook")
	api.Team = "ops"
	set := storetest.NewSet(storetest.User("alice"), storetest.User("bob"),
		storetest.Team("ops", "alice"), storetest.Team("web", "bob"),
		storetest.Schedule("ops-primary", "alice"),
		storetest.Policy("ops", storetest.ScheduleTarget("ops-primary")), storetest.Policy("web", storetest.UserTarget("bob")),
		api, web)
	b := jobstest.New(t, set, nil)
	mux := http.NewServeMux()
	(&mobile.Handler{DB: b.Pool, Engine: b.Engine, Clock: b.Clock}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{t: t, b: b, srv: srv}
}

// call makes a request and returns the status and the decoded JSON body
// (nil when empty).
func (f *fixture) call(method, path, token string, body any) (int, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			f.t.Fatalf("%s %s: %d, not a JSON object: %s", method, path, resp.StatusCode, raw)
		}
	}
	if resp.StatusCode >= 500 {
		f.t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 400 && (out == nil || out["error"] == "") {
		f.t.Errorf("%s %s: %d without a JSON error: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func (f *fixture) code(user string) string {
	f.t.Helper()
	code, err := store.PairingCodeCreate(context.Background(), f.b.Pool, user, f.b.Clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return code
}

// pair pairs a phone of user and returns its mobile token.
func (f *fixture) pair(user string) string {
	f.t.Helper()
	status, out := f.call("POST", "/v1/mobile/pair", "", map[string]string{"code": f.code(user), "label": user + "'s phone"})
	if status != http.StatusCreated {
		f.t.Fatalf("pair: %d %v", status, out)
	}
	return out["token"].(string)
}

func TestPair(t *testing.T) {
	t.Parallel()
	f := setup(t)
	code := f.code("alice")
	// People type codes with dashes, spaces and in lower case.
	typed := strings.ToLower(code[:4] + "-" + code[4:])
	status, out := f.call("POST", "/v1/mobile/pair", "", map[string]string{"code": typed, "label": "Alice's iPhone"})
	if status != http.StatusCreated || out["token"] == "" || out["token_type"] != "Bearer" {
		t.Fatalf("pair: %d %v", status, out)
	}
	if u := out["user"].(map[string]any); u["name"] != "alice" || u["email"] != "alice@example.com" {
		t.Errorf("user: %v", u)
	}
	token := out["token"].(string)
	if status, out := f.call("GET", "/v1/mobile/me", token, nil); status != http.StatusOK || out["session"].(map[string]any)["label"] != "Alice's iPhone" {
		t.Errorf("me: %d %v", status, out)
	}

	// A code works once.
	if status, _ := f.call("POST", "/v1/mobile/pair", "", map[string]string{"code": code}); status != http.StatusUnauthorized {
		t.Errorf("reused code: %d", status)
	}
	// A wrong code, and a code after its 10 minutes.
	if status, _ := f.call("POST", "/v1/mobile/pair", "", map[string]string{"code": "ABCD-EFGH"}); status != http.StatusUnauthorized {
		t.Errorf("wrong code: %d", status)
	}
	late := f.code("alice")
	f.b.Clock.Advance(store.PairingCodeTTL + time.Second)
	if status, _ := f.call("POST", "/v1/mobile/pair", "", map[string]string{"code": late}); status != http.StatusUnauthorized {
		t.Errorf("expired code: %d", status)
	}
	// Bad bodies say what is wrong.
	for _, body := range []string{"", "{", `{"code": 12345678}`, `[]`, `{}`} {
		if status, out := f.call("POST", "/v1/mobile/pair", "", body); status != http.StatusBadRequest {
			t.Errorf("body %q: %d %v", body, status, out)
		}
	}
}

func TestPairIsRateLimited(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for i := range mobile.DefaultLimit.PerClient {
		if status, _ := f.call("POST", "/v1/mobile/pair", "", map[string]string{"code": "ZZZZZZZZ"}); status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, status)
		}
	}
	// Even the right code waits now: a guesser cannot tell.
	code := f.code("alice")
	if status, _ := f.call("POST", "/v1/mobile/pair", "", map[string]string{"code": code}); status != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: %d", mobile.DefaultLimit.PerClient, status)
	}
	f.b.Clock.Advance(mobile.DefaultLimit.Window)
	if status, out := f.call("POST", "/v1/mobile/pair", "", map[string]string{"code": f.code("alice")}); status != http.StatusCreated {
		t.Fatalf("after the window: %d %v", status, out)
	}
}

func TestLimiterTotal(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := mobile.NewLimiter(mobile.Limit{PerClient: 3, Total: 5, Window: time.Minute}, func() time.Time { return now })
	for i := range 5 {
		l.Fail(string(rune('a' + i)))
	}
	if ok, wait := l.Allow("z"); ok || wait != time.Minute {
		t.Fatalf("after 5 failures from 5 clients: %v %s", ok, wait)
	}
	now = now.Add(time.Minute)
	if ok, _ := l.Allow("z"); !ok {
		t.Fatal("the window moved on")
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, h := range []string{"", "Bearer", "Basic abc", "Bearer not-a-token"} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/v1/mobile/incidents", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: %d %q", h, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	token := f.pair("alice")
	other := f.pair("alice")
	if status, _ := f.call("DELETE", "/v1/mobile/token", token, nil); status != http.StatusNoContent {
		t.Fatalf("revoke: %d", status)
	}
	if status, _ := f.call("GET", "/v1/mobile/incidents", token, nil); status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", status)
	}
	if status, _ := f.call("GET", "/v1/mobile/incidents", other, nil); status != http.StatusOK {
		t.Errorf("the other phone: %d", status)
	}
	if status, _ := f.call("GET", "/v1/mobile/nothing", other, nil); status != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d", status)
	}
}

func TestDevices(t *testing.T) {
	t.Parallel()
	f := setup(t)
	token := f.pair("alice")
	apnsToken := strings.Repeat("AB12", 16)
	status, out := f.call("POST", "/v1/mobile/devices", token, map[string]string{"platform": "apns", "token": apnsToken})
	if status != http.StatusOK || out["token"] != strings.ToLower(apnsToken) || out["platform"] != "apns" {
		t.Fatalf("register: %d %v", status, out)
	}
	for _, body := range []map[string]string{
		{"platform": "webpush", "token": "x"},
		{"platform": "apns", "token": "not hex"},
		{"platform": "fcm", "token": ""},
		{"platform": "fcm", "token": "has space"},
	} {
		if status, out := f.call("POST", "/v1/mobile/devices", token, body); status != http.StatusBadRequest || len(out["details"].([]any)) == 0 {
			t.Errorf("%v: %d %v", body, status, out)
		}
	}
	devices, err := store.DevicesForUser(context.Background(), f.b.Pool, "alice")
	if err != nil || len(devices) != 1 {
		t.Fatalf("devices: %v %v", devices, err)
	}
	// A rotated token replaces the session's old one.
	fcmToken := "fcm-token:APA91b_x-y"
	if status, out := f.call("POST", "/v1/mobile/devices", token, map[string]string{"platform": "fcm", "token": fcmToken}); status != http.StatusOK {
		t.Fatalf("register fcm: %d %v", status, out)
	}
	_, me := f.call("GET", "/v1/mobile/me", token, nil)
	if d := me["devices"].([]any); len(d) != 1 || d[0].(map[string]any)["token"] != fcmToken {
		t.Errorf("me devices: %v", d)
	}
	if status, _ := f.call("DELETE", "/v1/mobile/devices/"+fcmToken, token, nil); status != http.StatusNoContent {
		t.Errorf("remove: %d", status)
	}
	if status, _ := f.call("DELETE", "/v1/mobile/devices/"+fcmToken, token, nil); status != http.StatusNotFound {
		t.Errorf("remove again: %d", status)
	}
	for _, bad := range []string{"%00", "%ff%fe", strings.Repeat("a", 5000)} {
		if status, _ := f.call("DELETE", "/v1/mobile/devices/"+bad, token, nil); status != http.StatusNotFound {
			t.Errorf("remove %.10q: %d", bad, status)
		}
	}
	// Revoking the session removes its device.
	f.call("POST", "/v1/mobile/devices", token, map[string]string{"platform": "apns", "token": apnsToken})
	f.call("DELETE", "/v1/mobile/token", token, nil)
	if devices, _ := store.DevicesForUser(context.Background(), f.b.Pool, "alice"); len(devices) != 0 {
		t.Errorf("devices after revoke: %v", devices)
	}
}

func TestIncidents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	alice := f.pair("alice")
	mine := f.b.Trigger(t, "hook", "k1", "disk full")
	theirs := f.b.Trigger(t, "web-hook", "k2", "web down")
	f.b.Settle(t)

	status, out := f.call("GET", "/v1/mobile/incidents", alice, nil)
	list := out["incidents"].([]any)
	if status != http.StatusOK || len(list) != 1 {
		t.Fatalf("incidents: %d %v", status, out)
	}
	in := list[0].(map[string]any)
	if in["id"] != float64(mine) || in["service"] != "api" || in["state"] != "triggered" || in["summary"] != "disk full" {
		t.Errorf("incident: %v", in)
	}
	status, out = f.call("GET", "/v1/mobile/incidents/"+itoa(mine), alice, nil)
	if status != http.StatusOK || len(out["timeline"].([]any)) == 0 {
		t.Errorf("incident: %d %v", status, out)
	}

	status, out = f.call("GET", "/v1/mobile/oncall", alice, nil)
	if status != http.StatusOK || out["on_call"] != true || out["shifts"].([]any)[0].(map[string]any)["schedule"] != "ops-primary" {
		t.Errorf("oncall: %d %v", status, out)
	}

	// Someone else's team's incident: refused, unchanged.
	for _, action := range []string{"ack", "resolve", "escalate"} {
		if status, _ := f.call("POST", "/v1/mobile/incidents/"+itoa(theirs)+"/"+action, alice, nil); status != http.StatusForbidden {
			t.Errorf("%s theirs: %d", action, status)
		}
	}
	if status, _ := f.call("GET", "/v1/mobile/incidents/"+itoa(theirs), alice, nil); status != http.StatusForbidden {
		t.Errorf("get theirs: %d", status)
	}
	if in, _ := store.IncidentGet(context.Background(), f.b.Pool, theirs, store.LockNone); in.State != store.StateTriggered {
		t.Errorf("their incident is %s", in.State)
	}
	for _, path := range []string{"/v1/mobile/incidents/999999/ack", "/v1/mobile/incidents/abc/ack", "/v1/mobile/incidents/" + itoa(mine) + "/snooze"} {
		if status, _ := f.call("POST", path, alice, nil); status != http.StatusNotFound {
			t.Errorf("%s: %d", path, status)
		}
	}

	status, out = f.call("POST", "/v1/mobile/incidents/"+itoa(mine)+"/ack", alice, nil)
	if in := out["incident"].(map[string]any); status != http.StatusOK || in["state"] != "acknowledged" || in["acknowledged_by"] != "alice" {
		t.Fatalf("ack: %d %v", status, out)
	}
	// Again: harmless.
	if status, out := f.call("POST", "/v1/mobile/incidents/"+itoa(mine)+"/ack", alice, nil); status != http.StatusOK {
		t.Errorf("ack again: %d %v", status, out)
	}
	status, out = f.call("POST", "/v1/mobile/incidents/"+itoa(mine)+"/escalate", alice, nil)
	if in := out["incident"].(map[string]any); status != http.StatusOK || in["state"] != "triggered" {
		t.Errorf("escalate: %d %v", status, out)
	}
	status, out = f.call("POST", "/v1/mobile/incidents/"+itoa(mine)+"/resolve", alice, nil)
	if in := out["incident"].(map[string]any); status != http.StatusOK || in["state"] != "resolved" || in["resolved_by"] != "alice" {
		t.Errorf("resolve: %d %v", status, out)
	}
	if _, out := f.call("GET", "/v1/mobile/incidents", alice, nil); len(out["incidents"].([]any)) != 0 {
		t.Errorf("open incidents after resolve: %v", out)
	}
}

func itoa(id int64) string { return strings.TrimSpace(string(must(json.Marshal(id)))) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
