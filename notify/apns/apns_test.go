package apns_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"github.com/sideshow/apns2/token"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/apns"
	"github.com/oncall/oncall/notify/apns/apnstest"
	"github.com/oncall/oncall/notify/push"
)

var (
	phone1 = strings.Repeat("a1", 32)
	phone2 = strings.Repeat("b2", 32)
)

func page() notify.Page {
	return notify.Page{
		IncidentID: 42, Service: "payments-api", Summary: "Checkout error rate above 5%", Severity: "critical",
		Urgency: "high", State: notify.StateTriggered, Escalation: "step 1 of payments", Alerts: 1,
		URL: "https://oncall.example.com/incidents/42",
	}
}

func target(tokens ...string) notify.Target {
	to := notify.Target{User: "alice", Method: notify.MethodPush}
	for _, t := range tokens {
		to.Devices = append(to.Devices, notify.Device{Platform: notify.PlatformAPNs, Token: t})
	}
	return to
}

func newChannel(t *testing.T, srv *apnstest.Server, edit func(*apns.Config)) *apns.Channel {
	t.Helper()
	cfg := srv.Config()
	if edit != nil {
		edit(&cfg)
	}
	ch, err := apns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// The fake answers the real client (sideshow/apns2) as APNs would.
func TestFakeWithRealClient(t *testing.T) {
	t.Parallel()
	srv := apnstest.New(t)
	key, err := token.AuthKeyFromFile(srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	client := apns2.NewTokenClient(&token.Token{AuthKey: key, KeyID: srv.KeyID, TeamID: srv.TeamID})
	client.Host, client.HTTPClient = srv.URL, srv.Client()
	ctx := context.Background()
	n := &apns2.Notification{
		DeviceToken: phone1, Topic: srv.Topic, CollapseID: "incident-1", Priority: apns2.PriorityHigh,
		Expiration: time.Now().Add(time.Hour), Payload: payload.NewPayload().AlertTitle("hello").Sound("default"),
	}
	res, err := client.PushWithContext(ctx, n)
	if err != nil || !res.Sent() || res.ApnsID == "" {
		t.Fatalf("push = %+v, %v", res, err)
	}
	got := srv.Pushes()
	if len(got) != 1 || got[0].DeviceToken != phone1 || got[0].Topic != srv.Topic || got[0].PushType != "alert" ||
		got[0].Priority != "10" || got[0].CollapseID != "incident-1" || got[0].ID != res.ApnsID ||
		!strings.HasPrefix(got[0].Authorization, "bearer ey") || got[0].Expiration == "" {
		t.Fatalf("recorded %+v", got)
	}
	if alert, _ := got[0].APS()["alert"].(map[string]any); alert["title"] != "hello" {
		t.Errorf("payload %s", got[0].Body)
	}

	srv.Unregister(phone2)
	n.DeviceToken = phone2
	res, err = client.PushWithContext(ctx, n)
	if err != nil || res.StatusCode != http.StatusGone || res.Reason != apns2.ReasonUnregistered || res.Timestamp.IsZero() {
		t.Errorf("push to an unregistered token = %+v, %v", res, err)
	}
	n.DeviceToken = "not-hex"
	if res, err = client.PushWithContext(ctx, n); err != nil || res.StatusCode != 400 || res.Reason != apns2.ReasonBadDeviceToken {
		t.Errorf("push to a malformed token = %+v, %v", res, err)
	}
	n.DeviceToken, n.Topic = phone1, "com.example.other"
	if res, err = client.PushWithContext(ctx, n); err != nil || res.StatusCode != 400 || res.Reason != apns2.ReasonTopicDisallowed {
		t.Errorf("push to another topic = %+v, %v", res, err)
	}
	n.Topic = srv.Topic

	// A key the fake does not know.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger := apns2.NewTokenClient(&token.Token{AuthKey: other, KeyID: srv.KeyID, TeamID: srv.TeamID})
	stranger.Host, stranger.HTTPClient = srv.URL, srv.Client()
	if res, err = stranger.PushWithContext(ctx, n); err != nil || res.StatusCode != 403 || res.Reason != apns2.ReasonInvalidProviderToken {
		t.Errorf("push signed by another key = %+v, %v", res, err)
	}
	// APNs speaks HTTP/2 only.
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()}}
	h1.Transport.(*http.Transport).TLSClientConfig.NextProtos = []string{"http/1.1"}
	resp, err := h1.Post(srv.URL+"/3/device/"+phone1, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusHTTPVersionNotSupported {
		t.Errorf("HTTP/1.1 push: %d", resp.StatusCode)
	}
	if len(srv.Pushes()) != 1 {
		t.Errorf("the fake recorded refused pushes: %+v", srv.Pushes())
	}
}

func TestSendPage(t *testing.T) {
	t.Parallel()
	srv := apnstest.New(t)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	ch := newChannel(t, srv, func(c *apns.Config) { c.Now = func() time.Time { return now } })
	to := target(phone1, phone2)
	to.Devices = append(to.Devices, notify.Device{Platform: notify.PlatformFCM, Token: "an-android-phone"})
	rcpt, err := ch.Send(context.Background(), to, page())
	if err != nil || !strings.HasPrefix(rcpt.Ref, "apns:") {
		t.Fatalf("Send = %+v, %v", rcpt, err)
	}
	got := srv.Pushes()
	if len(got) != 2 {
		t.Fatalf("%d pushes; want one per iPhone (and none to the Android phone): %+v", len(got), got)
	}
	for _, p := range got {
		if p.Topic != srv.Topic || p.PushType != "alert" || p.Priority != "10" || p.CollapseID != "incident-42" ||
			p.Expiration != strconv.FormatInt(now.Add(apns.DefaultTTL).Unix(), 10) {
			t.Errorf("headers %+v", p.Header)
		}
		aps := p.APS()
		alert, _ := aps["alert"].(map[string]any)
		if alert["title"] != "#42 payments-api" || alert["subtitle"] != "critical · step 1 of payments" ||
			alert["body"] != "Checkout error rate above 5%" {
			t.Errorf("alert %v", alert)
		}
		if aps["category"] != "INCIDENT" || aps["thread-id"] != "incident-42" || aps["interruption-level"] != "time-sensitive" ||
			aps["sound"] != "default" {
			t.Errorf("aps %v", aps)
		}
		if p.Payload["incident_id"] != float64(42) || p.Payload["service"] != "payments-api" || p.Payload["state"] != "triggered" ||
			p.Payload["severity"] != "critical" || p.Payload["url"] != "https://oncall.example.com/incidents/42" {
			t.Errorf("custom data %s", p.Body)
		}
	}
	if !strings.Contains(rcpt.Ref, got[0].ID) || !strings.Contains(rcpt.Ref, got[1].ID) {
		t.Errorf("receipt %q does not name the pushes %s and %s", rcpt.Ref, got[0].ID, got[1].ID)
	}
}

func TestInterruptionLevels(t *testing.T) {
	t.Parallel()
	srv := apnstest.New(t)
	critical := newChannel(t, srv, func(c *apns.Config) { c.Critical = true })
	plain := newChannel(t, srv, nil)
	low := page()
	low.Urgency = "low"
	acked := page()
	acked.State, acked.StateBy = notify.StateAcknowledged, "bob"
	for _, c := range []struct {
		ch    *apns.Channel
		p     notify.Page
		level string
		sound any
	}{
		{critical, page(), "critical", map[string]any{"critical": float64(1), "name": "default", "volume": float64(1)}},
		{critical, low, "active", "default"},
		{plain, low, "active", "default"},
		{plain, acked, "active", "default"},
	} {
		srv.Reset()
		if _, err := c.ch.Send(context.Background(), target(phone1), c.p); err != nil {
			t.Fatal(err)
		}
		aps := srv.Pushes()[0].APS()
		if aps["interruption-level"] != c.level || !equalJSON(aps["sound"], c.sound) {
			t.Errorf("urgency %s, state %s: aps %v; want level %s, sound %v", c.p.Urgency, c.p.State, aps, c.level, c.sound)
		}
	}
	title := critical.Payload(acked).APS.Alert
	if title.Title != "Acknowledged: #42 payments-api" || !strings.HasSuffix(title.Subtitle, "by bob") {
		t.Errorf("acknowledged page's alert %+v", title)
	}
}

func equalJSON(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok != bok {
		return false
	}
	if !aok {
		return a == b
	}
	if len(am) != len(bm) {
		return false
	}
	for k, v := range am {
		if bm[k] != v {
			return false
		}
	}
	return true
}

func TestUnregisteredTokens(t *testing.T) {
	t.Parallel()
	srv := apnstest.New(t)
	ch := newChannel(t, srv, nil)
	gone, bad := strings.Repeat("c3", 32), strings.Repeat("d4", 32)
	srv.Unregister(gone)
	srv.Fail(bad, http.StatusBadRequest, apns2.ReasonBadDeviceToken)

	// One phone got it: delivered, and the dead tokens are reported.
	rcpt, err := ch.Send(context.Background(), target(gone, phone1, bad), page())
	var ue *notify.UnregisteredError
	if rcpt.Ref == "" || !errors.As(err, &ue) || notify.IsPermanent(err) {
		t.Fatalf("Send = %+v, %v; want a receipt and an UnregisteredError", rcpt, err)
	}
	if strings.Join(ue.Tokens, ",") != gone+","+bad {
		t.Errorf("unregistered %q", ue.Tokens)
	}

	// None did: a permanent failure that still names them.
	rcpt, err = ch.Send(context.Background(), target(gone, bad), page())
	if rcpt.Ref != "" || !notify.IsPermanent(err) || !errors.As(err, &ue) || len(ue.Tokens) != 2 {
		t.Fatalf("Send to dead tokens = %+v, %v", rcpt, err)
	}
	if strings.Contains(err.Error(), gone) {
		t.Errorf("the error shows a whole device token: %v", err)
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	srv := apnstest.New(t)
	ch := newChannel(t, srv, func(c *apns.Config) { c.RateLimitWait = 3 * time.Second })
	ctx := context.Background()

	srv.FailNext(http.StatusTooManyRequests, apns2.ReasonTooManyRequests)
	_, err := ch.Send(ctx, target(phone1), page())
	if d, ok := notify.RateLimited(err); !ok || d != 3*time.Second {
		t.Errorf("429: %v; want rate limited for 3s", err)
	}
	srv.FailNext(http.StatusInternalServerError, apns2.ReasonInternalServerError)
	_, err = ch.Send(ctx, target(phone1), page())
	if _, ok := notify.RateLimited(err); err == nil || ok || notify.IsPermanent(err) {
		t.Errorf("500: %v; want a temporary failure", err)
	}
	srv.FailNext(http.StatusForbidden, apns2.ReasonInvalidProviderToken)
	_, err = ch.Send(ctx, target(phone1), page())
	if !notify.IsPermanent(err) {
		t.Errorf("403: %v; want a permanent failure", err)
	}
	// A rate limit on one phone and a server error on another: the rate
	// limit wins (it says when to come back).
	srv.Fail(phone2, http.StatusServiceUnavailable, apns2.ReasonServiceUnavailable)
	srv.FailNext(http.StatusTooManyRequests, apns2.ReasonTooManyRequests)
	_, err = ch.Send(ctx, target(phone1, phone2), page())
	if _, ok := notify.RateLimited(err); !ok {
		t.Errorf("429 + 503: %v; want rate limited", err)
	}
	// One phone failing does not fail a page another phone got.
	if rcpt, err := ch.Send(ctx, target(phone1, phone2), page()); err != nil || rcpt.Ref == "" {
		t.Errorf("Send with one failing phone = %+v, %v", rcpt, err)
	}

	if _, err := ch.Send(ctx, target(), page()); !errors.Is(err, push.ErrNoDevices) || !notify.IsPermanent(err) {
		t.Errorf("no devices: %v", err)
	}
	var off *apns.Channel
	if _, err := off.Send(ctx, target(phone1), page()); !errors.Is(err, notify.ErrOff) {
		t.Errorf("nil channel: %v; want ErrOff", err)
	}
	// An unreachable APNs is temporary.
	down := newChannel(t, srv, func(c *apns.Config) { c.URL = "https://127.0.0.1:1" })
	if _, err := down.Send(ctx, target(phone1), page()); err == nil || notify.IsPermanent(err) {
		t.Errorf("unreachable: %v; want temporary", err)
	} else if strings.Contains(err.Error(), phone1) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		// The transport's error quotes the URL, which ends in the token.
		t.Errorf("unreachable: %q holds the device token, or not the host", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	srv := apnstest.New(t)
	bad := filepath.Join(t.TempDir(), "bad.p8")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*apns.Config){
		"missing file": func(c *apns.Config) { c.KeyFile = filepath.Join(t.TempDir(), "none.p8") },
		"not a key":    func(c *apns.Config) { c.KeyFile = bad },
		"no topic":     func(c *apns.Config) { c.Topic = "" },
		"no key ID":    func(c *apns.Config) { c.KeyID = "" },
	} {
		cfg := srv.Config()
		edit(&cfg)
		if _, err := apns.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	pem, err := os.ReadFile(srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	cfg.KeyFile, cfg.Key = "", pem
	ch, err := apns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Send(context.Background(), target(phone1), page()); err != nil {
		t.Errorf("Send with the key given inline: %v", err)
	}
}
