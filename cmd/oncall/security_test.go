package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify/apns/apnstest"
	"github.com/oncall/oncall/notify/email"
	"github.com/oncall/oncall/notify/email/smtptest"
	"github.com/oncall/oncall/notify/fcm/fcmtest"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/notify/twilio/twiliotest"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// The secrets of the security tests' company. The email addresses' local
// parts and the phone numbers are spelled so that they appear nowhere else
// (not as user names, not inside other values), so a grep of the log for
// them finds only a leak.
const (
	secAlicePhone = "+15551234567"
	secBobPhone   = "+15559876543"
	secAliceMail  = "zqalicemailbox@example.com"
	secBobMail    = "xkbobmailbox@example.org"
	secSMTPPass   = "Smtp-Pa55word-9f3k"
)

const securityConfig = `
kind: User
name: alice
email: ` + secAliceMail + `
slack_id: U0ALICE
contact_methods:
  - {name: cell, type: sms, address: "` + secAlicePhone + `"}
  - {name: cell-call, type: voice, address: "` + secAlicePhone + `"}
  - {name: work, type: email, address: ` + secAliceMail + `}
notification_rules:
  - {after: 0s, notify: [slack, push, work]}
  - {after: 1m, notify: [cell]}
  - {after: 2m, notify: [cell-call]}
---
kind: User
name: bob
email: ` + secBobMail + `
slack_id: U0BOB
contact_methods:
  - {name: cell, type: sms, address: "` + secBobPhone + `"}
  - {name: home, type: email, address: ` + secBobMail + `}
notification_rules:
  - {after: 0s, notify: [cell, home]}
---
kind: User
name: mallory
email: mallory@example.com
slack_id: U0MALLORY
---
kind: Team
name: payments
members: [alice, bob]
admins: [alice]
slack_channel: C0PAY
---
kind: Schedule
name: primary
team: payments
time_zone: Europe/Berlin
layers:
  - {name: all, members: [alice], start: "2026-01-05T09:00", shift: 1w}
---
kind: EscalationPolicy
name: payments
team: payments
steps:
  - targets: [{schedule: primary}, {user: bob}]
    escalate_after: 30m
---
kind: Service
name: payments-api
team: payments
escalation_policy: payments
integrations:
  - {name: prom, type: alertmanager}
  - {name: pd, type: pagerduty}
  - {name: hook, type: generic}
  - {name: nightly, type: heartbeat, timeout: 1h}
  - {name: retired, type: generic}
`

// securityStack is the server with every provider on (fake Slack, Twilio,
// SMTP, APNs, FCM) and its log captured at debug level.
type securityStack struct {
	*stack
	log    *syncBuffer
	twilio *twiliotest.Server
	mta    *smtptest.Server
	apns   *apnstest.Server
	fcm    *fcmtest.Server
}

