package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
)

// ApplyOptions tune ApplyConfig.
type ApplyOptions struct {
	// Prune deletes the objects of every kind present in the desired Set
	// (a kind with at least one object) that the Set does not name.
	Prune bool
	// Now stamps new integrations and the audit log. Required.
	Now time.Time
	// Actor is who applies, for the audit log (e.g. "cli:alice").
	Actor string
}

// Actions of a Change.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Plan is what ApplyConfig did (or, rolled back, would do).
type Plan struct {
	// Changes in the order they were made: creates and updates in dependency
	// order (users first), then deletes in reverse dependency order.
	Changes []Change
	// NewKeys are the secret keys of the integrations created, shown once:
	// only their hashes are stored.
	NewKeys []NewKey
}

// Change is one object created, updated or deleted.
type Change struct {
	Kind   string   // a manifest kind, e.g. manifest.KindSchedule
	Name   string   // the object's name
	Action string   // ActionCreate, ActionUpdate or ActionDelete
	Fields []string // for an update: the manifest keys that changed, e.g. "layers"
}

// NewKey is the secret key of an integration created by an apply.
type NewKey struct {
	Service     string
	Integration string
	Type        string // manifest.Integration* (the URL to print depends on it)
	Key         string
}

// ApplyConfig makes the configuration in the database match desired, inside
// the caller's transaction: objects are matched by kind and name, created
// when missing, updated when their canonical form differs (keeping their
// ids: incidents refer to services, policies, schedules and users), and
// left alone when equal, so applying the same Set twice changes nothing.
// Lists inside an updated object (layers, steps, members ...) are replaced
// wholesale, except contact methods and integrations, which are matched by
// name so their ids (and integration keys) survive.
//
// Nothing here has effects outside tx: a dry run is ApplyConfig followed by
// Rollback. On error the transaction is unusable; roll it back. Invalid
// input is reported as oncall.UserError (errors.Is ErrInvalid), a deletion
// that something still needs as a *ConstraintError (errors.Is ErrConflict).
// Concurrent applies are serialized by a transaction-level advisory lock.
func ApplyConfig(ctx context.Context, tx pgx.Tx, desired *manifest.Set, opts ApplyOptions) (*Plan, error) {
	if opts.Now.IsZero() {
		return nil, errors.New("apply config: ApplyOptions.Now is required")
	}
	want := canonical(desired)
	if err := validate(want); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, configLockKey); err != nil {
		return nil, fmt.Errorf("apply config: lock: %w", err)
	}
	cur, ids, err := loadConfig(ctx, tx)
	if err != nil {
		return nil, err
	}
	cur = canonical(cur)
	a := &applier{ctx: ctx, tx: tx, opts: opts, ids: ids, plan: &Plan{}}
	if err := a.apply(want, cur); err != nil {
		return nil, err
	}
	return a.plan, nil
}

type applier struct {
	ctx  context.Context
	tx   pgx.Tx
	opts ApplyOptions
	ids  *configIDs
	plan *Plan
}

func (a *applier) apply(want, cur *manifest.Set) error {
	if err := applyKind(a, manifest.KindUser, want.Users, cur.Users, userName, a.ids.users, diffUser, a.createUser, a.updateUser); err != nil {
		return err
	}
	if err := applyKind(a, manifest.KindTeam, want.Teams, cur.Teams, teamName, a.ids.teams, diffTeam, a.createTeam, a.updateTeam); err != nil {
		return err
	}
	if err := applyKind(a, manifest.KindHolidays, want.Holidays, cur.Holidays, holidaysName, a.ids.holidays, diffHolidays, a.createHolidays, a.updateHolidays); err != nil {
		return err
	}
	if err := applyKind(a, manifest.KindSchedule, want.Schedules, cur.Schedules, scheduleName, a.ids.schedules, diffSchedule, a.createSchedule, a.updateSchedule); err != nil {
		return err
	}
	if err := applyKind(a, manifest.KindEscalationPolicy, want.Policies, cur.Policies, policyName, a.ids.policies, diffPolicy, a.createPolicy, a.updatePolicy); err != nil {
		return err
	}
	if err := applyKind(a, manifest.KindService, want.Services, cur.Services, serviceName, a.ids.services, diffService, a.createService, a.updateService); err != nil {
		return err
	}
	if err := a.applyAlertRules(want.AlertRules, cur.AlertRules); err != nil {
		return err
	}

	// Deletes, in reverse dependency order. Integrations that the desired
	// services no longer list go after the alert rules (which may have
	// stopped naming them) and before services.
	if a.opts.Prune && len(want.AlertRules) > 0 {
		if err := pruneKind(a, manifest.KindAlertRule, want.AlertRules, cur.AlertRules, ruleName, a.ids.rules, "alert_rules"); err != nil {
			return err
		}
	}
	if err := a.deleteStaleIntegrations(want.Services); err != nil {
		return err
	}
	if !a.opts.Prune {
		return nil
	}
	if len(want.Services) > 0 {
		if err := pruneKind(a, manifest.KindService, want.Services, cur.Services, serviceName, a.ids.services, "services"); err != nil {
			return err
		}
	}
	if len(want.Policies) > 0 {
		if err := pruneKind(a, manifest.KindEscalationPolicy, want.Policies, cur.Policies, policyName, a.ids.policies, "escalation_policies"); err != nil {
			return err
		}
	}
	if len(want.Schedules) > 0 {
		if err := pruneKind(a, manifest.KindSchedule, want.Schedules, cur.Schedules, scheduleName, a.ids.schedules, "schedules"); err != nil {
			return err
		}
	}
	if len(want.Holidays) > 0 {
		if err := pruneKind(a, manifest.KindHolidays, want.Holidays, cur.Holidays, holidaysName, a.ids.holidays, "holiday_sets"); err != nil {
			return err
		}
	}
	if len(want.Teams) > 0 {
		if err := pruneKind(a, manifest.KindTeam, want.Teams, cur.Teams, teamName, a.ids.teams, "teams"); err != nil {
			return err
		}
	}
	if len(want.Users) > 0 {
		if err := pruneKind(a, manifest.KindUser, want.Users, cur.Users, userName, a.ids.users, "users"); err != nil {
			return err
		}
	}
	return nil
}

