package main

// Wiring of Twilio SMS and voice (TWILIO_*): its channels and its HTTP routes.

import (
	"context"
	"net/http"
	"net/url"

	apitwilio "github.com/oncall/oncall/api/twilio"
	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/twilio"
	"github.com/oncall/oncall/store"
)

// twilioConfig is the account as the channels use it.
func twilioConfig(w wire) twilio.Config {
	t := w.cfg.Twilio
	return twilio.Config{
		AccountSID: t.AccountSID, AuthToken: t.AuthToken, From: t.FromNumber, APIURL: t.APIURL,
		PublicURL: w.cfg.PublicURL,
		OptedOut: func(ctx context.Context, phone string) (bool, error) {
			return store.SMSPhoneOptedOut(ctx, w.pool, phone)
		},
	}
}

func addTwilio(ctx context.Context, w wire, channels map[string]notify.Channel) error {
	if !w.cfg.Twilio.Enabled() {
		return nil
	}
	cfg := twilioConfig(w)
	channels[notify.MethodSMS] = twilio.NewSMS(cfg)
	channels[notify.MethodVoice] = twilio.NewVoice(cfg)
	if u, err := url.Parse(w.cfg.PublicURL); err == nil && loopback(u.Hostname()) {
		w.log.Warn().Str("public_url", w.cfg.PublicURL).
			Msg("Twilio cannot reach ONCALL_PUBLIC_URL: SMS replies, calls' key presses and delivery reports will not arrive; set it to the server's public address")
	}
	return nil
}

func twilioRoutes(w wire, engine *jobs.Engine, mux *http.ServeMux) error {
	if !w.cfg.Twilio.Enabled() {
		return nil
	}
	(&apitwilio.Handler{Engine: engine, DB: w.pool, Clock: w.clock, AuthToken: w.cfg.Twilio.AuthToken, PublicURL: w.cfg.PublicURL}).Register(mux)
	return nil
}

func loopback(host string) bool {
	switch host {
	case "localhost", "127.0.0.1", "::1", "0.0.0.0", "":
		return true
	}
	return false
}
