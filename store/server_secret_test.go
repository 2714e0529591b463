package store_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

func TestServerSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)

	first, err := store.ServerSecret(ctx, pool, "email-links")
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 32 || bytes.Equal(first, make([]byte, 32)) {
		t.Fatalf("secret = %x; want 32 random bytes", first)
	}
	again, err := store.ServerSecret(ctx, pool, "email-links")
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("second call = %x, %v; want the stored %x", again, err, first)
	}
	other, err := store.ServerSecret(ctx, pool, "other")
	if err != nil || bytes.Equal(other, first) {
		t.Fatalf("another name = %x, %v; want a secret of its own", other, err)
	}
	if _, err := store.ServerSecret(ctx, pool, "Not A Name"); err == nil {
		t.Error("a bad name was accepted")
	}
}

// Processes starting together agree on one secret.
func TestServerSecretConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	const n = 8
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = store.ServerSecret(ctx, pool, "race")
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("call %d got %x, call 0 got %x; want one secret", i, got[i], got[0])
		}
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM server_secrets WHERE name = 'race'`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("rows = %d, %v; want 1", rows, err)
	}
}
