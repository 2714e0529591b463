package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/api/ingest"
	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// Alerts serves the inbound alert endpoints of CONTRACT.md §4. Every
// accepted event is answered 202 only after the engine committed it.
type Alerts struct {
	DB     store.Querier
	Engine *jobs.Engine
	keys   keyCache
}

// Register mounts the endpoints on mux.
func (a *Alerts) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/alerts/{key}", a.alert)
	mux.HandleFunc("POST /v1/alerts", a.alert) // key as Authorization: Bearer
	mux.HandleFunc("POST /v2/enqueue", a.pagerDuty)
	mux.HandleFunc("POST /v2/change/enqueue", a.pagerDutyChange)
}

// unknownKey is the one answer for a key we do not know, whatever it is,
// so keys cannot be probed.
const unknownKey = "unknown integration key"

func (a *Alerts) alert(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r)
	if !ok {
		return
	}
	key := r.PathValue("key")
	if key == "" {
		key = bearer(r)
	}
	integ, ok := a.integration(w, r, key, false)
	if !ok {
		return
	}
	ev, err := ingest.Parse(integ.Type, body)
	var bad *ingest.Error
	switch {
	case errors.As(err, &bad):
		WriteError(w, http.StatusBadRequest, bad.Msg, bad.Details...)
		return
	case err != nil:
		zerolog.Ctx(r.Context()).Error().Err(err).Str("integration", integ.Name).Msg("parse alert")
		WriteError(w, http.StatusInternalServerError, "internal error")
		return
	}
	res, err := a.Engine.Ingest(r.Context(), integ, ev)
	if err != nil {
		unavailable(w, r, err, integ.Name)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]any{
		"status": "accepted", "incident_id": res.IncidentID, "dedup_key": res.DedupKey, "created": res.Created,
	})
}

func (a *Alerts) pagerDuty(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r)
	if !ok {
		return
	}
	key, ev, err := ingest.ParsePagerDutyEvent(body)
	if err != nil {
		ingest.WritePagerDutyInvalid(w, err)
		return
	}
	integ, ok := a.integration(w, r, key, true)
	if !ok {
		return
	}
	if _, err := a.Engine.Ingest(r.Context(), integ, ev); err != nil {
		unavailable(w, r, err, integ.Name)
		return
	}
	ingest.WritePagerDutyAccepted(w, ev.DedupKey)
}

func (a *Alerts) pagerDutyChange(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r)
	if !ok {
		return
	}
	key, ev, err := ingest.ParsePagerDutyChange(body)
	if err != nil {
		ingest.WritePagerDutyInvalid(w, err)
		return
	}
	integ, ok := a.integration(w, r, key, true)
	if !ok {
		return
	}
	if err := a.Engine.ChangeEvent(r.Context(), integ, ev); err != nil {
		unavailable(w, r, err, integ.Name)
		return
	}
	ingest.WritePagerDutyChangeAccepted(w)
}

// integration finds the integration of key, or answers for it: 404 for an
// unknown key (in PagerDuty's shape when pd), 503 when the database fails.
func (a *Alerts) integration(w http.ResponseWriter, r *http.Request, key string, pd bool) (store.Integration, bool) {
	integ, err := a.keys.lookup(r.Context(), a.DB, key)
	switch {
	case errors.Is(err, oncall.ErrNotFound):
		if pd {
			writePagerDutyUnknown(w)
		} else {
			WriteError(w, http.StatusNotFound, unknownKey)
		}
		return integ, false
	case err != nil:
		unavailable(w, r, err, "")
		return integ, false
	case integ.Type == manifest.IntegrationHeartbeat:
		// A heartbeat's key only beats (/v1/heartbeats/{key}); here it is
		// as unknown as any other key.
		if pd {
			writePagerDutyUnknown(w)
		} else {
			WriteError(w, http.StatusNotFound, unknownKey)
		}
		return integ, false
	}
	return integ, true
}

func writePagerDutyUnknown(w http.ResponseWriter) {
	WriteJSON(w, http.StatusNotFound, ingest.PagerDutyResponse{Status: "invalid event", Message: unknownKey, Errors: []string{"routing_key: " + unknownKey}})
}

// unavailable answers an event we could not commit: 503, so the sender
// retries (never 202 for an alert we do not have).
func unavailable(w http.ResponseWriter, r *http.Request, err error, integration string) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	zerolog.Ctx(r.Context()).Error().Err(err).Str("integration", integration).Msg("alert not committed")
	w.Header().Set("Retry-After", "1")
	WriteError(w, http.StatusServiceUnavailable, "temporarily unable to accept alerts, retry")
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
