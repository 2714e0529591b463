package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

func TestContactMethodsVerified(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	apply(t, pool, storetest.NewSet(storetest.User("alice"), storetest.User("bob")), false)
	at := time.Date(2026, time.November, 2, 9, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `UPDATE contact_methods SET verified_at = $1
WHERE user_id = (SELECT id FROM users WHERE name = 'alice')`, at); err != nil {
		t.Fatal(err)
	}
	got, err := store.ContactMethodsVerified(ctx, pool, "alice")
	if err != nil || len(got) != 1 || !got["cell"].Equal(at) {
		t.Errorf("alice: %v, %v; want cell verified at %s", got, err, at)
	}
	if got, err := store.ContactMethodsVerified(ctx, pool, "bob"); err != nil || len(got) != 0 {
		t.Errorf("bob: %v, %v; want none", got, err)
	}
}
