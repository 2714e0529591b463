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
)

// Cover requests: "can someone take my shift Thursday 18:00-22:00?" posted
// to the team's channel with a Take it button (the Ask for cover button of
// a schedule view opens the form). The first teammate to click gets an
// override for that time; the message then says who took it. The request
// lives in the message itself (the button's value), so it needs no table:
// a click is a locked read-modify-write of the schedule, and a click that
// finds an override of someone else for exactly that time was too late.

const (
	coverCallback   = "cover"
	actionCoverOpen = "cover_open"
	actionCoverTake = "cover_take"
	coverMaxNote    = 500
)

// coverRequest is what a Take it button carries.
type coverRequest struct {
	Schedule string `json:"s"`
	From     int64  `json:"f"` // Unix seconds
	To       int64  `json:"t"`
	By       string `json:"u"` // who asked
	Zone     string `json:"z"` // the asker's zone, for the message's times
}

func (r coverRequest) encode() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// coverAction handles the Ask for cover and Take it buttons.
func (b *Bot) coverAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	user, err := b.user(ctx, cb.User.ID)
	if errors.Is(err, errNotOurs) {
		b.ephemeral(ctx, channel, cb.User.ID, notOursText(cb.User.ID))
		return nil
	}
	if err != nil {
		return err
	}
	switch a.ActionID {
	case actionCoverOpen:
		return b.openCover(ctx, cb.TriggerID, channel, cb.User.ID, user, a.Value)
	case actionCoverTake:
		var req coverRequest
		if err := json.Unmarshal([]byte(a.Value), &req); err != nil || req.Schedule == "" {
			b.log.Warn().Err(err).Msg("cover button with a bad value")
			return nil
		}
		return b.takeCover(ctx, cb, channel, user, req)
	}
	return nil
}

// openCover opens the form: the schedule, the asker's next shift in it
// (or now for 4 hours) and a note.
func (b *Bot) openCover(ctx context.Context, triggerID, channel, slackUser, user, name string) error {
	snap, err := b.snapshot(ctx)
	if err != nil {
		return err
	}
	sc := findNamed(snap.set.Schedules, name, func(x *manifest.Schedule) string { return x.Name })
	if sc == nil {
		b.ephemeral(ctx, channel, slackUser, fmt.Sprintf("I know no schedule called `%s`.", kit.esc(name)))
		return nil
	}
	loc := b.location(ctx, slackUser, user)
	now := b.clock.Now()
	from, until := "now", ovrDefaultFor
	if r := snap.resolvers[sc.Name]; r != nil {
		for _, sh := range r.Shifts(now, now.Add(30*oncall.Day)) {
			if sh.User == user {
				start := maxT(sh.Start, now).In(loc)
				if sh.Start.After(now) {
					from = start.Format("2006-01-02 15:04")
				}
				// Shifts cuts at the range's end; Current gives the whole.
				end := sh.End
				if cur, ok := r.Current(sh.Start); ok && cur.User == user {
					end = cur.End
				}
				until = end.In(loc).Format("2006-01-02 15:04")
				break
			}
		}
	}
	blocks := []slack.Block{
		slack.NewContextBlock("", cfgMrkdwn(fmt.Sprintf("Ask your team to take a shift of *%s*: the first to click Take it is put on call for that time. Times in %s.", cfgEsc(sc.Name), cfgEsc(loc.String())))),
		cfgTextInput("from", "From", from, "now", "now, or a date and time like 2026-12-03 18:00.", false, false),
		cfgTextInput("until", "Until", until, "4h", "A length from the start (4h), or a date and time like 2026-12-03 22:00.", false, false),
		cfgTextInput("note", "Note", "", "Dentist appointment", "Optional: shown with the request.", true, false),
	}
	mb, _ := json.Marshal(coverRequest{Schedule: sc.Name, Zone: loc.String()})
	meta := ovrMeta{Channel: channel, Zone: loc.String()}
	metab, _ := json.Marshal(struct {
		ovrMeta
		Req json.RawMessage `json:"r"`
	}{meta, mb})
	_, err = b.api.OpenViewContext(ctx, triggerID, slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      coverCallback,
		Title:           cfgPlain("Ask for cover"),
		Submit:          cfgPlain("Post request"),
		Close:           cfgPlain("Cancel"),
		PrivateMetadata: string(metab),
		Blocks:          slack.Blocks{BlockSet: blocks},
	})
	return err
}

// coverSubmit posts the request to the schedule's team channel (else where
// the form was opened).
func (b *Bot) coverSubmit(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	if cb.View.CallbackID != coverCallback {
		return nil, nil
	}
	var meta struct {
		ovrMeta
		Req coverRequest `json:"r"`
	}
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
	sc := findNamed(cur.Schedules, meta.Req.Schedule, func(x *manifest.Schedule) string { return x.Name })
	if sc == nil {
		return nil, oncall.ErrNotFound
	}
	in := cfgForm{v: &cb.View}
	errs := cfgErrors{}
	now := b.clock.Now()
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
			errs.add("until", "The time must end after it starts.")
		case !until.After(now):
			errs.add("until", "This time is over already.")
		case until.Sub(from) > ovrMaxLength:
			errs.add("until", "Ask for at most %d days at once.", int(ovrMaxLength/oncall.Day))
		}
	}
	note := strings.TrimSpace(in.value("note"))
	if len([]rune(note)) > coverMaxNote {
		errs.add("note", "Keep the note under %d characters.", coverMaxNote)
	}
	if len(errs) > 0 {
		return errs.response(), nil
	}
	req := coverRequest{Schedule: sc.Name, From: from.Unix(), To: until.Unix(), By: user, Zone: loc.String()}
	channel := meta.Channel
	if i := slices.IndexFunc(cur.Teams, func(t *manifest.Team) bool { return t.Name == sc.Team }); i >= 0 && cur.Teams[i].SlackChannel != "" {
		channel = cur.Teams[i].SlackChannel
	}
	if channel == "" {
		errs.add("note", "I have no channel to post this in: the schedule's team has no slack_channel.")
		return errs.response(), nil
	}
	blocks := coverBlocks(req, note, peopleOf(cur), "")
	b.work(ctx, "post cover request", func(ctx context.Context) error {
		_, _, err := b.api.PostMessageContext(ctx, channel, slack.MsgOptionText(coverText(req, peopleOf(cur), ""), false), slack.MsgOptionBlocks(blocks...))
		if err != nil {
			b.ephemeral(ctx, meta.Channel, cb.User.ID, "I could not post your cover request in "+cfgChannelRef(channel)+".")
		}
		return err
	})
	return nil, nil
}

