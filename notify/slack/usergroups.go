package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/notify"
)

// User groups that follow the on-call, and plain notices (handoffs, the
// weekly gap report): what jobs/handoff.go needs of Slack.

// groupErrors are usergroups.* failures that retrying will not fix.
var groupErrors = []string{"no_such_subteam", "invalid_users", "no_users_provided", "permission_denied",
	"missing_scope", "not_allowed_token_type", "invalid_auth", "not_authed", "paid_teams_only"}

// groupCache maps user group handles ("payments-oncall", no @) to ids.
type groupCache struct {
	mu  sync.Mutex
	ids map[string]string
}

func (g *groupCache) get(handle string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id, ok := g.ids[handle]
	return id, ok
}

func (g *groupCache) set(ids map[string]string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ids = ids
}

func (g *groupCache) forget(handle string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.ids, handle)
}

// UserGroupID is the id of group as the configuration names it: an id
// ("S0123ABCD") is returned as it is; a handle ("@payments-oncall") is
// looked up with usergroups.list, and the answer cached. A handle no group
// has is a permanent failure.
func (c *Channel) UserGroupID(ctx context.Context, group string) (string, error) {
	if c.token == "" {
		return "", notify.ErrOff
	}
	handle, isHandle := strings.CutPrefix(strings.TrimSpace(group), "@")
	if !isHandle {
		if handle == "" {
			return "", notify.Permanent(errors.New("slack: no user group named"))
		}
		return handle, nil
	}
	handle = strings.ToLower(handle)
	if id, ok := c.groups.get(handle); ok {
		return id, nil
	}
	list, err := c.api.GetUserGroupsContext(ctx)
	if err != nil {
		return "", c.classifyGroup("list user groups", err)
	}
	ids := make(map[string]string, len(list))
	for _, g := range list {
		ids[strings.ToLower(g.Handle)] = g.ID
	}
	c.groups.set(ids)
	if id, ok := ids[handle]; ok {
		return id, nil
	}
	return "", notify.Permanent(fmt.Errorf("slack: no user group with handle @%s", handle))
}

// SetUserGroup makes users (Slack user ids) the members of group (an id
// or "@handle"), with usergroups.users.update. Slack keeps at least one
// member in a group, so users must not be empty.
func (c *Channel) SetUserGroup(ctx context.Context, group string, users []string) error {
	if len(users) == 0 {
		return notify.Permanent(fmt.Errorf("slack: set user group %s: no users (a group keeps at least one)", group))
	}
	id, err := c.UserGroupID(ctx, group)
	if err != nil {
		return err
	}
	if _, err := c.api.UpdateUserGroupMembersContext(ctx, id, strings.Join(users, ",")); err != nil {
		if handle, ok := strings.CutPrefix(strings.TrimSpace(group), "@"); ok && isSlackError(err, "no_such_subteam") {
			c.groups.forget(strings.ToLower(handle)) // deleted and made again: look it up anew next time
		}
		return c.classifyGroup("update user group "+group, err)
	}
	return nil
}

// PostNotice posts text (Slack mrkdwn: the caller escapes what it quotes)
// to dest: a user id (the bot's DM with them), a channel id or "#name".
func (c *Channel) PostNotice(ctx context.Context, dest, text string) error {
	if c.token == "" {
		return notify.ErrOff
	}
	dest = strings.TrimSpace(dest)
	if dest == "" {
		return notify.Permanent(errors.New("slack: post notice: no destination"))
	}
	text = truncate(text, maxNoticeText)
	_, _, err := c.api.PostMessageContext(ctx, dest,
		slack.MsgOptionText(text, false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(text, maxSectionText), false, false), nil, nil)),
	)
	if err != nil {
		return c.classify("post notice to "+dest, err)
	}
	return nil
}

// Slack's limits: a section's text is at most 3,000 characters; a
// message's text far more, but a notice has no reason to be long.
const (
	maxSectionText = 3000
	maxNoticeText  = 3000
)

// classifyGroup is classify, with the user group errors that retrying will
// not fix made permanent.
func (c *Channel) classifyGroup(op string, err error) error {
	if isSlackError(err, groupErrors...) {
		return notify.Permanent(fmt.Errorf("slack: %s: %w", op, c.redact(err)))
	}
	return c.classify(op, err)
}