func userName(u *manifest.User) string               { return u.Name }
func teamName(t *manifest.Team) string               { return t.Name }
func holidaysName(h *manifest.Holidays) string       { return h.Name }
func scheduleName(s *manifest.Schedule) string       { return s.Name }
func policyName(p *manifest.EscalationPolicy) string { return p.Name }
func serviceName(s *manifest.Service) string         { return s.Name }
func ruleName(r *manifest.AlertRule) string          { return r.Name }

// applyKind creates or updates each desired object of one kind.
func applyKind[T any](a *applier, kind string, want, cur []T, name func(T) string, ids map[string]int64,
	diff func(before, after T) []string, create func(T) (int64, error), update func(id int64, before, after T, fields []string) error,
) error {
	curBy := make(map[string]T, len(cur))
	for _, o := range cur {
		curBy[name(o)] = o
	}
	for _, n := range want {
		o, exists := curBy[name(n)]
		if !exists {
			id, err := create(n)
			if err != nil {
				return &ObjectError{Kind: kind, Name: name(n), Action: ActionCreate, Err: err}
			}
			ids[name(n)] = id
			if err := a.record(kind, name(n), ActionCreate, nil, nil, n); err != nil {
				return err
			}
			continue
		}
		fields := diff(o, n)
		if len(fields) == 0 {
			continue
		}
		if err := update(ids[name(n)], o, n, fields); err != nil {
			return &ObjectError{Kind: kind, Name: name(n), Action: ActionUpdate, Err: err}
		}
		if err := a.record(kind, name(n), ActionUpdate, fields, o, n); err != nil {
			return err
		}
	}
	return nil
}

// pruneKind deletes the objects of one kind that want does not name.
func pruneKind[T any](a *applier, kind string, want, cur []T, name func(T) string, ids map[string]int64, table string) error {
	named := make(map[string]bool, len(want))
	for _, n := range want {
		named[name(n)] = true
	}
	for _, o := range cur {
		if named[name(o)] {
			continue
		}
		// table is one of ours, never input.
		if _, err := a.tx.Exec(a.ctx, `DELETE FROM `+table+` WHERE id = $1`, ids[name(o)]); err != nil {
			return &ObjectError{Kind: kind, Name: name(o), Action: ActionDelete, Err: mapErr(err)}
		}
		delete(ids, name(o))
		if err := a.record(kind, name(o), ActionDelete, nil, o, nil); err != nil {
			return err
		}
	}
	return nil
}

const sqlAuditInsert = `
INSERT INTO audit_log (at, actor, action, kind, name, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)`

// record adds a change to the plan and the audit log.
func (a *applier) record(kind, name, action string, fields []string, before, after any) error {
	a.plan.Changes = append(a.plan.Changes, Change{Kind: kind, Name: name, Action: action, Fields: fields})
	enc := func(v any) ([]byte, error) {
		if rv := reflect.ValueOf(v); !rv.IsValid() || rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil, nil
		}
		return json.Marshal(v)
	}
	b, err := enc(before)
	if err != nil {
		return fmt.Errorf("audit %s %q: %w", kind, name, err)
	}
	af, err := enc(after)
	if err != nil {
		return fmt.Errorf("audit %s %q: %w", kind, name, err)
	}
	if _, err := a.tx.Exec(a.ctx, sqlAuditInsert, a.opts.Now, a.opts.Actor, action, kind, name, b, af); err != nil {
		return fmt.Errorf("audit %s %q: %w", kind, name, mapErr(err))
	}
	return nil
}

// ref resolves a reference to another object by name.
func (a *applier) ref(ids map[string]int64, kind, name string) (int64, error) {
	id, ok := ids[name]
	if !ok {
		return 0, &oncall.UserError{Msg: fmt.Sprintf("%s %q does not exist", kindWord(kind), name)}
	}
	return id, nil
}

// optRef resolves an optional reference: "" is NULL.
func (a *applier) optRef(ids map[string]int64, kind, name string) (*int64, error) {
	if name == "" {
		return nil, nil
	}
	id, err := a.ref(ids, kind, name)
	return &id, err
}

func kindWord(kind string) string {
	switch kind {
	case manifest.KindUser:
		return "user"
	case manifest.KindTeam:
		return "team"
	case manifest.KindHolidays:
		return "holidays"
	case manifest.KindSchedule:
		return "schedule"
	case manifest.KindEscalationPolicy:
		return "escalation policy"
	case manifest.KindService:
		return "service"
	case manifest.KindIntegration:
		return "integration"
	}
	return kind
}

