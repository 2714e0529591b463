package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewEmpty(t)

	current, err := store.MigrationsCurrent(ctx, pool)
	if err != nil || current {
		t.Fatalf("MigrationsCurrent on an empty database = %v, %v; want false, nil", current, err)
	}

	applied, err := store.Migrate(ctx, pool)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	var ours, river int
	for _, name := range applied {
		if strings.HasPrefix(name, "river ") {
			river++
		} else {
			ours++
		}
	}
	if ours < 2 || river < 1 || applied[0] != "river 001 create river migration" || strings.HasPrefix(applied[len(applied)-1], "river ") {
		t.Errorf("Migrate applied %q; want River's then ours (0001_config ...)", applied)
	}

	again, err := store.Migrate(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %q, %v; want nothing applied", again, err)
	}
	current, err = store.MigrationsCurrent(ctx, pool)
	if err != nil || !current {
		t.Fatalf("MigrationsCurrent after Migrate = %v, %v; want true", current, err)
	}

	// Bookkeeping: one row per migration of ours, with its name.
	rows, _ := pool.Query(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	// Others are added over time: check the known ones, in order.
	if err != nil || !hasInOrder(names, "0001_config", "0002_runtime", "0003_incidents", "0004_heartbeats", "0005_receipts", "0006_sms", "0007_secrets", "0008_mobile") ||
		len(names) != ours {
		t.Errorf("schema_migrations = %q, %v", names, err)
	}

	// A migration missing from the bookkeeping makes the database not current.
	if _, err := pool.Exec(ctx, `DELETE FROM schema_migrations WHERE version = 2`); err != nil {
		t.Fatal(err)
	}
	if current, err := store.MigrationsCurrent(ctx, pool); err != nil || current {
		t.Errorf("MigrationsCurrent with a migration missing = %v, %v; want false", current, err)
	}
}

// hasInOrder reports whether list contains want, in that order (with
// others allowed between them).
func hasInOrder(list []string, want ...string) bool {
	for _, s := range list {
		if len(want) > 0 && s == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewEmpty(t)
	// A second pool: another process, as far as the database can tell.
	other, err := store.Open(ctx, storetest.URL(pool))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	var wg sync.WaitGroup
	results := make([][]string, 2)
	errs := make([]error, 2)
	for i, p := range []*pgxpool.Pool{pool, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = store.Migrate(ctx, p)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate #%d: %v", i, err)
		}
	}
	// One did all the work, the other found nothing to do.
	if (len(results[0]) == 0) == (len(results[1]) == 0) {
		t.Errorf("applied %q and %q; want one run to apply everything and the other nothing", results[0], results[1])
	}
	if current, err := store.MigrationsCurrent(ctx, pool); err != nil || !current {
		t.Errorf("MigrationsCurrent = %v, %v", current, err)
	}
}

func TestOpenCreatesDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Borrow a fresh name from an empty database, then drop it: Open must
	// create it again.
	pool := storetest.NewEmpty(t)
	url := storetest.URL(pool)
	name := pool.Config().ConnConfig.Database
	pool.Close()
	admin, err := pgx.Connect(ctx, storetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}

	opened, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open of a missing database: %v", err)
	}
	defer opened.Close()
	var got string
	if err := opened.QueryRow(ctx, `SELECT current_database()`).Scan(&got); err != nil || got != name {
		t.Errorf("current_database() = %q, %v; want %q", got, err, name)
	}
	if opened.Config().MaxConns < 10 {
		t.Errorf("MaxConns = %d; want the store's default", opened.Config().MaxConns)
	}
}
