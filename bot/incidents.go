package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// /oncall incidents [page]: the open incidents, newest first, each with
// the buttons of a page (handled by incidentAction, like a page's own).
// /oncall ack <id> and /oncall resolve <id> act through the engine, for
// users who may act on the incident (paged for it, or on its service's
// team: jobs MayAct).

// incidentsPerPage fits a message's 50 blocks: a header, two blocks per
// incident, and two contexts.
const incidentsPerPage = (maxMessageBlocks - 3) / 2

// maxIncidentPages bounds how far /oncall incidents pages.
const maxIncidentPages = 20

func (b *Bot) cmdIncidents(ctx context.Context, r *request) error {
	page := 1
	if len(r.args) > 1 {
		return b.replyUsage(ctx, r, "")
	}
	if len(r.args) == 1 {
		n, err := strconv.Atoi(r.args[0])
		if err != nil || n < 1 || n > maxIncidentPages {
			return b.replyUsage(ctx, r, fmt.Sprintf("`%s` is not a page number (1 to %d).", kit.esc(r.args[0]), maxIncidentPages))
		}
		page = n
	}
	// One more than the page holds says whether another page follows.
	list, err := store.IncidentListOpen(ctx, b.db, page*incidentsPerPage+1)
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	c := clock{now: b.clock.Now(), loc: b.location(ctx, r.cmd.UserID, r.user)}
	set, err := b.engine.ConfigSet(ctx) // shared: read only
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	return b.replyBlocks(ctx, r.cmd.ResponseURL, "Open incidents", incidentsBlocks(list, page, peopleOf(set), c))
}

// incidentsBlocks renders one page of open incidents (list holds every
// incident up to the end of the page, and one more if another follows).
func incidentsBlocks(list []*store.Incident, page int, pp people, c clock) []slack.Block {
	from := (page - 1) * incidentsPerPage
	more := len(list) > page*incidentsPerPage
	shown := list[min(from, len(list)):min(len(list), page*incidentsPerPage)]
	title := "Open incidents"
	if page > 1 {
		title += fmt.Sprintf(" (page %d)", page)
	}
	blocks := []slack.Block{kit.header(title)}
	if len(shown) == 0 {
		text := ":white_check_mark: No open incidents."
		if page > 1 {
			text = fmt.Sprintf("No open incidents on page %d.", page)
		}
		blocks = append(blocks, kit.section(text))
	}
	for _, in := range shown {
		bl := incidentBlocks(in, pp, c, incidentButtons)
		bl[1].(*slack.ActionBlock).BlockID = listBlockID(page, in.ID)
		blocks = append(blocks, bl...)
	}
	if more {
		blocks = append(blocks, kit.context(fmt.Sprintf("More on the next page: `/oncall incidents %d`.", page+1)))
	}
	return append(blocks, kit.context(c.zoneNote()))
}

// listBlockID is the block_id of an incident's buttons in the list:
// "incidents:<page>:<id>", so a click says which page to show again.
func listBlockID(page int, id int64) string { return fmt.Sprintf("%s%d:%d", listBlockPrefix, page, id) }

const listBlockPrefix = "incidents:"

// refreshList shows the /oncall incidents list a button was clicked in
// again, as it is now, so the clicker sees what the click did. A click
// anywhere else changes nothing here.
func (b *Bot) refreshList(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction, user string) error {
	rest, ok := strings.CutPrefix(a.BlockID, listBlockPrefix)
	if !ok || cb.ResponseURL == "" {
		return nil
	}
	n, _, _ := strings.Cut(rest, ":")
	page, err := strconv.Atoi(n)
	if err != nil || page < 1 || page > maxIncidentPages {
		return nil
	}
	list, err := store.IncidentListOpen(ctx, b.db, page*incidentsPerPage+1)
	if err != nil {
		return err
	}
	set, err := b.engine.ConfigSet(ctx) // shared: read only
	if err != nil {
		return err
	}
	c := clock{now: b.clock.Now(), loc: b.location(ctx, cb.User.ID, user)}
	return b.reply(ctx, cb.ResponseURL, &slack.WebhookMessage{ReplaceOriginal: true, Text: "Open incidents",
		Blocks: &slack.Blocks{BlockSet: incidentsBlocks(list, page, peopleOf(set), c)}})
}

// buttonSet names the action IDs of an incident's buttons: a page's in
// messages, the App Home's own there (which republishes after a click).
type buttonSet struct{ ack, resolve, escalate string }

var incidentButtons = buttonSet{slackch.ActionAck, slackch.ActionResolve, slackch.ActionEscalate}

