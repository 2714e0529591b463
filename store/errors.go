package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oncall/oncall/oncall"
)

// ConstraintError is a constraint the database refused to break, in words.
// It matches (errors.Is) oncall.ErrConflict for unique violations and for
// deleting something still referenced, else oncall.ErrInvalid; errors.As
// also finds the underlying *pgconn.PgError.
type ConstraintError struct {
	Constraint string // e.g. "layer_members_user_id_fkey"
	Table      string
	Msg        string

	sentinel error
	pg       *pgconn.PgError
}

func (e *ConstraintError) Error() string { return e.Msg }

func (e *ConstraintError) Unwrap() []error { return []error{e.sentinel, e.pg} }

// referencedBy says, per foreign key, what still refers to a row that
// someone tries to delete.
var referencedBy = map[string]string{
	"team_members_user_id_fkey":                   "it is a member of a team",
	"layer_members_user_id_fkey":                  "it is a member of a schedule layer",
	"schedule_overrides_user_id_fkey":             "it has a schedule override",
	"escalation_targets_user_id_fkey":             "an escalation policy targets it",
	"escalation_targets_schedule_id_fkey":         "an escalation policy targets it",
	"escalation_targets_team_id_fkey":             "an escalation policy targets it",
	"schedules_team_id_fkey":                      "a schedule belongs to it",
	"escalation_policies_team_id_fkey":            "an escalation policy belongs to it",
	"services_team_id_fkey":                       "a service belongs to it",
	"services_escalation_policy_id_fkey":          "a service uses it",
	"schedule_holidays_holiday_set_id_fkey":       "a schedule uses it",
	"alert_rules_service_id_fkey":                 "an alert rule routes to it",
	"alert_rule_integrations_integration_id_fkey": "an alert rule names it (or one of its integrations)",
}

// mapErr is the one place that turns Postgres errors into ours. Other
// errors pass through unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", oncall.ErrNotFound, err)
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return err
	}
	ce := &ConstraintError{Constraint: pg.ConstraintName, Table: pg.TableName, pg: pg}
	switch pg.Code {
	case "23505": // unique_violation
		ce.sentinel = oncall.ErrConflict
		ce.Msg = "already exists"
		if pg.Detail != "" {
			ce.Msg = strings.TrimSuffix(pg.Detail, ".")
		}
	case "23503": // foreign_key_violation
		if strings.HasPrefix(pg.Message, "update or delete") {
			ce.sentinel = oncall.ErrConflict
			why := referencedBy[pg.ConstraintName]
			if why == "" {
				why = "something refers to it (" + pg.TableName + ")"
			}
			ce.Msg = "still in use: " + why + "; remove those references first"
		} else {
			ce.sentinel = oncall.ErrInvalid
			ce.Msg = "refers to something that does not exist (" + pg.ConstraintName + ")"
		}
	case "23514", "23502", "23P01": // check, not null, exclusion
		ce.sentinel = oncall.ErrInvalid
		ce.Msg = pg.Message
	default:
		return err
	}
	return ce
}

// ObjectError is a problem with one object of the configuration: its kind
// and name let a caller point at the manifest that defines it
// (manifest.Bundle.Errorf). It wraps the cause: an *oncall.UserError for
// invalid input (errors.Is oncall.ErrInvalid), a *ConstraintError for what
// the database refused.
type ObjectError struct {
	Kind   string // a manifest kind
	Name   string
	Action string // ActionCreate, ActionUpdate, ActionDelete; "" when found before writing
	Err    error
}

func (e *ObjectError) Error() string {
	if e.Action == "" {
		return fmt.Sprintf("%s %q: %v", e.Kind, e.Name, e.Err)
	}
	return fmt.Sprintf("%s %s %q: %v", e.Action, e.Kind, e.Name, e.Err)
}

func (e *ObjectError) Unwrap() error { return e.Err }
