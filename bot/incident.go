package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/slack-go/slack"

	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// incidentAction handles the Acknowledge, Resolve and Escalate buttons of
// a page. The clicking Slack user must be one of ours; anyone else is told
// so, privately, and nothing changes. The page itself is updated by the
// engine's message update, like every other copy of it.
func (b *Bot) incidentAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	var act func(context.Context, int64, string) (*store.Incident, error)
	switch a.ActionID {
	case slackch.ActionAck:
		act = b.engine.Ack
	case slackch.ActionResolve:
		act = b.engine.Resolve
	case slackch.ActionEscalate:
		act = b.escalateSeen(a.Value)
	default:
		return nil
	}
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	id, err := slackch.ParseActionValue(a.Value)
	if err != nil {
		b.log.Warn().Err(err).Str("action", a.ActionID).Msg("button with a bad incident id")
		return nil
	}
	user, err := b.user(ctx, cb.User.ID)
	if errors.Is(err, errNotOurs) {
		b.ephemeral(ctx, channel, cb.User.ID, notOursText(cb.User.ID))
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := act(ctx, id, user); err != nil {
		if errors.Is(err, oncall.ErrNotFound) {
			b.ephemeral(ctx, channel, cb.User.ID, fmt.Sprintf("Incident #%d no longer exists.", id))
			return nil
		}
		b.ephemeral(ctx, channel, cb.User.ID, b.userError(err))
		return nil
	}
	return b.refreshList(ctx, cb, a, user) // a click in /oncall incidents
}

// escalateSeen escalates from an Escalate button whose value says which
// escalation sequence it was shown with (slackch.EscalateValue): a click
// delivered twice, or a second person's click on the same page, finds the
// sequence moved on and changes nothing.
func (b *Bot) escalateSeen(value string) func(context.Context, int64, string) (*store.Incident, error) {
	_, seq, err := slackch.ParseEscalateValue(value)
	if err != nil {
		seq = -1 // the caller reports the bad value
	}
	return func(ctx context.Context, id int64, actor string) (*store.Incident, error) {
		return b.engine.EscalateSeen(ctx, id, seq, actor)
	}
}

var webhookClient = &http.Client{Timeout: 10 * time.Second}

func (b *Bot) httpClient() *http.Client { return webhookClient }
