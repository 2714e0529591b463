package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

var now = time.Date(2026, time.November, 1, 12, 0, 0, 0, time.UTC)

// apply applies set in a transaction and commits it.
func apply(t *testing.T, pool *pgxpool.Pool, set *manifest.Set, prune bool) *store.Plan {
	t.Helper()
	plan, err := tryApply(t, pool, set, prune, true)
	if err != nil {
		t.Fatalf("ApplyConfig: %v", err)
	}
	return plan
}

// tryApply applies set and commits, or rolls back when commit is false or
// ApplyConfig fails.
func tryApply(t *testing.T, pool *pgxpool.Pool, set *manifest.Set, prune, commit bool) (*store.Plan, error) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	plan, err := store.ApplyConfig(ctx, tx, set, store.ApplyOptions{Prune: prune, Now: now, Actor: "test:" + t.Name()})
	if err != nil {
		return nil, err
	}
	if commit {
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	return plan, nil
}

func load(t *testing.T, q store.Querier) *manifest.Set {
	t.Helper()
	set, err := store.LoadConfig(context.Background(), q)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	return set
}

// requireSet fails unless got and want are deep-equal, showing the first
// kind that differs.
func requireSet(t *testing.T, got, want *manifest.Set) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	gv, wv := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range gv.NumField() {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			g, w := gv.Field(i), wv.Field(i)
			for j := range max(g.Len(), w.Len()) {
				var gi, wi any
				if j < g.Len() {
					gi = g.Index(j).Interface()
				}
				if j < w.Len() {
					wi = w.Index(j).Interface()
				}
				if !reflect.DeepEqual(gi, wi) {
					t.Fatalf("%s[%d] differs:\n got %s\nwant %s", gv.Type().Field(i).Name, j, dump(gi), dump(wi))
				}
			}
		}
	}
	t.Fatalf("sets differ")
}

func dump(v any) string {
	if v == nil {
		return "<nothing>"
	}
	return fmt.Sprintf("%+v", reflect.Indirect(reflect.ValueOf(v)).Interface())
}

func changes(plan *store.Plan) []string {
	var out []string
	for _, c := range plan.Changes {
		s := c.Action + " " + c.Kind + " " + c.Name
		if len(c.Fields) > 0 {
			s += " (" + strings.Join(c.Fields, ",") + ")"
		}
		out = append(out, s)
	}
	return out
}

func requireChanges(t *testing.T, plan *store.Plan, want ...string) {
	t.Helper()
	if got := changes(plan); !slices.Equal(got, want) {
		t.Fatalf("changes:\n got %q\nwant %q", got, want)
	}
}

