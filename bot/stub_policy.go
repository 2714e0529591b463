package bot

// Stubs of the policy, rule and contact surfaces, until their files exist
// (escalation.go, rules.go, contact.go).

import (
	"context"

	"github.com/slack-go/slack"
)

func (b *Bot) cmdEscalation(ctx context.Context, r *request) error { return b.notYet(ctx, r) }
func (b *Bot) cmdRules(ctx context.Context, r *request) error      { return b.notYet(ctx, r) }
func (b *Bot) cmdContact(ctx context.Context, r *request) error    { return b.notYet(ctx, r) }

func (b *Bot) escalationAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}
func (b *Bot) rulesAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}
func (b *Bot) contactAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}

func (b *Bot) escalationSubmit(context.Context, slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	return nil, nil
}
func (b *Bot) rulesSubmit(context.Context, slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	return nil, nil
}
func (b *Bot) contactSubmit(context.Context, slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	return nil, nil
}
