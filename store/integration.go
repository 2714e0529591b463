package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/oncall/oncall/oncall"
)

// newSecret returns a new random secret (an integration key, a calendar
// token) and the SHA-256 hash that is all the database keeps of it: 32
// bytes from crypto/rand, base64url without padding (43 characters, safe
// in URL paths and headers).
func newSecret() (secret string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, hashSecret(secret)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Integration is an integration with its service, as found by its key.
type Integration struct {
	ID          int64
	Name        string
	Type        string // manifest.Integration*
	ServiceID   int64
	ServiceName string
	CreatedAt   time.Time
}

const sqlIntegrationByKeyHash = `
SELECT i.id, i.name, i.type, i.service_id, s.name AS service_name, i.created_at
FROM integrations i JOIN services s ON s.id = i.service_id
WHERE i.key_hash = $1`

// IntegrationByKey finds the integration whose secret key is key, or
// returns oncall.ErrNotFound.
//
// The database holds only SHA-256(key), and the lookup is by that hash. An
// attacker who times the index search learns at best how many leading
// bytes of SHA-256(guess) match a stored hash, which says nothing about the
// key itself: to use it they would have to find inputs with chosen hash
// prefixes, which SHA-256's preimage resistance rules out, and the key's
// 256 random bits cannot be guessed anyway. So no constant-time comparison
// is needed, and the key is never compared, logged or stored in clear.
func IntegrationByKey(ctx context.Context, q Querier, key string) (Integration, error) {
	var in Integration
	if key == "" {
		return in, fmt.Errorf("integration by key: %w", oncall.ErrNotFound)
	}
	err := q.QueryRow(ctx, sqlIntegrationByKeyHash, hashSecret(key)).Scan(
		&in.ID, &in.Name, &in.Type, &in.ServiceID, &in.ServiceName, &in.CreatedAt)
	if err != nil {
		return Integration{}, fmt.Errorf("integration by key: %w", mapErr(err))
	}
	in.CreatedAt = in.CreatedAt.UTC()
	return in, nil
}
