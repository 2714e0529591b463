// Package email serves the action links of the email channel
// (notify/email): GET /v1/email/act?t=TOKEN shows the incident and asks
// the user to confirm, POST /v1/email/act (form field t) acknowledges or
// resolves it as the user the email was sent to.
//
// The token is the capability: signed, expiring, naming one incident, one
// action and one user. GET never changes anything, because mail scanners
// and link previews follow links; only the POST of the confirmation form
// does, and it checks again that the user may still act on the incident.
// A token that is malformed, tampered with or signed with another key is
// answered 400, an expired one 410, both with the same page that tells
// nothing more. Pages are never cached, never framed, and send no Referer
// (the token is in the URL).
package email

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/jobs"
	notifyemail "github.com/oncall/oncall/notify/email"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// Handler serves the action links.
type Handler struct {
	DB     store.Querier
	Engine *jobs.Engine
	Signer *notifyemail.Signer // the channel's
	Clock  oncall.Clock
}

// Register mounts GET and POST /v1/email/act on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+notifyemail.ActPath, h.confirm)
	mux.HandleFunc("POST "+notifyemail.ActPath, h.act)
}

// verbs name the actions on the pages.
var verbs = map[string]struct{ Verb, Button, Done string }{
	notifyemail.ActionAck:     {"Acknowledge", "Acknowledge", "acknowledged"},
	notifyemail.ActionResolve: {"Resolve", "Resolve", "resolved"},
}

// page is what the template shows.
type page struct {
	Status  int
	Title   string
	Message string
	In      *store.Incident
	Token   string // with Button: the confirmation form
	Button  string
	User    string
}

// confirm shows the incident and the confirmation form. It changes
// nothing.
func (h *Handler) confirm(w http.ResponseWriter, r *http.Request) {
	c, ok := h.verify(w, r.URL.Query().Get("t"))
	if !ok {
		return
	}
	ctx := r.Context()
	in, err := store.IncidentGet(ctx, h.DB, c.Incident, store.LockNone)
	if errors.Is(err, oncall.ErrNotFound) {
		render(w, invalid(http.StatusGone))
		return
	}
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	v := verbs[c.Action]
	p := page{Status: http.StatusOK, In: in, User: c.User,
		Title: v.Verb + " incident #" + strconv.FormatInt(in.ID, 10) + "?"}
	if done := already(in, c.Action); done != "" {
		p.Title, p.Message = "Incident #"+strconv.FormatInt(in.ID, 10)+" is "+done, "There is nothing left to do with this link."
		render(w, p)
		return
	}
	may, err := h.mayAct(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	if !may {
		render(w, forbidden())
		return
	}
	p.Token, p.Button = r.URL.Query().Get("t"), v.Button
	render(w, p)
}

// act does what the token says, after checking that its user may.
func (h *Handler) act(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		render(w, page{Status: http.StatusBadRequest, Title: "Bad request", Message: "The form could not be read."})
		return
	}
	c, ok := h.verify(w, r.PostForm.Get("t")) // the body only: never a token from the URL
	if !ok {
		return
	}
	ctx := r.Context()
	may, err := h.mayAct(r, c)
	switch {
	case errors.Is(err, oncall.ErrNotFound):
		render(w, invalid(http.StatusGone))
		return
	case err != nil:
		h.fail(w, r, c, err)
		return
	case !may:
		render(w, forbidden())
		return
	}
	var in *store.Incident
	if c.Action == notifyemail.ActionAck {
		in, err = h.Engine.Ack(ctx, c.Incident, c.User)
	} else {
		in, err = h.Engine.Resolve(ctx, c.Incident, c.User)
	}
	var ue *oncall.UserError
	switch {
	case errors.Is(err, oncall.ErrNotFound):
		render(w, invalid(http.StatusGone))
		return
	case errors.As(err, &ue):
		render(w, page{Status: http.StatusConflict, Title: "Not done", Message: ue.Msg})
		return
	case err != nil:
		h.fail(w, r, c, err)
		return
	}
	zerolog.Ctx(ctx).Info().Int64("incident", c.Incident).Str("user", c.User).Str("action", c.Action).Msg("email link used")
	v := verbs[c.Action]
	id := "#" + strconv.FormatInt(in.ID, 10)
	p := page{Status: http.StatusOK, In: in, User: c.User}
	switch by := actor(in, c.Action); {
	case by == c.User:
		p.Title = "You " + v.Done + " incident " + id
	case by != "":
		p.Title = "Incident " + id + " was already " + v.Done + " by " + by
	default: // resolved while you asked to acknowledge
		p.Title = "Incident " + id + " is already " + withBy(in.State, in.ResolvedBy)
	}
	render(w, p)
}

