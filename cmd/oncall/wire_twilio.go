package main

// Wiring of Twilio SMS and voice (TWILIO_*): its channels and its HTTP routes.

import (
	"context"
	"net/http"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify"
)

func addTwilio(ctx context.Context, w wire, channels map[string]notify.Channel) error { return nil }

func twilioRoutes(w wire, engine *jobs.Engine, mux *http.ServeMux) error { return nil }
