// Package mobile is the HTTP API of the mobile app (CONTRACT.md §4,
// /v1/mobile/...; api/mobile/README.md documents it for app teams):
// pairing with a one-time code from Slack, the phone's push token, the
// user's open incidents and on-call status, and acknowledge, resolve and
// escalate through the paging engine.
//
// Every endpoint but pairing takes the long-lived mobile token as
// "Authorization: Bearer". Tokens and codes are stored as their SHA-256
// only and looked up by it, so no secret is ever compared byte by byte.
// Answers are JSON; errors are {"error": ..., "details": [...]} with a
// 4xx status for anything a client can get wrong, never a 500.
package mobile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/oncall/oncall/api"
	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// Prefix is where the API is mounted.
const Prefix = "/v1/mobile"

// Handler serves the mobile API.
type Handler struct {
	DB     *pgxpool.Pool
	Engine *jobs.Engine
	Clock  oncall.Clock
	// Limiter bounds failed pairing attempts; a default one (DefaultLimit)
	// when nil.
	Limiter *Limiter
}

// Register mounts the endpoints on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	if h.Limiter == nil {
		h.Limiter = NewLimiter(DefaultLimit, h.Clock.Now)
	}
	mux.HandleFunc("POST "+Prefix+"/pair", h.pair)
	mux.HandleFunc("GET "+Prefix+"/me", h.auth(h.me))
	mux.HandleFunc("DELETE "+Prefix+"/token", h.auth(h.revoke))
	mux.HandleFunc("POST "+Prefix+"/devices", h.auth(h.registerDevice))
	mux.HandleFunc("DELETE "+Prefix+"/devices/{token}", h.auth(h.removeDevice))
	mux.HandleFunc("GET "+Prefix+"/oncall", h.auth(h.onCall))
	mux.HandleFunc("GET "+Prefix+"/incidents", h.auth(h.incidents))
	mux.HandleFunc("GET "+Prefix+"/incidents/{id}", h.auth(h.incident))
	mux.HandleFunc("POST "+Prefix+"/incidents/{id}/{action}", h.auth(h.act))
	// Anything else under the prefix is a JSON 404, not the mux's text.
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusNotFound, "no such endpoint")
	})
}

// session is the paired phone a request comes from.
type session = store.MobileToken

// auth checks the bearer token and passes its session on.
func (h *Handler) auth(next func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			unauthorized(w, "missing Authorization: Bearer <mobile token>")
			return
		}
		// A token longer than any of ours is as unknown as any other: the
		// same answer, so that no guess learns more than "no".
		var s session
		err := fmt.Errorf("mobile token too long: %w", oncall.ErrNotFound)
		if len(token) <= maxToken {
			s, err = store.MobileTokenLookup(r.Context(), h.DB, token, h.Clock.Now().UTC())
		}
		if errors.Is(err, oncall.ErrNotFound) {
			unauthorized(w, "unknown or revoked mobile token: pair the app again")
			return
		}
		if err != nil {
			internal(w, r, err)
			return
		}
		next(w, r, s)
	}
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// maxToken bounds the tokens worth looking up (ours are 43 characters).
const maxToken = 512

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="oncall mobile"`)
	api.WriteError(w, http.StatusUnauthorized, msg)
}

// internal answers a failure of ours (the database, the engine): 503, so
// the app retries, and the cause goes to the log, not to the client.
func internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	// The route's pattern, not the path: a path may hold a device token.
	zerolog.Ctx(r.Context()).Error().Err(err).Str("route", r.Pattern).Msg("mobile api")
	api.WriteError(w, http.StatusServiceUnavailable, "temporarily unavailable, try again")
}

// decode reads a JSON object body into v; when it fails it has answered
// 400 (or 413) and returns false. Unknown fields are ignored, so older
// servers accept newer apps.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, api.MaxBody)
	body, ok := api.ReadBody(w, r)
	if !ok {
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		api.WriteError(w, http.StatusBadRequest, "the body must be a JSON object", jsonProblem(err))
		return false
	}
	return true
}

// jsonProblem says what is wrong with a body without echoing it.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field + ": want a " + te.Type.String()
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "invalid JSON: " + se.Error()
	}
	return "invalid JSON"
}

// userError answers an *oncall.UserError as 400 naming its field.
func userError(w http.ResponseWriter, status int, err error) bool {
	var ue *oncall.UserError
	if !errors.As(err, &ue) {
		return false
	}
	if ue.Field != "" {
		api.WriteError(w, status, ue.Msg, ue.Field)
	} else {
		api.WriteError(w, status, ue.Msg)
	}
	return true
}
