package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// LockConfig takes, in tx, the lock ApplyConfig takes, so a
// read-modify-write of the configuration (LoadConfig, change one object,
// ApplyConfig in the same tx) cannot lose an apply made meanwhile, e.g.
// two overrides saved from Slack at once. The lock is held until tx ends;
// ApplyConfig taking it again in tx does not block.
func LockConfig(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, configLockKey); err != nil {
		return fmt.Errorf("lock config: %w", err)
	}
	return nil
}