// sendBatch runs queued statements in one round trip.
func (a *applier) sendBatch(b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	return mapErr(a.tx.SendBatch(a.ctx, b).Close())
}

// field compares one field and names it when it differs.
func field(fields *[]string, name string, before, after any) {
	if !reflect.DeepEqual(before, after) {
		*fields = append(*fields, name)
	}
}

// ---- Users ----

func diffUser(o, n *manifest.User) []string {
	var f []string
	field(&f, "full_name", o.FullName, n.FullName)
	field(&f, "email", o.Email, n.Email)
	field(&f, "slack_id", o.SlackID, n.SlackID)
	field(&f, "time_zone", o.TimeZone, n.TimeZone)
	field(&f, "contact_methods", o.ContactMethods, n.ContactMethods)
	field(&f, "notification_rules", o.NotificationRules, n.NotificationRules)
	return f
}

const (
	sqlUserInsert = `
INSERT INTO users (name, full_name, email, slack_id, time_zone)
VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''))
RETURNING id`
	sqlUserUpdate = `
UPDATE users SET full_name = NULLIF($2, ''), email = NULLIF($3, ''), slack_id = NULLIF($4, ''), time_zone = NULLIF($5, '')
WHERE id = $1`
	// A contact method keeps its id (and its verification while its type
	// and address stay the same) across updates.
	sqlContactMethodUpsert = `
INSERT INTO contact_methods (user_id, position, name, type, address) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (user_id, name) DO UPDATE SET
    position = EXCLUDED.position, type = EXCLUDED.type, address = EXCLUDED.address,
    verified_at = CASE WHEN contact_methods.type = EXCLUDED.type AND contact_methods.address = EXCLUDED.address
                       THEN contact_methods.verified_at END`
	sqlContactMethodDeleteOthers = `DELETE FROM contact_methods WHERE user_id = $1 AND name <> ALL($2::text[])`
	sqlNotificationRulesDelete   = `DELETE FROM notification_rules WHERE user_id = $1`
	sqlNotificationRuleInsert    = `
INSERT INTO notification_rules (user_id, position, after_seconds, notify) VALUES ($1, $2, $3, $4)`
)

func (a *applier) createUser(u *manifest.User) (int64, error) {
	var id int64
	if err := a.tx.QueryRow(a.ctx, sqlUserInsert, u.Name, u.FullName, u.Email, u.SlackID, u.TimeZone).Scan(&id); err != nil {
		return 0, mapErr(err)
	}
	return id, a.writeUserChildren(id, u, true, true)
}

func (a *applier) updateUser(id int64, _, u *manifest.User, fields []string) error {
	if _, err := a.tx.Exec(a.ctx, sqlUserUpdate, id, u.FullName, u.Email, u.SlackID, u.TimeZone); err != nil {
		return mapErr(err)
	}
	return a.writeUserChildren(id, u, slices.Contains(fields, "contact_methods"), slices.Contains(fields, "notification_rules"))
}

func (a *applier) writeUserChildren(id int64, u *manifest.User, methods, rules bool) error {
	b := &pgx.Batch{}
	if methods {
		names := make([]string, 0, len(u.ContactMethods))
		for i, cm := range u.ContactMethods {
			b.Queue(sqlContactMethodUpsert, id, i, cm.Name, cm.Type, cm.Address)
			names = append(names, cm.Name)
		}
		b.Queue(sqlContactMethodDeleteOthers, id, names)
	}
	if rules {
		b.Queue(sqlNotificationRulesDelete, id)
		for i, r := range u.NotificationRules {
			b.Queue(sqlNotificationRuleInsert, id, i, int32(r.After/time.Second), r.Notify)
		}
	}
	return a.sendBatch(b)
}

// ---- Teams ----

func diffTeam(o, n *manifest.Team) []string {
	var f []string
	field(&f, "members", o.Members, n.Members)
	field(&f, "admins", o.Admins, n.Admins)
	field(&f, "slack_channel", o.SlackChannel, n.SlackChannel)
	field(&f, "slack_user_group", o.SlackUserGroup, n.SlackUserGroup)
	return f
}

const (
	sqlTeamInsert        = `INSERT INTO teams (name, slack_channel, slack_user_group) VALUES ($1, NULLIF($2, ''), NULLIF($3, '')) RETURNING id`
	sqlTeamUpdate        = `UPDATE teams SET slack_channel = NULLIF($2, ''), slack_user_group = NULLIF($3, '') WHERE id = $1`
	sqlTeamMembersDelete = `DELETE FROM team_members WHERE team_id = $1`
	sqlTeamMembersInsert = `
INSERT INTO team_members (team_id, user_id, position, admin_position)
SELECT $1, m.user_id, m.ord - 1, m.admin_position
FROM unnest($2::bigint[], $3::integer[]) WITH ORDINALITY AS m(user_id, admin_position, ord)`
)

func (a *applier) createTeam(t *manifest.Team) (int64, error) {
	var id int64
	if err := a.tx.QueryRow(a.ctx, sqlTeamInsert, t.Name, t.SlackChannel, t.SlackUserGroup).Scan(&id); err != nil {
		return 0, mapErr(err)
	}
	return id, a.writeTeamMembers(id, t)
}

