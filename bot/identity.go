package bot

import (
	"context"
	"fmt"
	"sync"

	"github.com/slack-go/slack"
)

// workspace is the Slack workspace the app is installed in (and its
// Enterprise Grid organization, if any), asked of auth.test once it is
// first needed.
type workspace struct {
	mu               sync.Mutex
	team, enterprise string
}

// member reports whether a Slack account belongs to our workspace (or our
// Grid organization), so that its email may stand for one of our users. In
// a channel shared over Slack Connect, users of other organizations click
// our buttons and users.info shows them with their email; but their email
// is their organization's to vouch for, not ours, so it names nobody here.
// Deactivated accounts, bots and strangers are nobody either.
func (b *Bot) member(ctx context.Context, info *slack.User) (bool, error) {
	if info.Deleted || info.IsBot || info.IsStranger {
		return false, nil
	}
	team, enterprise, err := b.workspace(ctx)
	if err != nil {
		return false, err
	}
	return info.TeamID == team || enterprise != "" && info.Enterprise.EnterpriseID == enterprise, nil
}

// workspace is our team ID and Grid enterprise ID ("" outside Grid). A
// failure is not remembered: the next request asks again.
func (b *Bot) workspace(ctx context.Context) (team, enterprise string, err error) {
	b.ws.mu.Lock()
	defer b.ws.mu.Unlock()
	if b.ws.team == "" {
		res, err := b.api.AuthTestContext(ctx)
		if err != nil {
			return "", "", fmt.Errorf("slack auth.test: %w", err)
		}
		b.ws.team, b.ws.enterprise = res.TeamID, res.EnterpriseID
	}
	return b.ws.team, b.ws.enterprise, nil
}
