package store

import (
	"context"
	"crypto/rand"
	"fmt"
)

// ServerSecret returns the server's secret called name (such as
// "email-links", the key of the email action links): 32 random bytes, made
// and stored the first time anyone asks for it. Processes that ask at the
// same time all get the one that was stored first (INSERT ... ON CONFLICT
// DO NOTHING, then read it back), so a deployment of several processes
// shares one secret. Its created_at is the database's time: bookkeeping,
// never compared with a Clock. Inside a transaction, the secret is only
// made for others once the caller commits.
func ServerSecret(ctx context.Context, q Querier, name string) ([]byte, error) {
	var fresh [32]byte
	_, _ = rand.Read(fresh[:]) // never fails (crypto/rand, Go 1.24+)
	if _, err := q.Exec(ctx, `INSERT INTO server_secrets (name, secret, created_at) VALUES ($1, $2, now())
ON CONFLICT (name) DO NOTHING`, name, fresh[:]); err != nil {
		return nil, fmt.Errorf("create server secret %s: %w", name, mapErr(err))
	}
	var secret []byte
	if err := q.QueryRow(ctx, `SELECT secret FROM server_secrets WHERE name = $1`, name).Scan(&secret); err != nil {
		return nil, fmt.Errorf("server secret %s: %w", name, mapErr(err))
	}
	return secret, nil
}
