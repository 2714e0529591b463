package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
)

// The App Home: am I on call now and until when, my next shifts, the open
// incidents paged to me or my teams (with buttons), my contact methods
// with their verification, my paired phones. It is published when the
// user opens it and again after each click in it, with a line at the top
// that says what the click did.

// Action IDs of the App Home's buttons (routed here by the "home_"
// prefix): its incident buttons are its own so that a click republishes
// the Home, which a page's buttons would not.
const (
	homeRefresh  = "home_refresh"
	homeAck      = "home_ack"
	homeResolve  = "home_resolve"
	homeEscalate = "home_escalate"
)

var homeButtons = buttonSet{homeAck, homeResolve, homeEscalate}

// Bounds that keep the Home under Slack's 100 blocks.
const (
	homeShifts    = 10 // next shifts listed
	homeIncidents = 20 // incidents shown, two blocks each
)

func (b *Bot) publishHome(ctx context.Context, slackUser string) error {
	return b.publishHomeNote(ctx, slackUser, "")
}

// publishHomeNote publishes slackUser's Home with note (mrkdwn, may be "")
// at its top.
func (b *Bot) publishHomeNote(ctx context.Context, slackUser, note string) error {
	blocks, err := b.homeBlocks(ctx, slackUser, note)
	if err != nil {
		return err
	}
	view := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
	if _, err := b.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: slackUser, View: view}); err != nil {
		return fmt.Errorf("publish the app home: %w", err)
	}
	return nil
}

// home is what the App Home shows.
type home struct {
	note      string
	shifts    []schedule.ScheduleShift // the one under way first, whole
	incidents []*store.Incident        // one more than shown when there are more
	contacts  []manifest.ContactMethod
	slackDM   bool                 // pages reach them in Slack
	verified  map[string]time.Time // contact method -> when it was verified
	phones    []store.MobileToken
}

func (b *Bot) homeBlocks(ctx context.Context, slackUser, note string) ([]slack.Block, error) {
	user, err := b.user(ctx, slackUser)
	if errors.Is(err, errNotOurs) {
		return []slack.Block{kit.header("oncall"), kit.section(notOursText(slackUser))}, nil
	}
	if err != nil {
		return nil, err
	}
	snap, err := b.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	c := clock{now: b.clock.Now(), loc: b.location(ctx, slackUser, user)}
	h := home{note: note, shifts: snap.userShifts(user, c.now, shiftsHorizon)}
	if h.incidents, err = b.engine.UserIncidents(ctx, user, homeIncidents+1); err != nil {
		return nil, err
	}
	if u := findNamed(snap.set.Users, user, func(x *manifest.User) string { return x.Name }); u != nil {
		h.contacts, h.slackDM = u.ContactMethods, u.SlackID != ""
	}
	if h.verified, err = store.ContactMethodsVerified(ctx, b.db, user); err != nil {
		return nil, err
	}
	if h.phones, err = store.MobileTokenList(ctx, b.db, user); err != nil {
		return nil, err
	}
	return homeView(h, peopleOf(snap.set), c), nil
}