func count(t *testing.T, q store.Querier, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := q.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func id(t *testing.T, q store.Querier, table, name string) int64 {
	t.Helper()
	var id int64
	if err := q.QueryRow(context.Background(), `SELECT id FROM `+table+` WHERE name = $1`, name).Scan(&id); err != nil {
		t.Fatalf("id of %s %q: %v", table, name, err)
	}
	return id
}

func keyHashes(t *testing.T, q store.Querier) map[string]string {
	t.Helper()
	rows, err := q.Query(context.Background(), `SELECT name, encode(key_hash, 'hex') FROM integrations`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var name, hash string
	if _, err := pgx.ForEachRow(rows, []any{&name, &hash}, func() error { out[name] = hash; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApplyCreatesEverythingAndRoundTrips(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	company := storetest.Company()

	plan := apply(t, pool, company, false)
	var creates []string
	for _, c := range plan.Changes {
		if c.Action != store.ActionCreate {
			t.Errorf("unexpected change %+v", c)
		}
		creates = append(creates, c.Kind+" "+c.Name)
	}
	wantCreates := []string{
		"User alice", "User bob", "User carol", "User dave", "Team payments", "Holidays us",
		"Schedule payments-primary", "Schedule payments-secondary", "EscalationPolicy payments",
		"Service payments-api", "Service payments-web", "AlertRule payments-from-labels", "AlertRule quiet-warnings",
	}
	if !slices.Equal(creates, wantCreates) {
		t.Errorf("creates = %q\nwant %q", creates, wantCreates)
	}
	if len(plan.NewKeys) != 3 {
		t.Fatalf("NewKeys = %+v; want one per integration", plan.NewKeys)
	}
	for _, k := range plan.NewKeys {
		if len(k.Key) != 43 || strings.ContainsAny(k.Key, "+/=") {
			t.Errorf("key %q of %s: want 43 base64url characters", k.Key, k.Integration)
		}
	}

	// The round trip that export relies on.
	requireSet(t, load(t, pool), company)

	// Applying the same again changes nothing and keeps every key.
	hashes := keyHashes(t, pool)
	audits := count(t, pool, `SELECT count(*) FROM audit_log`)
	again := apply(t, pool, storetest.Company(), false)
	requireChanges(t, again)
	if len(again.NewKeys) != 0 {
		t.Errorf("re-apply made new keys: %+v", again.NewKeys)
	}
	if got := keyHashes(t, pool); !reflect.DeepEqual(got, hashes) {
		t.Errorf("key hashes changed on re-apply:\n%v\n%v", hashes, got)
	}
	if n := count(t, pool, `SELECT count(*) FROM audit_log`); n != audits {
		t.Errorf("audit_log grew from %d to %d on a no-op apply", audits, n)
	}
	// And again with prune: nothing to prune either.
	requireChanges(t, apply(t, pool, storetest.Company(), true))
}

func TestApplyAuditLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	apply(t, pool, storetest.NewSet(storetest.User("alice")), false)
	u := storetest.User("alice")
	u.Email = "alice@example.org"
	apply(t, pool, storetest.NewSet(u), false)

	rows, err := pool.Query(ctx, `
SELECT actor, action, kind, name, at, before->>'Email', after->>'Email' FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Actor, Action, Kind, Name string
		At                        time.Time
		Before, After             *string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[entry])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("audit_log = %+v; want a create and an update", got)
	}
	actor := "test:" + t.Name()
	if g := got[0]; g.Actor != actor || g.Action != "create" || g.Kind != "User" || g.Name != "alice" || !g.At.Equal(now) || g.Before != nil || g.After == nil || *g.After != "alice@example.com" {
		t.Errorf("create entry = %+v", g)
	}
	if g := got[1]; g.Action != "update" || g.Before == nil || *g.Before != "alice@example.com" || g.After == nil || *g.After != "alice@example.org" {
		t.Errorf("update entry = %+v", g)
	}
}

func TestApplyUpdateReportsFieldsAndKeepsIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	apply(t, pool, storetest.Company(), false)
	ids := map[string]int64{}
	for table, name := range map[string]string{
		"users": "alice", "schedules": "payments-primary", "escalation_policies": "payments",
		"services": "payments-api", "integrations": "payments-prometheus", "teams": "payments",
	} {
		ids[table] = id(t, pool, table, name)
	}
	var cellID int64
	if err := pool.QueryRow(ctx, `UPDATE contact_methods SET verified_at = $1 WHERE name = 'cell' AND user_id = $2 RETURNING id`,
		now, ids["users"]).Scan(&cellID); err != nil {
		t.Fatal(err)
	}

	// One field of one object.
	set := storetest.Company()
	set.Users[0].FullName = "Alice Liddell"
	requireChanges(t, apply(t, pool, set, false), "update User alice (full_name)")

	// Several objects, several fields.
	set.Users[0].ContactMethods[1].Address = "+14155550199" // cell-call; cell keeps its address
	set.Schedules[0].Layers[1].Members = []string{"carol", "dave"}
	set.Schedules[0].Overrides = nil
	set.Policies[0].Repeat = 2
	set.Services[0].Description = "Payments, the API"
	set.Services[0].Integrations[0].Type = manifest.IntegrationGeneric // payments-pagerduty (sorted by name)
	set.AlertRules[0].Urgency = manifest.UrgencyLow
	plan := apply(t, pool, set, false)
	requireChanges(t, plan,
		"update User alice (contact_methods)",
		"update Schedule payments-primary (layers,overrides)",
		"update EscalationPolicy payments (repeat)",
		"update Service payments-api (description,integrations)",
		"update AlertRule payments-from-labels (urgency)",
	)
	if len(plan.NewKeys) != 0 {
		t.Errorf("an update made keys: %+v", plan.NewKeys)
	}
	requireSet(t, load(t, pool), set)

	for table, name := range map[string]string{
		"users": "alice", "schedules": "payments-primary", "escalation_policies": "payments",
		"services": "payments-api", "integrations": "payments-prometheus", "teams": "payments",
	} {
		if got := id(t, pool, table, name); got != ids[table] {
			t.Errorf("%s %q changed id from %d to %d", table, name, ids[table], got)
		}
	}
	// The contact method kept its id and, its address unchanged, its
	// verification.
	var verified *time.Time
	var gotID int64
	if err := pool.QueryRow(ctx, `SELECT id, verified_at FROM contact_methods WHERE name = 'cell' AND user_id = $1`, ids["users"]).Scan(&gotID, &verified); err != nil {
		t.Fatal(err)
	}
	if gotID != cellID || verified == nil {
		t.Errorf("contact method cell: id %d (was %d), verified_at %v; want both kept", gotID, cellID, verified)
	}
	// A new address needs a new verification.
	set.Users[0].ContactMethods[0].Address = "+14155550111"
	apply(t, pool, set, false)
	if err := pool.QueryRow(ctx, `SELECT verified_at FROM contact_methods WHERE id = $1`, cellID).Scan(&verified); err != nil || verified != nil {
		t.Errorf("verified_at after an address change = %v, %v; want NULL", verified, err)
	}
}

func TestApplyPrune(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	apply(t, pool, storetest.Company(), false)

	// Only alert rules in the files: prune deletes only alert rules.
	rules := storetest.NewSet(storetest.Company().AlertRules[0])
	requireChanges(t, apply(t, pool, rules, false)) // without prune: nothing
	requireChanges(t, apply(t, pool, rules, true), "delete AlertRule quiet-warnings")

	// A service and what only it used.
	set := storetest.Company()
	set.AlertRules = rules.AlertRules
	set.Services = set.Services[:1] // payments-api
	set.Users = slices.DeleteFunc(set.Users, func(u *manifest.User) bool { return u.Name == "bob" })
	set.Teams[0].Members = slices.DeleteFunc(set.Teams[0].Members, func(m string) bool { return m == "bob" })
	set.Schedules = set.Schedules[:1] // payments-primary; secondary has bob
	set.Schedules[0].Layers[0].Members = []string{"alice", "carol"}
	set.Policies[0].Steps[1].Targets = []manifest.Target{storetest.UserTarget("carol")}
	plan := apply(t, pool, set, true)
	requireChanges(t, plan,
		"update Team payments (members)",
		"update Schedule payments-primary (layers)",
		"update EscalationPolicy payments (steps)",
		"delete Service payments-web",
		"delete Schedule payments-secondary",
		"delete User bob",
	)
	requireSet(t, load(t, pool), set)
	if n := count(t, pool, `SELECT count(*) FROM integrations WHERE name = 'payments-grafana'`); n != 0 {
		t.Errorf("the deleted service's integration is still there")
	}
}

func TestApplyPruneRefusesToBreakReferences(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	company := storetest.Company()
	apply(t, pool, company, false)

	// dave is in a layer, an override and the team of schedules not in the
	// files: deleting him would change who is on call.
	set := storetest.Company()
	set.Users = set.Users[:3]
	_, err := tryApply(t, pool, &manifest.Set{Users: set.Users}, true, true)
	if !errors.Is(err, oncall.ErrConflict) {
		t.Fatalf("prune of a referenced user: err = %v; want ErrConflict", err)
	}
	var ce *store.ConstraintError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `delete User "dave"`) || !strings.Contains(err.Error(), "still in use") {
		t.Errorf("error %q (%T) should say which user is still in use and why", err, err)
	}
	requireSet(t, load(t, pool), company)
}

func TestApplyFailureLeavesDatabaseUnchanged(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	company := storetest.Company()
	apply(t, pool, company, false)
	audits := count(t, pool, `SELECT count(*) FROM audit_log`)
	hashes := keyHashes(t, pool)

	cases := map[string]func(s *manifest.Set){
		// Fails in the middle: users, teams and schedules are written first.
		"unknown user": func(s *manifest.Set) {
			s.Users[0].FullName = "Changed"
			s.Services = append(s.Services, storetest.Service("new-service", "payments", "new-integration"))
			s.Schedules[1].Layers[0].Members = []string{"bob", "nobody"}
		},
		"unknown policy": func(s *manifest.Set) {
			s.Users = append(s.Users, storetest.User("erin"))
			s.Services = append(s.Services, storetest.Service("new-service", "no-such-policy", "new-integration"))
		},
		"unknown service": func(s *manifest.Set) {
			s.Users[1].Email = "bob@example.org"
			s.AlertRules = append(s.AlertRules, storetest.AlertRule("late", "no-such-service"))
		},
		"constraint": func(s *manifest.Set) {
			s.Users[0].FullName = "Changed"
			s.Users[1].SlackID = "U01ALICE" // alice's: unique
		},
	}
	for name, mutate := range cases {
		set := storetest.Company()
		mutate(set)
		_, err := tryApply(t, pool, set, false, true)
		if err == nil {
			t.Fatalf("%s: ApplyConfig succeeded", name)
		}
		t.Logf("%s: %v", name, err)
		requireSet(t, load(t, pool), company)
		if n := count(t, pool, `SELECT count(*) FROM audit_log`); n != audits {
			t.Errorf("%s: audit_log changed", name)
		}
		if !reflect.DeepEqual(keyHashes(t, pool), hashes) {
			t.Errorf("%s: integrations changed", name)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	apply(t, pool, storetest.NewSet(storetest.User("alice")), false)
	for name, c := range map[string]struct {
		set       *manifest.Set
		want      error
		kind, obj string
		msg       string
	}{
		"unknown user": {
			storetest.NewSet(storetest.Schedule("s", "alice", "ghost")), oncall.ErrInvalid,
			manifest.KindSchedule, "s", `create Schedule "s": layer "primary": user "ghost" does not exist`,
		},
		"notify names no contact method": {
			func() *manifest.Set {
				u := storetest.User("bob")
				u.NotificationRules[1].Notify = []string{"pager"}
				return storetest.NewSet(u)
			}(), oncall.ErrInvalid, manifest.KindUser, "bob", `unknown contact method "pager"`,
		},
		"unknown zone": {
			func() *manifest.Set {
				s := storetest.Schedule("s", "alice")
				s.TimeZone = "Mars/Olympus"
				return storetest.NewSet(s)
			}(), oncall.ErrInvalid, manifest.KindSchedule, "s", `unknown time zone "Mars/Olympus"`,
		},
		"sub-second delay": {
			func() *manifest.Set {
				u := storetest.User("bob")
				u.NotificationRules[1].After = 1500 * time.Millisecond
				return storetest.NewSet(u)
			}(), oncall.ErrInvalid, manifest.KindUser, "bob", "whole",
		},
		"duplicate slack id": {
			func() *manifest.Set {
				a, b := storetest.User("alice"), storetest.User("bob")
				a.SlackID, b.SlackID = "U1", "U1"
				return storetest.NewSet(a, b)
			}(), oncall.ErrConflict, manifest.KindUser, "bob", "slack_id",
		},
	} {
		_, err := tryApply(t, pool, c.set, false, false)
		var oe *store.ObjectError
		if !errors.Is(err, c.want) || !strings.Contains(fmt.Sprint(err), c.msg) || !errors.As(err, &oe) || oe.Kind != c.kind || oe.Name != c.obj {
			t.Errorf("%s: err = %v (%T); want %v about %s %s containing %q", name, err, err, c.want, c.kind, c.obj, c.msg)
		}
	}
}

func TestApplyDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	plan, err := tryApply(t, pool, storetest.Company(), true, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 13 || len(plan.NewKeys) != 3 {
		t.Errorf("dry run plan: %d changes, %d keys; want 13 and 3", len(plan.Changes), len(plan.NewKeys))
	}
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'river%' AND table_name <> 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 20 {
		t.Fatalf("tables: %v, %v", tables, err)
	}
	for _, table := range tables {
		if n := count(t, pool, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()); n != 0 {
			t.Errorf("table %s has %d rows after a dry run", table, n)
		}
	}
}

func TestAlertRuleOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	rule := func(name string) *manifest.AlertRule { return storetest.AlertRule(name, "") }
	order := func() string {
		rows, _ := pool.Query(ctx, `SELECT name FROM alert_rules ORDER BY position`)
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(names, ",")
	}
	apply(t, pool, storetest.NewSet(rule("a"), rule("b"), rule("c")), false)

	// Rules not in the files keep their order, after the applied ones.
	requireChanges(t, apply(t, pool, storetest.NewSet(rule("c")), false), "update AlertRule c (position)")
	if got := order(); got != "c,a,b" {
		t.Errorf("order = %s; want c,a,b", got)
	}
	// Back: one move explains it.
	requireChanges(t, apply(t, pool, storetest.NewSet(rule("a"), rule("b"), rule("c")), false), "update AlertRule c (position)")
	// A new rule in front moves nothing else.
	requireChanges(t, apply(t, pool, storetest.NewSet(rule("new"), rule("a"), rule("b"), rule("c")), false), "create AlertRule new")
	if got := order(); got != "new,a,b,c" {
		t.Errorf("order = %s; want new,a,b,c", got)
	}
	// A swap, and a rule not in the files that moves behind them.
	requireChanges(t, apply(t, pool, storetest.NewSet(rule("b"), rule("a"), rule("c")), false),
		"update AlertRule b (position)", "update AlertRule new (position)")
	if got := order(); got != "b,a,c,new" {
		t.Errorf("order = %s; want b,a,c,new", got)
	}
	requireChanges(t, apply(t, pool, storetest.NewSet(rule("c"), rule("a")), true),
		"update AlertRule c (position)", "delete AlertRule b", "delete AlertRule new")
	if got := order(); got != "c,a" {
		t.Errorf("order = %s; want c,a", got)
	}
	set := load(t, pool)
	if len(set.AlertRules) != 2 || set.AlertRules[0].Name != "c" {
		t.Errorf("LoadConfig's rules are not in evaluation order: %v", set.AlertRules)
	}
}

func TestIntegrationsRenameAndMove(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	company := storetest.Company()
	apply(t, pool, company, false)
	hashes := keyHashes(t, pool)

	// Move payments-grafana from payments-web to payments-api: same key.
	set := storetest.Company()
	api, web := set.Services[0], set.Services[1]
	api.Integrations = append(api.Integrations, web.Integrations[0])
	web.Integrations = nil
	set.Normalize()
	plan := apply(t, pool, set, false)
	requireChanges(t, plan, "update Service payments-api (integrations)", "update Service payments-web (integrations)")
	if len(plan.NewKeys) != 0 || !reflect.DeepEqual(keyHashes(t, pool), hashes) {
		t.Errorf("moving an integration changed keys")
	}
	requireSet(t, load(t, pool), set)

	// Rename: a new integration with a new key; the old one goes. The rule
	// that named the old one must follow in the same apply.
	set.Services[0].Integrations[2].Name = "payments-prom" // payments-prometheus (sorted)
	set.AlertRules[0].Integrations = []string{"payments-prom"}
	set.Normalize()
	plan = apply(t, pool, set, false)
	requireChanges(t, plan, "update Service payments-api (integrations)", "update AlertRule payments-from-labels (integrations)")
	if len(plan.NewKeys) != 1 || plan.NewKeys[0].Integration != "payments-prom" || plan.NewKeys[0].Service != "payments-api" {
		t.Errorf("NewKeys = %+v", plan.NewKeys)
	}
	got := keyHashes(t, pool)
	if _, ok := got["payments-prometheus"]; ok || got["payments-prom"] == "" || got["payments-prom"] == hashes["payments-prometheus"] {
		t.Errorf("after rename: %v", got)
	}
	requireSet(t, load(t, pool), set)

	// Dropping an integration that a rule (not in the files) still names fails.
	only := storetest.NewSet(set.Services[0])
	only.Services[0].Integrations = only.Services[0].Integrations[:2]
	if _, err := tryApply(t, pool, only, false, false); !errors.Is(err, oncall.ErrConflict) || !strings.Contains(err.Error(), "alert rule") {
		t.Errorf("dropping a named integration: err = %v; want ErrConflict naming an alert rule", err)
	}
}

func TestKnownNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	apply(t, pool, storetest.Company(), false)
	known, err := store.KnownNames(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	var _ manifest.Known = known
	for _, c := range []struct {
		kind, name string
		want       bool
	}{
		{manifest.KindUser, "alice", true}, {manifest.KindUser, "payments", false},
		{manifest.KindTeam, "payments", true}, {manifest.KindHolidays, "us", true},
		{manifest.KindSchedule, "payments-primary", true}, {manifest.KindEscalationPolicy, "payments", true},
		{manifest.KindService, "payments-web", true}, {manifest.KindIntegration, "payments-grafana", true},
		{manifest.KindAlertRule, "quiet-warnings", true}, {manifest.KindAlertRule, "nope", false},
	} {
		if got := known(c.kind, c.name); got != c.want {
			t.Errorf("known(%s, %s) = %v", c.kind, c.name, got)
		}
	}
}

func TestLoadConfigInTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.New(t)
	if set := load(t, pool); !reflect.DeepEqual(set, &manifest.Set{}) {
		t.Errorf("LoadConfig of an empty database = %+v; want an empty Set", set)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := store.ApplyConfig(ctx, tx, storetest.Company(), store.ApplyOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	requireSet(t, load(t, tx), storetest.Company())
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if set := load(t, conn.Conn()); len(set.Users) != 0 {
		t.Errorf("another connection sees uncommitted configuration")
	}
}

func TestApplyManyTimes(t *testing.T) {
	t.Parallel()
	pool := storetest.New(t)
	// A few generations of one configuration, each applied with prune: the
	// database always ends equal to the last one applied.
	sets := []*manifest.Set{
		storetest.Company(),
		func() *manifest.Set {
			s := storetest.Company()
			s.Users = append(s.Users, storetest.User("zoe"))
			s.Teams[0].Members = append(s.Teams[0].Members, "zoe")
			s.Schedules[0].Layers = s.Schedules[0].Layers[:1]
			s.Policies[0].Steps = s.Policies[0].Steps[:1]
			s.Services = s.Services[:1]
			s.AlertRules = s.AlertRules[1:]
			s.Normalize()
			return s
		}(),
		func() *manifest.Set {
			s := storetest.Company()
			s.Holidays[0].Dates = append(s.Holidays[0].Dates, schedule.Date{Year: 2027, Month: time.January, Day: 1})
			s.Holidays[0].ICal, s.Holidays[0].ICalData = "", nil
			s.Schedules[0].Layers[0].End = nil
			s.Teams[0].SlackChannel = ""
			s.Normalize()
			return s
		}(),
		storetest.Company(),
	}
	for i, set := range sets {
		if _, err := tryApply(t, pool, set, true, true); err != nil {
			t.Fatalf("generation %d: %v", i, err)
		}
	}
	requireSet(t, load(t, pool), storetest.Company())
}
