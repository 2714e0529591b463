package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slack-go/slack"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
)

// /oncall schedule [name [week|month|edit]] and /oncall schedule new:
// without a name, the schedules with who is on call in each; with one, a
// day-by-day table of its final shifts (the one resolver) in the asker's
// zone, with Edit and Override buttons. The edit modal lives in
// scheduleform.go, its preview in schedulepreview.go.

// Action IDs of the schedule surfaces (routed by the "schedule_" prefix).
const (
	actionScheduleView     = "schedule_view"
	actionScheduleEdit     = "schedule_edit"
	actionScheduleNew      = "schedule_new"
	actionScheduleAddLayer = "schedule_addlayer"
	actionScheduleRmLayer  = "schedule_rmlayer"
	actionOverrideOpen     = "override_open"
)

// Days the schedule table shows.
const (
	schedWeekDays  = 7
	schedMonthDays = 28
)

func (b *Bot) cmdSchedule(ctx context.Context, r *request) error {
	if len(r.args) == 0 {
		snap, err := b.snapshot(ctx)
		if err != nil {
			return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
		}
		c := clock{now: b.clock.Now(), loc: b.location(ctx, r.cmd.UserID, r.user)}
		return b.replyBlocks(ctx, r.cmd.ResponseURL, "Schedules", schedListBlocks(snap, c))
	}
	if len(r.args) > 2 {
		return b.replyUsage(ctx, r, "")
	}
	name := r.args[0]
	if strings.EqualFold(name, "new") && len(r.args) == 1 {
		return b.newSchedule(ctx, r.cmd.TriggerID, r.cmd.ChannelID, r.cmd.UserID, r.user, func(text string) error {
			return b.replyText(ctx, r.cmd.ResponseURL, text)
		})
	}
	days := schedWeekDays
	if len(r.args) == 2 {
		switch strings.ToLower(r.args[1]) {
		case "week":
		case "month":
			days = schedMonthDays
		case "edit":
			return b.editSchedule(ctx, r.cmd.TriggerID, r.cmd.ChannelID, r.cmd.UserID, r.user, name, func(text string) error {
				return b.replyText(ctx, r.cmd.ResponseURL, text)
			})
		default:
			return b.replyUsage(ctx, r, fmt.Sprintf("After the schedule's name I understand `week`, `month` or `edit`, not `%s`.", kit.esc(r.args[1])))
		}
	}
	return b.showSchedule(ctx, r.cmd.ResponseURL, r.cmd.UserID, r.user, name, days)
}

// showSchedule answers with the table of one schedule.
func (b *Bot) showSchedule(ctx context.Context, responseURL, slackUser, user, name string, days int) error {
	snap, err := b.snapshot(ctx)
	if err != nil {
		return b.replyText(ctx, responseURL, b.userError(err))
	}
	sc := findNamed(snap.set.Schedules, name, func(x *manifest.Schedule) string { return x.Name })
	if sc == nil {
		return b.replyText(ctx, responseURL, fmt.Sprintf("I know no schedule called `%s`%s. %s\n%s",
			kit.esc(name), schedDidYouMean(snap.set, name), schedNames(snap.set), b.usage("schedule")))
	}
	c := clock{now: b.clock.Now(), loc: b.location(ctx, slackUser, user)}
	return b.replyBlocks(ctx, responseURL, "Schedule "+sc.Name, schedViewBlocks(sc, snap.resolvers[sc.Name], peopleOf(snap.set), c, days))
}

