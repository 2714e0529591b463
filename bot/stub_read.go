package bot

// notYet is the reply of a subcommand whose file does not exist yet (the
// other stub_*.go files use it).

import "context"

func (b *Bot) notYet(ctx context.Context, r *request) error {
	return b.replyText(ctx, r.cmd.ResponseURL, "`/oncall "+r.cmd.Text+"` is not available yet. Try `/oncall help`.")
}
