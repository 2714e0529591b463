package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// /oncall shifts [@user]: a user's next shifts (the asker's own by
// default) across every schedule, through the one resolver, in the
// asker's zone.

// shiftsHorizon is how far ahead /oncall shifts and the App Home look.
const shiftsHorizon = 28 * 24 * time.Hour

// maxShiftLines bounds the shifts listed; the rest are counted.
const maxShiftLines = 40

func (b *Bot) cmdShifts(ctx context.Context, r *request) error {
	if len(r.args) > 1 {
		return b.replyUsage(ctx, r, "Name one user, or nobody for yourself.")
	}
	snap, err := b.snapshot(ctx)
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	who := r.user
	if len(r.args) == 1 {
		name, problem, err := b.findUser(ctx, snap.set, r.args[0])
		if err != nil {
			return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
		}
		if problem != "" {
			return b.replyUsage(ctx, r, problem)
		}
		who = name
	}
	c := clock{now: b.clock.Now(), loc: b.location(ctx, r.cmd.UserID, r.user)}
	shifts := snap.userShifts(who, c.now, shiftsHorizon)
	title := "Your next shifts"
	if who != r.user {
		title = "Next shifts of " + who
	}
	return b.replyBlocks(ctx, r.cmd.ResponseURL, title, shiftsBlocks(title, who == r.user, shifts, peopleOf(snap.set).show(who), c))
}

// findUser is our user named by arg: a Slack mention (<@U123|name>), an
// @name or a name. problem says why there is none.
func (b *Bot) findUser(ctx context.Context, set *manifest.Set, arg string) (name, problem string, err error) {
	if id, ok := mentionID(arg); ok {
		name, err := b.user(ctx, id)
		if errors.Is(err, errNotOurs) {
			return "", fmt.Sprintf("<@%s> is not a user of oncall.", id), nil
		}
		return name, "", err
	}
	arg = strings.TrimPrefix(arg, "@")
	if u := findNamed(set.Users, arg, func(x *manifest.User) string { return x.Name }); u != nil {
		return u.Name, "", nil
	}
	var names []string
	for _, u := range set.Users {
		names = append(names, u.Name)
	}
	return "", fmt.Sprintf("I know no user called `%s`%s.", kit.esc(arg), cfgDidYouMean(arg, names)), nil
}

// mentionID is the Slack user ID of a mention as Slack escapes it in a
// command's text: <@U123> or <@U123|name>.
func mentionID(s string) (string, bool) {
	s, ok := strings.CutPrefix(s, "<@")
	if !ok || !strings.HasSuffix(s, ">") {
		return "", false
	}
	id, _, _ := strings.Cut(strings.TrimSuffix(s, ">"), "|")
	return id, id != ""
}

// shiftLines is one line per shift, the one under way first marked "now".
func shiftLines(shifts []schedule.ScheduleShift, c clock) []string {
	var lines []string
	for _, sh := range shifts {
		sched := "*" + kit.esc(sh.Schedule) + "*"
		if !sh.Start.After(c.now) {
			lines = append(lines, fmt.Sprintf(":large_green_circle: Now: %s until %s (%s)", sched, c.at(sh.End), c.rel(sh.End)))
			continue
		}
		lines = append(lines, fmt.Sprintf("• %s: %s (%s)", sched, c.span(sh.Start, sh.End), length(sh.End.Sub(sh.Start))))
	}
	if len(lines) > maxShiftLines {
		n := len(lines) - maxShiftLines
		lines = append(lines[:maxShiftLines:maxShiftLines], fmt.Sprintf("…and %d more", n))
	}
	return lines
}

// shiftsBlocks renders /oncall shifts: a header, the shifts, the zone.
func shiftsBlocks(title string, own bool, shifts []schedule.ScheduleShift, shown string, c clock) []slack.Block {
	blocks := []slack.Block{kit.header(title)}
	if len(shifts) == 0 {
		who := shown + " has"
		if own {
			who = "You have"
		}
		blocks = append(blocks, kit.section(fmt.Sprintf("%s no shifts in the next %d days.", who, int(shiftsHorizon/(24*time.Hour)))))
	} else {
		if !own {
			blocks = append(blocks, kit.section(fmt.Sprintf("Shifts of %s in the next %d days:", shown, int(shiftsHorizon/(24*time.Hour)))))
		}
		blocks = append(blocks, kit.lines(shiftLines(shifts, c))...)
	}
	return append(blocks, kit.context(c.zoneNote()))
}