func startSecurityStack(t *testing.T) *securityStack {
	t.Helper()
	tw := twiliotest.New(t)
	tw.Connect(publicURL)
	mta := smtptest.New(t, smtptest.Options{Username: "mailer", Password: secSMTPPass})
	a, f := apnstest.New(t), fcmtest.New(t)
	apnsClients.Store(a.URL, a.Client())
	t.Cleanup(func() { apnsClients.Delete(a.URL) })
	sl := slacktest.New(t)
	sl.AddUser("U0ALICE", secAliceMail, "alice", "Europe/Berlin")
	sl.AddUser("U0BOB", secBobMail, "bob", "America/New_York")
	sl.AddUser("U0MALLORY", "mallory@example.com", "mallory", "UTC")
	sl.AddUser("U0STRANGER", "stranger@elsewhere.com", "stranger", "UTC")
	sl.AddChannel("C0PAY", "payments")

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "company.yaml"), []byte(securityConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := storetest.NewEmpty(t)
	vars := map[string]string{
		"DATABASE_URL":       storetest.URL(pool),
		"ONCALL_HTTP_ADDR":   "127.0.0.1:0",
		"ONCALL_PUBLIC_URL":  publicURL,
		"ONCALL_CONFIG":      dir,
		"ONCALL_LOG_FORMAT":  "json",
		"ONCALL_LOG_LEVEL":   "debug",
		"SLACK_APP_TOKEN":    sl.AppToken(),
		"SLACK_BOT_TOKEN":    sl.BotToken(),
		"SLACK_API_URL":      sl.APIURL(),
		"TWILIO_ACCOUNT_SID": tw.AccountSID,
		"TWILIO_AUTH_TOKEN":  tw.AuthToken,
		"TWILIO_FROM_NUMBER": tw.Number,
		"TWILIO_API_URL":     tw.URL,
		"SMTP_URL":           mta.URL(),
		"EMAIL_FROM":         "Oncall <oncall@example.com>",
		"APNS_KEY_FILE":      a.KeyFile, "APNS_KEY_ID": a.KeyID, "APNS_TEAM_ID": a.TeamID, "APNS_TOPIC": a.Topic, "APNS_URL": a.URL,
		"FCM_CREDENTIALS_FILE": f.CredentialsFile, "FCM_URL": f.URL,
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] }, false)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, slack: sl, pool: pool, clock: &oncall.OffsetClock{}, out: &syncBuffer{}}
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the server's log:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	e := &env{stdout: s.out, stderr: logs, getenv: func(k string) string { return vars[k] }}
	go func() {
		done <- serve(ctx, e, cfg, serveOptions{migrate: true, clock: s.clock,
			listening: func(a string) { addr <- a }, engine: func(e *jobs.Engine) { s.engine = e }})
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
	select {
	case a := <-addr:
		s.url = "http://" + a
		tw.DialWebhooksTo(a)
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	s.keys = map[string]string{}
	re := regexp.MustCompile(`(?m)^\s+(\S+) \((\w+), service [^)]*\): (?:routing_key (\S+),|beat with POST ` + regexp.QuoteMeta(publicURL) +
		`/v1/heartbeats/(\S+)|` + regexp.QuoteMeta(publicURL) + `/v1/alerts/(\S+))`)
	for _, m := range re.FindAllStringSubmatch(s.out.String(), -1) {
		s.keys[m[1]] = m[3] + m[4] + m[5]
	}
	if len(s.keys) != 5 {
		t.Fatalf("keys printed at start: %v\n%s", s.keys, s.out.String())
	}
	if err := sl.WaitConnected(s.ctx(), 1); err != nil {
		t.Fatalf("bot did not connect: %v", err)
	}
	return &securityStack{stack: s, log: logs, twilio: tw, mta: mta, apns: a, fcm: f}
}

// answer is an HTTP answer as a client sees it.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

// do sends a request to the server; header is name, value pairs.
func (s *stack) do(method, path string, body []byte, header ...string) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	resp.Header.Del("Date") // the only header that may differ between two answers
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// nearMiss is secret with one character changed: one in the middle, as
// the last character of a base64 string may carry only padding bits.
func nearMiss(secret string) string {
	b := []byte(secret)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// phoneForms are the ways a phone number may be written in a log.
func phoneForms(e164 string) []string {
	d := strings.TrimPrefix(e164, "+")
	national := d[1:] // +1 numbers: the ten digits
	return []string{e164, d, national, url.QueryEscape(e164),
		national[:3] + "-" + national[3:6] + "-" + national[6:],
		"(" + national[:3] + ") " + national[3:6] + "-" + national[6:],
		national[:3] + " " + national[3:6] + " " + national[6:]}
}

// The log, at debug level, of a day with every kind of request and every
// provider (including failures: a failure's error is what gets logged),
// holds no secret and no phone number or email address.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	s := startSecurityStack(t)
	ctx := context.Background()
	secrets := map[string]string{
		"twilio auth token": s.twilio.AuthToken,
		"slack bot token":   s.slack.BotToken(),
		"slack app token":   s.slack.AppToken(),
		"smtp password":     secSMTPPass,
	}
	for name, key := range s.keys {
		secrets["integration key "+name] = key
		secrets["near miss of integration key "+name] = nearMiss(key)
	}

	// Mobile: a wrong pairing code, the right one, two push tokens; a
	// wrong token and a removal of a token that is not registered.
	if a := s.do("POST", "/v1/mobile/pair", []byte(`{"code":"ZZZZ-ZZZZ"}`)); a.Status != http.StatusUnauthorized {
		t.Fatalf("wrong pairing code: %+v", a)
	}
	code := s.slackPairingCode("U0ALICE")
	secrets["pairing code"] = code
	secrets["pairing code, plain"] = strings.ReplaceAll(code, "-", "")
	status, out := s.mobile("POST", "/pair", "", map[string]string{"code": code, "label": "Alice's iPhone"})
	if status != http.StatusCreated {
		t.Fatalf("pair: %d %v", status, out)
	}
	token := out["token"].(string)
	secrets["mobile token"], secrets["near miss of the mobile token"] = token, nearMiss(token)
	iphone := "5ec7e7d0" + strings.Repeat("0a1b2c3d", 7)
	pixel := "fcm-registration:APA91bSecretPixelToken"
	secrets["apns device token"], secrets["fcm device token"] = iphone, pixel
	if status, out := s.mobile("POST", "/devices", token, map[string]string{"platform": "apns", "token": iphone}); status != http.StatusOK {
		t.Fatalf("register apns: %d %v", status, out)
	}
	status, out = s.mobile("POST", "/pair", "", map[string]string{"code": s.slackPairingCode("U0ALICE"), "label": "Pixel"})
	if status != http.StatusCreated {
		t.Fatalf("pair the pixel: %d %v", status, out)
	}
	pixelToken := out["token"].(string)
	secrets["second mobile token"] = pixelToken
	if status, out := s.mobile("POST", "/devices", pixelToken, map[string]string{"platform": "fcm", "token": pixel}); status != http.StatusOK {
		t.Fatalf("register fcm: %d %v", status, out)
	}
	if status, _ := s.mobile("GET", "/me", nearMiss(token), nil); status != http.StatusUnauthorized {
		t.Fatalf("near-miss mobile token: %d", status)
	}
	gone := "not-registered-device-token-7f3e9a"
	secrets["unregistered device token"] = gone
	if status, _ := s.mobile("DELETE", "/devices/"+gone, token, nil); status != http.StatusNotFound {
		t.Fatalf("remove an unknown device: %d", status)
	}

	// A calendar feed, and a wrong token.
	var scheduleID int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM schedules WHERE name = 'primary'`).Scan(&scheduleID); err != nil {
		t.Fatal(err)
	}
	_, cal, err := store.CalendarTokenCreate(ctx, s.pool, store.CalendarOwner{ScheduleID: scheduleID}, s.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	secrets["calendar token"], secrets["near miss of the calendar token"] = cal, nearMiss(cal)
	if a := s.do("GET", "/v1/calendars/"+cal+".ics", nil); a.Status != http.StatusOK {
		t.Fatalf("calendar: %+v", a)
	}
	if a := s.do("GET", "/v1/calendars/"+nearMiss(cal)+".ics", nil); a.Status != http.StatusNotFound {
		t.Fatalf("calendar, wrong token: %+v", a)
	}

	// A heartbeat, and a wrong one.
	if a := s.do("POST", "/v1/heartbeats/"+s.keys["nightly"], nil); a.Status != http.StatusAccepted {
		t.Fatalf("heartbeat: %+v", a)
	}
	if a := s.do("POST", "/v1/heartbeats/"+nearMiss(s.keys["nightly"]), nil); a.Status != http.StatusNotFound {
		t.Fatalf("heartbeat, wrong key: %+v", a)
	}

	// Providers that fail: the first text (a 500, retried), bob's number
	// (invalid, for good), the first email (a temporary refusal that
	// quotes the recipient, as servers do), the APNs push (a 500), the FCM one (unregistered).
	s.twilio.FailNext(1, http.StatusInternalServerError)
	s.twilio.FailNumber(secBobPhone, 21211)
	s.mta.RejectNext(451, "4.2.1 <{rcpt}>: mailbox busy, try later")
	s.apns.FailNext(http.StatusInternalServerError, "InternalServerError")
	s.fcm.Unregister(pixel) // the app was uninstalled: the token is dropped
	s.slack.FailNext("chat.postMessage", 1, http.StatusInternalServerError, 0)

	// Alerts: the key in the path, as a bearer token, as a routing key;
	// wrong keys.
	id := s.alert(sample(t, "am-webhook-firing.json"))
	num := strconv.FormatInt(id, 10)
	if a := s.do("POST", "/v1/alerts", []byte(`{"summary":"queue depth high","dedup_key":"q"}`), "Authorization", "Bearer "+s.keys["hook"]); a.Status != http.StatusAccepted {
		t.Fatalf("bearer alert: %+v", a)
	}
	pd := `{"routing_key":"` + s.keys["pd"] + `","event_action":"trigger","dedup_key":"pd-1","payload":{"summary":"db down","source":"db1","severity":"critical"}}`
	if a := s.do("POST", "/v2/enqueue", []byte(pd)); a.Status != http.StatusAccepted {
		t.Fatalf("pagerduty: %+v", a)
	}
	if a := s.do("POST", "/v1/alerts/"+nearMiss(s.keys["prom"]), sample(t, "am-webhook-firing.json")); a.Status != http.StatusNotFound {
		t.Fatalf("wrong key: %+v", a)
	}
	if a := s.do("POST", "/v2/enqueue", []byte(strings.Replace(pd, s.keys["pd"], nearMiss(s.keys["pd"]), 1))); a.Status != http.StatusNotFound {
		t.Fatalf("wrong routing key: %+v", a)
	}

	// The pages: Slack, push and email to alice, a text and an email to bob.
	var ack string
	waitFor(t, "alice's email", func() bool {
		for _, m := range s.mta.Messages() {
			if len(m.To) == 1 && m.To[0] == secAliceMail && m.Header.Get("X-Oncall-Incident") == num {
				ack = m.Link("Acknowledge")
			}
		}
		return ack != ""
	})
	secrets["email action token"] = linkToken(t, ack)
	s.twilio.FailNumber(secBobPhone, 0)

	// Alice's text at 1 minute: delivered; her reply acknowledges the
	// alertmanager incident.
	s.advance(time.Minute + time.Second)
	s.advance(2 * time.Second) // River's backoff after the 500
	waitFor(t, "a text to alice", func() bool { return len(s.twilio.MessagesTo(secAlicePhone)) >= 1 })
	sms := s.twilio.MessagesTo(secAlicePhone)[0]
	if err := s.twilio.Deliver(s.ctx(), sms.SID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.twilio.SendSMS(s.ctx(), secAlicePhone, "ack "+num); err != nil {
		t.Fatal(err)
	}
	s.waitState(id, store.StateAcknowledged)
	// Someone we do not know texts us; a forged webhook.
	stranger := "+15557654321"
	if _, err := s.twilio.SendSMS(s.ctx(), stranger, "ack all"); err != nil {
		t.Fatal(err)
	}
	if sess, err := s.twilio.Dial(s.ctx(), stranger); err != nil {
		t.Fatal(err)
	} else {
		_ = sess.Hangup(s.ctx())
	}
	form := url.Values{"From": {secAlicePhone}, "To": {s.twilio.Number}, "Body": {"ack all"}, "MessageSid": {"SMforged"}}
	if status, _, err := s.twilio.Post(s.ctx(), publicURL+"/v1/twilio/sms", form, twiliotest.Signature("0000000000000000", publicURL+"/v1/twilio/sms", form)); err != nil || status != http.StatusForbidden {
		t.Fatalf("forged: %d %v", status, err)
	}

	// The email link: opened, then confirmed (the incident is already
	// acknowledged); a forged one.
	if code, _ := httpGet(t, s.local(ack)); code != http.StatusOK {
		t.Fatalf("email link: %d", code)
	}
	if code, _ := httpPostForm(t, s.url+email.ActPath, url.Values{"t": {linkToken(t, ack)}}); code != http.StatusOK {
		t.Fatalf("email link confirmed: %d", code)
	}
	if code, _ := httpGet(t, strings.Replace(s.local(ack), "t=", "t=x", 1)); code != http.StatusBadRequest {
		t.Fatalf("forged email link: %d", code)
	}

	// The call at 2 minutes for the open incidents: alice answers one and
	// presses 4; the call reports its end.
	s.advance(time.Minute)
	s.twilio.FailNext(1, http.StatusServiceUnavailable)
	s.advance(2 * time.Second)
	waitFor(t, "a call to alice", func() bool { return len(s.twilio.Calls()) >= 1 })
	call := s.twilio.Calls()[0]
	sess, err := s.twilio.Answer(s.ctx(), call.SID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Press(s.ctx(), "4"); err != nil {
		t.Fatal(err)
	}
	_ = sess.Hangup(s.ctx())
	// The rest by SMS.
	if _, err := s.twilio.SendSMS(s.ctx(), secAlicePhone, "ack all"); err != nil {
		t.Fatal(err)
	}
	s.settle()

	// What was logged: a lot (so the capture works), and nothing secret.
	logs := s.log.String()
	for _, want := range []string{`"message":"http request"`, `"route":"POST /v1/alerts/{key}"`, `"error":"twilio: sms to `} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the log lacks %s: is it captured at debug level?\n%s", want, logs)
		}
	}
	for name, v := range secrets {
		if strings.Contains(logs, v) {
			t.Errorf("the log holds the %s %q:\n%s", name, v, around(logs, v))
		}
	}
	for _, phone := range []string{secAlicePhone, secBobPhone, stranger} {
		for _, f := range phoneForms(phone) {
			if strings.Contains(logs, f) {
				t.Errorf("the log holds the phone number %s as %q:\n%s", phone, f, around(logs, f))
			}
		}
	}
	for _, addr := range []string{secAliceMail, secBobMail} {
		local := addr[:strings.IndexByte(addr, '@')]
		if strings.Contains(logs, local) {
			t.Errorf("the log holds the email address %s:\n%s", addr, around(logs, local))
		}
	}

	// Nor does the database hold a key, token or code in clear: only their
	// hashes (device tokens, which the pushes need, aside).
	delete(secrets, "apns device token")
	delete(secrets, "fcm device token")
	delete(secrets, "unregistered device token")
	rows, err := s.pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if rows.Err() != nil || len(tables) < 10 {
		t.Fatalf("tables %v: %v", tables, rows.Err())
	}
	dumped := false // the dump works: it finds what is stored in clear
	for _, table := range tables {
		var dump string
		if err := s.pool.QueryRow(ctx, `SELECT COALESCE(string_agg(t::text, E'\n'), '') FROM "`+table+`" t`).Scan(&dump); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		dumped = dumped || strings.Contains(dump, secAlicePhone)
		for name, v := range secrets {
			if strings.Contains(dump, v) {
				t.Errorf("table %s holds the %s in clear", table, name)
			}
		}
	}
	if !dumped {
		t.Error("no table holds alice's phone number: the dump does not work")
	}
}