func (a *applier) updateTeam(id int64, _, t *manifest.Team, fields []string) error {
	if _, err := a.tx.Exec(a.ctx, sqlTeamUpdate, id, t.SlackChannel, t.SlackUserGroup); err != nil {
		return mapErr(err)
	}
	if !slices.Contains(fields, "members") && !slices.Contains(fields, "admins") {
		return nil
	}
	if _, err := a.tx.Exec(a.ctx, sqlTeamMembersDelete, id); err != nil {
		return mapErr(err)
	}
	return a.writeTeamMembers(id, t)
}

func (a *applier) writeTeamMembers(id int64, t *manifest.Team) error {
	if len(t.Members) == 0 {
		return nil
	}
	users := make([]int64, len(t.Members))
	adminPos := make([]*int32, len(t.Members))
	for i, m := range t.Members {
		uid, err := a.ref(a.ids.users, manifest.KindUser, m)
		if err != nil {
			return err
		}
		users[i] = uid
		if j := slices.Index(t.Admins, m); j >= 0 {
			p := int32(j)
			adminPos[i] = &p
		}
	}
	_, err := a.tx.Exec(a.ctx, sqlTeamMembersInsert, id, users, adminPos)
	return mapErr(err)
}

// ---- Holidays ----

func diffHolidays(o, n *manifest.Holidays) []string {
	var f []string
	field(&f, "dates", o.Dates, n.Dates)
	if o.ICal != n.ICal || !slices.Equal(o.ICalData, n.ICalData) {
		f = append(f, "ical")
	}
	return f
}

const (
	sqlHolidaysInsert     = `INSERT INTO holiday_sets (name, ical_name, ical_data) VALUES ($1, NULLIF($2, ''), $3) RETURNING id`
	sqlHolidaysUpdate     = `UPDATE holiday_sets SET ical_name = NULLIF($2, ''), ical_data = $3 WHERE id = $1`
	sqlHolidayDatesDelete = `DELETE FROM holiday_dates WHERE holiday_set_id = $1`
	sqlHolidayDatesInsert = `INSERT INTO holiday_dates (holiday_set_id, day) SELECT $1, d FROM unnest($2::date[]) AS d`
)

func (a *applier) createHolidays(h *manifest.Holidays) (int64, error) {
	var id int64
	if err := a.tx.QueryRow(a.ctx, sqlHolidaysInsert, h.Name, h.ICal, h.ICalData).Scan(&id); err != nil {
		return 0, mapErr(err)
	}
	return id, a.writeHolidayDates(id, h)
}

func (a *applier) updateHolidays(id int64, _, h *manifest.Holidays, fields []string) error {
	if _, err := a.tx.Exec(a.ctx, sqlHolidaysUpdate, id, h.ICal, h.ICalData); err != nil {
		return mapErr(err)
	}
	if !slices.Contains(fields, "dates") {
		return nil
	}
	if _, err := a.tx.Exec(a.ctx, sqlHolidayDatesDelete, id); err != nil {
		return mapErr(err)
	}
	return a.writeHolidayDates(id, h)
}

func (a *applier) writeHolidayDates(id int64, h *manifest.Holidays) error {
	if len(h.Dates) == 0 {
		return nil
	}
	days := make([]time.Time, len(h.Dates))
	for i, d := range h.Dates {
		days[i] = dateTime(d)
	}
	_, err := a.tx.Exec(a.ctx, sqlHolidayDatesInsert, id, days)
	return mapErr(err)
}

// ---- Schedules ----

func diffSchedule(o, n *manifest.Schedule) []string {
	var f []string
	field(&f, "team", o.Team, n.Team)
	field(&f, "slack_user_group", o.SlackUserGroup, n.SlackUserGroup)
	field(&f, "time_zone", o.TimeZone, n.TimeZone)
	field(&f, "holidays", o.Holidays, n.Holidays)
	field(&f, "layers", o.Layers, n.Layers)
	field(&f, "overrides", o.Overrides, n.Overrides)
	return f
}

const (
	sqlScheduleInsert         = `INSERT INTO schedules (name, team_id, time_zone, slack_user_group) VALUES ($1, $2, $3, NULLIF($4, '')) RETURNING id`
	sqlScheduleUpdate         = `UPDATE schedules SET team_id = $2, time_zone = $3, slack_user_group = NULLIF($4, '') WHERE id = $1`
	sqlScheduleHolidaysDelete = `DELETE FROM schedule_holidays WHERE schedule_id = $1`
	sqlScheduleHolidaysInsert = `
INSERT INTO schedule_holidays (schedule_id, holiday_set_id, position)
SELECT $1, h.id, h.ord - 1 FROM unnest($2::bigint[]) WITH ORDINALITY AS h(id, ord)`
	sqlLayersDelete = `DELETE FROM schedule_layers WHERE schedule_id = $1`
	sqlLayerInsert  = `
INSERT INTO schedule_layers (schedule_id, position, name, start_local, shift_elapsed, shift_days, time_zone, on_holidays, end_at)
VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), NULLIF($8, ''), $9)
RETURNING id`
	sqlLayerMembersInsert = `
INSERT INTO layer_members (layer_id, position, user_id)
SELECT $1, m.ord - 1, m.user_id FROM unnest($2::bigint[]) WITH ORDINALITY AS m(user_id, ord)`
	sqlLayerWindowInsert = `
INSERT INTO layer_windows (layer_id, position, days, from_minute, to_minute) VALUES ($1, $2, $3, $4, $5)`
	sqlOverridesDelete = `DELETE FROM schedule_overrides WHERE schedule_id = $1`
	sqlOverridesInsert = `
INSERT INTO schedule_overrides (schedule_id, position, user_id, start_at, end_at)
SELECT $1, o.ord - 1, o.user_id, o.start_at, o.end_at
FROM unnest($2::bigint[], $3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY AS o(user_id, start_at, end_at, ord)`
)

