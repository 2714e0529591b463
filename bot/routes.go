package bot

import (
	"context"

	"github.com/slack-go/slack"
)

// The tables below are the whole surface of the bot: each entry's handler
// lives in the file of its area.

// commandOrder is the order /oncall help lists the subcommands in.
var commandOrder = []string{"who", "shifts", "incidents", "ack", "resolve", "page", "override", "schedule", "escalation",
	"rules", "contact", "mobile", "help"}

func (b *Bot) commands() map[string]command {
	return map[string]command{
		"help":       {usage: "help", help: "this list", public: true, run: b.cmdHelp},
		"who":        {usage: "who [schedule|service|team]", help: "who is on call now, and next", public: true, run: b.cmdWho},
		"shifts":     {usage: "shifts [@user]", help: "the next on-call shifts", run: b.cmdShifts},
		"incidents":  {usage: "incidents [page]", help: "open incidents, with buttons", run: b.cmdIncidents},
		"ack":        {usage: "ack <id>", help: "acknowledge an incident", run: b.cmdAck},
		"resolve":    {usage: "resolve <id>", help: "resolve an incident", run: b.cmdResolve},
		"page":       {usage: "page @user|service|team <message>", help: "page someone by hand", run: b.cmdPage},
		"override":   {usage: "override [schedule]", help: "put someone (you) on call for a while", run: b.cmdOverride},
		"schedule":   {usage: "schedule [name [month|edit] | new]", help: "view, edit or create a schedule", run: b.cmdSchedule},
		"escalation": {usage: "escalation [name]", help: "view or edit an escalation policy", run: b.cmdEscalation},
		"rules":      {usage: "rules", help: "alert rules: list, page on/off, edit", run: b.cmdRules},
		"contact":    {usage: "contact", help: "your contact methods and notification rules", run: b.cmdContact},
		"mobile":     {usage: "mobile [revoke <phone>]", help: "a code to pair the mobile app; your paired phones", run: b.cmdMobile},
	}
}

// actionHandler handles one block action.
type actionHandler func(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error

// actions routes block actions by action_id prefix.
func (b *Bot) actions() map[string]actionHandler {
	return map[string]actionHandler{
		"incident_":   b.incidentAction,
		"override_":   b.overrideAction,
		"schedule_":   b.scheduleAction,
		"escalation_": b.escalationAction,
		"rules_":      b.rulesAction,
		"contact_":    b.contactAction,
		"cover_":      b.coverAction,
		"home_":       b.homeAction,
		"mobile_":     b.mobileAction,
	}
}

// viewHandler handles one modal submission and returns the
// acknowledgement's payload (nil: close the modal).
type viewHandler func(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error)

// views routes modal submissions by callback_id prefix.
func (b *Bot) views() map[string]viewHandler {
	return map[string]viewHandler{
		"override":   b.overrideSubmit,
		"schedule":   b.scheduleSubmit,
		"escalation": b.escalationSubmit,
		"rules":      b.rulesSubmit,
		"contact":    b.contactSubmit,
		"page":       b.pageSubmit,
		"cover":      b.coverSubmit,
	}
}

func (b *Bot) cmdHelp(ctx context.Context, r *request) error {
	return b.replyText(ctx, r.cmd.ResponseURL, helpText)
}
