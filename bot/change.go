package bot

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// Configuration changes made in Slack go through here: the same
// validation and the same apply as `oncall apply` (store.ApplyConfig, one
// transaction), the Slack user as the audit log's actor, so `oncall export`
// shows them and a later apply of stale files is a visible diff.
//
// Permissions: a team's admins may change its schedules, escalation
// policies, services and their alert rules; an object without a team may
// be changed by an admin of any team. Anyone may view, and anyone may put
// themselves into a schedule with an override (addOverride).

// config is the current configuration.
func (b *Bot) config(ctx context.Context) (*manifest.Set, error) {
	return store.LoadConfig(ctx, b.db)
}

// change applies objs (the objects created or changed, whole; nothing is
// deleted) for actor, who must administer each one's team.
func (b *Bot) change(ctx context.Context, actor string, objs *manifest.Set) (*store.Plan, error) {
	cur, err := b.config(ctx)
	if err != nil {
		return nil, err
	}
	for _, team := range owningTeams(cur, objs) {
		if !administers(cur, actor, team) {
			if team == "" {
				return nil, fmt.Errorf("%w: only a team admin may change configuration without a team", oncall.ErrForbidden)
			}
			return nil, fmt.Errorf("%w: only an admin of team %s may change this", oncall.ErrForbidden, team)
		}
	}
	return b.apply(ctx, actor, objs)
}

// apply writes objs in one transaction, with no permission check.
func (b *Bot) apply(ctx context.Context, actor string, objs *manifest.Set) (*store.Plan, error) {
	var plan *store.Plan
	err := pgx.BeginFunc(ctx, b.db, func(tx pgx.Tx) error {
		var err error
		plan, err = store.ApplyConfig(ctx, tx, objs, store.ApplyOptions{Now: b.clock.Now(), Actor: "slack:" + actor})
		return err
	})
	if err == nil {
		b.replanHandoffs(ctx)
	}
	return plan, err
}

// replanHandoffs moves the planned handoffs and user groups to a change
// just committed, so an override that starts now reaches Slack at once
// instead of at the next plan check. A failure is only logged: the plan
// check (jobs.HandoffPlanInterval) catches up anyway.
func (b *Bot) replanHandoffs(ctx context.Context) {
	if _, err := b.engine.PlanHandoffs(ctx); err != nil {
		b.log.Warn().Err(err).Msg("plan handoffs after a Slack change")
	}
}

// administers reports whether user is an admin of team ("" : of any team).
func administers(set *manifest.Set, user, team string) bool {
	for _, t := range set.Teams {
		if (team == "" || t.Name == team) && slices.Contains(t.Admins, user) {
			return true
		}
	}
	return false
}

// owningTeams lists the teams (with "" for none) that own objs, as they
// are now and as they would be: moving an object between teams needs both.
func owningTeams(cur, objs *manifest.Set) []string {
	var teams []string
	add := func(t string) {
		if !slices.Contains(teams, t) {
			teams = append(teams, t)
		}
	}
	serviceTeam := func(set *manifest.Set, name string) (string, bool) {
		for _, s := range set.Services {
			if s.Name == name {
				return s.Team, true
			}
		}
		return "", false
	}
	for _, s := range objs.Schedules {
		add(s.Team)
		for _, c := range cur.Schedules {
			if c.Name == s.Name {
				add(c.Team)
			}
		}
	}
	for _, p := range objs.Policies {
		add(p.Team)
		for _, c := range cur.Policies {
			if c.Name == p.Name {
				add(c.Team)
			}
		}
	}
	for _, s := range objs.Services {
		add(s.Team)
		if t, ok := serviceTeam(cur, s.Name); ok {
			add(t)
		}
	}
	for _, r := range objs.AlertRules {
		t, ok := serviceTeam(objs, r.Service)
		if !ok {
			t, _ = serviceTeam(cur, r.Service)
		}
		add(t)
		for _, c := range cur.AlertRules {
			if c.Name == r.Name {
				t, _ := serviceTeam(cur, c.Service)
				add(t)
			}
		}
	}
	// Users belong to no team: contact.go lets a user change only their own
	// contact methods and notification rules, so users add no team here.
	return teams
}
