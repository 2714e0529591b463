package bot

// Stubs of the configuration surfaces, until their files exist
// (override.go, schedule.go, escalation.go, rules.go, contact.go, cover.go).

import (
	"context"

	"github.com/slack-go/slack"
)

func (b *Bot) cmdOverride(ctx context.Context, r *request) error   { return b.notYet(ctx, r) }
func (b *Bot) cmdSchedule(ctx context.Context, r *request) error   { return b.notYet(ctx, r) }
func (b *Bot) cmdEscalation(ctx context.Context, r *request) error { return b.notYet(ctx, r) }
func (b *Bot) cmdRules(ctx context.Context, r *request) error      { return b.notYet(ctx, r) }
func (b *Bot) cmdContact(ctx context.Context, r *request) error    { return b.notYet(ctx, r) }

func (b *Bot) overrideAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}
func (b *Bot) scheduleAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}
func (b *Bot) escalationAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}
func (b *Bot) rulesAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}
func (b *Bot) contactAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}
func (b *Bot) coverAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}

func (b *Bot) overrideSubmit(context.Context, slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	return nil, nil
}
func (b *Bot) scheduleSubmit(context.Context, slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	return nil, nil
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
func (b *Bot) coverSubmit(context.Context, slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	return nil, nil
}
