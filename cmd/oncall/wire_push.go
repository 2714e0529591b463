package main

// Wiring of APNs and FCM push (APNS_*, FCM_*): its channels and its HTTP routes.

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/oncall/oncall/api/mobile"
	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/apns"
	"github.com/oncall/oncall/notify/fcm"
	"github.com/oncall/oncall/notify/push"
)

// apnsClients holds HTTP clients by APNS_URL for the end-to-end tests: the
// fake APNs serves TLS with a test certificate, which only its own client
// trusts. Production never registers one (apns2's client is used).
var apnsClients sync.Map // string -> *http.Client

// addPush builds the push channel over APNs and FCM, each when its
// settings are present. With neither, push stays off (or the console's, in
// the demo) and pages by push fall through to the next rule.
func addPush(ctx context.Context, w wire, channels map[string]notify.Channel) error {
	if !w.cfg.APNs.Enabled() && !w.cfg.FCM.Enabled() {
		return nil
	}
	var a, f push.Provider
	if c := w.cfg.APNs; c.Enabled() {
		cfg := apns.Config{KeyFile: c.KeyFile, KeyID: c.KeyID, TeamID: c.TeamID, Topic: c.Topic, URL: c.URL, Now: w.clock.Now}
		if hc, ok := apnsClients.Load(c.URL); ok {
			cfg.HTTPClient = hc.(*http.Client)
		}
		ch, err := apns.New(cfg)
		if err != nil {
			return fmt.Errorf("APNS_KEY_FILE: %w", err)
		}
		a = ch
	}
	if c := w.cfg.FCM; c.Enabled() {
		ch, err := fcm.New(fcm.Config{CredentialsFile: c.CredentialsFile, URL: c.URL})
		if err != nil {
			return fmt.Errorf("FCM_CREDENTIALS_FILE: %w", err)
		}
		w.log.Info().Str("project", ch.ProjectID()).Msg("FCM push on")
		f = ch
	}
	channels[notify.MethodPush] = push.New(a, f)
	return nil
}

// mobileRoutes mounts the mobile app's API (api/mobile). It is on whether
// or not push is: the app lists and acknowledges incidents either way.
func mobileRoutes(w wire, engine *jobs.Engine, mux *http.ServeMux) error {
	(&mobile.Handler{DB: w.pool, Engine: engine, Clock: w.clock}).Register(mux)
	return nil
}
