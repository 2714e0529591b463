package calendar_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/api/calendar"
	"github.com/oncall/oncall/oncall"
	icalendar "github.com/oncall/oncall/oncall/calendar"
	"github.com/oncall/oncall/oncall/calendar/calendartest"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// now is a Tuesday afternoon, in the second week of the rotations.
var now = time.Date(2026, time.November, 10, 15, 4, 5, 0, time.UTC)

// The window the feed of now covers.
var (
	from = time.Date(2026, time.October, 11, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2027, time.May, 10, 0, 0, 0, 0, time.UTC)
)

type bundle struct {
	pool *pgxpool.Pool
	set  *manifest.Set
	mux  *http.ServeMux
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	pool := storetest.New(t)
	alice := storetest.User("alice")
	alice.FullName = "Zoë Alice, Jr."
	set := storetest.NewSet(alice, storetest.User("bob"), storetest.User("carol"),
		storetest.Schedule("payments-primary", "alice", "bob", "carol"),
		storetest.Schedule("payments-secondary", "bob", "alice"))
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit
	if _, err := store.ApplyConfig(ctx, tx, set, store.ApplyOptions{Now: now, Actor: "test"}); err != nil {
		t.Fatalf("ApplyConfig: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/calendars/{token}", &calendar.Handler{DB: pool, Clock: oncall.NewManualClock(now)})
	return &bundle{pool: pool, set: set, mux: mux}
}

func (b *bundle) token(t *testing.T, table, name string) (store.CalendarToken, string) {
	t.Helper()
	ctx := context.Background()
	var id int64
	if err := b.pool.QueryRow(ctx, `SELECT id FROM `+table+` WHERE name = $1`, name).Scan(&id); err != nil {
		t.Fatalf("id of %s %q: %v", table, name, err)
	}
	owner := store.CalendarOwner{UserID: id}
	if table == "schedules" {
		owner = store.CalendarOwner{ScheduleID: id}
	}
	tok, secret, err := store.CalendarTokenCreate(ctx, b.pool, owner, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok, secret
}

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// feed checks a 200 answer and reads its feed strictly.
func feed(t *testing.T, w *httptest.ResponseRecorder) icalendar.Feed {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	for k, v := range map[string]string{
		"Content-Type":  "text/calendar; charset=utf-8",
		"Cache-Control": "private, max-age=300",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %q; want %q", k, got, v)
		}
	}
	if etag := w.Header().Get("ETag"); len(etag) < 10 || !strings.HasPrefix(etag, `"`) {
		t.Errorf("ETag %q", etag)
	}
	return calendartest.Check(t, w.Body.Bytes())
}

func (b *bundle) resolver(t *testing.T, name string) *schedule.Schedule {
	t.Helper()
	s, err := b.set.Resolver(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScheduleFeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, secret := b.token(t, "schedules", "payments-primary")
	w := get(b.mux, "/v1/calendars/"+secret+".ics")
	f := feed(t, w)
	if f.Name != "On call: payments-primary" || !f.Stamp.Equal(time.Date(2026, time.November, 10, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("feed %q stamped %v", f.Name, f.Stamp)
	}

	shifts := b.resolver(t, "payments-primary").Shifts(from, to)
	if len(shifts) == 0 {
		t.Fatal("the schedule has no shifts in the window")
	}
	if len(f.Events) != len(shifts) {
		t.Fatalf("%d events; want one per shift, %d", len(f.Events), len(shifts))
	}
	for i, e := range f.Events {
		s := shifts[i]
		want := icalendar.Event{
			UID:         icalendar.ShiftUID("schedule/payments-primary", s.User, s.Start),
			Start:       s.Start,
			End:         s.End,
			Summary:     "On call: " + s.User + " (payments-primary)",
			Description: s.User + " Example (" + s.User + ") is on call for schedule payments-primary.",
		}
		if s.User == "alice" {
			want.Description = "Zoë Alice, Jr. (alice) is on call for schedule payments-primary."
		}
		if e != want {
			t.Errorf("event %d = %+v; want %+v", i, e, want)
		}
		if e.Start.Before(from) || e.End.After(to) {
			t.Errorf("event %d (%v to %v) is outside the window", i, e.Start, e.End)
		}
	}

	// Without ".ics", the same feed.
	if again := get(b.mux, "/v1/calendars/"+secret); again.Code != http.StatusOK || again.Body.String() != w.Body.String() {
		t.Errorf("without .ics: %d, a different body", again.Code)
	}
}

func TestUserFeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, secret := b.token(t, "users", "bob")
	f := feed(t, get(b.mux, "/v1/calendars/"+secret+".ics"))
	if f.Name != "On call: bob" {
		t.Errorf("feed name %q", f.Name)
	}
	shifts := schedule.UserShifts([]*schedule.Schedule{b.resolver(t, "payments-primary"), b.resolver(t, "payments-secondary")},
		"bob", from, to)
	if len(f.Events) != len(shifts) {
		t.Fatalf("%d events; want one per shift of bob, %d", len(f.Events), len(shifts))
	}
	seen := map[string]bool{}
	for i, e := range f.Events {
		s := shifts[i]
		want := icalendar.Event{
			UID:         icalendar.ShiftUID("user/bob/schedule/"+s.Schedule, "bob", s.Start),
			Start:       s.Start,
			End:         s.End,
			Summary:     "On call: " + s.Schedule,
			Description: "bob Example (bob) is on call for schedule " + s.Schedule + ".",
		}
		if e != want {
			t.Errorf("event %d = %+v; want %+v", i, e, want)
		}
		seen[s.Schedule] = true
	}
	if !seen["payments-primary"] || !seen["payments-secondary"] {
		t.Errorf("bob's feed has shifts of %v; want both schedules", seen)
	}
}

func TestETag(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, secret := b.token(t, "schedules", "payments-secondary")
	path := "/v1/calendars/" + secret + ".ics"
	first := get(b.mux, path)
	etag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || etag == "" {
		t.Fatalf("status %d, ETag %q", first.Code, etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		w := get(b.mux, path, "If-None-Match", inm)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
			t.Errorf("If-None-Match %s: status %d, body %q, ETag %q; want 304", inm, w.Code, w.Body, w.Header().Get("ETag"))
		}
	}
	if w := get(b.mux, path, "If-None-Match", `"other"`); w.Code != http.StatusOK || w.Body.String() != first.Body.String() {
		t.Errorf("another ETag: status %d; want 200 and the same feed", w.Code)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok, secret := b.token(t, "schedules", "payments-primary")
	if err := store.CalendarTokenRevoke(context.Background(), b.pool, tok.ID, now); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, path := range []string{
		"/v1/calendars/" + secret + ".ics", // revoked
		"/v1/calendars/" + secret,
		"/v1/calendars/nope.ics",
		"/v1/calendars/.ics",
		"/v1/calendars/" + strings.Repeat("A", 43) + ".ics",
		"/v1/calendars/%00%ff%20.ics",
	} {
		w := get(b.mux, path)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d; want 404", path, w.Code)
		}
		bodies = append(bodies, w.Body.String())
	}
	for _, body := range bodies {
		if body != bodies[0] || strings.TrimSpace(body) != `{"error":"not found"}` {
			t.Errorf("body %q; want the same not-found body for every unknown token", body)
		}
	}
}

// brokenDB fails every query, as a database that went away.
type brokenDB struct{}

var errDown = errors.New("connection refused")

func (brokenDB) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, errDown
}
func (brokenDB) Query(context.Context, string, ...any) (pgx.Rows, error) { return nil, errDown }
func (brokenDB) QueryRow(context.Context, string, ...any) pgx.Row        { return errRow{} }

type errRow struct{}

func (errRow) Scan(...any) error { return errDown }

func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	h := &calendar.Handler{DB: brokenDB{}, Clock: oncall.NewManualClock(now)}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/calendars/{token}", h)
	w := get(mux, "/v1/calendars/whatever.ics")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"error"`) ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Errorf("status %d, %s %q; want 503 with a JSON error", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}
