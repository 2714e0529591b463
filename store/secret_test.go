package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// dumpDatabase returns every row of every table (River's too) as text.
func dumpDatabase(t *testing.T, q store.Querier) string {
	t.Helper()
	ctx := context.Background()
	rows, err := q.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := q.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			b.WriteString(table + ": " + s + "\n")
		}
	}
	return b.String()
}

func TestIntegrationKeysAreStoredHashed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	plan := apply(t, pool, storetest.Company(), false)

	dump := dumpDatabase(t, pool)
	if !strings.Contains(dump, "payments-prometheus") {
		t.Fatalf("the dump does not show the configuration:\n%s", dump)
	}
	hashes := keyHashes(t, pool)
	for _, k := range plan.NewKeys {
		sum := sha256.Sum256([]byte(k.Key))
		if hashes[k.Integration] != hex.EncodeToString(sum[:]) {
			t.Errorf("key_hash of %s is not sha256(key)", k.Integration)
		}
		// Neither the key nor its bytes in any common encoding.
		for _, form := range []string{k.Key, hex.EncodeToString([]byte(k.Key))} {
			if strings.Contains(dump, form) {
				t.Errorf("the key of %s is stored in clear", k.Integration)
			}
		}
	}

	for _, k := range plan.NewKeys {
		in, err := store.IntegrationByKey(ctx, pool, k.Key)
		if err != nil {
			t.Fatalf("IntegrationByKey(%s): %v", k.Integration, err)
		}
		if in.Name != k.Integration || in.Type != k.Type || in.ServiceName != k.Service ||
			in.ServiceID != id(t, pool, "services", k.Service) || in.ID != id(t, pool, "integrations", k.Integration) || !in.CreatedAt.Equal(now) {
			t.Errorf("IntegrationByKey(%s) = %+v", k.Integration, in)
		}
	}
	pd := plan.NewKeys[0]
	for _, k := range plan.NewKeys {
		if k.Type == manifest.IntegrationPagerDuty {
			pd = k
		}
	}
	for _, bad := range []string{"", "nope", pd.Key + "x", strings.ToUpper(pd.Key), pd.Key[:42]} {
		if _, err := store.IntegrationByKey(ctx, pool, bad); !errors.Is(err, oncall.ErrNotFound) {
			t.Errorf("IntegrationByKey(%q): err = %v; want ErrNotFound", bad, err)
		}
	}
}

func TestCalendarTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	apply(t, pool, storetest.Company(), false)
	sched := store.CalendarOwner{ScheduleID: id(t, pool, "schedules", "payments-primary")}
	user := store.CalendarOwner{UserID: id(t, pool, "users", "carol")}

	st, stoken, err := store.CalendarTokenCreate(ctx, pool, sched, now)
	if err != nil {
		t.Fatal(err)
	}
	ut, utoken, err := store.CalendarTokenCreate(ctx, pool, user, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(stoken) != 43 || stoken == utoken || st.ScheduleName != "payments-primary" || st.UserID != 0 || ut.UserName != "carol" || ut.ScheduleID != 0 {
		t.Errorf("created %+v (%q) and %+v (%q)", st, stoken, ut, utoken)
	}
	if strings.Contains(dumpDatabase(t, pool), stoken) {
		t.Errorf("a calendar token is stored in clear")
	}

	got, err := store.CalendarTokenLookup(ctx, pool, stoken)
	if err != nil || got.ID != st.ID || got.ScheduleID != sched.ScheduleID || !got.CreatedAt.Equal(now) || got.RevokedAt != nil {
		t.Errorf("lookup = %+v, %v; want %+v", got, err, st)
	}
	if got, err := store.CalendarTokenLookup(ctx, pool, utoken); err != nil || got.UserID != user.UserID {
		t.Errorf("lookup of the user's token = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "x", stoken + "x"} {
		if _, err := store.CalendarTokenLookup(ctx, pool, bad); !errors.Is(err, oncall.ErrNotFound) {
			t.Errorf("lookup(%q): err = %v; want ErrNotFound", bad, err)
		}
	}

	if err := store.CalendarTokenRevoke(ctx, pool, st.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CalendarTokenLookup(ctx, pool, stoken); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("lookup after revoke: err = %v; want ErrNotFound", err)
	}
	if err := store.CalendarTokenRevoke(ctx, pool, st.ID, now.Add(time.Hour)); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("second revoke: err = %v; want ErrNotFound", err)
	}
	list, err := store.CalendarTokenList(ctx, pool, sched)
	if err != nil || len(list) != 1 || list[0].RevokedAt == nil || !list[0].RevokedAt.Equal(now.Add(time.Hour)) {
		t.Errorf("list = %+v, %v", list, err)
	}

	for _, bad := range []store.CalendarOwner{{}, {ScheduleID: 1, UserID: 1}} {
		if _, _, err := store.CalendarTokenCreate(ctx, pool, bad, now); !errors.Is(err, oncall.ErrInvalid) {
			t.Errorf("create for %+v: err = %v; want ErrInvalid", bad, err)
		}
	}
	if _, _, err := store.CalendarTokenCreate(ctx, pool, store.CalendarOwner{ScheduleID: 999999}, now); !errors.Is(err, oncall.ErrInvalid) {
		t.Errorf("create for a missing schedule: err = %v; want ErrInvalid", err)
	}

}