// editSchedule opens the edit modal of a schedule for an admin of its
// team; anyone else is told why not (through refuse).
func (b *Bot) editSchedule(ctx context.Context, triggerID, channel, slackUser, user, name string, refuse func(string) error) error {
	set, err := b.config(ctx)
	if err != nil {
		return refuse(b.userError(err))
	}
	sc := findNamed(set.Schedules, name, func(x *manifest.Schedule) string { return x.Name })
	if sc == nil {
		return refuse(fmt.Sprintf("I know no schedule called `%s`%s. %s", kit.esc(name), schedDidYouMean(set, name), schedNames(set)))
	}
	if err := schedMayChange(set, user, &manifest.Set{Schedules: []*manifest.Schedule{sc}}); err != nil {
		msg, _ := b.cfgApplyError(err)
		return refuse(msg + " You may still put yourself on call with `/oncall override " + sc.Name + "`.")
	}
	if len(sc.Layers) > schedMaxLayer {
		return refuse(fmt.Sprintf("Schedule %s has %d layers, more than Slack's form holds (%d): change it with `oncall apply`.",
			kit.esc(sc.Name), len(sc.Layers), schedMaxLayer))
	}
	return b.openScheduleEditor(ctx, triggerID, channel, slackUser, user, sc.Name)
}

// newSchedule opens the modal of a new schedule for a team admin.
func (b *Bot) newSchedule(ctx context.Context, triggerID, channel, slackUser, user string, refuse func(string) error) error {
	set, err := b.config(ctx)
	if err != nil {
		return refuse(b.userError(err))
	}
	if !administers(set, user, "") {
		return refuse("Only a team admin may create a schedule. You may put yourself on call with `/oncall override`.")
	}
	return b.openScheduleEditor(ctx, triggerID, channel, slackUser, user, "")
}

// scheduleAction handles the buttons of the schedule list, the schedule
// view and the edit modal.
func (b *Bot) scheduleAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	switch a.ActionID {
	case actionScheduleAddLayer, actionScheduleRmLayer:
		return b.scheduleFormAction(ctx, cb, a)
	}
	user, err := b.user(ctx, cb.User.ID)
	if errors.Is(err, errNotOurs) && a.ActionID == actionScheduleView {
		user, err = "", nil
	}
	if err != nil {
		b.ephemeral(ctx, channel, cb.User.ID, b.userError(err))
		return nil
	}
	say := func(text string) error {
		if cb.ResponseURL != "" {
			return b.replyText(ctx, cb.ResponseURL, text)
		}
		b.ephemeral(ctx, channel, cb.User.ID, text)
		return nil
	}
	switch a.ActionID {
	case actionScheduleView:
		if cb.ResponseURL == "" {
			return nil
		}
		return b.showSchedule(ctx, cb.ResponseURL, cb.User.ID, user, a.Value, schedWeekDays)
	case actionScheduleEdit:
		return b.editSchedule(ctx, cb.TriggerID, channel, cb.User.ID, user, a.Value, say)
	case actionScheduleNew:
		return b.newSchedule(ctx, cb.TriggerID, channel, cb.User.ID, user, say)
	}
	return nil
}

// schedMayChange is change.go's rule for objs: actor must administer each
// owning team. It lets a modal refuse before its preview, with the words
// b.change would use.
func schedMayChange(cur *manifest.Set, actor string, objs *manifest.Set) error {
	teams := owningTeams(cur, objs)
	slices.SortStableFunc(teams, func(a, b string) int { // "" last: a named team's refusal says more
		switch {
		case a == b:
			return 0
		case a == "":
			return 1
		case b == "":
			return -1
		}
		return 0
	})
	for _, team := range teams {
		if administers(cur, actor, team) {
			continue
		}
		if team == "" {
			return fmt.Errorf("%w: only a team admin may change a schedule without a team", oncall.ErrForbidden)
		}
		return fmt.Errorf("%w: only an admin of team %s may change this schedule", oncall.ErrForbidden, team)
	}
	return nil
}

// changeLocked is a read-modify-write of the configuration in one
// transaction, under apply's lock: build gets the configuration as it is
// and returns the objects to apply (whole), checking permissions against
// that same configuration, so nothing applied meanwhile is lost or
// overlooked.
func (b *Bot) changeLocked(ctx context.Context, actor string, build func(cur *manifest.Set) (*manifest.Set, error)) (*store.Plan, error) {
	var plan *store.Plan
	err := pgx.BeginFunc(ctx, b.db, func(tx pgx.Tx) error {
		if err := store.LockConfig(ctx, tx); err != nil {
			return err
		}
		cur, err := store.LoadConfig(ctx, tx)
		if err != nil {
			return err
		}
		objs, err := build(cur)
		if err != nil {
			return err
		}
		plan, err = store.ApplyConfig(ctx, tx, objs, store.ApplyOptions{Now: b.clock.Now(), Actor: "slack:" + actor})
		return err
	})
	if err == nil {
		b.replanHandoffs(ctx)
	}
	return plan, err
}

