package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// NotificationsByReceipt lists the notifications a provider's receipt (a
// Twilio message or call SID) stands for, oldest first: one, or every page
// of a bundle sent as one message. None when the receipt is unknown.
func NotificationsByReceipt(ctx context.Context, q Querier, method, receipt string) ([]*Notification, error) {
	rows, err := q.Query(ctx, `
SELECT id, incident_id, COALESCE(user_name, ''), method, contact_name, address, kind, escalation_step, escalation_loop,
  rule_index, reason, due_at, state, attempts, COALESCE(last_error, ''), COALESCE(receipt, ''), COALESCE(job_id, 0)
FROM notifications WHERE method = $1 AND receipt = $2 ORDER BY id`, method, receipt)
	if err != nil {
		return nil, fmt.Errorf("notifications with receipt: %w", mapErr(err))
	}
	ns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Notification, error) { return scanNotification(r) })
	if err != nil {
		return nil, fmt.Errorf("notifications with receipt: %w", err)
	}
	return ns, nil
}

// NotificationAddress is where notification id goes, read without a lock:
// what the sender needs to take the address's lock before the row's.
// oncall.ErrNotFound when there is no such notification.
func NotificationAddress(ctx context.Context, q Querier, id int64) (method, address string, err error) {
	err = q.QueryRow(ctx, `SELECT method, address FROM notifications WHERE id = $1`, id).Scan(&method, &address)
	if err != nil {
		return "", "", fmt.Errorf("notification %d: %w", id, mapErr(err))
	}
	return method, address, nil
}
