package slack

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/notify"
)

var _ notify.Bundler = (*Channel)(nil)

// bundleListed is how many incidents a bundle names; it counts the rest.
const bundleListed = 10

// SendBundle posts several pages to one target in one message (an alert
// storm's pages, BundleBlocks). One page is an ordinary Send. The receipt
// is the one message's, which stands for every page in it.
func (c *Channel) SendBundle(ctx context.Context, to notify.Target, pages []notify.Page) (notify.Receipt, error) {
	switch len(pages) {
	case 0:
		return notify.Receipt{}, notify.Permanent(fmt.Errorf("slack: a bundle of no pages"))
	case 1:
		return c.Send(ctx, to, pages[0])
	}
	if c.token == "" {
		return notify.Receipt{}, notify.ErrOff
	}
	var dest string
	switch to.Method {
	case notify.MethodSlack:
		addr := strings.TrimSpace(to.Address)
		if !IsUserID(addr) {
			email := to.Email
			if email == "" {
				email = addr
			}
			if email == "" || !strings.Contains(email, "@") {
				return notify.Receipt{}, notify.Permanent(fmt.Errorf("slack: bundle to %s: no Slack user id or email", who(to)))
			}
			id, err := c.LookupUser(ctx, email)
			if err != nil {
				return notify.Receipt{}, fmt.Errorf("bundle to %s: %w", who(to), err)
			}
			addr = id
		}
		dest = addr
	case notify.MethodSlackChannel:
		dest = strings.TrimSpace(to.Address)
		if dest == "" {
			return notify.Receipt{}, notify.Permanent(fmt.Errorf("slack: bundle: no channel to post in"))
		}
	default:
		return notify.Receipt{}, notify.Permanent(fmt.Errorf("slack: bundle: cannot send by method %q", to.Method))
	}
	ch, ts, err := c.api.PostMessageContext(ctx, dest,
		slack.MsgOptionText(BundleText(pages), false),
		slack.MsgOptionBlocks(BundleBlocks(pages)...),
	)
	if err != nil {
		return notify.Receipt{}, c.classify(fmt.Sprintf("post a bundle of %d pages to %s", len(pages), dest), err)
	}
	return notify.Receipt{Ref: Ref(ch, ts)}, nil
}

// bundleTitle is "37 incidents on payments-api" (or "on payments-api and
// 2 other services").
func bundleTitle(pages []notify.Page) string {
	first := pages[0].Service
	others := map[string]bool{}
	for _, p := range pages {
		if p.Service != first {
			others[p.Service] = true
		}
	}
	t := fmt.Sprintf("%d incidents on %s", len(pages), first)
	switch len(others) {
	case 0:
	case 1:
		t += " and 1 other service"
	default:
		t += fmt.Sprintf(" and %d other services", len(others))
	}
	return t
}

func bundleLine(p notify.Page) string {
	line := "#" + strconv.FormatInt(p.IncidentID, 10) + " " + oneLine(summary(p))
	if p.Severity != "" {
		line += " · " + p.Severity
	}
	return truncate(line, 200)
}

// BundleBlocks renders a bundle: a header with the count and the service,
// the first bundleListed incidents one a line, and how to list them all.
// Each incident is acknowledged from its own page or /oncall incidents; a
// bundle has no buttons (one click must not act on hundreds). Pure.
func BundleBlocks(pages []notify.Page) []slack.Block {
	lines := make([]string, 0, bundleListed)
	for _, p := range pages[:min(len(pages), bundleListed)] {
		lines = append(lines, "• "+escape(bundleLine(p)))
	}
	more := "`/oncall incidents` lists them all."
	if n := len(pages) - bundleListed; n > 0 {
		more = fmt.Sprintf("…and %d more. %s", n, more)
	}
	return []slack.Block{
		slack.NewHeaderBlock(plain(truncate(":rotating_light: "+bundleTitle(pages), maxHeader))),
		slack.NewSectionBlock(mrkdwn(truncate(strings.Join(lines, "\n"), 2900)), nil, nil),
		slack.NewContextBlock("", mrkdwn(more)),
	}
}

// BundleText is a bundle's fallback text: "🚨 37 incidents on payments-api:
// #12 Checkout error rate · critical, #13 ...".
func BundleText(pages []notify.Page) string {
	lines := make([]string, 0, bundleListed)
	for _, p := range pages[:min(len(pages), bundleListed)] {
		lines = append(lines, bundleLine(p))
	}
	return escape(truncate("🚨 "+bundleTitle(pages)+": "+strings.Join(lines, ", "), maxFallback))
}