// schedDidYouMean is ` (did you mean "x"?)` for a likely typo of a
// schedule's name, else "".
func schedDidYouMean(set *manifest.Set, name string) string {
	var names []string
	for _, s := range set.Schedules {
		names = append(names, s.Name)
	}
	return kit.esc(cfgDidYouMean(name, names))
}

// schedNames lists the schedules, for a reply to a mistake.
func schedNames(set *manifest.Set) string {
	if len(set.Schedules) == 0 {
		return "There are no schedules yet: create one with `/oncall schedule new`."
	}
	var names []string
	for _, s := range set.Schedules {
		names = append(names, s.Name)
	}
	if len(names) > 30 {
		names = append(names[:30:30], "…")
	}
	return "Schedules: " + strings.Join(names, ", ") + "."
}

// ---- rendering

// schedListBlocks lists the schedules, who is on call in each, with a
// View button; those past Slack's 50 blocks are counted.
func schedListBlocks(snap *snapshot, c clock) []slack.Block {
	pp := peopleOf(snap.set)
	blocks := []slack.Block{kit.header("Schedules")}
	tail := []slack.Block{
		slack.NewActionBlock("schedule_list", kit.button(actionScheduleNew, "", "New schedule")),
		kit.context(c.zoneNote() + " · `/oncall schedule <name>` shows one."),
	}
	if len(snap.set.Schedules) == 0 {
		blocks = append(blocks, kit.section("There are no schedules yet."))
		return append(blocks, tail...)
	}
	list := snap.set.Schedules
	room := maxMessageBlocks - len(blocks) - len(tail)
	if len(list) > room {
		list = list[:room-1]
		tail = append([]slack.Block{kit.context(fmt.Sprintf("…and %d more: ask `/oncall schedule <name>`.", len(snap.set.Schedules)-len(list)))}, tail...)
	}
	for _, sc := range list {
		lines := []string{"*" + kit.esc(sc.Name) + "*" + schedFacts(sc)}
		r := snap.resolvers[sc.Name]
		switch sh, ok := r.Current(c.now); {
		case r == nil:
			lines = append(lines, ":warning: This schedule cannot be resolved; check its configuration.")
		case ok:
			lines = append(lines, fmt.Sprintf(":large_green_circle: %s until %s", pp.show(sh.User), c.at(sh.End)))
		default:
			lines = append(lines, ":white_circle: Nobody is on call now")
		}
		blocks = append(blocks, slack.NewSectionBlock(kit.md(strings.Join(lines, "\n")), nil,
			slack.NewAccessory(kit.button(actionScheduleView, sc.Name, "View"))))
	}
	return append(blocks, tail...)
}

// schedFacts is "  ·  team payments  ·  America/New_York  ·  holidays us".
func schedFacts(sc *manifest.Schedule) string {
	var parts []string
	if sc.Team != "" {
		parts = append(parts, "team "+kit.esc(sc.Team))
	}
	parts = append(parts, kit.esc(sc.TimeZone))
	if len(sc.Holidays) > 0 {
		parts = append(parts, "holidays "+kit.esc(strings.Join(sc.Holidays, ", ")))
	}
	return "  ·  " + strings.Join(parts, "  ·  ")
}

