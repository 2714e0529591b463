package slack

import (
	"context"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/notify"
)

// pageEventType is the metadata event type a page's message carries, with
// the send's key (notify.Page.Key) in its payload.
const pageEventType = "oncall_page"

// findLimit bounds how many of a conversation's latest messages Find reads:
// one conversations.history page.
const findLimit = 200

var _ notify.Finder = (*Channel)(nil)

// Find looks for the page stamped with key among the target's conversation's
// messages since since (its DM for a user, the channel for a post): a send
// repeated after a crash first looks for the one before it.
func (c *Channel) Find(ctx context.Context, to notify.Target, key string, since time.Time) (notify.Receipt, bool, error) {
	if c.token == "" {
		return notify.Receipt{}, false, notify.ErrOff
	}
	dest, _, err := c.destination(ctx, to)
	if err != nil {
		return notify.Receipt{}, false, err
	}
	if IsUserID(dest) {
		dm, _, _, err := c.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{dest}})
		if err != nil {
			return notify.Receipt{}, false, c.classify("open the DM with "+dest, err)
		}
		dest = dm.ID
	}
	hist, err := c.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID:          dest,
		Oldest:             slackTS(since),
		Limit:              findLimit,
		IncludeAllMetadata: true,
	})
	if err != nil {
		return notify.Receipt{}, false, c.classify("read the history of "+dest, err)
	}
	for _, m := range hist.Messages {
		if m.Metadata.EventType == pageEventType && fmt.Sprint(m.Metadata.EventPayload["key"]) == key {
			return notify.Receipt{Ref: Ref(dest, m.Timestamp)}, true, nil
		}
	}
	return notify.Receipt{}, false, nil
}

// slackTS is t as a Slack timestamp ("1700000000.000100").
func slackTS(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}
