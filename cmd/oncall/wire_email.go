package main

// Wiring of email over SMTP (SMTP_URL): its channels and its HTTP routes.

import (
	"context"
	"net/http"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify"
)

func addEmail(ctx context.Context, w wire, channels map[string]notify.Channel) error { return nil }

func emailRoutes(w wire, engine *jobs.Engine, mux *http.ServeMux) error { return nil }