// coverText is the request in words; takenBy "" while open.
func coverText(req coverRequest, pp people, takenBy string) string {
	loc, err := time.LoadLocation(req.Zone)
	if err != nil {
		loc = time.UTC
	}
	from, to := time.Unix(req.From, 0).UTC(), time.Unix(req.To, 0).UTC()
	f, t := from.In(loc), to.In(loc)
	when := f.Format("Mon 2 Jan 15:04") + " → " + t.Format("Mon 2 Jan 15:04")
	if f.YearDay() == t.YearDay() && f.Year() == t.Year() {
		when = f.Format("Mon 2 Jan 15:04") + "–" + t.Format("15:04")
	}
	when += " (" + loc.String() + ")"
	if takenBy != "" {
		return fmt.Sprintf(":white_check_mark: %s took %s's shift of *%s*, %s.", pp.show(takenBy), pp.show(req.By), kit.esc(req.Schedule), when)
	}
	return fmt.Sprintf(":raising_hand: %s asks: can someone take *%s* %s?", pp.show(req.By), kit.esc(req.Schedule), when)
}

// coverBlocks is the request's message: open with a Take it button, or
// taken.
func coverBlocks(req coverRequest, note string, pp people, takenBy string) []slack.Block {
	blocks := []slack.Block{kit.section(coverText(req, pp, takenBy))}
	if note != "" {
		blocks = append(blocks, kit.context("“"+kit.esc(kit.oneLine(note))+"”"))
	}
	if takenBy == "" {
		blocks = append(blocks, slack.NewActionBlock("cover", kit.button(actionCoverTake, req.encode(), "Take it")))
	}
	return blocks
}

// errCoverTaken says someone was quicker.
type errCoverTaken struct{ by string }

func (e errCoverTaken) Error() string { return "taken by " + e.by }

// takeCover gives the clicker the override, unless someone took it first.
func (b *Bot) takeCover(ctx context.Context, cb slack.InteractionCallback, channel, user string, req coverRequest) error {
	if user == req.By {
		b.ephemeral(ctx, channel, cb.User.ID, "That is your own request: a teammate has to take it.")
		return nil
	}
	from, to := time.Unix(req.From, 0).UTC(), time.Unix(req.To, 0).UTC()
	if !to.After(b.clock.Now()) {
		b.ephemeral(ctx, channel, cb.User.ID, "That time is over already.")
		return nil
	}
	var pp people
	_, err := b.changeLocked(ctx, user, func(cur *manifest.Set) (*manifest.Set, error) {
		pp = peopleOf(cur)
		sc := findNamed(cur.Schedules, req.Schedule, func(x *manifest.Schedule) string { return x.Name })
		if sc == nil {
			return nil, oncall.ErrNotFound
		}
		for _, o := range sc.Overrides {
			if o.Start.Equal(from) && o.End.Equal(to) && o.User != req.By {
				return nil, errCoverTaken{by: o.User}
			}
		}
		next := *sc
		next.Overrides = append(slices.Clone(sc.Overrides), manifest.Override{User: user, Start: from, End: to})
		return &manifest.Set{Schedules: []*manifest.Schedule{&next}}, nil
	})
	var taken errCoverTaken
	switch {
	case errors.As(err, &taken):
		b.ephemeral(ctx, channel, cb.User.ID, fmt.Sprintf("Too late: %s took it already.", pp.show(taken.by)))
		return nil
	case err != nil:
		b.ephemeral(ctx, channel, cb.User.ID, b.userError(err))
		return nil
	}
	note := ""
	if len(cb.Message.Blocks.BlockSet) > 1 {
		if c, ok := cb.Message.Blocks.BlockSet[1].(*slack.ContextBlock); ok && len(c.ContextElements.Elements) > 0 {
			if t, ok := c.ContextElements.Elements[0].(*slack.TextBlockObject); ok {
				note = strings.Trim(t.Text, "“”")
			}
		}
	}
	ts := cb.Container.MessageTs
	if ts == "" {
		ts = cb.Message.Timestamp
	}
	if ts != "" {
		blocks := coverBlocks(req, coverUnescape(note), pp, user)
		if _, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts,
			slack.MsgOptionText(coverText(req, pp, user), false), slack.MsgOptionBlocks(blocks...)); err != nil {
			return fmt.Errorf("update cover request: %w", err)
		}
	}
	return nil
}

// coverUnescape undoes kit.esc, so a note shown again is not escaped twice.
func coverUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}
