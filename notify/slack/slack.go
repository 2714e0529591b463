// Package slack sends pages to Slack: a DM to the user or a post in a
// channel, rendered as Block Kit with buttons to acknowledge, resolve and
// escalate, updated in place as the incident changes, with the timeline in
// the message's thread. It classifies Slack's failures for the delivery
// policy (rate limits, permanent failures, temporary ones) and never retries
// or sleeps itself: the notify job does.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/notify"
)

// DefaultAPIURL is Slack's Web API base.
const DefaultAPIURL = slack.APIURL

// Config is how to reach Slack.
type Config struct {
	BotToken string // xoxb-; without it the channel is off (notify.ErrOff)
	// APIURL is the Web API base (SLACK_API_URL), ending in "/" (added if
	// missing); "" means DefaultAPIURL.
	APIURL string
	// HTTPClient makes the requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
}

// Channel is Slack as a notify.Channel and notify.Updater. It is safe for
// concurrent use.
type Channel struct {
	api   *slack.Client
	token string
	users *userCache
	// groups caches user group handles' ids (usergroups.go).
	groups groupCache
}

var (
	_ notify.Channel = (*Channel)(nil)
	_ notify.Updater = (*Channel)(nil)
)

// New returns the Slack channel of cfg.
func New(cfg Config) *Channel {
	base := cfg.APIURL
	if base == "" {
		base = DefaultAPIURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Channel{
		api:   slack.New(cfg.BotToken, slack.OptionAPIURL(base), slack.OptionHTTPClient(hc)),
		token: cfg.BotToken,
		users: newUserCache(userCacheSize),
	}
}

// API is the slack-go client the channel uses, for the bot to share.
func (c *Channel) API() *slack.Client { return c.api }

// Send posts the page: to.Method MethodSlack DMs the user (to.Address if it
// is a Slack user id, else the user found by to.Email), MethodSlackChannel
// posts in the channel to.Address (an id, or "#name"). The receipt's Ref is
// "<channel>/<ts>" (ParseRef), the channel being the DM's or the channel's id.
func (c *Channel) Send(ctx context.Context, to notify.Target, p notify.Page) (notify.Receipt, error) {
	if c.token == "" {
		return notify.Receipt{}, notify.ErrOff
	}
	dest, email, err := c.destination(ctx, to)
	if err != nil {
		return notify.Receipt{}, fmt.Errorf("page #%d: %w", p.IncidentID, err)
	}
	opts := []slack.MsgOption{slack.MsgOptionText(Text(p), false), slack.MsgOptionBlocks(Blocks(p)...)}
	if p.Key != "" {
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{
			EventType: pageEventType, EventPayload: map[string]any{"key": p.Key, "incident_id": p.IncidentID}}))
	}
	ch, ts, err := c.api.PostMessageContext(ctx, dest, opts...)
	if err != nil {
		if email != "" && isSlackError(err, "channel_not_found", "user_not_found", "user_disabled", "account_inactive") {
			c.users.forget(email) // the cached id may be stale
		}
		return notify.Receipt{}, c.classify(fmt.Sprintf("post page #%d to %s", p.IncidentID, dest), err)
	}
	return notify.Receipt{Ref: Ref(ch, ts)}, nil
}

// destination is where a page to the target is posted: a user's id (Slack
// opens the DM), found by email when the address is not one, or a channel;
// email is the address looked up, if any.
func (c *Channel) destination(ctx context.Context, to notify.Target) (dest, email string, err error) {
	switch to.Method {
	case notify.MethodSlack:
		switch addr := strings.TrimSpace(to.Address); {
		case IsUserID(addr):
			return addr, "", nil
		case to.Email != "" || strings.Contains(addr, "@"):
			email = to.Email
			if email == "" {
				email = addr
			}
			id, err := c.LookupUser(ctx, email)
			if err != nil {
				return "", email, fmt.Errorf("to %s: %w", who(to), err)
			}
			return id, email, nil
		default:
			return "", "", notify.Permanent(fmt.Errorf("slack: to %s: no Slack user id or email", who(to)))
		}
	case notify.MethodSlackChannel:
		if dest = strings.TrimSpace(to.Address); dest == "" {
			return "", "", notify.Permanent(errors.New("slack: no channel to post in"))
		}
		return dest, "", nil
	default:
		return "", "", notify.Permanent(fmt.Errorf("slack: cannot send by method %q", to.Method))
	}
}

// Update rewrites the message ref (from Send's receipt) to show p.
func (c *Channel) Update(ctx context.Context, ref string, p notify.Page) error {
	if c.token == "" {
		return notify.ErrOff
	}
	ch, ts, err := ParseRef(ref)
	if err != nil {
		return notify.Permanent(err)
	}
	_, _, _, err = c.api.UpdateMessageContext(ctx, ch, ts,
		slack.MsgOptionText(Text(p), false),
		slack.MsgOptionBlocks(Blocks(p)...),
	)
	if err != nil {
		return c.classify(fmt.Sprintf("update page #%d at %s", p.IncidentID, ref), err)
	}
	return nil
}

// Note posts text (plain: it is escaped) in the thread of the message ref.
func (c *Channel) Note(ctx context.Context, ref, text string) error {
	if c.token == "" {
		return notify.ErrOff
	}
	ch, ts, err := ParseRef(ref)
	if err != nil {
		return notify.Permanent(err)
	}
	if strings.TrimSpace(text) == "" {
		return nil
	}
	_, _, err = c.api.PostMessageContext(ctx, ch,
		slack.MsgOptionText(escape(truncate(text, maxFallback)), false),
		slack.MsgOptionTS(ts),
	)
	if err != nil {
		return c.classify("post note at "+ref, err)
	}
	return nil
}

// LookupUser returns the Slack user id of the member with this email
// (users.lookupByEmail). Found ids are cached; a member that does not exist
// or is deactivated is a permanent failure.
func (c *Channel) LookupUser(ctx context.Context, email string) (string, error) {
	if c.token == "" {
		return "", notify.ErrOff
	}
	email = strings.TrimSpace(email)
	if email == "" {
		return "", notify.Permanent(errors.New("slack: look up user: no email"))
	}
	if id, ok := c.users.get(email); ok {
		return id, nil
	}
	u, err := c.api.GetUserByEmailContext(ctx, email)
	if err != nil {
		if isSlackError(err, "users_not_found", "user_not_found") {
			return "", notify.Permanent(fmt.Errorf("slack: no member with email %s: %w", email, err))
		}
		return "", c.classify("look up user "+email, err)
	}
	if u.Deleted {
		return "", notify.Permanent(fmt.Errorf("slack: member %s (%s) is deactivated", u.ID, email))
	}
	c.users.put(email, u.ID)
	return u.ID, nil
}

// Ref is the reference of the message ts in channel: "<channel>/<ts>".
func Ref(channel, ts string) string { return channel + "/" + ts }

// ParseRef splits a reference made by Ref (a receipt's) into channel and ts.
func ParseRef(ref string) (channel, ts string, err error) {
	channel, ts, ok := strings.Cut(ref, "/")
	if !ok || channel == "" || ts == "" || strings.Contains(ts, "/") {
		return "", "", fmt.Errorf("slack: bad message reference %q (want channel/ts)", ref)
	}
	return channel, ts, nil
}

var userIDPattern = regexp.MustCompile(`^[UW][A-Z0-9]+$`)

// IsUserID reports whether s looks like a Slack user id (U… or W…).
func IsUserID(s string) bool { return userIDPattern.MatchString(s) }

// who names a target in errors without its contact details.
func who(to notify.Target) string {
	if to.User != "" {
		return to.User
	}
	return "user"
}