func (a *applier) createSchedule(s *manifest.Schedule) (int64, error) {
	team, err := a.optRef(a.ids.teams, manifest.KindTeam, s.Team)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := a.tx.QueryRow(a.ctx, sqlScheduleInsert, s.Name, team, s.TimeZone, s.SlackUserGroup).Scan(&id); err != nil {
		return 0, mapErr(err)
	}
	return id, a.writeScheduleChildren(id, s, nil)
}

func (a *applier) updateSchedule(id int64, _, s *manifest.Schedule, fields []string) error {
	team, err := a.optRef(a.ids.teams, manifest.KindTeam, s.Team)
	if err != nil {
		return err
	}
	if _, err := a.tx.Exec(a.ctx, sqlScheduleUpdate, id, team, s.TimeZone, s.SlackUserGroup); err != nil {
		return mapErr(err)
	}
	return a.writeScheduleChildren(id, s, fields)
}

// writeScheduleChildren replaces the schedule's holidays, layers and
// overrides: those named in fields, or all when fields is nil (a new one).
func (a *applier) writeScheduleChildren(id int64, s *manifest.Schedule, fields []string) error {
	changed := func(f string) bool { return fields == nil || slices.Contains(fields, f) }
	isNew := fields == nil
	if changed("holidays") {
		if !isNew {
			if _, err := a.tx.Exec(a.ctx, sqlScheduleHolidaysDelete, id); err != nil {
				return mapErr(err)
			}
		}
		if len(s.Holidays) > 0 {
			hids := make([]int64, len(s.Holidays))
			for i, h := range s.Holidays {
				hid, err := a.ref(a.ids.holidays, manifest.KindHolidays, h)
				if err != nil {
					return err
				}
				hids[i] = hid
			}
			if _, err := a.tx.Exec(a.ctx, sqlScheduleHolidaysInsert, id, hids); err != nil {
				return mapErr(err)
			}
		}
	}
	if changed("layers") {
		if !isNew {
			if _, err := a.tx.Exec(a.ctx, sqlLayersDelete, id); err != nil {
				return mapErr(err)
			}
		}
		b := &pgx.Batch{}
		for i, l := range s.Layers {
			members := make([]int64, len(l.Members))
			for j, m := range l.Members {
				uid, err := a.ref(a.ids.users, manifest.KindUser, m)
				if err != nil {
					return fmt.Errorf("layer %q: %w", l.Name, err)
				}
				members[j] = uid
			}
			var elapsed, days any
			if l.Shift.Days > 0 {
				days = int32(l.Shift.Days)
			} else {
				elapsed = l.Shift.Elapsed
			}
			var lid int64
			err := a.tx.QueryRow(a.ctx, sqlLayerInsert, id, i, l.Name, civilTime(l.Start), elapsed, days, l.TimeZone, l.OnHolidays, l.End).Scan(&lid)
			if err != nil {
				return fmt.Errorf("layer %q: %w", l.Name, mapErr(err))
			}
			b.Queue(sqlLayerMembersInsert, lid, members)
			for j, w := range l.Restrict {
				from, _ := parseClock(w.From, false)
				to, _ := parseClock(w.To, true)
				b.Queue(sqlLayerWindowInsert, lid, j, w.Days, int16(from), int16(to))
			}
		}
		if err := a.sendBatch(b); err != nil {
			return err
		}
	}
	if changed("overrides") {
		if !isNew {
			if _, err := a.tx.Exec(a.ctx, sqlOverridesDelete, id); err != nil {
				return mapErr(err)
			}
		}
		if len(s.Overrides) > 0 {
			users := make([]int64, len(s.Overrides))
			starts := make([]time.Time, len(s.Overrides))
			ends := make([]time.Time, len(s.Overrides))
			for i, o := range s.Overrides {
				uid, err := a.ref(a.ids.users, manifest.KindUser, o.User)
				if err != nil {
					return fmt.Errorf("override %d: %w", i+1, err)
				}
				users[i], starts[i], ends[i] = uid, o.Start, o.End
			}
			if _, err := a.tx.Exec(a.ctx, sqlOverridesInsert, id, users, starts, ends); err != nil {
				return mapErr(err)
			}
		}
	}
	return nil
}

// ---- Escalation policies ----

func diffPolicy(o, n *manifest.EscalationPolicy) []string {
	var f []string
	field(&f, "team", o.Team, n.Team)
	field(&f, "repeat", o.Repeat, n.Repeat)
	field(&f, "steps", o.Steps, n.Steps)
	return f
}

const (
	sqlPolicyInsert = `INSERT INTO escalation_policies (name, team_id, repeat) VALUES ($1, $2, $3) RETURNING id`
	sqlPolicyUpdate = `UPDATE escalation_policies SET team_id = $2, repeat = $3 WHERE id = $1`
	sqlStepsDelete  = `DELETE FROM escalation_steps WHERE policy_id = $1`
	sqlStepInsert   = `
INSERT INTO escalation_steps (policy_id, position, escalate_after_seconds) VALUES ($1, $2, $3) RETURNING id`
	sqlTargetInsert = `
INSERT INTO escalation_targets (step_id, position, type, user_id, schedule_id, team_id, slack_channel)
VALUES ($1, $2, $3, $4, $5, $6, $7)`
)

