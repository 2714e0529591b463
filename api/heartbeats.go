package api

import (
	"errors"
	"net/http"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// Heartbeats serves POST /v1/heartbeats/{key}, the beat of a heartbeat
// monitor (CONTRACT.md §4). The body is ignored (within the server's 1 MiB
// limit), so `curl -X POST URL` from the end of a cron job is enough. The
// answer is 202 once the beat, and the resolution of the monitor's missed
// incident if it had one, is committed.
type Heartbeats struct {
	DB     store.Querier
	Engine *jobs.Engine
}

// Register mounts the endpoint on mux.
func (h *Heartbeats) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/heartbeats/{key}", h.beat)
}

func (h *Heartbeats) beat(w http.ResponseWriter, r *http.Request) {
	if _, ok := ReadBody(w, r); !ok {
		return
	}
	integ, err := store.IntegrationByKey(r.Context(), h.DB, r.PathValue("key"))
	switch {
	case errors.Is(err, oncall.ErrNotFound) || err == nil && integ.Type != manifest.IntegrationHeartbeat:
		// Another integration's key is as unknown here as no key at all.
		WriteError(w, http.StatusNotFound, unknownKey)
		return
	case err != nil:
		unavailable(w, r, err, "")
		return
	}
	res, err := h.Engine.Beat(r.Context(), integ)
	switch {
	case errors.Is(err, oncall.ErrNotFound): // deleted or retyped since the lookup
		WriteError(w, http.StatusNotFound, unknownKey)
		return
	case err != nil:
		unavailable(w, r, err, integ.Name)
		return
	}
	body := map[string]any{"status": "accepted"}
	if res.Changed {
		body["resolved_incident_id"] = res.IncidentID
	}
	WriteJSON(w, http.StatusAccepted, body)
}
