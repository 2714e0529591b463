package fcm_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/apns"
	"github.com/oncall/oncall/notify/apns/apnstest"
	"github.com/oncall/oncall/notify/fcm"
	"github.com/oncall/oncall/notify/fcm/fcmtest"
	"github.com/oncall/oncall/notify/push"
)

func page() notify.Page {
	return notify.Page{
		IncidentID: 42, Service: "payments-api", Summary: "Checkout error rate above 5%", Severity: "critical",
		Urgency: "high", State: notify.StateTriggered, Escalation: "step 1 of payments", Alerts: 1,
	}
}

// Through the service account key: the token exchange, then one
// high-priority data message per device.
func TestSendThroughFake(t *testing.T) {
	t.Parallel()
	srv := fcmtest.New(t)
	ch, err := fcm.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	if ch.ProjectID() != srv.ProjectID {
		t.Errorf("project %q", ch.ProjectID())
	}
	srv.Unregister("gone-token")
	to := notify.Target{User: "alice", Method: notify.MethodPush, Devices: []notify.Device{
		{Platform: notify.PlatformFCM, Token: "good-token"}, {Platform: notify.PlatformFCM, Token: "gone-token"},
	}}
	rcpt, err := ch.Send(context.Background(), to, page())
	var unreg *notify.UnregisteredError
	if !errors.As(err, &unreg) || len(unreg.Tokens) != 1 || unreg.Tokens[0] != "gone-token" || notify.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	if rcpt.Ref != "fcm:0:1" {
		t.Errorf("receipt %q", rcpt.Ref)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("messages: %+v", msgs)
	}
	m := msgs[0]
	if m.Token != "good-token" || m.Android.Priority != "high" || m.Android.CollapseKey != "incident-42" || m.Android.TTL != "3600s" {
		t.Errorf("message: %+v", m)
	}
	if m.Data["incident_id"] != "42" || m.Data["type"] != "incident" || m.Data["state"] != "triggered" || m.Data["urgency"] != "high" {
		t.Errorf("data: %v", m.Data)
	}
	if _, ok := m.Raw["notification"]; ok {
		t.Errorf("a data message has no notification block: %v", m.Raw)
	}

	// Every device gone: permanent, with the tokens to remove.
	srv.Unregister("good-token")
	if _, err := ch.Send(context.Background(), to, page()); !notify.IsPermanent(err) || !errors.As(err, &unreg) || len(unreg.Tokens) != 2 {
		t.Errorf("all gone: %v", err)
	}
}

// A bad key is refused at the token exchange: permanent, not retried.
func TestWrongProject(t *testing.T) {
	t.Parallel()
	srv := fcmtest.New(t)
	cfg := srv.Config()
	ch, err := fcm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Fail("t1", http.StatusForbidden, "SENDER_ID_MISMATCH")
	to := notify.Target{Devices: []notify.Device{{Platform: notify.PlatformFCM, Token: "t1"}}}
	if _, err := ch.Send(context.Background(), to, page()); !notify.IsPermanent(err) {
		t.Errorf("sender mismatch: %v", err)
	}
}

// The push channel pages an iPhone and an Android phone at once.
func TestPushBothPlatforms(t *testing.T) {
	t.Parallel()
	fsrv, asrv := fcmtest.New(t), apnstest.New(t)
	f, err := fcm.New(fsrv.Config())
	if err != nil {
		t.Fatal(err)
	}
	a, err := apns.New(asrv.Config())
	if err != nil {
		t.Fatal(err)
	}
	apnsToken := "a1b2c3d4e5f60718a1b2c3d4e5f60718"
	to := notify.Target{Devices: []notify.Device{{Platform: notify.PlatformAPNs, Token: apnsToken}, {Platform: notify.PlatformFCM, Token: "android"}}}
	rcpt, err := push.New(a, f).Send(context.Background(), to, page())
	if err != nil || rcpt.Ref == "" {
		t.Fatalf("send: %v %q", err, rcpt.Ref)
	}
	if len(fsrv.Messages()) != 1 || len(asrv.Pushes()) != 1 {
		t.Errorf("fcm %d, apns %d", len(fsrv.Messages()), len(asrv.Pushes()))
	}
}
