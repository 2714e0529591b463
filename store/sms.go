package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// What we keep about phones that text us (table sms_phones): the SMS
// opt-out a STOP records and a START clears, and the count of replies in a
// row that did nothing, with which the SMS webhook stops answering a phone
// that only sends noise (an auto-responder, a loop) until it sends a
// command that works.

// SMSPhoneOptOut records that phone opted out of SMS (out true: it sent
// STOP) or back in (START) at now. Opting back in also clears the count of
// idle replies.
func SMSPhoneOptOut(ctx context.Context, q Querier, phone string, out bool, now time.Time) error {
	_, err := q.Exec(ctx, `
INSERT INTO sms_phones (phone, opted_out, opted_out_at, last_inbound_at)
VALUES ($1, $2, CASE WHEN $2 THEN $3::timestamptz END, $3)
ON CONFLICT (phone) DO UPDATE SET
  opted_out = EXCLUDED.opted_out,
  opted_out_at = CASE WHEN EXCLUDED.opted_out THEN COALESCE(sms_phones.opted_out_at, EXCLUDED.opted_out_at) END,
  idle_replies = CASE WHEN EXCLUDED.opted_out THEN sms_phones.idle_replies ELSE 0 END,
  last_inbound_at = GREATEST(sms_phones.last_inbound_at, EXCLUDED.last_inbound_at)`, phone, out, now)
	if err != nil {
		return fmt.Errorf("record sms opt-out: %w", mapErr(err))
	}
	return nil
}

// SMSPhoneOptedOut reports whether phone opted out of SMS (sent STOP and
// no START since). A phone we never heard from has not.
func SMSPhoneOptedOut(ctx context.Context, q Querier, phone string) (bool, error) {
	var out bool
	err := q.QueryRow(ctx, `SELECT opted_out FROM sms_phones WHERE phone = $1`, phone).Scan(&out)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sms opt-out: %w", mapErr(err))
	}
	return out, nil
}

// SMSPhoneIdle counts one more reply from phone that did nothing, at now,
// and returns how many in a row there have been, this one included.
func SMSPhoneIdle(ctx context.Context, q Querier, phone string, now time.Time) (int, error) {
	var n int
	err := q.QueryRow(ctx, `
INSERT INTO sms_phones (phone, idle_replies, last_inbound_at) VALUES ($1, 1, $2)
ON CONFLICT (phone) DO UPDATE SET
  idle_replies = sms_phones.idle_replies + 1,
  last_inbound_at = GREATEST(sms_phones.last_inbound_at, EXCLUDED.last_inbound_at)
RETURNING idle_replies`, phone, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count idle sms reply: %w", mapErr(err))
	}
	return n, nil
}

// SMSPhoneActive records a reply from phone that worked, at now: the count
// of idle replies starts over.
func SMSPhoneActive(ctx context.Context, q Querier, phone string, now time.Time) error {
	_, err := q.Exec(ctx, `
INSERT INTO sms_phones (phone, last_inbound_at) VALUES ($1, $2)
ON CONFLICT (phone) DO UPDATE SET
  idle_replies = 0,
  last_inbound_at = GREATEST(sms_phones.last_inbound_at, EXCLUDED.last_inbound_at)`, phone, now)
	if err != nil {
		return fmt.Errorf("record sms reply: %w", mapErr(err))
	}
	return nil
}

// SMSPagedIncidents lists the incidents still triggered that user was sent
// a page for by SMS (alone or in a bundle), oldest first, at most limit:
// what an "ack all" reply acknowledges.
func SMSPagedIncidents(ctx context.Context, q Querier, user string, limit int) ([]int64, error) {
	rows, err := q.Query(ctx, `
SELECT i.id FROM incidents i
WHERE i.state = 'triggered'
  AND EXISTS (SELECT 1 FROM notifications n
              WHERE n.incident_id = i.id AND n.user_name = $1 AND n.method = 'sms' AND n.state = 'sent')
ORDER BY i.id LIMIT $2`, user, limit)
	if err != nil {
		return nil, fmt.Errorf("incidents paged to %s by sms: %w", user, mapErr(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("incidents paged to %s by sms: %w", user, mapErr(err))
	}
	return ids, nil
}
