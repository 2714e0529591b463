// Package calendar serves the iCalendar feeds of CONTRACT.md §4:
// GET /v1/calendars/{token}.ics, one schedule's shifts or one user's
// shifts across all schedules, for calendar apps that subscribe to a URL.
package calendar

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/api"
	"github.com/oncall/oncall/oncall"
	icalendar "github.com/oncall/oncall/oncall/calendar"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
)

// The feed window: shifts from Past before to Future after the start of
// the current UTC day (plus that day). It moves once a day, not with every
// request, so that a feed's bytes, and its ETag, stay the same until the
// day or the configuration changes; shifts that cross an edge of the
// window are cut at it.
const (
	Past   = 30 * 24 * time.Hour
	Future = 180 * 24 * time.Hour
)

// maxAge is how long clients and proxies may reuse a feed (Cache-Control).
const maxAge = 5 * time.Minute

// Handler serves GET /v1/calendars/{token}, where the token may end in
// ".ics". Mount it with a Go 1.22 pattern that names the token:
//
//	mux.Handle("GET /v1/calendars/{token}", &calendar.Handler{DB: pool, Clock: clock})
type Handler struct {
	DB    store.Querier
	Clock oncall.Clock
	// Config, when set, returns the current configuration, shared and read
	// only (the engine's snapshot, jobs.Engine.ConfigSet); without it each
	// request loads its own, which with a large company holds a whole copy
	// of the configuration per feed being served.
	Config func(context.Context) (*manifest.Set, error)
}

// ServeHTTP answers with the feed of the token (200, or 304 when
// If-None-Match names its ETag), 404 for a token that is unknown or
// revoked (always the same body, so tokens can't be probed), and 503 when
// the database fails.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := strings.TrimSuffix(r.PathValue("token"), ".ics")
	// The lookup is by the token's SHA-256, so no comparison here leaks
	// how much of a guess was right.
	tok, err := store.CalendarTokenLookup(ctx, h.DB, token)
	if errors.Is(err, oncall.ErrNotFound) {
		notFound(w)
		return
	}
	if err != nil {
		unavailable(w, r, err)
		return
	}
	load := h.Config
	if load == nil {
		load = func(ctx context.Context) (*manifest.Set, error) { return store.LoadConfig(ctx, h.DB) }
	}
	set, err := load(ctx)
	if err != nil {
		unavailable(w, r, err)
		return
	}

	day := h.Clock.Now().UTC().Truncate(24 * time.Hour)
	from, to := day.Add(-Past), day.Add(Future+24*time.Hour)
	var feed icalendar.Feed
	if tok.ScheduleID != 0 {
		feed, err = scheduleFeed(set, tok.ScheduleName, from, to)
	} else {
		feed, err = userFeed(set, tok.UserName, from, to)
	}
	if errors.Is(err, oncall.ErrNotFound) { // deleted since the lookup
		notFound(w)
		return
	}
	if err != nil {
		// The stored configuration passed validation, so this is ours.
		zerolog.Ctx(ctx).Error().Err(err).Int64("calendar_token_id", tok.ID).Msg("calendar feed")
		api.WriteError(w, http.StatusInternalServerError, "internal error")
		return
	}
	// DTSTAMP is when the feed's data was made; the window's day keeps it
	// (and the ETag) steady for a day.
	feed.Stamp = day

	var body bytes.Buffer
	if _, err := feed.WriteTo(&body); err != nil {
		api.WriteError(w, http.StatusInternalServerError, "internal error")
		return
	}
	sum := sha256.Sum256(body.Bytes())
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	hdr := w.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", "private, max-age="+strconv.Itoa(int(maxAge.Seconds())))
	if matches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", "text/calendar; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(body.Len()))
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body.Bytes())
}

// scheduleFeed is one event per final shift of the schedule.
func scheduleFeed(set *manifest.Set, name string, from, to time.Time) (icalendar.Feed, error) {
	sc, err := set.Resolver(name)
	if err != nil {
		return icalendar.Feed{}, fmt.Errorf("schedule %q: %w", name, err)
	}
	names := fullNames(set)
	feed := icalendar.Feed{Name: "On call: " + name}
	for _, s := range sc.Shifts(from, to) {
		feed.Events = append(feed.Events, icalendar.Event{
			UID:         icalendar.ShiftUID("schedule/"+name, s.User, s.Start),
			Start:       s.Start,
			End:         s.End,
			Summary:     fmt.Sprintf("On call: %s (%s)", s.User, name),
			Description: description(names, s.User, name),
		})
	}
	return feed, nil
}

// userFeed is one event per final shift of the user, in every schedule.
func userFeed(set *manifest.Set, user string, from, to time.Time) (icalendar.Feed, error) {
	var all []*schedule.Schedule
	for _, sc := range set.Schedules {
		r, err := set.Resolver(sc.Name)
		if err != nil {
			return icalendar.Feed{}, fmt.Errorf("schedule %q: %w", sc.Name, err)
		}
		all = append(all, r)
	}
	names := fullNames(set)
	feed := icalendar.Feed{Name: "On call: " + user}
	for _, s := range schedule.UserShifts(all, user, from, to) {
		feed.Events = append(feed.Events, icalendar.Event{
			// Not the schedule feed's UID: one app may subscribe to both.
			UID:         icalendar.ShiftUID("user/"+user+"/schedule/"+s.Schedule, s.User, s.Start),
			Start:       s.Start,
			End:         s.End,
			Summary:     "On call: " + s.Schedule,
			Description: description(names, user, s.Schedule),
		})
	}
	return feed, nil
}

func fullNames(set *manifest.Set) map[string]string {
	m := make(map[string]string, len(set.Users))
	for _, u := range set.Users {
		m[u.Name] = u.FullName
	}
	return m
}

func description(fullNames map[string]string, user, sched string) string {
	who := user
	if full := fullNames[user]; full != "" && full != user {
		who = full + " (" + user + ")"
	}
	return who + " is on call for schedule " + sched + "."
}

// matches reports whether an If-None-Match header names etag, by the weak
// comparison RFC 9110 §13.1.2 asks for.
func matches(header, etag string) bool {
	for c := range strings.SplitSeq(header, ",") {
		c = strings.TrimSpace(c)
		if c == "*" || strings.TrimPrefix(c, "W/") == etag {
			return true
		}
	}
	return false
}

func notFound(w http.ResponseWriter) {
	api.WriteError(w, http.StatusNotFound, "not found")
}

func unavailable(w http.ResponseWriter, r *http.Request, err error) {
	zerolog.Ctx(r.Context()).Error().Err(err).Msg("calendar feed: database")
	w.Header().Set("Retry-After", "60")
	api.WriteError(w, http.StatusServiceUnavailable, "temporarily unavailable, try again later")
}
