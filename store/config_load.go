package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// LoadConfig reads the whole configuration as a canonical manifest.Set:
// objects sorted by name within each kind, alert rules by position (their
// evaluation order). On a pool or a connection it reads in one
// repeatable-read transaction, so it never sees half of a concurrent apply.
// This is what `oncall export` writes and what ApplyConfig diffs against.
func LoadConfig(ctx context.Context, q Querier) (*manifest.Set, error) {
	var set *manifest.Set
	err := inReadTx(ctx, q, func(q Querier) error {
		s, _, err := loadConfig(ctx, q)
		set = s
		return err
	})
	if err != nil {
		return nil, err
	}
	return canonical(set), nil
}

// KnownNames returns a manifest.Known over the database: whether an object
// of a kind (one of manifest.Kinds, or manifest.KindIntegration) exists.
// It is a snapshot taken now.
func KnownNames(ctx context.Context, q Querier) (func(kind, name string) bool, error) {
	const sql = `
SELECT 'User', name FROM users
UNION ALL SELECT 'Team', name FROM teams
UNION ALL SELECT 'Holidays', name FROM holiday_sets
UNION ALL SELECT 'Schedule', name FROM schedules
UNION ALL SELECT 'EscalationPolicy', name FROM escalation_policies
UNION ALL SELECT 'Service', name FROM services
UNION ALL SELECT 'Integration', name FROM integrations
UNION ALL SELECT 'AlertRule', name FROM alert_rules`
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("known names: %w", mapErr(err))
	}
	type key struct{ kind, name string }
	known := map[key]bool{}
	var k key
	_, err = pgx.ForEachRow(rows, []any{&k.kind, &k.name}, func() error {
		known[k] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("known names: %w", mapErr(err))
	}
	return func(kind, name string) bool { return known[key{kind, name}] }, nil
}

// configIDs are the ids behind the names of a loaded configuration.
type configIDs struct {
	users, teams, holidays, schedules, policies, services, rules map[string]int64
	integrations                                                 map[string]integrationRef
}

type integrationRef struct {
	id        int64
	serviceID int64
}

func newConfigIDs() *configIDs {
	return &configIDs{
		users: map[string]int64{}, teams: map[string]int64{}, holidays: map[string]int64{},
		schedules: map[string]int64{}, policies: map[string]int64{}, services: map[string]int64{},
		rules: map[string]int64{}, integrations: map[string]integrationRef{},
	}
}