// schedViewBlocks shows one schedule: its facts, who is on call now, its
// layers, its coming overrides, a table of the next days' final shifts
// (from the start of today in the reader's zone) and the Edit, Override
// and Ask for cover buttons.
func schedViewBlocks(sc *manifest.Schedule, r *schedule.Schedule, pp people, c clock, days int) []slack.Block {
	blocks := []slack.Block{kit.header("Schedule " + sc.Name)}
	lines := []string{strings.TrimPrefix(schedFacts(sc), "  ·  ")}
	if r == nil {
		lines = append(lines, ":warning: This schedule cannot be resolved; check its configuration.")
	} else if sh, ok := r.Current(c.now); ok {
		lines = append(lines, fmt.Sprintf(":large_green_circle: On call now: %s until %s (%s)", pp.show(sh.User), c.at(sh.End), c.rel(sh.End)))
	} else {
		lines = append(lines, ":white_circle: Nobody is on call now")
	}
	blocks = append(blocks, kit.section(strings.Join(lines, "\n")))
	var layers []string
	for _, l := range sc.Layers {
		layers = append(layers, schedLayerText(sc, l, pp))
	}
	if len(layers) > 0 {
		layers[0] = "*Layers* (the last with someone on call wins)\n" + layers[0]
	}
	if ovs := schedComingOverrides(sc, c.now); len(ovs) > 0 {
		lines := []string{"*Overrides*"}
		for i, o := range ovs {
			if i == schedMaxOverrides {
				lines = append(lines, fmt.Sprintf("…and %d more", len(ovs)-i))
				break
			}
			lines = append(lines, fmt.Sprintf("• %s  %s", c.span(o.Start, o.End), pp.show(o.User)))
		}
		layers = append(layers, strings.Join(lines, "\n"))
	}
	if len(layers) > 0 {
		blocks = append(blocks, kit.lines(layers)...)
	}
	blocks = append(blocks, slack.NewDividerBlock())
	if r != nil {
		from := schedDayStart(c.now, c.loc)
		table := schedTable(r, pp, from, days, c.loc)
		table[0] = fmt.Sprintf("*The next %d days*\n%s", days, table[0])
		blocks = append(blocks, kit.lines(table)...)
	}
	actions := slack.NewActionBlock("schedule_buttons",
		kit.button(actionScheduleEdit, sc.Name, "Edit"),
		kit.button(actionOverrideOpen, sc.Name, "Override"),
		kit.button(actionCoverOpen, sc.Name, "Ask for cover"))
	note := kit.context(c.zoneNote() + " · `/oncall schedule " + kit.esc(sc.Name) + " month` shows 4 weeks.")
	if len(blocks) > maxMessageBlocks-2 {
		blocks = blocks[:maxMessageBlocks-2]
	}
	return append(blocks, actions, note)
}

// schedMaxOverrides is how many coming overrides a view lists.
const schedMaxOverrides = 10

// schedComingOverrides lists the overrides that have not ended, by start.
func schedComingOverrides(sc *manifest.Schedule, now time.Time) []manifest.Override {
	var out []manifest.Override
	for _, o := range sc.Overrides {
		if o.End.After(now) {
			out = append(out, o)
		}
	}
	slices.SortStableFunc(out, func(a, b manifest.Override) int { return a.Start.Compare(b.Start) })
	return out
}

// schedLayerText is one layer in a line: who, how it rotates, when.
func schedLayerText(sc *manifest.Schedule, l manifest.Layer, pp people) string {
	var members []string
	for _, m := range l.Members {
		members = append(members, pp.show(m))
	}
	tz := l.TimeZone
	if tz == "" {
		tz = sc.TimeZone
	}
	parts := []string{
		"• *" + kit.esc(l.Name) + "*: " + strings.Join(members, ", "),
		"every " + schedFormatShift(l.Shift) + " from " + schedFormatCivil(l.Start) + " " + kit.esc(tz),
	}
	if len(l.Restrict) > 0 {
		var ws []string
		for _, w := range l.Restrict {
			ws = append(ws, schedFormatWindow(w))
		}
		parts = append(parts, "only "+strings.Join(ws, "; "))
	}
	switch l.OnHolidays {
	case manifest.OnHolidaysSkip:
		parts = append(parts, "not on holidays")
	case manifest.OnHolidaysOnly:
		parts = append(parts, "only on holidays")
	}
	if l.End != nil {
		if loc, err := time.LoadLocation(tz); err == nil {
			parts = append(parts, "until "+schedFormatCivil(schedule.CivilOf(*l.End, loc)))
		}
	}
	return strings.Join(parts, " · ")
}

