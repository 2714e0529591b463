package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// /oncall override [schedule] and the Override button: a modal that puts
// someone on call over a schedule for a while, prefilled as "cover me now
// for 4 hours". Anyone may put themselves in; putting someone else in
// takes an admin of the schedule's team. The override is saved into the
// schedule's configuration (so `oncall export` shows it) with the audit
// log's actor the Slack user.

const (
	ovrCallback    = "override"
	ovrDefaultFor  = "4h"
	ovrMaxLength   = 90 * 24 * time.Hour // longer is a schedule change
	ovrMaxUserOpts = 100
)

// ovrMeta is the override modal's private metadata.
type ovrMeta struct {
	Channel string `json:"c,omitempty"`
	Zone    string `json:"z,omitempty"` // the asker's zone: times are read in it
}

func (b *Bot) cmdOverride(ctx context.Context, r *request) error {
	if len(r.args) > 1 {
		return b.replyUsage(ctx, r, "Name at most one schedule.")
	}
	name := ""
	if len(r.args) == 1 {
		name = r.args[0]
	}
	return b.openOverride(ctx, r.cmd.TriggerID, r.cmd.ChannelID, r.cmd.UserID, r.user, name, func(text string) error {
		return b.replyText(ctx, r.cmd.ResponseURL, text)
	})
}

// overrideAction handles the Override button of a schedule view.
func (b *Bot) overrideAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	if a.ActionID != actionOverrideOpen {
		return nil
	}
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	say := func(text string) error {
		if cb.ResponseURL != "" {
			return b.replyText(ctx, cb.ResponseURL, text)
		}
		b.ephemeral(ctx, channel, cb.User.ID, text)
		return nil
	}
	user, err := b.user(ctx, cb.User.ID)
	if err != nil {
		return say(b.userError(err))
	}
	return b.openOverride(ctx, cb.TriggerID, channel, cb.User.ID, user, a.Value, say)
}

// openOverride opens the modal over the schedule called name (""
// chooses one of user's).
func (b *Bot) openOverride(ctx context.Context, triggerID, channel, slackUser, user, name string, say func(string) error) error {
	set, err := b.config(ctx)
	if err != nil {
		return say(b.userError(err))
	}
	if len(set.Schedules) == 0 {
		return say("There are no schedules yet: create one with `/oncall schedule new`.")
	}
	var sc *manifest.Schedule
	if name != "" {
		if sc = findNamed(set.Schedules, name, func(x *manifest.Schedule) string { return x.Name }); sc == nil {
			return say(fmt.Sprintf("I know no schedule called `%s`%s. %s", kit.esc(name), schedDidYouMean(set, name), schedNames(set)))
		}
	} else {
		sc = ovrScheduleOf(set, user)
	}
	loc := b.location(ctx, slackUser, user)
	_, err = b.api.OpenViewContext(ctx, triggerID, ovrModal(set, sc.Name, user, ovrMeta{Channel: channel, Zone: loc.String()}))
	return err
}

// ovrScheduleOf is the first schedule user rotates in, else the first.
func ovrScheduleOf(set *manifest.Set, user string) *manifest.Schedule {
	for _, sc := range set.Schedules {
		for _, l := range sc.Layers {
			if slices.Contains(l.Members, user) {
				return sc
			}
		}
	}
	return set.Schedules[0]
}