// homeView renders the App Home.
func homeView(h home, pp people, c clock) []slack.Block {
	var blocks []slack.Block
	if h.note != "" {
		blocks = append(blocks, kit.section(h.note))
	}
	blocks = append(blocks, kit.header("Your on-call"), kit.section(homeStatus(h.shifts, c)),
		slack.NewActionBlock("home", kit.button(homeRefresh, "refresh", "Refresh")))

	var next []schedule.ScheduleShift
	for _, sh := range h.shifts {
		if sh.Start.After(c.now) {
			next = append(next, sh)
		}
	}
	blocks = append(blocks, slack.NewDividerBlock(), kit.header("Next shifts"))
	if len(next) == 0 {
		blocks = append(blocks, kit.section(fmt.Sprintf("No shifts in the next %d days.", int(shiftsHorizon/(24*time.Hour)))))
	} else {
		lines := shiftLines(next[:min(len(next), homeShifts)], c)
		if len(next) > homeShifts {
			lines = append(lines, fmt.Sprintf("…and %d more: `/oncall shifts`", len(next)-homeShifts))
		}
		blocks = append(blocks, kit.lines(lines)...)
	}

	blocks = append(blocks, slack.NewDividerBlock(), kit.header("Open incidents for you and your teams"))
	if len(h.incidents) == 0 {
		blocks = append(blocks, kit.section(":white_check_mark: None."))
	}
	for i, in := range h.incidents {
		if i == homeIncidents {
			blocks = append(blocks, kit.context("More: `/oncall incidents`"))
			break
		}
		blocks = append(blocks, incidentBlocks(in, pp, c, homeButtons)...)
	}

	blocks = append(blocks, slack.NewDividerBlock(), kit.header("How we reach you"))
	var lines []string
	if h.slackDM {
		lines = append(lines, "• *slack*: a direct message here")
	}
	for _, m := range h.contacts {
		state := ":grey_question: not verified yet"
		if at, ok := h.verified[m.Name]; ok {
			state = ":white_check_mark: verified " + c.at(at)
		}
		lines = append(lines, fmt.Sprintf("• *%s*: %s %s · %s", kit.esc(m.Name), contactKind(m.Type), kit.esc(m.Address), state))
	}
	if len(lines) == 0 {
		lines = append(lines, ":warning: You have no contact methods: pages cannot reach you.")
	}
	blocks = append(blocks, kit.lines(lines)...)
	blocks = append(blocks, kit.context("Change them, and send yourself a test, with `/oncall contact`."))

	blocks = append(blocks, kit.header("Paired phones"))
	if len(h.phones) == 0 {
		blocks = append(blocks, kit.section("No phone is paired. `/oncall mobile` gives you a code to pair the app."))
	} else {
		var lines []string
		for _, p := range h.phones {
			label := p.Label
			if label == "" {
				label = "A phone"
			}
			lines = append(lines, fmt.Sprintf("• *%s*: paired %s, last used %s", kit.esc(label), c.at(p.CreatedAt), c.rel(p.LastUsedAt)))
		}
		blocks = append(blocks, kit.lines(lines)...)
	}
	return append(blocks, kit.context(c.zoneNote()))
}

// homeStatus says whether the user is on call now, where and until when,
// else when they next are.
func homeStatus(shifts []schedule.ScheduleShift, c clock) string {
	var now []string
	var next *schedule.ScheduleShift
	for i, sh := range shifts {
		if !sh.Start.After(c.now) {
			now = append(now, fmt.Sprintf("*%s* until %s (%s)", kit.esc(sh.Schedule), c.at(sh.End), c.rel(sh.End)))
		} else if next == nil {
			next = &shifts[i]
		}
	}
	if len(now) > 0 {
		return ":large_green_circle: You are on call now: " + strings.Join(now, ", ") + "."
	}
	if next == nil {
		return fmt.Sprintf(":white_circle: You are not on call, and have no shifts in the next %d days.", int(shiftsHorizon/(24*time.Hour)))
	}
	return fmt.Sprintf(":white_circle: You are not on call now. Next: *%s* from %s (%s).", kit.esc(next.Schedule), c.at(next.Start), c.rel(next.Start))
}

func contactKind(typ string) string {
	switch typ {
	case manifest.ContactSMS:
		return "SMS to"
	case manifest.ContactVoice:
		return "calls to"
	case manifest.ContactEmail:
		return "email to"
	}
	return typ
}

// homeAction handles the App Home's buttons, then republishes it with a
// line that says what happened.
func (b *Bot) homeAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	verbs := map[string]string{homeAck: "acknowledge", homeResolve: "resolve", homeEscalate: "escalate"}
	verb, ok := verbs[a.ActionID]
	if !ok {
		return b.publishHome(ctx, cb.User.ID)
	}
	note, err := b.homeAct(ctx, cb.User.ID, a.Value, verb)
	if err != nil {
		note = ":warning: " + b.userError(err)
	}
	return b.publishHomeNote(ctx, cb.User.ID, note)
}

func (b *Bot) homeAct(ctx context.Context, slackUser, value, verb string) (string, error) {
	id, err := slackch.ParseActionValue(value)
	if err != nil {
		return "", fmt.Errorf("app home button: %w", err)
	}
	user, err := b.user(ctx, slackUser)
	if err != nil {
		return "", err
	}
	fn := map[string]func(context.Context, int64, string) (*store.Incident, error){
		"acknowledge": b.engine.Ack, "resolve": b.engine.Resolve, "escalate": b.escalateSeen(value),
	}[verb]
	return b.actOn(ctx, user, id, verb, fn)
}