// The queries of loadConfig, one per table; optional text columns come back
// as ” (COALESCE), and child rows in their parent's order.
const (
	sqlLoadUsers = `
SELECT id, name, COALESCE(full_name, '') AS full_name, COALESCE(email, '') AS email,
       COALESCE(slack_id, '') AS slack_id, COALESCE(time_zone, '') AS time_zone
FROM users ORDER BY name`
	sqlLoadContactMethods = `
SELECT user_id, name, type, address FROM contact_methods ORDER BY user_id, position`
	sqlLoadNotificationRules = `
SELECT user_id, after_seconds, notify FROM notification_rules ORDER BY user_id, position`
	sqlLoadTeams = `
SELECT id, name, COALESCE(slack_channel, '') AS slack_channel, COALESCE(slack_user_group, '') AS slack_user_group
FROM teams ORDER BY name`
	sqlLoadTeamMembers = `
SELECT m.team_id, u.name AS user_name, m.admin_position
FROM team_members m JOIN users u ON u.id = m.user_id
ORDER BY m.team_id, m.position`
	sqlLoadHolidaySets = `
SELECT id, name, COALESCE(ical_name, '') AS ical_name, ical_data FROM holiday_sets ORDER BY name`
	sqlLoadHolidayDates = `
SELECT holiday_set_id, day FROM holiday_dates ORDER BY holiday_set_id, day`
	sqlLoadSchedules = `
SELECT s.id, s.name, COALESCE(t.name, '') AS team, s.time_zone, COALESCE(s.slack_user_group, '') AS slack_user_group
FROM schedules s LEFT JOIN teams t ON t.id = s.team_id
ORDER BY s.name`
	sqlLoadScheduleHolidays = `
SELECT sh.schedule_id, h.name
FROM schedule_holidays sh JOIN holiday_sets h ON h.id = sh.holiday_set_id
ORDER BY sh.schedule_id, sh.position`
	sqlLoadLayers = `
SELECT id, schedule_id, name, start_local, shift_elapsed, shift_days,
       COALESCE(time_zone, '') AS time_zone, COALESCE(on_holidays, '') AS on_holidays, end_at
FROM schedule_layers ORDER BY schedule_id, position`
	sqlLoadLayerMembers = `
SELECT lm.layer_id, u.name
FROM layer_members lm JOIN users u ON u.id = lm.user_id
ORDER BY lm.layer_id, lm.position`
	sqlLoadLayerWindows = `
SELECT layer_id, days, from_minute, to_minute FROM layer_windows ORDER BY layer_id, position`
	sqlLoadOverrides = `
SELECT o.schedule_id, u.name AS user_name, o.start_at, o.end_at
FROM schedule_overrides o JOIN users u ON u.id = o.user_id
ORDER BY o.schedule_id, o.position`
	sqlLoadPolicies = `
SELECT p.id, p.name, COALESCE(t.name, '') AS team, p.repeat
FROM escalation_policies p LEFT JOIN teams t ON t.id = p.team_id
ORDER BY p.name`
	sqlLoadSteps = `
SELECT id, policy_id, escalate_after_seconds FROM escalation_steps ORDER BY policy_id, position`
	sqlLoadTargets = `
SELECT et.step_id, et.type, COALESCE(u.name, s.name, t.name, et.slack_channel) AS ref
FROM escalation_targets et
LEFT JOIN users u ON u.id = et.user_id
LEFT JOIN schedules s ON s.id = et.schedule_id
LEFT JOIN teams t ON t.id = et.team_id
ORDER BY et.step_id, et.position`
	sqlLoadServices = `
SELECT s.id, s.name, COALESCE(s.description, '') AS description, COALESCE(t.name, '') AS team,
       p.name AS escalation_policy
FROM services s
LEFT JOIN teams t ON t.id = s.team_id
JOIN escalation_policies p ON p.id = s.escalation_policy_id
ORDER BY s.name`
	sqlLoadIntegrations = `
SELECT id, service_id, name, type, COALESCE(heartbeat_timeout_seconds, 0) AS timeout_seconds
FROM integrations ORDER BY service_id, position`
	sqlLoadAlertRules = `
SELECT r.id, r.name, r.page, r.urgency, COALESCE(r.service_from, '') AS service_from,
       COALESCE(s.name, '') AS service, r.match
FROM alert_rules r LEFT JOIN services s ON s.id = r.service_id
ORDER BY r.position, r.name`
	sqlLoadAlertRuleIntegrations = `
SELECT ari.alert_rule_id, i.name
FROM alert_rule_integrations ari JOIN integrations i ON i.id = ari.integration_id
ORDER BY ari.alert_rule_id, ari.position`
)

// matchJSON is how a manifest.Match is stored in alert_rules.match.
type matchJSON struct {
	Severity    []string            `json:"severity,omitempty"`
	Summary     []string            `json:"summary,omitempty"`
	Labels      map[string][]string `json:"labels,omitempty"`
	Annotations map[string][]string `json:"annotations,omitempty"`
}

// collect runs a query and collects its rows into T by column name.
func collect[T any](ctx context.Context, q Querier, sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[T])
	return out, mapErr(err)
}

