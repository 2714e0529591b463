package bot

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// Shared pieces of the read-only surfaces (who, shifts, incidents, the App
// Home) and manual paging: Block Kit helpers that respect Slack's limits,
// times in the reader's zone, and the configuration with its resolvers.
// The helpers hang off kit so their names cannot clash with other files'.

// Slack's limits (https://api.slack.com/reference/block-kit).
const (
	maxMessageBlocks = 50   // blocks in a message
	maxViewBlocks    = 100  // blocks in a modal or the App Home
	maxSectionText   = 3000 // a section's or context's text
	maxHeaderText    = 150  // a header
	maxButtonText    = 75   // a button's label
	maxOptionText    = 75   // a select option's label
	maxOptions       = 100  // options in a select
)

type blockKit struct{}

// kit holds the Block Kit helpers.
var kit blockKit

func (blockKit) plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func (blockKit) md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, kit.clip(s, maxSectionText), false, false)
}

func (blockKit) header(s string) slack.Block {
	return slack.NewHeaderBlock(kit.plain(kit.clip(kit.oneLine(s), maxHeaderText)))
}

func (blockKit) section(md string) slack.Block { return slack.NewSectionBlock(kit.md(md), nil, nil) }

func (blockKit) context(md string) slack.Block { return slack.NewContextBlock("", kit.md(md)) }

func (blockKit) button(actionID, value, text string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(actionID, value, kit.plain(kit.clip(text, maxButtonText)))
}

// esc escapes Slack's control characters &, < and > in user text.
func (blockKit) esc(s string) string { return slackutilsx.EscapeMessage(s) }

// oneLine turns line breaks and runs of spaces into one space.
func (blockKit) oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip cuts s to at most n characters, ending in "…" when it cut.
func (blockKit) clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// lines packs lines into sections of at most maxSectionText characters.
func (blockKit) lines(lines []string) []slack.Block {
	var out []slack.Block
	var cur []string
	size := 0
	for _, l := range lines {
		l = kit.clip(l, maxSectionText)
		n := utf8.RuneCountInString(l) + 1
		if size+n > maxSectionText && len(cur) > 0 {
			out = append(out, kit.section(strings.Join(cur, "\n")))
			cur, size = nil, 0
		}
		cur = append(cur, l)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, kit.section(strings.Join(cur, "\n")))
	}
	return out
}

// people shows our users: a Slack mention when we know their Slack ID,
// else their name in bold.
type people map[string]string // user name -> Slack user ID

func peopleOf(set *manifest.Set) people {
	p := people{}
	for _, u := range set.Users {
		if u.SlackID != "" {
			p[u.Name] = u.SlackID
		}
	}
	return p
}

func (p people) show(user string) string {
	if id := p[user]; id != "" {
		return "<@" + id + ">"
	}
	return "*" + kit.esc(user) + "*"
}

// ---- time, in the reader's zone

// clock is the instant a surface is rendered at and the reader's zone.
type clock struct {
	now time.Time
	loc *time.Location
}

// at is t as the reader says it: "today 17:00", "tomorrow 09:00", "Mon 30
// Nov 09:00", "Mon 4 Jan 2027 09:00".
func (c clock) at(t time.Time) string {
	t, now := t.In(c.loc), c.now.In(c.loc)
	day := func(x time.Time) time.Time { return time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, c.loc) }
	switch days := int(day(t).Sub(day(now)).Round(24*time.Hour) / (24 * time.Hour)); {
	case days == 0:
		return "today " + t.Format("15:04")
	case days == 1:
		return "tomorrow " + t.Format("15:04")
	case days == -1:
		return "yesterday " + t.Format("15:04")
	case t.Year() != now.Year():
		return t.Format("Mon 2 Jan 2006 15:04")
	}
	return t.Format("Mon 2 Jan 15:04")
}

// span is [from, to) as the reader says it: "Mon 30 Nov 09:00–17:00" on
// one day, else "Mon 30 Nov 09:00 → Mon 7 Dec 09:00".
func (c clock) span(from, to time.Time) string {
	f, t := from.In(c.loc), to.In(c.loc)
	if f.YearDay() == t.YearDay() && f.Year() == t.Year() {
		return c.at(from) + "–" + t.Format("15:04")
	}
	return c.at(from) + " → " + c.at(to)
}