// verify checks token; when it fails it has answered.
func (h *Handler) verify(w http.ResponseWriter, token string) (notifyemail.Claims, bool) {
	c, err := h.Signer.Verify(token, h.Clock.Now())
	if errors.Is(err, notifyemail.ErrTokenExpired) {
		render(w, invalid(http.StatusGone))
		return c, false
	}
	if err != nil {
		render(w, invalid(http.StatusBadRequest))
		return c, false
	}
	return c, true
}

// mayAct: the user still exists and may act on the incident.
func (h *Handler) mayAct(r *http.Request, c notifyemail.Claims) (bool, error) {
	u, err := h.Engine.User(r.Context(), c.User)
	if err != nil || u == nil {
		return false, err
	}
	return h.Engine.MayAct(r.Context(), c.User, c.Incident)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, c notifyemail.Claims, err error) {
	zerolog.Ctx(r.Context()).Error().Err(err).Int64("incident", c.Incident).Str("user", c.User).Str("action", c.Action).Msg("email link failed")
	render(w, page{Status: http.StatusServiceUnavailable, Title: "Something went wrong",
		Message: "Nothing was changed. Try again in a moment, or use Slack."})
}

// already says how the action is moot ("acknowledged by bob"), or "".
func already(in *store.Incident, action string) string {
	switch {
	case in.State == store.StateResolved:
		return withBy("resolved", in.ResolvedBy)
	case action == notifyemail.ActionAck && in.State == store.StateAcknowledged:
		return withBy("acknowledged", in.AcknowledgedBy)
	}
	return ""
}

// actor is who did action to in, "" when it is not in that state.
func actor(in *store.Incident, action string) string {
	switch {
	case action == notifyemail.ActionResolve && in.State == store.StateResolved:
		return in.ResolvedBy
	case action == notifyemail.ActionAck && in.State == store.StateAcknowledged:
		return in.AcknowledgedBy
	}
	return ""
}

func withBy(state, by string) string {
	if by == "" {
		return state
	}
	return state + " by " + by
}

func invalid(status int) page {
	return page{Status: status, Title: "This link is invalid or has expired",
		Message: "Open the incident in Slack, or use the links of a newer email."}
}

func forbidden() page {
	return page{Status: http.StatusForbidden, Title: "You cannot act on this incident",
		Message: "The user this link acts for may no longer act on this incident."}
}

var tmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{{.Title}} · oncall</title>
<style>
body{margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#172b4d}
main{max-width:560px;margin:0 auto;background:#fff;border-radius:6px;padding:24px}
h1{font-size:20px;margin:0 0 12px}
p.summary{font-size:16px;margin:0 0 12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;font-size:14px;margin:0 0 16px}
dt{color:#5e6c84}dd{margin:0}
button{font-size:16px;padding:10px 20px;border:0;border-radius:4px;background:#0052cc;color:#fff;cursor:pointer}
.note{font-size:13px;color:#5e6c84}
</style></head>
<body><main>
<h1>{{.Title}}</h1>
{{with .In}}<p class="summary">{{.Summary}}</p>
<dl>
<dt>Service</dt><dd>{{.ServiceName}}</dd>
{{if .Severity}}<dt>Severity</dt><dd>{{.Severity}}</dd>{{end}}
{{if .Urgency}}<dt>Urgency</dt><dd>{{.Urgency}}</dd>{{end}}
<dt>State</dt><dd>{{.State}}{{if .ResolvedBy}} by {{.ResolvedBy}}{{else if .AcknowledgedBy}} by {{.AcknowledgedBy}}{{end}}</dd>
<dt>Opened</dt><dd>{{.CreatedAt.UTC.Format "2006-01-02 15:04 MST"}}</dd>
</dl>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Button}}<form method="post" action="act">
<input type="hidden" name="t" value="{{.Token}}">
<button type="submit">{{.Button}}</button>
</form>
<p class="note">Acting as {{.User}}.</p>{{end}}
</main></body></html>
`))

func render(w http.ResponseWriter, p page) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, p); err != nil {
		p = page{Status: http.StatusInternalServerError, Title: "Something went wrong"}
		b.Reset()
		_ = tmpl.Execute(&b, p)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(p.Status)
	_, _ = w.Write(b.Bytes())
}
