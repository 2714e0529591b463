package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// /oncall who [schedule|service|team]: who is on call now and who is next,
// in every schedule, in one, in those a service's escalation policy pages
// (step by step, with the users, teams and channels it pages besides), or
// in a team's. Times are in the asker's zone.

func (b *Bot) cmdWho(ctx context.Context, r *request) error {
	if len(r.args) > 1 {
		return b.replyUsage(ctx, r, "Name one schedule, service or team.")
	}
	snap, err := b.snapshot(ctx)
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	c := clock{now: b.clock.Now(), loc: b.location(ctx, r.cmd.UserID, r.user)}
	name := ""
	if len(r.args) == 1 {
		name = strings.TrimPrefix(r.args[0], "#")
	}
	rep, ok := snap.who(name, c)
	if !ok {
		return b.replyUsage(ctx, r, fmt.Sprintf("I know no schedule, service or team called `%s`. %s", kit.esc(name), snap.names()))
	}
	return b.replyBlocks(ctx, r.cmd.ResponseURL, rep.title, whoBlocks(rep, peopleOf(snap.set), c))
}

// whoReport is what /oncall who shows.
type whoReport struct {
	title string
	intro string   // mrkdwn under the header, optional
	rows  []whoRow // schedules
	other []string // mrkdwn lines: a policy's targets that are not schedules
	empty string   // shown when there is nothing else
}

// whoRow is one schedule: who is on call now and next.
type whoRow struct {
	schedule string
	team     string
	step     int // the policy step that pages it (0: not from a policy)
	now      *schedule.Shift
	next     *schedule.Shift
	broken   bool // the schedule cannot be resolved
}

// who builds the report for name ("" for every schedule), looked for as a
// schedule, then a service, then a team; ok is false when it is none.
func (s *snapshot) who(name string, c clock) (whoReport, bool) {
	set := s.set
	if name == "" {
		rep := whoReport{title: "Who is on call", empty: "There are no schedules yet."}
		for _, sc := range set.Schedules {
			rep.rows = append(rep.rows, s.whoRow(sc, 0, c))
		}
		return rep, true
	}
	if sc := findNamed(set.Schedules, name, func(x *manifest.Schedule) string { return x.Name }); sc != nil {
		return whoReport{title: "Who is on call: " + sc.Name, rows: []whoRow{s.whoRow(sc, 0, c)}}, true
	}
	if svc := findNamed(set.Services, name, func(x *manifest.Service) string { return x.Name }); svc != nil {
		rep := whoReport{title: "Who is on call for " + svc.Name}
		p := findNamed(set.Policies, svc.EscalationPolicy, func(x *manifest.EscalationPolicy) string { return x.Name })
		if p == nil {
			rep.empty = fmt.Sprintf("Service *%s* has no escalation policy.", kit.esc(svc.Name))
			return rep, true
		}
		rep.intro = fmt.Sprintf("Service *%s* pages escalation policy *%s*.", kit.esc(svc.Name), kit.esc(p.Name))
		s.policyRows(&rep, p, c)
		return rep, true
	}
	if t := findNamed(set.Teams, name, func(x *manifest.Team) string { return x.Name }); t != nil {
		rep := whoReport{title: "Who is on call for team " + t.Name, empty: fmt.Sprintf("Team *%s* has no schedules.", kit.esc(t.Name))}
		var names []string
		for _, sc := range set.Schedules {
			if sc.Team == t.Name {
				names = append(names, sc.Name)
			}
		}
		for _, p := range set.Policies {
			if p.Team != t.Name {
				continue
			}
			for _, st := range p.Steps {
				for _, tg := range st.Targets {
					if tg.Type == manifest.TargetSchedule && !slices.Contains(names, tg.Ref) {
						names = append(names, tg.Ref)
					}
				}
			}
		}
		for _, n := range names {
			if sc := findNamed(set.Schedules, n, func(x *manifest.Schedule) string { return x.Name }); sc != nil {
				rep.rows = append(rep.rows, s.whoRow(sc, 0, c))
			}
		}
		return rep, true
	}
	return whoReport{}, false
}