// ovrModal is the override form: schedule, who, from, until.
func ovrModal(set *manifest.Set, scheduleName, who string, meta ovrMeta) slack.ModalViewRequest {
	var scheds []*slack.OptionBlockObject
	for _, sc := range set.Schedules {
		if len(scheds) < cfgMaxOptions {
			scheds = append(scheds, cfgOption(sc.Name, ""))
		}
	}
	var whoEl slack.BlockElement
	if len(set.Users) <= ovrMaxUserOpts {
		var users []*slack.OptionBlockObject
		for _, u := range set.Users {
			text := u.Name
			if u.FullName != "" {
				text += " (" + u.FullName + ")"
			}
			users = append(users, cfgOption(u.Name, text))
		}
		whoEl = cfgSelect("Who", who, users...)
	} else {
		el := slack.NewPlainTextInputBlockElement(cfgPlain("user name"), cfgAction)
		el.InitialValue = who
		whoEl = el
	}
	blocks := []slack.Block{
		slack.NewContextBlock("", cfgMrkdwn(fmt.Sprintf("Put someone on call over a schedule for a while: they get its pages instead. Times in %s.", cfgEsc(meta.Zone)))),
		cfgInput("schedule", "Schedule", "", cfgSelect("Schedule", scheduleName, scheds...), false),
		cfgInput("who", "Who", "You may put yourself on call; someone else takes an admin of the schedule's team.", whoEl, false),
		cfgTextInput("from", "From", "now", "now", "now, or a date and time like 2026-12-03 09:00 (or 18:00 for today).", false, false),
		cfgTextInput("until", "Until", ovrDefaultFor, "4h", "A length from the start (4h, 1d), or a date and time like 2026-12-03 13:00.", false, false),
	}
	mb, _ := json.Marshal(meta)
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      ovrCallback,
		Title:           cfgPlain("Override"),
		Submit:          cfgPlain("Save"),
		Close:           cfgPlain("Cancel"),
		PrivateMetadata: string(mb),
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

// overrideSubmit checks and saves an override.
func (b *Bot) overrideSubmit(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	if cb.View.CallbackID != ovrCallback {
		return nil, nil
	}
	var meta ovrMeta
	_ = json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta) // garbage reads as empty
	loc, err := time.LoadLocation(meta.Zone)
	if err != nil || meta.Zone == "" {
		loc = time.UTC
	}
	user, err := b.user(ctx, cb.User.ID)
	if err != nil {
		return nil, err
	}
	cur, err := b.config(ctx)
	if err != nil {
		return nil, err
	}
	in := cfgForm{v: &cb.View}
	errs := cfgErrors{}
	now := b.clock.Now()

	name := strings.TrimSpace(in.value("schedule"))
	sc := findNamed(cur.Schedules, name, func(x *manifest.Schedule) string { return x.Name })
	if sc == nil {
		errs.add("schedule", "There is no schedule called %s.", name)
	}
	who := strings.TrimSpace(in.value("who"))
	var users []string
	for _, u := range cur.Users {
		users = append(users, u.Name)
	}
	if !slices.Contains(users, who) {
		errs.add("who", "There is no user called %s%s.", who, cfgDidYouMean(who, users))
	}
	from, err := ovrParseTime(in.value("from"), now, loc, true)
	if err != nil {
		errs.add("from", "%s.", upperFirst(err.Error()))
	}
	until, err := ovrParseUntil(in.value("until"), from, now, loc)
	if err != nil {
		errs.add("until", "%s.", upperFirst(err.Error()))
	}
	if len(errs) == 0 {
		switch {
		case !until.After(from):
			errs.add("until", "The override must end after it starts.")
		case !until.After(now):
			errs.add("until", "This override would be over already.")
		case until.Sub(from) > ovrMaxLength:
			errs.add("until", "An override may last at most %d days; for longer, change the schedule.", int(ovrMaxLength/oncall.Day))
		}
	}
	if len(errs) == 0 && who != user && !administers(cur, user, sc.Team) {
		if sc.Team == "" {
			errs.add("who", "Only a team admin may put someone else on call; you may put yourself on call.")
		} else {
			errs.add("who", "Only an admin of team %s may put someone else on call; you may put yourself on call.", sc.Team)
		}
	}
	if len(errs) > 0 {
		return errs.response(), nil
	}

	_, err = b.changeLocked(ctx, user, func(cur *manifest.Set) (*manifest.Set, error) {
		sc := findNamed(cur.Schedules, sc.Name, func(x *manifest.Schedule) string { return x.Name })
		if sc == nil {
			return nil, oncall.ErrNotFound
		}
		// Anyone may put themselves in; someone else, only an admin.
		if who != user && !administers(cur, user, sc.Team) {
			return nil, fmt.Errorf("%w: only an admin of team %s may put someone else on call", oncall.ErrForbidden, sc.Team)
		}
		next := *sc
		next.Overrides = append(slices.Clone(sc.Overrides), manifest.Override{User: who, Start: from.UTC(), End: until.UTC()})
		return &manifest.Set{Schedules: []*manifest.Schedule{&next}}, nil
	})
	if err != nil {
		msg, ok := b.cfgApplyError(err)
		if !ok {
			return nil, err
		}
		errs.add("schedule", "%s", msg)
		return errs.response(), nil
	}
	c := clock{now: now, loc: loc}
	text := fmt.Sprintf("Override saved: %s is on call for *%s* %s (%s).", peopleOf(cur).show(who), kit.esc(sc.Name), c.span(from, until), loc)
	if meta.Channel != "" {
		b.work(ctx, "confirm override", func(ctx context.Context) error {
			b.ephemeral(ctx, meta.Channel, cb.User.ID, text)
			return nil
		})
	}
	return nil, nil
}

var errOvrTime = errors.New("write now, or a date and time like 2026-12-03 09:00 (or 18:00 for today)")

// ovrParseTime reads "now" (when allowNow; to the minute), "18:00"
// (today), or a local date and time, in loc.
func ovrParseTime(s string, now time.Time, loc *time.Location, allowNow bool) (time.Time, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if allowNow && (s == "now" || s == "") {
		return now.Truncate(time.Minute), nil
	}
	if len(s) == 5 && s[2] == ':' {
		s = schedule.DateOf(now, loc).String() + "T" + s
	}
	c, err := schedule.ParseCivil(strings.ToUpper(schedLocal(s)))
	if err != nil {
		return time.Time{}, errOvrTime
	}
	return c.In(loc), nil
}

// ovrParseUntil reads a length after from ("4h") or an end time.
func ovrParseUntil(s string, from, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := oncall.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, errors.New("the override must last a while, e.g. 4h")
		}
		return from.Add(d), nil
	}
	t, err := ovrParseTime(s, now, loc, false)
	if err != nil {
		return time.Time{}, errors.New("write a length like 4h or 1d, or a date and time like 2026-12-03 13:00")
	}
	return t, nil
}
