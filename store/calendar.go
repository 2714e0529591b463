package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/oncall"
)

// CalendarOwner is what a calendar feed shows: one schedule's shifts or
// one user's. Exactly one of the ids is set.
type CalendarOwner struct {
	ScheduleID int64
	UserID     int64
}

// CalendarToken is a calendar feed's token as stored (never the token
// itself, only its hash is kept).
type CalendarToken struct {
	ID           int64
	ScheduleID   int64 // 0 for a user's feed
	ScheduleName string
	UserID       int64 // 0 for a schedule's feed
	UserName     string
	CreatedAt    time.Time
	RevokedAt    *time.Time
}

const (
	sqlCalendarTokenInsert = `
INSERT INTO calendar_tokens (token_hash, schedule_id, user_id, created_at)
VALUES ($1, NULLIF($2, 0::bigint), NULLIF($3, 0::bigint), $4)
RETURNING id`
	sqlCalendarTokenSelect = `
SELECT c.id, COALESCE(c.schedule_id, 0), COALESCE(s.name, ''), COALESCE(c.user_id, 0), COALESCE(u.name, ''),
       c.created_at, c.revoked_at
FROM calendar_tokens c
LEFT JOIN schedules s ON s.id = c.schedule_id
LEFT JOIN users u ON u.id = c.user_id`
	sqlCalendarTokenByHash = sqlCalendarTokenSelect + `
WHERE c.token_hash = $1 AND c.revoked_at IS NULL`
	sqlCalendarTokenByID     = sqlCalendarTokenSelect + ` WHERE c.id = $1`
	sqlCalendarTokensByOwner = sqlCalendarTokenSelect + `
WHERE c.schedule_id IS NOT DISTINCT FROM NULLIF($1, 0::bigint) AND c.user_id IS NOT DISTINCT FROM NULLIF($2, 0::bigint)
ORDER BY c.created_at, c.id`
	sqlCalendarTokenRevoke = `
UPDATE calendar_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`
)

func (o CalendarOwner) check() error {
	if (o.ScheduleID == 0) == (o.UserID == 0) {
		return &oncall.UserError{Msg: "a calendar token belongs to exactly one schedule or one user"}
	}
	return nil
}

// CalendarTokenCreate makes a new feed token for owner and returns it with
// the secret token, which is shown once: only its SHA-256 is stored.
func CalendarTokenCreate(ctx context.Context, q Querier, owner CalendarOwner, now time.Time) (CalendarToken, string, error) {
	if err := owner.check(); err != nil {
		return CalendarToken{}, "", err
	}
	token, hash := newSecret()
	var id int64
	if err := q.QueryRow(ctx, sqlCalendarTokenInsert, hash, owner.ScheduleID, owner.UserID, now).Scan(&id); err != nil {
		return CalendarToken{}, "", fmt.Errorf("create calendar token: %w", mapErr(err))
	}
	t, err := scanCalendarToken(q.QueryRow(ctx, sqlCalendarTokenByID, id))
	if err != nil {
		return CalendarToken{}, "", fmt.Errorf("create calendar token: %w", err)
	}
	return t, token, nil
}

// CalendarTokenLookup finds the live (not revoked) token, or returns
// oncall.ErrNotFound. As for integration keys, the lookup is by hash.
func CalendarTokenLookup(ctx context.Context, q Querier, token string) (CalendarToken, error) {
	if token == "" {
		return CalendarToken{}, fmt.Errorf("calendar token: %w", oncall.ErrNotFound)
	}
	t, err := scanCalendarToken(q.QueryRow(ctx, sqlCalendarTokenByHash, hashSecret(token)))
	if err != nil {
		return CalendarToken{}, fmt.Errorf("calendar token: %w", err)
	}
	return t, nil
}

// CalendarTokenList lists owner's tokens, revoked ones included, oldest
// first.
func CalendarTokenList(ctx context.Context, q Querier, owner CalendarOwner) ([]CalendarToken, error) {
	if err := owner.check(); err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, sqlCalendarTokensByOwner, owner.ScheduleID, owner.UserID)
	if err != nil {
		return nil, fmt.Errorf("list calendar tokens: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CalendarToken, error) { return scanCalendarToken(row) })
	if err != nil {
		return nil, fmt.Errorf("list calendar tokens: %w", err)
	}
	return out, nil
}

// CalendarTokenRevoke revokes a live token at now; oncall.ErrNotFound when
// there is no such live token.
func CalendarTokenRevoke(ctx context.Context, q Querier, id int64, now time.Time) error {
	tag, err := q.Exec(ctx, sqlCalendarTokenRevoke, id, now)
	if err != nil {
		return fmt.Errorf("revoke calendar token %d: %w", id, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke calendar token %d: %w", id, oncall.ErrNotFound)
	}
	return nil
}

func scanCalendarToken(row pgx.Row) (CalendarToken, error) {
	var t CalendarToken
	err := row.Scan(&t.ID, &t.ScheduleID, &t.ScheduleName, &t.UserID, &t.UserName, &t.CreatedAt, &t.RevokedAt)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return CalendarToken{}, oncall.ErrNotFound
		}
		return CalendarToken{}, mapErr(err)
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if t.RevokedAt != nil {
		r := t.RevokedAt.UTC()
		t.RevokedAt = &r
	}
	return t, nil
}

// CalendarOwnerByName finds the schedule or the user (exactly one name is
// given) a calendar token is for.
func CalendarOwnerByName(ctx context.Context, q Querier, schedule, user string) (CalendarOwner, error) {
	var o CalendarOwner
	switch {
	case (schedule == "") == (user == ""):
		return o, &oncall.UserError{Msg: "name exactly one of a schedule or a user"}
	case schedule != "":
		if err := q.QueryRow(ctx, `SELECT id FROM schedules WHERE name = $1`, schedule).Scan(&o.ScheduleID); err != nil {
			return o, fmt.Errorf("schedule %q: %w", schedule, mapErr(err))
		}
	default:
		if err := q.QueryRow(ctx, `SELECT id FROM users WHERE name = $1`, user).Scan(&o.UserID); err != nil {
			return o, fmt.Errorf("user %q: %w", user, mapErr(err))
		}
	}
	return o, nil
}