func (a *applier) createPolicy(p *manifest.EscalationPolicy) (int64, error) {
	team, err := a.optRef(a.ids.teams, manifest.KindTeam, p.Team)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := a.tx.QueryRow(a.ctx, sqlPolicyInsert, p.Name, team, int16(p.Repeat)).Scan(&id); err != nil {
		return 0, mapErr(err)
	}
	return id, a.writeSteps(id, p)
}

func (a *applier) updatePolicy(id int64, _, p *manifest.EscalationPolicy, fields []string) error {
	team, err := a.optRef(a.ids.teams, manifest.KindTeam, p.Team)
	if err != nil {
		return err
	}
	if _, err := a.tx.Exec(a.ctx, sqlPolicyUpdate, id, team, int16(p.Repeat)); err != nil {
		return mapErr(err)
	}
	if !slices.Contains(fields, "steps") {
		return nil
	}
	if _, err := a.tx.Exec(a.ctx, sqlStepsDelete, id); err != nil {
		return mapErr(err)
	}
	return a.writeSteps(id, p)
}

func (a *applier) writeSteps(id int64, p *manifest.EscalationPolicy) error {
	b := &pgx.Batch{}
	for i, st := range p.Steps {
		var sid int64
		if err := a.tx.QueryRow(a.ctx, sqlStepInsert, id, i, int32(st.EscalateAfter/time.Second)).Scan(&sid); err != nil {
			return fmt.Errorf("step %d: %w", i+1, mapErr(err))
		}
		for j, t := range st.Targets {
			var user, sched, team *int64
			var channel *string
			var err error
			switch t.Type {
			case manifest.TargetUser:
				user, err = a.optRef(a.ids.users, manifest.KindUser, t.Ref)
			case manifest.TargetSchedule:
				sched, err = a.optRef(a.ids.schedules, manifest.KindSchedule, t.Ref)
			case manifest.TargetTeam:
				team, err = a.optRef(a.ids.teams, manifest.KindTeam, t.Ref)
			case manifest.TargetSlackChannel:
				channel = &t.Ref
			}
			if err != nil {
				return fmt.Errorf("step %d: %w", i+1, err)
			}
			b.Queue(sqlTargetInsert, sid, j, t.Type, user, sched, team, channel)
		}
	}
	return a.sendBatch(b)
}

// ---- Services and integrations ----

func diffService(o, n *manifest.Service) []string {
	var f []string
	field(&f, "description", o.Description, n.Description)
	field(&f, "team", o.Team, n.Team)
	field(&f, "escalation_policy", o.EscalationPolicy, n.EscalationPolicy)
	field(&f, "integrations", o.Integrations, n.Integrations)
	return f
}

const (
	sqlServiceInsert = `
INSERT INTO services (name, description, team_id, escalation_policy_id) VALUES ($1, NULLIF($2, ''), $3, $4) RETURNING id`
	sqlServiceUpdate = `
UPDATE services SET description = NULLIF($2, ''), team_id = $3, escalation_policy_id = $4 WHERE id = $1`
	sqlIntegrationInsert = `
INSERT INTO integrations (service_id, position, name, type, key_hash, created_at, heartbeat_timeout_seconds)
VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, 0))
RETURNING id`
	// An existing integration keeps its id and key, even when it moves to
	// another service or its type changes. A heartbeat's runtime state
	// (last beat, missed) survives a new timeout; a change of type clears it
	// (the right side of SET reads the row as it was).
	sqlIntegrationUpdate = `
UPDATE integrations SET service_id = $2, position = $3, type = $4, heartbeat_timeout_seconds = NULLIF($5, 0),
    last_beat_at = CASE WHEN type = $4 THEN last_beat_at END,
    heartbeat_missed = type = $4 AND heartbeat_missed
WHERE id = $1 AND (service_id, position, type, heartbeat_timeout_seconds) IS DISTINCT FROM ($2, $3, $4, NULLIF($5, 0))`
	sqlIntegrationDelete = `DELETE FROM integrations WHERE id = $1`
)

func (a *applier) serviceRefs(s *manifest.Service) (team *int64, policy int64, err error) {
	if team, err = a.optRef(a.ids.teams, manifest.KindTeam, s.Team); err != nil {
		return nil, 0, err
	}
	policy, err = a.ref(a.ids.policies, manifest.KindEscalationPolicy, s.EscalationPolicy)
	return team, policy, err
}

func (a *applier) createService(s *manifest.Service) (int64, error) {
	team, policy, err := a.serviceRefs(s)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := a.tx.QueryRow(a.ctx, sqlServiceInsert, s.Name, s.Description, team, policy).Scan(&id); err != nil {
		return 0, mapErr(err)
	}
	return id, a.writeIntegrations(id, s)
}

func (a *applier) updateService(id int64, _, s *manifest.Service, fields []string) error {
	team, policy, err := a.serviceRefs(s)
	if err != nil {
		return err
	}
	if _, err := a.tx.Exec(a.ctx, sqlServiceUpdate, id, s.Description, team, policy); err != nil {
		return mapErr(err)
	}
	if !slices.Contains(fields, "integrations") {
		return nil
	}
	return a.writeIntegrations(id, s)
}

