package store

import (
	"context"
	"fmt"
	"time"
)

// ContactMethodsVerified is when each of user's contact methods was
// verified, by the method's name; a method never verified (or whose
// address changed since) is absent.
func ContactMethodsVerified(ctx context.Context, q Querier, user string) (map[string]time.Time, error) {
	rows, err := q.Query(ctx, `SELECT c.name, c.verified_at FROM contact_methods c JOIN users u ON u.id = c.user_id
WHERE u.name = $1 AND c.verified_at IS NOT NULL`, user)
	if err != nil {
		return nil, fmt.Errorf("verified contact methods of %s: %w", user, mapErr(err))
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		var at time.Time
		if err := rows.Scan(&name, &at); err != nil {
			return nil, fmt.Errorf("verified contact methods of %s: %w", user, mapErr(err))
		}
		out[name] = at.UTC()
	}
	return out, mapErr(rows.Err())
}
