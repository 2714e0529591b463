package bot

// /oncall mobile: a one-time code to pair the mobile app (api/mobile), and
// the user's paired phones, each with a button to revoke it.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// actionMobileRevoke is the Revoke button of a paired phone (value: its
// session ID).
const actionMobileRevoke = "mobile_revoke"

func (b *Bot) cmdMobile(ctx context.Context, r *request) error {
	switch {
	case len(r.args) == 0:
	case len(r.args) == 2 && strings.EqualFold(r.args[0], "revoke"):
		id, err := strconv.ParseInt(strings.TrimPrefix(r.args[1], "#"), 10, 64)
		if err != nil {
			return b.replyUsage(ctx, r, "Which phone? Give its number from `/oncall mobile`.")
		}
		return b.replyText(ctx, r.cmd.ResponseURL, b.revokePhone(ctx, r.user, id))
	default:
		return b.replyUsage(ctx, r, "")
	}
	now := b.clock.Now()
	code, err := store.PairingCodeCreate(ctx, b.db, r.user, now)
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	phones, err := store.MobileTokenList(ctx, b.db, r.user)
	if err != nil {
		return b.replyText(ctx, r.cmd.ResponseURL, b.userError(err))
	}
	c := clock{now: now, loc: b.location(ctx, r.cmd.UserID, r.user)}
	blocks := append(pairingBlocks(showCode(code), b.publicURL), phoneBlocks(phones, c)...)
	return b.replyBlocks(ctx, r.cmd.ResponseURL, "Your code to pair the oncall app: "+showCode(code), blocks)
}

// mobileAction handles the Revoke button: it revokes the phone and
// replaces the message with the phones left.
func (b *Bot) mobileAction(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) error {
	if a.ActionID != actionMobileRevoke {
		return nil
	}
	user, err := b.user(ctx, cb.User.ID)
	if err != nil {
		return b.replyText(ctx, cb.ResponseURL, b.userError(err))
	}
	id, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil {
		return nil // not a button of ours
	}
	text := b.revokePhone(ctx, user, id)
	phones, err := store.MobileTokenList(ctx, b.db, user)
	if err != nil {
		return b.replyText(ctx, cb.ResponseURL, b.userError(err))
	}
	c := clock{now: b.clock.Now(), loc: b.location(ctx, cb.User.ID, user)}
	blocks := append([]slack.Block{kit.section(text)}, phoneBlocks(phones, c)...)
	return b.reply(ctx, cb.ResponseURL, &slack.WebhookMessage{Text: text, ReplaceOriginal: true, Blocks: &slack.Blocks{BlockSet: blocks}})
}

// revokePhone ends one of user's app sessions and says what happened.
func (b *Bot) revokePhone(ctx context.Context, user string, id int64) string {
	label := fmt.Sprintf("Phone %d", id)
	if phones, err := store.MobileTokenList(ctx, b.db, user); err == nil {
		for _, p := range phones {
			if p.ID == id {
				label = fmt.Sprintf("%s (%d)", p.Label, id)
			}
		}
	}
	err := store.MobileTokenRevoke(ctx, b.db, user, id, b.clock.Now())
	switch {
	case errors.Is(err, oncall.ErrNotFound):
		return fmt.Sprintf("You have no paired phone %d (already revoked?). `/oncall mobile` lists yours.", id)
	case err != nil:
		return b.userError(err)
	}
	return fmt.Sprintf(":white_check_mark: %s is unpaired: the app there is signed out and gets no more pages.", kit.esc(label))
}

// showCode groups a pairing code in fours, as people read it out.
func showCode(code string) string {
	if len(code) == 8 {
		return code[:4] + "-" + code[4:]
	}
	return code
}

// pairingBlocks shows a fresh pairing code and how to use it.
func pairingBlocks(code, server string) []slack.Block {
	minutes := int(store.PairingCodeTTL.Minutes())
	steps := []string{
		"1. Install the oncall app on your phone and open it.",
		fmt.Sprintf("2. Enter the server address `%s`", kit.esc(server)),
		fmt.Sprintf("3. Enter the code *`%s`*", code),
	}
	if server == "" {
		steps[1] = "2. Enter your oncall server's address (ask whoever runs oncall)."
	}
	return []slack.Block{
		kit.header("Pair the oncall mobile app"),
		kit.section(strings.Join(steps, "\n")),
		kit.context(fmt.Sprintf("The code works once, for %d minutes. Keep it to yourself: whoever enters it first receives your pages and can acknowledge them as you. Run `/oncall mobile` again for a new one.", minutes)),
	}
}

// phoneBlocks lists the user's paired phones with a Revoke button each.
func phoneBlocks(phones []store.MobileToken, c clock) []slack.Block {
	if len(phones) == 0 {
		return []slack.Block{kit.context("No phone is paired yet.")}
	}
	blocks := []slack.Block{kit.section("*Your paired phones*")}
	for i, p := range phones {
		if len(blocks) >= maxMessageBlocks-1 {
			blocks = append(blocks, kit.context(fmt.Sprintf("…and %d more: revoke with `/oncall mobile revoke <number>`.", len(phones)-i)))
			break
		}
		id := strconv.FormatInt(p.ID, 10)
		btn := kit.button(actionMobileRevoke, id, "Revoke")
		btn.Style = slack.StyleDanger
		btn.Confirm = slack.NewConfirmationBlockObject(kit.plain("Unpair this phone?"),
			kit.plain(kit.clip(fmt.Sprintf("%s will be signed out and get no more pages.", p.Label), maxSectionText)),
			kit.plain("Revoke"), kit.plain("Cancel"))
		text := fmt.Sprintf("*%s* (%s)\npaired %s, last used %s", kit.esc(p.Label), id, c.at(p.CreatedAt), c.rel(p.LastUsedAt))
		blocks = append(blocks, slack.NewSectionBlock(kit.md(text), nil, slack.NewAccessory(btn)))
	}
	return blocks
}
