package bot

// Stub of /oncall mobile, until mobile.go exists.

import "context"

func (b *Bot) cmdMobile(ctx context.Context, r *request) error { return b.notYet(ctx, r) }
