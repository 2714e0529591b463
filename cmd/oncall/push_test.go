package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/apns/apnstest"
	"github.com/oncall/oncall/notify/fcm/fcmtest"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/store"
)

// pushStack is the server with alice paged by Slack and push at once, and
// push going to a fake APNs and a fake FCM.
func pushStack(t *testing.T) (*stack, *apnstest.Server, *fcmtest.Server) {
	t.Helper()
	a, f := apnstest.New(t), fcmtest.New(t)
	apnsClients.Store(a.URL, a.Client())
	t.Cleanup(func() { apnsClients.Delete(a.URL) })
	config := strings.Replace(pagingConfig, "- {after: 0s, notify: [slack]}", "- {after: 0s, notify: [slack, push]}", 1)
	s := startStack(t, withConfig(config), withEnv(map[string]string{
		"APNS_KEY_FILE": a.KeyFile, "APNS_KEY_ID": a.KeyID, "APNS_TEAM_ID": a.TeamID, "APNS_TOPIC": a.Topic, "APNS_URL": a.URL,
		"FCM_CREDENTIALS_FILE": f.CredentialsFile, "FCM_URL": f.URL,
	}))
	return s, a, f
}

var pairingCodeRE = regexp.MustCompile(`\b[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}\b`)

// slackPairingCode runs /oncall mobile as a Slack user and returns the code
// the bot answered with.
func (s *stack) slackPairingCode(slackUser string) string {
	s.t.Helper()
	path := "/commands/" + slacktest.TeamID + "/mobile-" + url.PathEscape(slackUser) + "-" + strconv.Itoa(len(s.slack.Calls("response_url")))
	env := s.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "mobile", UserID: slackUser, ResponseURL: s.slack.URL() + path})
	if _, err := s.slack.WaitForAck(s.ctx(), env); err != nil {
		s.t.Fatalf("/oncall mobile not acknowledged: %v", err)
	}
	c, err := s.slack.WaitFor(s.ctx(), func(c slacktest.Call) bool { return c.Method == "response_url" && c.Params.Get("path") == path })
	if err != nil {
		s.t.Fatalf("/oncall mobile: no reply: %v", err)
	}
	code := pairingCodeRE.FindString(string(c.JSON))
	if code == "" {
		s.t.Fatalf("/oncall mobile: no code in %s", c.JSON)
	}
	return code
}

// mobile calls the mobile API and decodes its JSON answer.
func (s *stack) mobile(method, path, token string, body any) (int, map[string]any) {
	s.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, s.url+"/v1/mobile"+path, strings.NewReader(string(b)))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// pairPhone pairs a phone with a code from Slack and registers its push
// token; it returns the phone's mobile token.
func (s *stack) pairPhone(label, platform, deviceToken string) string {
	s.t.Helper()
	status, out := s.mobile("POST", "/pair", "", map[string]string{"code": s.slackPairingCode("U0ALICE"), "label": label})
	if status != http.StatusCreated {
		s.t.Fatalf("pair: %d %v", status, out)
	}
	token := out["token"].(string)
	if status, out := s.mobile("POST", "/devices", token, map[string]string{"platform": platform, "token": deviceToken}); status != http.StatusOK {
		s.t.Fatalf("register %s: %d %v", platform, status, out)
	}
	return token
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Mobile, end to end: pair with the code from Slack, register an iPhone and
// an Android phone, get the page on both, acknowledge from the phone; an
// uninstalled app's token is removed at the next page.
func TestPushAndMobileAck(t *testing.T) {
	t.Parallel()
	s, a, f := pushStack(t)
	iphone := strings.Repeat("0a1b2c3d", 8)
	token := s.pairPhone("Alice's iPhone", "apns", iphone)
	s.pairPhone("Alice's Pixel", "fcm", "fcm-registration:APA91b-alice")

	id := s.alert(sample(t, "am-webhook-firing.json"))
	waitFor(t, "the APNs push", func() bool { return len(a.Pushes()) == 1 })
	waitFor(t, "the FCM message", func() bool { return len(f.Messages()) == 1 })

	p := a.Pushes()[0]
	aps := p.APS()
	if p.DeviceToken != iphone || p.Topic != a.Topic || p.PushType != "alert" || p.Priority != "10" || p.CollapseID != "incident-"+strconv.FormatInt(id, 10) {
		t.Errorf("APNs push headers: %+v", p)
	}
	if aps["interruption-level"] != "time-sensitive" || aps["category"] != "INCIDENT" || aps["sound"] != "default" || aps["thread-id"] != p.CollapseID {
		t.Errorf("aps: %v", aps)
	}
	if p.Payload["incident_id"] != float64(id) || p.Payload["state"] != "triggered" || p.Payload["service"] != "payments-api" {
		t.Errorf("payload: %s", p.Body)
	}
	m := f.Messages()[0]
	if m.Data["incident_id"] != strconv.FormatInt(id, 10) || m.Android.Priority != "high" || m.Android.CollapseKey != p.CollapseID {
		t.Errorf("FCM message: %+v", m)
	}

	// The app lists it and acknowledges it.
	status, out := s.mobile("GET", "/incidents", token, nil)
	if list, _ := out["incidents"].([]any); status != http.StatusOK || len(list) != 1 {
		t.Fatalf("incidents: %d %v", status, out)
	}
	if status, out := s.mobile("POST", "/incidents/"+strconv.FormatInt(id, 10)+"/ack", token, nil); status != http.StatusOK {
		t.Fatalf("ack: %d %v", status, out)
	}
	s.waitState(id, store.StateAcknowledged)
	if in := s.incident(id); in.AcknowledgedBy != "alice" {
		t.Errorf("acknowledged by %q", in.AcknowledgedBy)
	}

	// The iPhone app is uninstalled: APNs answers 410 and the next page
	// removes its token, still reaching the Android phone.
	a.Unregister(iphone)
	body := strings.Replace(string(sample(t, "am-webhook-firing.json")), `DiskFull\"}"`, `DiskFull2\"}"`, 1)
	id2 := s.alert([]byte(body))
	if id2 == id {
		t.Fatal("the second alert joined the first incident")
	}
	waitFor(t, "the second FCM message", func() bool { return len(f.Messages()) == 2 })
	waitFor(t, "the iPhone's removal", func() bool {
		d, err := store.DevicesForUser(context.Background(), s.pool, "alice")
		return err == nil && len(d) == 1 && d[0].Platform == "fcm"
	})
	s.settle()
	tl := s.timeline(id2)
	if !strings.Contains(tl, "removed 1 phone(s) of alice") || !strings.Contains(tl, "notified alice by push") {
		t.Errorf("timeline:\n%s", tl)
	}
}