// writeIntegrations creates the service's new integrations (with new keys)
// and updates (or moves here) existing ones. Those it no longer lists are
// deleted later, by deleteStaleIntegrations.
func (a *applier) writeIntegrations(serviceID int64, s *manifest.Service) error {
	for i, in := range s.Integrations {
		if ref, ok := a.ids.integrations[in.Name]; ok {
			if _, err := a.tx.Exec(a.ctx, sqlIntegrationUpdate, ref.id, serviceID, i, in.Type, timeoutSeconds(in)); err != nil {
				return fmt.Errorf("integration %q: %w", in.Name, mapErr(err))
			}
			a.ids.integrations[in.Name] = integrationRef{id: ref.id, serviceID: serviceID}
			continue
		}
		key, hash := newSecret()
		var iid int64
		err := a.tx.QueryRow(a.ctx, sqlIntegrationInsert, serviceID, i, in.Name, in.Type, hash, a.opts.Now, timeoutSeconds(in)).Scan(&iid)
		if err != nil {
			return fmt.Errorf("integration %q: %w", in.Name, mapErr(err))
		}
		a.ids.integrations[in.Name] = integrationRef{id: iid, serviceID: serviceID}
		a.plan.NewKeys = append(a.plan.NewKeys, NewKey{Service: s.Name, Integration: in.Name, Type: in.Type, Key: key})
	}
	return nil
}

// timeoutSeconds is how an integration's Timeout is stored: whole seconds,
// 0 (NULL) for none.
func timeoutSeconds(in manifest.Integration) int32 { return int32(in.Timeout / time.Second) }

// deleteStaleIntegrations deletes the integrations of the desired services
// that no desired service lists any more (renaming one is create + delete:
// the new name gets a new key).
func (a *applier) deleteStaleIntegrations(services []*manifest.Service) error {
	listed := map[string]bool{}
	desiredSvc := map[int64]bool{}
	for _, s := range services {
		desiredSvc[a.ids.services[s.Name]] = true
		for _, in := range s.Integrations {
			listed[in.Name] = true
		}
	}
	var stale []string
	for name, ref := range a.ids.integrations {
		if desiredSvc[ref.serviceID] && !listed[name] {
			stale = append(stale, name)
		}
	}
	slices.Sort(stale)
	serviceName := map[int64]string{}
	for name, id := range a.ids.services {
		serviceName[id] = name
	}
	for _, name := range stale {
		ref := a.ids.integrations[name]
		if _, err := a.tx.Exec(a.ctx, sqlIntegrationDelete, ref.id); err != nil {
			return &ObjectError{Kind: manifest.KindService, Name: serviceName[ref.serviceID], Action: ActionUpdate,
				Err: fmt.Errorf("delete integration %q: %w", name, mapErr(err))}
		}
		delete(a.ids.integrations, name)
	}
	return nil
}

// ---- Alert rules ----

func diffRule(o, n *manifest.AlertRule) []string {
	var f []string
	field(&f, "integrations", o.Integrations, n.Integrations)
	field(&f, "match", o.Match, n.Match)
	field(&f, "service_from", o.ServiceFrom, n.ServiceFrom)
	field(&f, "service", o.Service, n.Service)
	field(&f, "page", o.Page, n.Page)
	field(&f, "urgency", o.Urgency, n.Urgency)
	return f
}

const (
	sqlRulesReposition = `
UPDATE alert_rules r SET position = v.position
FROM unnest($1::bigint[], $2::integer[]) AS v(id, position)
WHERE r.id = v.id AND r.position <> v.position`
	sqlRuleInsert = `
INSERT INTO alert_rules (name, position, page, urgency, service_from, service_id, match)
VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7)
RETURNING id`
	sqlRuleUpdate = `
UPDATE alert_rules SET page = $2, urgency = $3, service_from = NULLIF($4, ''), service_id = $5, match = $6
WHERE id = $1`
	sqlRuleIntegrationsDelete = `DELETE FROM alert_rule_integrations WHERE alert_rule_id = $1`
	sqlRuleIntegrationsInsert = `
INSERT INTO alert_rule_integrations (alert_rule_id, integration_id, position)
SELECT $1, i.id, i.ord - 1 FROM unnest($2::bigint[]) WITH ORDINALITY AS i(id, ord)`
)

// ruleAudit is how an alert rule appears in the audit log: with its
// position, which is part of its meaning.
type ruleAudit struct {
	*manifest.AlertRule
	Position int
}