// incidentBlocks is one incident: a section that says what it is and
// where it stands, and its buttons (Acknowledge while triggered,
// Escalate when it has a policy, Resolve).
func incidentBlocks(in *store.Incident, pp people, c clock, ids buttonSet) []slack.Block {
	emoji := ":red_circle:"
	if in.State == store.StateAcknowledged {
		emoji = ":large_yellow_circle:"
	}
	summary := kit.oneLine(in.Summary)
	if summary == "" {
		summary = "(no summary)"
	}
	lines := []string{fmt.Sprintf("%s *#%d %s*", emoji, in.ID, kit.esc(kit.clip(summary, 300)))}
	var facts []string
	if in.ServiceName != "" {
		facts = append(facts, "service *"+kit.esc(in.ServiceName)+"*")
	}
	facts = append(facts, in.Urgency+" urgency", "opened "+c.at(in.CreatedAt)+" ("+c.rel(in.CreatedAt)+")")
	lines = append(lines, strings.Join(facts, "  ·  "))
	switch {
	case in.State == store.StateAcknowledged && in.AcknowledgedBy != "":
		lines = append(lines, "Acknowledged by "+pp.show(in.AcknowledgedBy))
	case in.State == store.StateTriggered:
		lines = append(lines, "Not acknowledged")
	}
	value := strconv.FormatInt(in.ID, 10)
	var buttons []slack.BlockElement
	if in.State == store.StateTriggered {
		ack := kit.button(ids.ack, value, "Acknowledge")
		ack.Style = slack.StylePrimary
		buttons = append(buttons, ack)
	}
	if in.PolicyName != "" {
		buttons = append(buttons, kit.button(ids.escalate, slackch.EscalateValue(in.ID, in.EscalationSeq), "Escalate"))
	}
	buttons = append(buttons, kit.button(ids.resolve, value, "Resolve"))
	return []slack.Block{
		kit.section(strings.Join(lines, "\n")),
		slack.NewActionBlock(slackch.BlockID(in.ID), buttons...),
	}
}

func (b *Bot) cmdAck(ctx context.Context, r *request) error {
	return b.act(ctx, r, "acknowledge", b.engine.Ack)
}

func (b *Bot) cmdResolve(ctx context.Context, r *request) error {
	return b.act(ctx, r, "resolve", b.engine.Resolve)
}

// act runs /oncall ack|resolve <id>.
func (b *Bot) act(ctx context.Context, r *request, verb string, fn func(context.Context, int64, string) (*store.Incident, error)) error {
	if len(r.args) != 1 {
		return b.replyUsage(ctx, r, "Say which incident, by its number.")
	}
	id, err := slackch.ParseActionValue(strings.TrimPrefix(r.args[0], "#"))
	if err != nil {
		return b.replyUsage(ctx, r, fmt.Sprintf("`%s` is not an incident number.", kit.esc(r.args[0])))
	}
	text, err := b.actOn(ctx, r.user, id, verb, fn)
	if err != nil {
		text = b.userError(err)
	}
	if err := b.replyText(ctx, r.cmd.ResponseURL, text); err != nil {
		return err
	}
	// The asker's App Home lists the incident: show it as it is now.
	return b.publishHome(ctx, r.cmd.UserID)
}

// actOn acknowledges or resolves incident id for user, if they may, and
// says what happened.
func (b *Bot) actOn(ctx context.Context, user string, id int64, verb string, fn func(context.Context, int64, string) (*store.Incident, error)) (string, error) {
	ok, err := b.engine.MayAct(ctx, user, id)
	if errors.Is(err, oncall.ErrNotFound) {
		return fmt.Sprintf("There is no incident #%d.", id), nil
	}
	if err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("You may not %s incident #%d: you were not paged for it and are not on the team of its service.", verb, id), nil
	}
	before, err := store.IncidentGet(ctx, b.db, id, store.LockNone)
	if err != nil {
		return "", err
	}
	switch {
	case before.State == store.StateResolved:
		return fmt.Sprintf("Incident #%d is already resolved%s.", id, by(before.ResolvedBy)), nil
	case verb == "acknowledge" && before.State == store.StateAcknowledged:
		return fmt.Sprintf("Incident #%d is already acknowledged%s.", id, by(before.AcknowledgedBy)), nil
	}
	in, err := fn(ctx, id, user)
	if err != nil {
		return "", err
	}
	past := map[string]string{"acknowledge": "Acknowledged", "resolve": "Resolved", "escalate": "Escalated"}[verb]
	return fmt.Sprintf("%s incident #%d: %s", past, in.ID, kit.esc(kit.clip(kit.oneLine(in.Summary), 300))), nil
}

func by(user string) string {
	if user == "" {
		return ""
	}
	return " by " + user
}