// loadConfig reads every configuration table and assembles the Set (not
// yet canonical: children in stored order, objects by name) and its ids.
func loadConfig(ctx context.Context, q Querier) (*manifest.Set, *configIDs, error) {
	s := &manifest.Set{}
	ids := newConfigIDs()
	wrap := func(what string, err error) error { return fmt.Errorf("load %s: %w", what, err) }

	// Users, with contact methods and notification rules.
	users, err := collect[struct {
		ID                                       int64
		Name, FullName, Email, SlackID, TimeZone string
	}](ctx, q, sqlLoadUsers)
	if err != nil {
		return nil, nil, wrap("users", err)
	}
	userByID := map[int64]*manifest.User{}
	for _, r := range users {
		u := &manifest.User{Name: r.Name, FullName: r.FullName, Email: r.Email, SlackID: r.SlackID, TimeZone: r.TimeZone}
		s.Users = append(s.Users, u)
		userByID[r.ID] = u
		ids.users[r.Name] = r.ID
	}
	cms, err := collect[struct {
		UserID              int64
		Name, Type, Address string
	}](ctx, q, sqlLoadContactMethods)
	if err != nil {
		return nil, nil, wrap("contact methods", err)
	}
	for _, r := range cms {
		u := userByID[r.UserID]
		u.ContactMethods = append(u.ContactMethods, manifest.ContactMethod{Name: r.Name, Type: r.Type, Address: r.Address})
	}
	nrs, err := collect[struct {
		UserID       int64
		AfterSeconds int32
		Notify       []string
	}](ctx, q, sqlLoadNotificationRules)
	if err != nil {
		return nil, nil, wrap("notification rules", err)
	}
	for _, r := range nrs {
		u := userByID[r.UserID]
		u.NotificationRules = append(u.NotificationRules, manifest.NotificationRule{
			After: time.Duration(r.AfterSeconds) * time.Second, Notify: r.Notify,
		})
	}

	// Teams.
	teams, err := collect[struct {
		ID                                 int64
		Name, SlackChannel, SlackUserGroup string
	}](ctx, q, sqlLoadTeams)
	if err != nil {
		return nil, nil, wrap("teams", err)
	}
	teamByID := map[int64]*manifest.Team{}
	for _, r := range teams {
		t := &manifest.Team{Name: r.Name, SlackChannel: r.SlackChannel, SlackUserGroup: r.SlackUserGroup}
		s.Teams = append(s.Teams, t)
		teamByID[r.ID] = t
		ids.teams[r.Name] = r.ID
	}
	members, err := collect[struct {
		TeamID        int64
		UserName      string
		AdminPosition *int32
	}](ctx, q, sqlLoadTeamMembers)
	if err != nil {
		return nil, nil, wrap("team members", err)
	}
	admins := map[*manifest.Team]map[int32]string{}
	for _, r := range members {
		t := teamByID[r.TeamID]
		t.Members = append(t.Members, r.UserName)
		if r.AdminPosition != nil {
			if admins[t] == nil {
				admins[t] = map[int32]string{}
			}
			admins[t][*r.AdminPosition] = r.UserName
		}
	}
	for t, byPos := range admins {
		t.Admins = inPositionOrder(byPos)
	}

	// Holidays.
	hsets, err := collect[struct {
		ID             int64
		Name, ICalName string
		ICalData       []byte
	}](ctx, q, sqlLoadHolidaySets)
	if err != nil {
		return nil, nil, wrap("holidays", err)
	}
	holByID := map[int64]*manifest.Holidays{}
	for _, r := range hsets {
		h := &manifest.Holidays{Name: r.Name, ICal: r.ICalName, ICalData: r.ICalData}
		s.Holidays = append(s.Holidays, h)
		holByID[r.ID] = h
		ids.holidays[r.Name] = r.ID
	}
	hdates, err := collect[struct {
		HolidaySetID int64
		Day          time.Time
	}](ctx, q, sqlLoadHolidayDates)
	if err != nil {
		return nil, nil, wrap("holiday dates", err)
	}
	for _, r := range hdates {
		h := holByID[r.HolidaySetID]
		h.Dates = append(h.Dates, schedule.Date{Year: r.Day.Year(), Month: r.Day.Month(), Day: r.Day.Day()})
	}

	// Schedules.
	scheds, err := collect[struct {
		ID                                   int64
		Name, Team, TimeZone, SlackUserGroup string
	}](ctx, q, sqlLoadSchedules)
	if err != nil {
		return nil, nil, wrap("schedules", err)
	}
	schedByID := map[int64]*manifest.Schedule{}
	for _, r := range scheds {
		sc := &manifest.Schedule{Name: r.Name, Team: r.Team, TimeZone: r.TimeZone, SlackUserGroup: r.SlackUserGroup}
		s.Schedules = append(s.Schedules, sc)
		schedByID[r.ID] = sc
		ids.schedules[r.Name] = r.ID
	}
	shols, err := collect[struct {
		ScheduleID int64
		Name       string
	}](ctx, q, sqlLoadScheduleHolidays)
	if err != nil {
		return nil, nil, wrap("schedule holidays", err)
	}
	for _, r := range shols {
		sc := schedByID[r.ScheduleID]
		sc.Holidays = append(sc.Holidays, r.Name)
	}
	layers, err := collect[struct {
		ID, ScheduleID       int64
		Name                 string
		StartLocal           time.Time
		ShiftElapsed         *time.Duration
		ShiftDays            *int32
		TimeZone, OnHolidays string
		EndAt                *time.Time
	}](ctx, q, sqlLoadLayers)
	if err != nil {
		return nil, nil, wrap("schedule layers", err)
	}
	// Layers are values inside their schedule's slice: collect them per
	// schedule first, then attach members and windows by layer id.
	type layerAt struct {
		sched *manifest.Schedule
		i     int
	}
	layerByID := map[int64]layerAt{}
	for _, r := range layers {
		sc := schedByID[r.ScheduleID]
		l := manifest.Layer{
			Name: r.Name, Start: civilOf(r.StartLocal), TimeZone: r.TimeZone, OnHolidays: r.OnHolidays,
		}
		if r.ShiftElapsed != nil {
			l.Shift.Elapsed = *r.ShiftElapsed
		}
		if r.ShiftDays != nil {
			l.Shift.Days = int(*r.ShiftDays)
		}
		if r.EndAt != nil {
			end := r.EndAt.UTC()
			l.End = &end
		}
		sc.Layers = append(sc.Layers, l)
		layerByID[r.ID] = layerAt{sc, len(sc.Layers) - 1}
	}
	lmembers, err := collect[struct {
		LayerID int64
		Name    string
	}](ctx, q, sqlLoadLayerMembers)
	if err != nil {
		return nil, nil, wrap("layer members", err)
	}
	for _, r := range lmembers {
		at := layerByID[r.LayerID]
		l := &at.sched.Layers[at.i]
		l.Members = append(l.Members, r.Name)
	}
	windows, err := collect[struct {
		LayerID              int64
		Days                 []string
		FromMinute, ToMinute int16
	}](ctx, q, sqlLoadLayerWindows)
	if err != nil {
		return nil, nil, wrap("layer windows", err)
	}
	for _, r := range windows {
		at := layerByID[r.LayerID]
		l := &at.sched.Layers[at.i]
		l.Restrict = append(l.Restrict, manifest.Window{
			Days: r.Days, From: formatClock(int(r.FromMinute)), To: formatClock(int(r.ToMinute)),
		})
	}
	overrides, err := collect[struct {
		ScheduleID     int64
		UserName       string
		StartAt, EndAt time.Time
	}](ctx, q, sqlLoadOverrides)
	if err != nil {
		return nil, nil, wrap("schedule overrides", err)
	}
	for _, r := range overrides {
		sc := schedByID[r.ScheduleID]
		sc.Overrides = append(sc.Overrides, manifest.Override{User: r.UserName, Start: r.StartAt.UTC(), End: r.EndAt.UTC()})
	}

	// Escalation policies.
	pols, err := collect[struct {
		ID         int64
		Name, Team string
		Repeat     int16
	}](ctx, q, sqlLoadPolicies)
	if err != nil {
		return nil, nil, wrap("escalation policies", err)
	}
	polByID := map[int64]*manifest.EscalationPolicy{}
	for _, r := range pols {
		p := &manifest.EscalationPolicy{Name: r.Name, Team: r.Team, Repeat: int(r.Repeat)}
		s.Policies = append(s.Policies, p)
		polByID[r.ID] = p
		ids.policies[r.Name] = r.ID
	}
	steps, err := collect[struct {
		ID, PolicyID         int64
		EscalateAfterSeconds int32
	}](ctx, q, sqlLoadSteps)
	if err != nil {
		return nil, nil, wrap("escalation steps", err)
	}
	type stepAt struct {
		pol *manifest.EscalationPolicy
		i   int
	}
	stepByID := map[int64]stepAt{}
	for _, r := range steps {
		p := polByID[r.PolicyID]
		p.Steps = append(p.Steps, manifest.Step{EscalateAfter: time.Duration(r.EscalateAfterSeconds) * time.Second})
		stepByID[r.ID] = stepAt{p, len(p.Steps) - 1}
	}
	targets, err := collect[struct {
		StepID    int64
		Type, Ref string
	}](ctx, q, sqlLoadTargets)
	if err != nil {
		return nil, nil, wrap("escalation targets", err)
	}
	for _, r := range targets {
		at := stepByID[r.StepID]
		st := &at.pol.Steps[at.i]
		st.Targets = append(st.Targets, manifest.Target{Type: r.Type, Ref: r.Ref})
	}

	// Services and their integrations.
	svcs, err := collect[struct {
		ID                                        int64
		Name, Description, Team, EscalationPolicy string
	}](ctx, q, sqlLoadServices)
	if err != nil {
		return nil, nil, wrap("services", err)
	}
	svcByID := map[int64]*manifest.Service{}
	for _, r := range svcs {
		sv := &manifest.Service{Name: r.Name, Description: r.Description, Team: r.Team, EscalationPolicy: r.EscalationPolicy}
		s.Services = append(s.Services, sv)
		svcByID[r.ID] = sv
		ids.services[r.Name] = r.ID
	}
	ints, err := collect[struct {
		ID, ServiceID  int64
		Name, Type     string
		TimeoutSeconds int32
	}](ctx, q, sqlLoadIntegrations)
	if err != nil {
		return nil, nil, wrap("integrations", err)
	}
	for _, r := range ints {
		sv := svcByID[r.ServiceID]
		sv.Integrations = append(sv.Integrations, manifest.Integration{Name: r.Name, Type: r.Type, Timeout: time.Duration(r.TimeoutSeconds) * time.Second})
		ids.integrations[r.Name] = integrationRef{id: r.ID, serviceID: r.ServiceID}
	}

	// Alert rules, in evaluation order.
	rules, err := collect[struct {
		ID                            int64
		Name                          string
		Page                          bool
		Urgency, ServiceFrom, Service string
		Match                         []byte
	}](ctx, q, sqlLoadAlertRules)
	if err != nil {
		return nil, nil, wrap("alert rules", err)
	}
	ruleByID := map[int64]*manifest.AlertRule{}
	for _, r := range rules {
		var m matchJSON
		if err := json.Unmarshal(r.Match, &m); err != nil {
			return nil, nil, wrap("alert rules", fmt.Errorf("rule %s: match: %w", r.Name, err))
		}
		ar := &manifest.AlertRule{
			Name: r.Name, Page: r.Page, Urgency: r.Urgency, ServiceFrom: r.ServiceFrom, Service: r.Service,
			Match: manifest.Match{Severity: m.Severity, Summary: m.Summary, Labels: m.Labels, Annotations: m.Annotations},
		}
		s.AlertRules = append(s.AlertRules, ar)
		ruleByID[r.ID] = ar
		ids.rules[r.Name] = r.ID
	}
	rints, err := collect[struct {
		AlertRuleID int64
		Name        string
	}](ctx, q, sqlLoadAlertRuleIntegrations)
	if err != nil {
		return nil, nil, wrap("alert rule integrations", err)
	}
	for _, r := range rints {
		ar := ruleByID[r.AlertRuleID]
		ar.Integrations = append(ar.Integrations, r.Name)
	}
	return s, ids, nil
}

func inPositionOrder(byPos map[int32]string) []string {
	positions := make([]int32, 0, len(byPos))
	for p := range byPos {
		positions = append(positions, p)
	}
	slices.Sort(positions)
	out := make([]string, len(positions))
	for i, p := range positions {
		out[i] = byPos[p]
	}
	return out
}

// civilOf reads a `timestamp` (zone-less) column, which pgx returns as UTC.
func civilOf(t time.Time) schedule.Civil {
	return schedule.Civil{
		Date: schedule.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()},
		Hour: t.Hour(), Minute: t.Minute(), Second: t.Second(),
	}
}

// civilTime is c as a zone-less `timestamp` parameter.
func civilTime(c schedule.Civil) time.Time {
	return time.Date(c.Year, c.Month, c.Day, c.Hour, c.Minute, c.Second, 0, time.UTC)
}

func dateTime(d schedule.Date) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}
