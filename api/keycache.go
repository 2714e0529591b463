package api

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/oncall/oncall/store"
)

// keyCache remembers, for a few seconds, the integrations behind keys that
// recently sent alerts, so a busy sender costs no lookup per alert. Keys
// are held only as their SHA-256; unknown keys are never cached, so every
// wrong key costs the same database lookup. A deleted integration keeps
// accepting alerts for at most keyTTL (their incidents then fail to
// commit: the sender gets 503 and, retrying, 404).
type keyCache struct {
	mu      sync.Mutex
	entries map[[32]byte]keyEntry
}

type keyEntry struct {
	integ   store.Integration
	expires time.Time
}

const (
	keyTTL      = 2 * time.Second
	keyCacheMax = 10_000
)

func (c *keyCache) lookup(ctx context.Context, q store.Querier, key string) (store.Integration, error) {
	h := sha256.Sum256([]byte(key))
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[h]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.integ, nil
	}
	integ, err := store.IntegrationByKey(ctx, q, key)
	if err != nil {
		return integ, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= keyCacheMax {
		c.entries = map[[32]byte]keyEntry{} // crude but bounded: start over
	}
	c.entries[h] = keyEntry{integ: integ, expires: now.Add(keyTTL)}
	return integ, nil
}