// applyAlertRules creates and updates the desired rules and puts every rule
// in its place: the desired ones first, in the desired order; the others
// after them, in their current order; those to be pruned last (they are
// deleted afterwards). A rule counts as moved (an update of "position")
// when its order relative to the other existing rules changed; the moves
// reported are as few as possible (the rules outside a longest run that
// kept its order).
func (a *applier) applyAlertRules(want, cur []*manifest.AlertRule) error {
	wanted := map[string]*manifest.AlertRule{}
	for _, r := range want {
		wanted[r.Name] = r
	}
	prune := a.opts.Prune && len(want) > 0
	var order []string // final order of the rules that stay
	for _, r := range want {
		order = append(order, r.Name)
	}
	var pruned []string
	for _, r := range cur {
		switch {
		case wanted[r.Name] != nil:
		case prune:
			pruned = append(pruned, r.Name)
		default:
			order = append(order, r.Name)
		}
	}
	position := map[string]int{}
	for i, n := range append(slices.Clone(order), pruned...) {
		position[n] = i
	}

	// Existing rules move to their final places in one statement (the
	// unique position is checked at its end), leaving the places of new
	// rules free.
	curIndex := map[string]int{}
	curBy := map[string]*manifest.AlertRule{}
	var ids []int64
	var positions []int32
	for i, r := range cur {
		curIndex[r.Name] = i
		curBy[r.Name] = r
		ids = append(ids, a.ids.rules[r.Name])
		positions = append(positions, int32(position[r.Name]))
	}
	if len(ids) > 0 {
		if _, err := a.tx.Exec(a.ctx, sqlRulesReposition, ids, positions); err != nil {
			return fmt.Errorf("order alert rules: %w", mapErr(err))
		}
	}
	var existing []string
	for _, n := range order {
		if _, ok := curIndex[n]; ok {
			existing = append(existing, n)
		}
	}
	moved := movedItems(existing, curIndex)

	for _, n := range order {
		r, o := wanted[n], curBy[n]
		switch {
		case o == nil: // new
			id, err := a.insertRule(r, position[n])
			if err != nil {
				return &ObjectError{Kind: manifest.KindAlertRule, Name: n, Action: ActionCreate, Err: err}
			}
			a.ids.rules[n] = id
			if err := a.record(manifest.KindAlertRule, n, ActionCreate, nil, nil, ruleAudit{r, position[n]}); err != nil {
				return err
			}
		case r == nil: // not desired: only its place may change
			if moved[n] {
				if err := a.record(manifest.KindAlertRule, n, ActionUpdate, []string{"position"},
					ruleAudit{o, curIndex[n]}, ruleAudit{o, position[n]}); err != nil {
					return err
				}
			}
		default:
			fields := diffRule(o, r)
			if len(fields) > 0 {
				if err := a.updateRule(a.ids.rules[n], r, slices.Contains(fields, "integrations")); err != nil {
					return &ObjectError{Kind: manifest.KindAlertRule, Name: n, Action: ActionUpdate, Err: err}
				}
			}
			if moved[n] {
				fields = append(fields, "position")
			}
			if len(fields) > 0 {
				if err := a.record(manifest.KindAlertRule, n, ActionUpdate, fields,
					ruleAudit{o, curIndex[n]}, ruleAudit{r, position[n]}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (a *applier) ruleRefs(r *manifest.AlertRule) (service *int64, match []byte, err error) {
	if service, err = a.optRef(a.ids.services, manifest.KindService, r.Service); err != nil {
		return nil, nil, err
	}
	match, err = json.Marshal(matchJSON{Severity: r.Match.Severity, Summary: r.Match.Summary, Labels: r.Match.Labels, Annotations: r.Match.Annotations})
	return service, match, err
}

func (a *applier) insertRule(r *manifest.AlertRule, position int) (int64, error) {
	service, match, err := a.ruleRefs(r)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := a.tx.QueryRow(a.ctx, sqlRuleInsert, r.Name, position, r.Page, r.Urgency, r.ServiceFrom, service, match).Scan(&id); err != nil {
		return 0, mapErr(err)
	}
	return id, a.writeRuleIntegrations(id, r)
}

func (a *applier) updateRule(id int64, r *manifest.AlertRule, integrations bool) error {
	service, match, err := a.ruleRefs(r)
	if err != nil {
		return err
	}
	if _, err := a.tx.Exec(a.ctx, sqlRuleUpdate, id, r.Page, r.Urgency, r.ServiceFrom, service, match); err != nil {
		return mapErr(err)
	}
	if !integrations {
		return nil
	}
	if _, err := a.tx.Exec(a.ctx, sqlRuleIntegrationsDelete, id); err != nil {
		return mapErr(err)
	}
	return a.writeRuleIntegrations(id, r)
}

func (a *applier) writeRuleIntegrations(id int64, r *manifest.AlertRule) error {
	if len(r.Integrations) == 0 {
		return nil
	}
	iids := make([]int64, len(r.Integrations))
	for i, name := range r.Integrations {
		ref, ok := a.ids.integrations[name]
		if !ok {
			return &oncall.UserError{Msg: fmt.Sprintf("integration %q does not exist", name)}
		}
		iids[i] = ref.id
	}
	_, err := a.tx.Exec(a.ctx, sqlRuleIntegrationsInsert, id, iids)
	return mapErr(err)
}

// movedItems returns the items of order (all present in index) that are
// not in one longest subsequence whose index increases: the fewest items
// whose move explains the new order (which of equally few is fixed by
// the algorithm, so plans are deterministic).
func movedItems(order []string, index map[string]int) map[string]bool {
	n := len(order)
	// tails[k]: position in order of the smallest tail of an increasing
	// subsequence of length k+1; prev links for reconstruction.
	tails := []int{}
	prev := make([]int, n)
	for i, name := range order {
		v := index[name]
		k, _ := slices.BinarySearchFunc(tails, v, func(t, v int) int { return index[order[t]] - v })
		if k > 0 {
			prev[i] = tails[k-1]
		} else {
			prev[i] = -1
		}
		if k == len(tails) {
			tails = append(tails, i)
		} else {
			tails[k] = i
		}
	}
	keep := make([]bool, n)
	if len(tails) > 0 {
		for i := tails[len(tails)-1]; i >= 0; i = prev[i] {
			keep[i] = true
		}
	}
	moved := map[string]bool{}
	for i, name := range order {
		if !keep[i] {
			moved[name] = true
		}
	}
	return moved
}
