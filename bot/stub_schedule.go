package bot

// Stubs of the schedule surfaces, until their files exist (schedule.go,
// override.go, cover.go).

import (
	"context"

	"github.com/slack-go/slack"
)

func (b *Bot) cmdOverride(ctx context.Context, r *request) error { return b.notYet(ctx, r) }
func (b *Bot) cmdSchedule(ctx context.Context, r *request) error { return b.notYet(ctx, r) }

func (b *Bot) overrideAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
	return nil
}
func (b *Bot) scheduleAction(context.Context, slack.InteractionCallback, *slack.BlockAction) error {
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
func (b *Bot) coverSubmit(context.Context, slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	return nil, nil
}