// rel is how far t is from now: "in 3h 20m", "2d 4h ago", "now".
func (c clock) rel(t time.Time) string {
	d := t.Sub(c.now)
	if d > -time.Minute && d < time.Minute {
		return "now"
	}
	if d < 0 {
		return length(-d) + " ago"
	}
	return "in " + length(d)
}

// length is a rounded duration: "45m", "3h 20m", "2d 4h".
func length(d time.Duration) string {
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0 && hours > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case hours > 0 && mins > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case hours > 0:
		return fmt.Sprintf("%dh", hours)
	}
	return fmt.Sprintf("%dm", max(mins, 1))
}

// zoneNote is the closing context of a surface with times.
func (c clock) zoneNote() string { return "Times in " + c.loc.String() }

// location is the reader's time zone: Slack's for them, else our user's,
// else UTC.
func (b *Bot) location(ctx context.Context, slackUser, user string) *time.Location {
	if slackUser != "" {
		if info, err := b.api.GetUserInfoContext(ctx, slackUser); err == nil && info.TZ != "" {
			if loc, err := time.LoadLocation(info.TZ); err == nil {
				return loc
			}
		}
	}
	if user != "" {
		if u, err := b.engine.User(ctx, user); err == nil && u != nil && u.TimeZone != "" {
			if loc, err := time.LoadLocation(u.TimeZone); err == nil {
				return loc
			}
		}
	}
	return time.UTC
}

// ---- the configuration

// snapshot is the configuration with its schedules ready for the resolver.
type snapshot struct {
	set       *manifest.Set
	resolvers map[string]*schedule.Schedule // nil: cannot be resolved
}

// snapshot returns the current configuration for a view that only reads.
// It is the engine's shared snapshot (jobs.ConfigView), not a load of its
// own: a view only reads, and a load per request held a whole copy of the
// configuration per request in flight. Nothing in it may be changed.
func (b *Bot) snapshot(ctx context.Context) (*snapshot, error) {
	v, err := b.engine.ConfigView(ctx)
	if err != nil {
		return nil, err
	}
	return &snapshot{set: v.Set, resolvers: v.Resolvers}, nil
}

// userShifts is user's shifts across every schedule from now to now+d,
// whole (a shift under way starts when it started, not now).
func (s *snapshot) userShifts(user string, now time.Time, d time.Duration) []schedule.ScheduleShift {
	var list []*schedule.Schedule
	for _, sc := range s.set.Schedules {
		if r := s.resolvers[sc.Name]; r != nil {
			list = append(list, r)
		}
	}
	to := now.Add(d)
	out := schedule.UserShifts(list, user, now, to)
	for i, sh := range out {
		r := s.resolvers[sh.Schedule]
		if sh.Start.Equal(now) {
			if cur, ok := r.Current(now); ok && cur.User == user {
				out[i].Start = cur.Start
			}
		}
		if sh.End.Equal(to) {
			if cur, ok := r.Current(to.Add(-time.Nanosecond)); ok && cur.User == user {
				out[i].End = cur.End
			}
		}
	}
	return out
}

// ---- replies

// usage is the right way to run a subcommand, for a reply to a mistake.
func (b *Bot) usage(name string) string {
	c := b.commands()[name]
	return fmt.Sprintf("Usage: `/oncall %s` — %s.", c.usage, c.help)
}

// replyUsage tells the user what was wrong (problem, may be "") and how
// the subcommand is used.
func (b *Bot) replyUsage(ctx context.Context, r *request, problem string) error {
	text := b.usage(strings.ToLower(strings.Fields(r.cmd.Text + " help")[0]))
	if problem != "" {
		text = problem + "\n" + text
	}
	return b.replyText(ctx, r.cmd.ResponseURL, text)
}

// replyBlocks answers privately with blocks (text is the fallback).
func (b *Bot) replyBlocks(ctx context.Context, responseURL, text string, blocks []slack.Block) error {
	return b.reply(ctx, responseURL, &slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks}})
}
