package main

// Wiring of email over SMTP (SMTP_URL): its channels and its HTTP routes.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	apiemail "github.com/oncall/oncall/api/email"
	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/email"
	"github.com/oncall/oncall/store"
)

// emailSecret names the server secret that signs the action links; every
// process of a deployment reads the same one from the database.
const emailSecret = "email-links"

// addEmail puts the SMTP channel under notify.MethodEmail when SMTP_URL is
// set. Its action links point at ONCALL_PUBLIC_URL.
func addEmail(ctx context.Context, w wire, channels map[string]notify.Channel) error {
	if !w.cfg.SMTP.Enabled() {
		return nil
	}
	signer, err := emailSigner(ctx, w)
	if err != nil {
		return err
	}
	ch, err := email.New(email.Config{
		URL: w.cfg.SMTP.URL.String(), From: w.cfg.SMTP.From, PublicURL: w.cfg.PublicURL,
		Signer: signer, Clock: w.clock,
	})
	if err != nil {
		return fmt.Errorf("email channel: %w", err)
	}
	channels[notify.MethodEmail] = ch
	if u, err := url.Parse(w.cfg.PublicURL); err == nil && isLoopback(u.Hostname()) {
		w.log.Warn().Str("public_url", w.cfg.PublicURL).
			Msg("email links to acknowledge and resolve point at this machine only: set ONCALL_PUBLIC_URL to the address responders reach")
	}
	return nil
}

// emailRoutes serves the action links (GET confirms, POST acts) when email
// is on; without it no link was ever sent.
func emailRoutes(w wire, engine *jobs.Engine, mux *http.ServeMux) error {
	if !w.cfg.SMTP.Enabled() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	signer, err := emailSigner(ctx, w)
	if err != nil {
		return err
	}
	(&apiemail.Handler{DB: w.pool, Engine: engine, Signer: signer, Clock: w.clock}).Register(mux)
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func emailSigner(ctx context.Context, w wire) (*email.Signer, error) {
	key, err := store.ServerSecret(ctx, w.pool, emailSecret)
	if err != nil {
		return nil, fmt.Errorf("email link key: %w", err)
	}
	return email.NewSigner(key)
}