// schedDayStart is the start of t's day in loc.
func schedDayStart(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// schedTable is one line per local day from from: the final shifts that
// day, with the times nobody is on call.
func schedTable(r *schedule.Schedule, pp people, from time.Time, days int, loc *time.Location) []string {
	to := from.AddDate(0, 0, days)
	shifts := r.Shifts(from, to)
	var out []string
	for d := 0; d < days; d++ {
		start := from.AddDate(0, 0, d)
		end := from.AddDate(0, 0, d+1)
		var cells []string
		at := start
		hm := func(t time.Time) string {
			if !t.Before(end) {
				return "24:00"
			}
			return t.In(loc).Format("15:04")
		}
		for _, sh := range shifts {
			if !sh.End.After(start) || !sh.Start.Before(end) {
				continue
			}
			s, e := maxT(sh.Start, start), minT(sh.End, end)
			if at.Before(s) {
				cells = append(cells, hm(at)+"–"+hm(s)+" _nobody_ :warning:")
			}
			if s.Equal(start) && e.Equal(end) {
				cells = append(cells, "all day "+pp.show(sh.User))
			} else {
				cells = append(cells, hm(s)+"–"+hm(e)+" "+pp.show(sh.User))
			}
			at = e
		}
		switch {
		case at.Equal(start):
			cells = append(cells, "_nobody on call_ :warning:")
		case at.Before(end):
			cells = append(cells, hm(at)+"–24:00 _nobody_ :warning:")
		}
		out = append(out, "`"+start.In(loc).Format("Mon _2 Jan")+"`  "+strings.Join(cells, "  ·  "))
	}
	return out
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ---- the manifest's values as the forms write them

// schedFormatShift writes a shift length as the manifest reads it: "1w",
// "3d", "12h", "1h30m".
func schedFormatShift(l schedule.Length) string {
	if l.Days > 0 {
		if l.Days%7 == 0 {
			return strconv.Itoa(l.Days/7) + "w"
		}
		return strconv.Itoa(l.Days) + "d"
	}
	d := l.Elapsed
	if d < time.Hour {
		return oncall.FormatDuration(d)
	}
	s := strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	if rest := d % time.Hour; rest > 0 {
		s += oncall.FormatDuration(rest)
	}
	return s
}

// schedFormatCivil writes a local time as "2026-11-02 09:00" (the forms
// read it back, with a space or a T).
func schedFormatCivil(c schedule.Civil) string {
	return strings.Replace(c.String(), "T", " ", 1)
}

var schedDays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// schedFormatWindow writes a window as "mon-fri 09:00-17:00" (days as
// ranges; none when every day).
func schedFormatWindow(w manifest.Window) string {
	days := schedFormatDays(w.Days)
	if days == "" {
		return w.From + "-" + w.To
	}
	return days + " " + w.From + "-" + w.To
}

// schedFormatDays writes days as comma-separated ranges, "" for all or
// none.
func schedFormatDays(days []string) string {
	on := make([]bool, 7)
	n := 0
	for _, d := range days {
		if i := slices.Index(schedDays, strings.ToLower(d)); i >= 0 && !on[i] {
			on[i] = true
			n++
		}
	}
	if n == 0 || n == 7 {
		return ""
	}
	var parts []string
	for i := 0; i < 7; i++ {
		if !on[i] {
			continue
		}
		j := i
		for j+1 < 7 && on[j+1] {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, schedDays[i])
		case j == i+1:
			parts = append(parts, schedDays[i], schedDays[j])
		default:
			parts = append(parts, schedDays[i]+"-"+schedDays[j])
		}
		i = j
	}
	return strings.Join(parts, ",")
}