// policyRows adds a policy's targets, step by step.
func (s *snapshot) policyRows(rep *whoReport, p *manifest.EscalationPolicy, c clock) {
	seen := map[string]bool{}
	pp := peopleOf(s.set)
	for i, st := range p.Steps {
		var others []string
		for _, tg := range st.Targets {
			switch tg.Type {
			case manifest.TargetSchedule:
				if seen[tg.Ref] {
					continue
				}
				seen[tg.Ref] = true
				if sc := findNamed(s.set.Schedules, tg.Ref, func(x *manifest.Schedule) string { return x.Name }); sc != nil {
					rep.rows = append(rep.rows, s.whoRow(sc, i+1, c))
				}
			case manifest.TargetUser:
				others = append(others, pp.show(tg.Ref))
			case manifest.TargetTeam:
				others = append(others, "team *"+kit.esc(tg.Ref)+"*")
			case manifest.TargetSlackChannel:
				others = append(others, channelRef(tg.Ref))
			}
		}
		if len(others) > 0 {
			rep.other = append(rep.other, fmt.Sprintf("Step %d also pages %s", i+1, strings.Join(others, ", ")))
		}
	}
}

func (s *snapshot) whoRow(sc *manifest.Schedule, step int, c clock) whoRow {
	row := whoRow{schedule: sc.Name, team: sc.Team, step: step}
	r := s.resolvers[sc.Name]
	if r == nil {
		row.broken = true
		return row
	}
	if sh, ok := r.Current(c.now); ok {
		row.now = &sh
	}
	if sh, ok := r.Next(c.now); ok {
		row.next = &sh
	}
	return row
}

// names lists what /oncall who knows, for a reply to a mistake.
func (s *snapshot) names() string {
	var parts []string
	add := func(kind string, names []string) {
		if len(names) > 0 {
			if len(names) > 20 {
				names = append(names[:20:20], "…")
			}
			parts = append(parts, kind+": "+strings.Join(names, ", "))
		}
	}
	var sch, svc, teams []string
	for _, x := range s.set.Schedules {
		sch = append(sch, x.Name)
	}
	for _, x := range s.set.Services {
		svc = append(svc, x.Name)
	}
	for _, x := range s.set.Teams {
		teams = append(teams, x.Name)
	}
	add("Schedules", sch)
	add("services", svc)
	add("teams", teams)
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + "."
}

// findNamed finds the object called name, exactly or else ignoring case.
func findNamed[T any](list []T, name string, nameOf func(T) string) T {
	var zero T
	for _, x := range list {
		if nameOf(x) == name {
			return x
		}
	}
	for _, x := range list {
		if strings.EqualFold(nameOf(x), name) {
			return x
		}
	}
	return zero
}

// channelRef shows a Slack channel target: an ID as a link, a #name as is.
func channelRef(ref string) string {
	if strings.HasPrefix(ref, "#") {
		return kit.esc(ref)
	}
	return "<#" + ref + ">"
}

// whoBlocks renders a who report: a header, the intro, one section per
// schedule, the policy's other targets, and the zone. Schedules past
// Slack's 50 blocks are counted, not shown.
func whoBlocks(rep whoReport, pp people, c clock) []slack.Block {
	blocks := []slack.Block{kit.header(rep.title)}
	if rep.intro != "" {
		blocks = append(blocks, kit.section(rep.intro))
	}
	var tail []slack.Block
	if len(rep.other) > 0 {
		tail = append(tail, kit.lines(rep.other)...)
	}
	if len(rep.rows) == 0 && len(rep.other) == 0 {
		tail = append(tail, kit.section(rep.empty))
	}
	tail = append(tail, kit.context(c.zoneNote()))
	room := maxMessageBlocks - len(blocks) - len(tail)
	rows := rep.rows
	if len(rows) > room {
		rows = rows[:room-1]
		tail = append([]slack.Block{kit.context(fmt.Sprintf("…and %d more schedules: ask `/oncall who <schedule>`.", len(rep.rows)-len(rows)))}, tail...)
	}
	for _, row := range rows {
		blocks = append(blocks, kit.section(whoRowText(row, pp, c)))
	}
	return append(blocks, tail...)
}

func whoRowText(row whoRow, pp people, c clock) string {
	title := "*" + kit.esc(row.schedule) + "*"
	if row.step > 0 {
		title = fmt.Sprintf("Step %d: %s", row.step, title)
	}
	if row.team != "" {
		title += "  ·  team " + kit.esc(row.team)
	}
	lines := []string{title}
	switch {
	case row.broken:
		lines = append(lines, ":warning: This schedule cannot be resolved; check its configuration.")
	case row.now != nil:
		lines = append(lines, fmt.Sprintf(":large_green_circle: %s until %s (%s)", pp.show(row.now.User), c.at(row.now.End), c.rel(row.now.End)))
	default:
		lines = append(lines, ":white_circle: Nobody is on call now")
	}
	switch {
	case row.broken:
	case row.next != nil:
		lines = append(lines, fmt.Sprintf("Next: %s, %s", pp.show(row.next.User), c.span(row.next.Start, row.next.End)))
	default:
		lines = append(lines, "Next: nobody is scheduled")
	}
	return strings.Join(lines, "\n")
}
