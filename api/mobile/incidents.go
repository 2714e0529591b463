package mobile

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/oncall/oncall/api"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
)

// maxIncidents bounds the open incidents one list returns.
const maxIncidents = 100

type incidentInfo struct {
	ID             int64             `json:"id"`
	Service        string            `json:"service"`
	Summary        string            `json:"summary"`
	Severity       string            `json:"severity"`
	Urgency        string            `json:"urgency"`
	State          string            `json:"state"`
	EscalationStep int               `json:"escalation_step"` // 1-based; 0 before the first step ran
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	AcknowledgedAt *time.Time        `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string            `json:"acknowledged_by,omitempty"`
	ResolvedAt     *time.Time        `json:"resolved_at,omitempty"`
	ResolvedBy     string            `json:"resolved_by,omitempty"`
	Source         string            `json:"source,omitempty"`
	Labels         map[string]string `json:"labels"`
	Links          []oncall.Link     `json:"links"`
}

func incidentOf(in *store.Incident) incidentInfo {
	out := incidentInfo{
		ID: in.ID, Service: in.ServiceName, Summary: in.Summary, Severity: in.Severity, Urgency: in.Urgency,
		State: in.State, EscalationStep: max(in.EscalationStep+1, 0), CreatedAt: in.CreatedAt.UTC(), UpdatedAt: in.UpdatedAt.UTC(),
		AcknowledgedAt: utc(in.AcknowledgedAt), AcknowledgedBy: in.AcknowledgedBy,
		ResolvedAt: utc(in.ResolvedAt), ResolvedBy: in.ResolvedBy, Source: in.Client,
		Labels: in.Labels, Links: append([]oncall.Link{}, in.Links...),
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if in.ClientURL != "" {
		out.Links = append(out.Links, oncall.Link{Href: in.ClientURL, Text: "View in " + firstNonEmpty(in.Client, "source")})
	}
	return out
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// incidents lists the user's open incidents (paged for them, or on a
// service of one of their teams), newest first.
func (h *Handler) incidents(w http.ResponseWriter, r *http.Request, s session) {
	list, err := h.Engine.UserIncidents(r.Context(), s.User, maxIncidents)
	if err != nil {
		internal(w, r, err)
		return
	}
	out := struct {
		Incidents []incidentInfo `json:"incidents"`
	}{Incidents: make([]incidentInfo, 0, len(list))}
	for _, in := range list {
		out.Incidents = append(out.Incidents, incidentOf(in))
	}
	api.WriteJSON(w, http.StatusOK, out)
}

type logInfo struct {
	At      time.Time `json:"at"`
	Event   string    `json:"event"`
	Actor   string    `json:"actor"`
	Message string    `json:"message"`
}

// incident is one incident the user may act on, with its timeline (what
// the app opens from a push).
func (h *Handler) incident(w http.ResponseWriter, r *http.Request, s session) {
	id, ok := h.allowed(w, r, s)
	if !ok {
		return
	}
	in, err := store.IncidentGet(r.Context(), h.DB, id, store.LockNone)
	if err != nil {
		internal(w, r, err)
		return
	}
	log, err := store.IncidentLog(r.Context(), h.DB, id, 0)
	if err != nil {
		internal(w, r, err)
		return
	}
	out := struct {
		Incident incidentInfo `json:"incident"`
		Timeline []logInfo    `json:"timeline"`
	}{Incident: incidentOf(in), Timeline: make([]logInfo, 0, len(log))}
	for _, e := range log {
		out.Timeline = append(out.Timeline, logInfo{At: e.At.UTC(), Event: e.Event, Actor: e.Actor, Message: e.Message})
	}
	api.WriteJSON(w, http.StatusOK, out)
}

// act acknowledges, resolves or escalates an incident as the user. Acting
// on an incident already in that state changes nothing and answers 200
// with the incident as it is, so a retried request is harmless.
func (h *Handler) act(w http.ResponseWriter, r *http.Request, s session) {
	var do func(context.Context, int64, string) (*store.Incident, error)
	switch r.PathValue("action") {
	case "ack":
		do = h.Engine.Ack
	case "resolve":
		do = h.Engine.Resolve
	case "escalate":
		do = h.Engine.Escalate
	default:
		api.WriteError(w, http.StatusNotFound, "no such action: want ack, resolve or escalate")
		return
	}
	id, ok := h.allowed(w, r, s)
	if !ok {
		return
	}
	in, err := do(r.Context(), id, s.User)
	switch {
	case userError(w, http.StatusConflict, err):
	case errors.Is(err, oncall.ErrNotFound):
		api.WriteError(w, http.StatusNotFound, "no such incident")
	case err != nil:
		internal(w, r, err)
	default:
		api.WriteJSON(w, http.StatusOK, struct {
			Incident incidentInfo `json:"incident"`
		}{incidentOf(in)})
	}
}

// allowed parses the incident ID of the path and checks that the user may
// act on it (paged for it, or on its service's team): 404 for no such
// incident, 403 for someone else's.
func (h *Handler) allowed(w http.ResponseWriter, r *http.Request, s session) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		api.WriteError(w, http.StatusNotFound, "no such incident")
		return 0, false
	}
	may, err := h.Engine.MayAct(r.Context(), s.User, id)
	switch {
	case errors.Is(err, oncall.ErrNotFound):
		api.WriteError(w, http.StatusNotFound, "no such incident")
	case err != nil:
		internal(w, r, err)
	case !may:
		api.WriteError(w, http.StatusForbidden, "you were not paged for this incident and are not on its service's team")
	default:
		return id, true
	}
	return 0, false
}

type shiftInfo struct {
	Schedule string    `json:"schedule"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
}

func shiftOf(sh schedule.ScheduleShift) shiftInfo {
	return shiftInfo{Schedule: sh.Schedule, Start: sh.Start.UTC(), End: sh.End.UTC()}
}

// onCall is whether the user is on call now, in which schedules until
// when, and their next shift.
func (h *Handler) onCall(w http.ResponseWriter, r *http.Request, s session) {
	now := h.Clock.Now().UTC()
	st, err := h.Engine.OnCallStatus(r.Context(), s.User, now)
	if err != nil {
		internal(w, r, err)
		return
	}
	out := struct {
		OnCall bool        `json:"on_call"`
		At     time.Time   `json:"at"`
		Shifts []shiftInfo `json:"shifts"`
		Next   *shiftInfo  `json:"next"`
	}{OnCall: len(st.Now) > 0, At: now, Shifts: make([]shiftInfo, 0, len(st.Now))}
	for _, sh := range st.Now {
		out.Shifts = append(out.Shifts, shiftOf(sh))
	}
	if st.Next != nil {
		n := shiftOf(*st.Next)
		out.Next = &n
	}
	api.WriteJSON(w, http.StatusOK, out)
}