// around is the log lines that hold v.
func around(logs, v string) string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, v) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// Every endpoint that takes a secret gives one answer, byte for byte (the
// Date header aside), to every secret it does not accept: unknown, one
// character off a live one, revoked, of another kind (another endpoint's
// secret) or of no plausible shape. Nothing in an answer tells a prober
// how close a guess came or what it is.
func TestUnknownSecretsGetOneAnswer(t *testing.T) {
	t.Parallel()
	s := startSecurityStack(t)
	ctx := context.Background()
	now := s.clock.Now()

	// Live and revoked secrets of every kind.
	var scheduleID int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM schedules WHERE name = 'primary'`).Scan(&scheduleID); err != nil {
		t.Fatal(err)
	}
	calTok, cal, err := store.CalendarTokenCreate(ctx, s.pool, store.CalendarOwner{ScheduleID: scheduleID}, now)
	if err != nil {
		t.Fatal(err)
	}
	revokedTok, revokedCal, err := store.CalendarTokenCreate(ctx, s.pool, store.CalendarOwner{ScheduleID: scheduleID}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CalendarTokenRevoke(ctx, s.pool, revokedTok.ID, now); err != nil {
		t.Fatal(err)
	}
	_ = calTok
	pair := func() string {
		t.Helper()
		status, out := s.mobile("POST", "/pair", "", map[string]string{"code": s.slackPairingCode("U0ALICE"), "label": "phone"})
		if status != http.StatusCreated {
			t.Fatalf("pair: %d %v", status, out)
		}
		return out["token"].(string)
	}
	mobileTok, revokedMobile := pair(), pair()
	if status, out := s.mobile("DELETE", "/token", revokedMobile, nil); status != http.StatusNoContent {
		t.Fatalf("revoke: %d %v", status, out)
	}
	// The retired integration was deleted (its key revoked) before it was
	// ever used, so no cache remembers it.
	if _, err := s.pool.Exec(ctx, `DELETE FROM integrations WHERE name = 'retired'`); err != nil {
		t.Fatal(err)
	}
	key, beat := s.keys["prom"], s.keys["nightly"]

	// Shapes no secret of ours has.
	shapes := []string{"x", strings.Repeat("A", 43), strings.Repeat("z", 600), "clé", "a b", "a.b.c", "-", "%", "'; DROP TABLE integrations; --"}
	unknown := "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE" // 43 characters, as ours
	// integrationGuesses are what a prober of integration keys might send.
	integrationGuesses := append([]string{unknown, nearMiss(key), nearMiss(s.keys["hook"]), nearMiss(s.keys["pd"]), s.keys["retired"],
		cal, revokedCal, mobileTok}, shapes...)

	type probe struct {
		name string
		send func() answer
	}
	check := func(t *testing.T, probes []probe) {
		t.Helper()
		first := probes[0].send()
		if first.Status < 400 || first.Status >= 500 {
			t.Fatalf("%s: %d %s", probes[0].name, first.Status, first.Body)
		}
		for _, p := range probes[1:] {
			a := p.send()
			if a.Status != first.Status || a.Body != first.Body || !equalHeaders(a.Header, first.Header) {
				t.Errorf("%s answers\n%d %v %q\nbut %s answers\n%d %v %q", short(probes[0].name), first.Status, first.Header, first.Body,
					short(p.name), a.Status, a.Header, a.Body)
			}
		}
	}
	quote := func(v string) string { b, _ := json.Marshal(v); return string(b) }

	t.Run("alerts", func(t *testing.T) {
		bodies := map[string][]byte{
			"alertmanager": sample(t, "am-webhook-firing.json"),
			"generic":      []byte(`{"summary":"x","dedup_key":"y"}`),
			"empty":        nil,
		}
		guesses := append([]string{beat, nearMiss(beat)}, integrationGuesses...)
		var probes []probe
		for format, body := range bodies {
			for _, g := range guesses {
				probes = append(probes,
					probe{format + " to /v1/alerts/" + g, func() answer { return s.do("POST", "/v1/alerts/"+url.PathEscape(g), body) }},
					probe{format + " to /v1/alerts with bearer " + g, func() answer {
						return s.do("POST", "/v1/alerts", body, "Authorization", "Bearer "+g)
					}})
			}
		}
		probes = append(probes, probe{"no key at all", func() answer { return s.do("POST", "/v1/alerts", nil) }})
		check(t, probes)
	})
	t.Run("pagerduty", func(t *testing.T) {
		guesses := append([]string{beat, nearMiss(beat)}, integrationGuesses...)
		for _, path := range []string{"/v2/enqueue", "/v2/change/enqueue"} {
			var probes []probe
			for _, g := range guesses {
				body := `{"routing_key":` + quote(g) + `,"event_action":"trigger","payload":{"summary":"x","source":"y","severity":"critical"}}`
				if path == "/v2/change/enqueue" {
					body = `{"routing_key":` + quote(g) + `,"payload":{"summary":"deployed","timestamp":"2026-12-02T10:00:00Z"}}`
				}
				probes = append(probes, probe{path + " with " + g, func() answer { return s.do("POST", path, []byte(body)) }})
			}
			check(t, probes)
		}
	})
	t.Run("heartbeats", func(t *testing.T) {
		var probes []probe
		for _, g := range append([]string{nearMiss(beat), key}, integrationGuesses...) {
			probes = append(probes, probe{"/v1/heartbeats/" + g, func() answer { return s.do("POST", "/v1/heartbeats/"+url.PathEscape(g), nil) }})
		}
		check(t, probes)
	})
	t.Run("calendars", func(t *testing.T) {
		var probes []probe
		for _, g := range append([]string{unknown, nearMiss(cal), revokedCal, key, beat, mobileTok, revokedMobile}, shapes...) {
			probes = append(probes,
				probe{"/v1/calendars/" + g + ".ics", func() answer { return s.do("GET", "/v1/calendars/"+url.PathEscape(g)+".ics", nil) }},
				probe{"/v1/calendars/" + g, func() answer { return s.do("GET", "/v1/calendars/"+url.PathEscape(g), nil) }})
		}
		check(t, probes)
	})
	t.Run("mobile token", func(t *testing.T) {
		routes := [][2]string{{"GET", "/me"}, {"GET", "/oncall"}, {"GET", "/incidents"}, {"GET", "/incidents/1"},
			{"POST", "/incidents/1/ack"}, {"POST", "/devices"}, {"DELETE", "/devices/abc"}, {"DELETE", "/token"}}
		var probes []probe
		for _, g := range append([]string{unknown, nearMiss(mobileTok), revokedMobile, key, beat, cal}, shapes...) {
			for _, r := range routes {
				probes = append(probes, probe{r[0] + " " + r[1] + " with " + g, func() answer {
					return s.do(r[0], "/v1/mobile"+r[1], []byte(`{"platform":"apns","token":"00"}`), "Authorization", "Bearer "+g)
				}})
			}
		}
		check(t, probes)
	})
	t.Run("pairing code", func(t *testing.T) {
		// Fewer than the limit of failures per client (10), which would
		// answer 429 to everyone alike. The clock moves on here, so the
		// tests after this one sign what they need with it.
		expired := s.slackPairingCode("U0ALICE")
		s.clock.Advance(store.PairingCodeTTL + time.Second)
		live := s.slackPairingCode("U0ALICE")
		used := s.slackPairingCode("U0ALICE")
		if status, out := s.mobile("POST", "/pair", "", map[string]string{"code": used}); status != http.StatusCreated {
			t.Fatalf("pair: %d %v", status, out)
		}
		var probes []probe
		for _, g := range []string{"ZZZZ-ZZZZ", nearMiss(live), used, expired, "x", key} {
			probes = append(probes, probe{"pair with " + g, func() answer {
				return s.do("POST", "/v1/mobile/pair", []byte(`{"code":`+quote(g)+`}`))
			}})
		}
		check(t, probes)
	})
	t.Run("email links", func(t *testing.T) {
		secret, err := store.ServerSecret(ctx, s.pool, emailSecret)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := email.NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		valid, err := signer.Sign(email.Claims{Incident: 1, Action: email.ActionAck, User: "alice", Expires: s.clock.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		other, err := email.NewSigner([]byte(strings.Repeat("k", 32)))
		if err != nil {
			t.Fatal(err)
		}
		forged, _ := other.Sign(email.Claims{Incident: 1, Action: email.ActionAck, User: "alice", Expires: s.clock.Now().Add(time.Hour)})
		enc, sig, _ := strings.Cut(valid, ".")
		guesses := append([]string{"", unknown + "." + unknown, enc + "." + nearMiss(sig), nearMiss(enc) + "." + sig, forged, key, mobileTok}, shapes...)
		for _, method := range []string{"GET", "POST"} {
			var probes []probe
			for _, g := range guesses {
				probes = append(probes, probe{method + " with " + g, func() answer {
					if method == "GET" {
						return s.do("GET", email.ActPath+"?t="+url.QueryEscape(g), nil)
					}
					return s.do("POST", email.ActPath, []byte(url.Values{"t": {g}}.Encode()), "Content-Type", "application/x-www-form-urlencoded")
				}})
			}
			check(t, probes)
		}
	})
	t.Run("twilio", func(t *testing.T) {
		form := url.Values{"From": {secAlicePhone}, "To": {s.twilio.Number}, "Body": {"ack all"}, "MessageSid": {"SM0000000000000000000000000000000a"},
			"CallSid": {"CA0000000000000000000000000000000a"}, "MessageStatus": {"delivered"}}
		for _, path := range []string{"/v1/twilio/sms", "/v1/twilio/voice", "/v1/twilio/status"} {
			valid := twiliotest.Signature(s.twilio.AuthToken, publicURL+path, form)
			var probes []probe
			for name, sig := range map[string]string{
				"no signature":              "",
				"garbage":                   "x",
				"one character off":         nearMiss(valid),
				"signed with another token": twiliotest.Signature(nearMiss(s.twilio.AuthToken), publicURL+path, form),
				"signed for another path":   twiliotest.Signature(s.twilio.AuthToken, publicURL+"/v1/twilio/other", form),
				"signed for another host":   twiliotest.Signature(s.twilio.AuthToken, "http://evil.test"+path, form),
				"the auth token itself":     s.twilio.AuthToken,
			} {
				probes = append(probes, probe{path + " " + name, func() answer {
					h := []string{"Content-Type", "application/x-www-form-urlencoded"}
					if sig != "" {
						h = append(h, "X-Twilio-Signature", sig)
					}
					return s.do("POST", path, []byte(form.Encode()), h...)
				}})
			}
			check(t, probes)
		}
	})
}

// short is a probe's name fit for a message.
func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// equalHeaders compares two answers' headers (without Date).
func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\n") != strings.Join(b[k], "\n") {
			return false
		}
	}
	return true
}
