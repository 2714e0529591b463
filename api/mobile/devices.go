package mobile

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oncall/oncall/api"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

type deviceRequest struct {
	Platform string `json:"platform"`
	Token    string `json:"token"`
}

type deviceInfo struct {
	Platform     string    `json:"platform"`
	Token        string    `json:"token"`
	RegisteredAt time.Time `json:"registered_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func deviceOf(d store.RegisteredDevice) deviceInfo {
	return deviceInfo{Platform: d.Platform, Token: d.Token, RegisteredAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// registerDevice registers (or refreshes) the phone's push token for this
// session; a session has one, so a rotated token replaces the old one.
func (h *Handler) registerDevice(w http.ResponseWriter, r *http.Request, s session) {
	var req deviceRequest
	if !decode(w, r, &req) {
		return
	}
	d, err := store.DeviceRegister(r.Context(), h.DB, s.ID, s.User, req.Platform, req.Token, h.Clock.Now().UTC())
	switch {
	case userError(w, http.StatusBadRequest, err):
	case errors.Is(err, oncall.ErrNotFound): // the session was revoked meanwhile
		unauthorized(w, "unknown or revoked mobile token: pair the app again")
	case err != nil:
		internal(w, r, err)
	default:
		api.WriteJSON(w, http.StatusOK, deviceOf(d))
	}
}

// removeDevice stops pushes to one of the user's push tokens.
func (h *Handler) removeDevice(w http.ResponseWriter, r *http.Request, s session) {
	token := r.PathValue("token")
	if len(token) > 4096 || !utf8.ValidString(token) || strings.ContainsRune(token, 0) {
		api.WriteError(w, http.StatusNotFound, "no such device token of yours")
		return
	}
	err := store.DeviceRemove(r.Context(), h.DB, s.User, token)
	switch {
	case errors.Is(err, oncall.ErrNotFound):
		api.WriteError(w, http.StatusNotFound, "no such device token of yours")
	case err != nil:
		internal(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
