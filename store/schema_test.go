package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oncall/oncall/store/storetest"
)

// The schema keeps rows valid whoever writes them: each statement here
// must fail, with the SQLSTATE and constraint given.
func TestSchemaRejectsBadRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	apply(t, pool, storetest.Company(), false)
	alice := id(t, pool, "users", "alice")
	sched := id(t, pool, "schedules", "payments-primary")
	var layer, step int64
	if err := pool.QueryRow(ctx, `SELECT id FROM schedule_layers WHERE schedule_id = $1 AND position = 0`, sched).Scan(&layer); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT min(id) FROM escalation_steps`).Scan(&step); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		sql        string
		args       []any
		code, name string
	}{
		{`INSERT INTO users (name) VALUES ('Bad Name')`, nil, "23514", "users_name_check"},
		{`INSERT INTO users (name) VALUES ('alice')`, nil, "23505", "users_name_key"},
		{`INSERT INTO users (name, email) VALUES ('erin', '')`, nil, "23514", "users_email_check"},
		{`INSERT INTO contact_methods (user_id, position, name, type, address) VALUES ($1, 9, 'fax', 'fax', '+1')`, []any{alice}, "23514", "contact_methods_type_check"},
		{`INSERT INTO contact_methods (user_id, position, name, type, address) VALUES ($1, 9, 'slack', 'sms', '+1')`, []any{alice}, "23514", "contact_methods_name_check"},
		{`INSERT INTO notification_rules (user_id, position, after_seconds, notify) VALUES ($1, 9, -1, '{slack}')`, []any{alice}, "23514", "notification_rules_after_seconds_check"},
		{`INSERT INTO notification_rules (user_id, position, after_seconds, notify) VALUES ($1, 9, 0, '{}')`, []any{alice}, "23514", "notification_rules_notify_check"},
		{`INSERT INTO schedule_layers (schedule_id, position, name, start_local, shift_elapsed, shift_days) VALUES ($1, 9, 'x', '2026-01-01', '1 hour', 1)`, []any{sched}, "23514", "schedule_layers_shift_check"},
		{`INSERT INTO schedule_layers (schedule_id, position, name, start_local) VALUES ($1, 9, 'x', '2026-01-01')`, []any{sched}, "23514", "schedule_layers_shift_check"},
		{`INSERT INTO schedule_layers (schedule_id, position, name, start_local, shift_days, on_holidays) VALUES ($1, 9, 'x', '2026-01-01', 1, 'never')`, []any{sched}, "23514", "schedule_layers_on_holidays_check"},
		{`INSERT INTO layer_windows (layer_id, position, from_minute, to_minute) VALUES ($1, 9, 0, 1441)`, []any{layer}, "23514", "layer_windows_to_minute_check"},
		{`INSERT INTO layer_windows (layer_id, position, days, from_minute, to_minute) VALUES ($1, 9, '{mon,funday}', 0, 60)`, []any{layer}, "23514", "layer_windows_days_check"},
		{`INSERT INTO layer_members (layer_id, position, user_id) VALUES ($1, 9, 999999)`, []any{layer}, "23503", "layer_members_user_id_fkey"},
		{`INSERT INTO schedule_overrides (schedule_id, position, user_id, start_at, end_at) VALUES ($1, 9, $2, '2026-01-02Z', '2026-01-01Z')`, []any{sched, alice}, "23514", "schedule_overrides_check"},
		{`INSERT INTO escalation_policies (name, repeat) VALUES ('p2', 6)`, nil, "23514", "escalation_policies_repeat_check"},
		{`INSERT INTO escalation_targets (step_id, position, type, schedule_id) VALUES ($1, 9, 'user', $2)`, []any{step, sched}, "23514", "escalation_targets_target_check"},
		{`INSERT INTO escalation_targets (step_id, position, type, user_id, slack_channel) VALUES ($1, 9, 'user', $2, 'C1')`, []any{step, alice}, "23514", "escalation_targets_target_check"},
		{`INSERT INTO escalation_targets (step_id, position, type, slack_channel) VALUES ($1, 9, 'pager', 'C1')`, []any{step}, "23514", ""},
		{`INSERT INTO integrations (service_id, position, name, type, key_hash, created_at) SELECT id, 9, 'i2', 'generic', '\x00', now() FROM services LIMIT 1`, nil, "23514", "integrations_key_hash_check"},
		{`INSERT INTO integrations (service_id, position, name, type, key_hash, created_at) SELECT id, 9, 'i2', 'nagios', sha256('x'), now() FROM services LIMIT 1`, nil, "23514", "integrations_type_check"},
		{`INSERT INTO integrations (service_id, position, name, type, key_hash, created_at) SELECT id, 9, 'i2', 'heartbeat', sha256('x'), now() FROM services LIMIT 1`, nil, "23514", "integrations_heartbeat_timeout_check"},
		{`INSERT INTO integrations (service_id, position, name, type, key_hash, created_at, heartbeat_timeout_seconds) SELECT id, 9, 'i2', 'heartbeat', sha256('x'), now(), 59 FROM services LIMIT 1`, nil, "23514", "integrations_heartbeat_timeout_check"},
		{`INSERT INTO integrations (service_id, position, name, type, key_hash, created_at, heartbeat_timeout_seconds) SELECT id, 9, 'i2', 'generic', sha256('x'), now(), 60 FROM services LIMIT 1`, nil, "23514", "integrations_heartbeat_timeout_check"},
		{`UPDATE integrations SET last_beat_at = now() WHERE type <> 'heartbeat'`, nil, "23514", "integrations_heartbeat_state_check"},
		{`UPDATE integrations SET heartbeat_missed = true WHERE type <> 'heartbeat'`, nil, "23514", ""},
		{`INSERT INTO alert_rules (name, position, urgency) VALUES ('r2', 0, 'high')`, nil, "23505", "alert_rules_position_key"},
		{`INSERT INTO alert_rules (name, position, urgency) VALUES ('r2', 99, 'medium')`, nil, "23514", "alert_rules_urgency_check"},
		{`INSERT INTO alert_rules (name, position, match) VALUES ('r2', 99, '[]')`, nil, "23514", "alert_rules_match_check"},
		{`INSERT INTO calendar_tokens (token_hash, schedule_id, user_id, created_at) VALUES (sha256('x'), $1, $2, now())`, []any{sched, alice}, "23514", "calendar_tokens_owner_check"},
		// Deleting what a schedule or a policy needs is refused.
		{`DELETE FROM users WHERE id = $1`, []any{alice}, "23503", ""},
		{`DELETE FROM schedules WHERE id = $1`, []any{sched}, "23503", "escalation_targets_schedule_id_fkey"},
		{`DELETE FROM holiday_sets`, nil, "23503", "schedule_holidays_holiday_set_id_fkey"},
		{`DELETE FROM escalation_policies`, nil, "23503", "services_escalation_policy_id_fkey"},
	} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, c.sql, c.args...)
			return err
		})
		var pg *pgconn.PgError
		switch {
		case err == nil:
			t.Errorf("%s: succeeded", c.sql)
		case !asPg(err, &pg):
			t.Errorf("%s: %v", c.sql, err)
		case pg.Code != c.code || c.name != "" && pg.ConstraintName != c.name:
			t.Errorf("%s: %s %s (%s); want %s %s", c.sql, pg.Code, pg.ConstraintName, pg.Message, c.code, c.name)
		}
	}
}

func asPg(err error, pg **pgconn.PgError) bool { return errors.As(err, pg) }
