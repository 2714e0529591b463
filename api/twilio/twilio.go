// Package twilio serves what Twilio sends us: replies to our text messages
// (POST /v1/twilio/sms), the script of our calls and the keys pressed in
// them (POST /v1/twilio/voice), and how messages and calls went (POST
// /v1/twilio/status).
//
// Every request must carry a valid X-Twilio-Signature: the HMAC of the URL
// Twilio was given (under ONCALL_PUBLIC_URL, so behind a proxy the Host
// header does not matter) and the form, keyed with the account's auth
// token, checked with twilio-go's RequestValidator. An unsigned, wrongly
// signed or unreadable request gets 403 and changes nothing.
//
// Who acts is the user with the phone number (one of their sms or voice
// contact methods), and only on incidents they may act on (they were paged
// for it, or they are on its team). Client input never gets a 500: a
// request we cannot serve because of our own failure is answered with a
// spoken or texted apology (nothing was changed), and 503 for reports.
package twilio

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"github.com/twilio/twilio-go/client"

	"github.com/oncall/oncall/jobs"
	notifytwilio "github.com/oncall/oncall/notify/twilio"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// Handler serves Twilio's webhooks.
type Handler struct {
	Engine    *jobs.Engine
	DB        store.Querier
	Clock     oncall.Clock
	AuthToken string // the account's: it signs every request
	PublicURL string // ONCALL_PUBLIC_URL: the base of the URLs Twilio was given
}

// maxForm bounds a webhook's body: Twilio's are a few kilobytes (an SMS
// body is at most 1,600 characters).
const maxForm = 64 << 10

// Register mounts the webhooks on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST "+notifytwilio.PathSMS, h.verified(h.sms))
	mux.Handle("POST "+notifytwilio.PathVoice, h.verified(h.voice))
	mux.Handle("POST "+notifytwilio.PathStatus, h.verified(h.status))
}

// verified reads the form of a request and passes it on only when Twilio
// signed it.
func (h *Handler) verified(next func(http.ResponseWriter, *http.Request, url.Values)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sig := r.Header.Get("X-Twilio-Signature")
		if sig == "" || h.AuthToken == "" {
			forbid(w)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
		if err != nil || len(body) > maxForm {
			forbid(w) // unreadable or too large: Twilio sends neither
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			forbid(w)
			return
		}
		// Twilio signs the first value of each parameter; the handlers read
		// the first value (Get) too, so a repeated one cannot slip in.
		params := make(map[string]string, len(form))
		for k, v := range form {
			params[k] = v[0]
		}
		v := client.NewRequestValidator(h.AuthToken)
		if !v.Validate(h.signedURL(r), params, sig) {
			zerolog.Ctx(r.Context()).Warn().Str("path", r.URL.Path).Msg("twilio webhook with a wrong signature refused")
			forbid(w)
			return
		}
		if !cleanForm(form) || !cleanForm(r.URL.Query()) {
			// Twilio sends UTF-8 without NUL; Postgres text takes
			// nothing else, so such a value would fail a query (a 5xx).
			http.Error(w, "invalid form: NUL or invalid UTF-8", http.StatusBadRequest)
			return
		}
		next(w, r, form)
	})
}

// cleanForm reports whether every name and value is UTF-8 without NUL.
func cleanForm(form url.Values) bool {
	ok := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
	for k, vs := range form {
		if !ok(k) {
			return false
		}
		for _, v := range vs {
			if !ok(v) {
				return false
			}
		}
	}
	return true
}

// signedURL is the URL Twilio requested as it knows it: the public base,
// then the path and query we received.
func (h *Handler) signedURL(r *http.Request) string {
	return strings.TrimRight(h.PublicURL, "/") + r.URL.RequestURI()
}

func forbid(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, "forbidden\n")
}
