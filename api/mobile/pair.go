package mobile

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/oncall/oncall/api"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

type pairRequest struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

type pairResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	TokenID   int64     `json:"token_id"`
	User      userInfo  `json:"user"`
	CreatedAt time.Time `json:"created_at"`
}

type userInfo struct {
	Name     string `json:"name"`
	FullName string `json:"full_name,omitempty"`
	Email    string `json:"email,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
}

// pair trades a one-time pairing code for a long-lived mobile token.
func (h *Handler) pair(w http.ResponseWriter, r *http.Request) {
	client := clientAddr(r)
	if ok, wait := h.Limiter.Allow(client); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
		api.WriteError(w, http.StatusTooManyRequests, "too many wrong pairing codes; wait and try again")
		return
	}
	var req pairRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Code == "" {
		api.WriteError(w, http.StatusBadRequest, "code is required: the pairing code `/oncall mobile` shows in Slack", "code")
		return
	}
	now := h.Clock.Now().UTC()
	token, user, err := store.PairingCodeRedeem(r.Context(), h.DB, req.Code, req.Label, now)
	if errors.Is(err, oncall.ErrNotFound) {
		h.Limiter.Fail(client)
		api.WriteError(w, http.StatusUnauthorized, "wrong, expired or already used pairing code: run /oncall mobile in Slack for a new one")
		return
	}
	if err != nil {
		internal(w, r, err)
		return
	}
	s, err := store.MobileTokenLookup(r.Context(), h.DB, token, now)
	if err != nil {
		internal(w, r, err)
		return
	}
	info, err := h.userInfo(r, user)
	if err != nil {
		internal(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusCreated, pairResponse{Token: token, TokenType: "Bearer", TokenID: s.ID, User: info, CreatedAt: s.CreatedAt})
}

// clientAddr is the client's IP address as the server sees it (a proxy's,
// behind one: the limit then counts everyone behind it as one client,
// which the total bound makes harmless).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) userInfo(r *http.Request, name string) (userInfo, error) {
	u, err := h.Engine.User(r.Context(), name)
	if err != nil {
		return userInfo{}, err
	}
	out := userInfo{Name: name}
	if u != nil {
		out.FullName, out.Email, out.TimeZone = u.FullName, u.Email, u.TimeZone
	}
	return out, nil
}

type meResponse struct {
	User    userInfo      `json:"user"`
	Session sessionInfo   `json:"session"`
	Devices []deviceInfo  `json:"devices"`
	Phones  []sessionInfo `json:"paired_phones"`
}

type sessionInfo struct {
	ID         int64     `json:"id"`
	Label      string    `json:"label"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
}

func sessionOf(t store.MobileToken) sessionInfo {
	return sessionInfo{ID: t.ID, Label: t.Label, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt}
}

// me is who the token belongs to, this session, its push token, and all
// the user's paired phones.
func (h *Handler) me(w http.ResponseWriter, r *http.Request, s session) {
	info, err := h.userInfo(r, s.User)
	if err != nil {
		internal(w, r, err)
		return
	}
	devices, err := store.DeviceList(r.Context(), h.DB, s.User)
	if err != nil {
		internal(w, r, err)
		return
	}
	phones, err := store.MobileTokenList(r.Context(), h.DB, s.User)
	if err != nil {
		internal(w, r, err)
		return
	}
	out := meResponse{User: info, Session: sessionOf(s), Devices: []deviceInfo{}, Phones: []sessionInfo{}}
	for _, d := range devices {
		if d.MobileTokenID == s.ID {
			out.Devices = append(out.Devices, deviceOf(d))
		}
	}
	for _, p := range phones {
		out.Phones = append(out.Phones, sessionOf(p))
	}
	api.WriteJSON(w, http.StatusOK, out)
}

// revoke ends the calling session: its token stops working and its push
// token is removed (signing out of the app).
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, s session) {
	err := store.MobileTokenRevoke(r.Context(), h.DB, s.User, s.ID, h.Clock.Now().UTC())
	if err != nil && !errors.Is(err, oncall.ErrNotFound) { // revoked meanwhile: done all the same
		internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
