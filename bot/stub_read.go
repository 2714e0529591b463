package bot

// Stubs of the read-only surfaces and manual paging, until their files
// exist (who.go, incidents.go, page.go, home.go, mobile.go).

import (
	"context"

	"github.com/slack-go/slack"
)

func (b *Bot) notYet(ctx context.Context, r *request) error {
	return b.replyText(ctx, r.cmd.ResponseURL, "`/oncall "+r.cmd.Text+"` is not available yet. Try `/oncall help`.")
}

func (b *Bot) cmdShifts(ctx context.Context, r *request) error    { return b.notYet(ctx, r) }
func (b *Bot) cmdIncidents(ctx context.Context, r *request) error { return b.notYet(ctx, r) }
func (b *Bot) cmdAck(ctx context.Context, r *request) error       { return b.notYet(ctx, r) }
func (b *Bot) cmdResolve(ctx context.Context, r *request) error   { return b.notYet(ctx, r) }
func (b *Bot) cmdPage(ctx context.Context, r *request) error      { return b.notYet(ctx, r) }

func (b *Bot) pageSubmit(ctx context.Context, cb slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	return nil, nil
}

func (b *Bot) publishHome(ctx context.Context, slackUser string) error { return nil }

func (b *Bot) homeAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	return nil
}
