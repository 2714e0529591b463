// Package bot is oncall in Slack over Socket Mode: the buttons on every page
// (acknowledge, resolve, escalate) and the /oncall command. Every envelope
// is acknowledged first and acted on after, so Slack's 3-second limit is
// never at risk; actions go to the engine, the one place incident state
// changes, and the engine's message updates show the result everywhere.
package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/oncall/oncall/jobs"
	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// Bot is the Socket Mode app.
type Bot struct {
	api    *slack.Client
	sm     *socketmode.Client
	engine *jobs.Engine
	log    zerolog.Logger
}

// Config is how the bot reaches Slack.
type Config struct {
	AppToken string // xapp-: Socket Mode
	BotToken string // xoxb-: the Web API
	APIURL   string // ends in "/"
}

// New builds the bot.
func New(cfg Config, engine *jobs.Engine, log zerolog.Logger) *Bot {
	api := slack.New(cfg.BotToken, slack.OptionAPIURL(cfg.APIURL), slack.OptionAppLevelToken(cfg.AppToken))
	return &Bot{api: api, sm: socketmode.New(api), engine: engine, log: log}
}

// reconnectDelay is the pause before the bot reconnects after its
// connection failed.
const reconnectDelay = time.Second

// Run connects and serves until ctx ends, reconnecting whenever the
// connection fails.
func (b *Bot) Run(ctx context.Context) {
	go func() {
		for {
			err := b.sm.RunContext(ctx)
			if ctx.Err() != nil {
				return
			}
			b.log.Warn().Err(err).Msg("slack socket mode connection lost; reconnecting")
			select {
			case <-ctx.Done():
				return
			case <-time.After(reconnectDelay):
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case evt, ok := <-b.sm.Events:
			if !ok {
				return
			}
			b.dispatch(ctx, evt)
		}
	}
}

func (b *Bot) dispatch(ctx context.Context, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.log.Info().Msg("slack socket mode connected")
	case socketmode.EventTypeInvalidAuth:
		b.log.Error().Msg("slack refused the app token")
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		b.ack(evt)
		if cb.Type == slack.InteractionTypeBlockActions {
			go b.blockActions(context.WithoutCancel(ctx), cb)
		}
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		b.ack(evt, map[string]any{"response_type": "ephemeral", "text": commandReply(cmd)})
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			b.ack(evt)
		}
	}
}

func (b *Bot) ack(evt socketmode.Event, payload ...any) {
	if err := b.sm.Ack(*evt.Request, payload...); err != nil {
		b.log.Warn().Err(err).Msg("ack slack envelope")
	}
}

// blockActions handles the page buttons. The clicking Slack user must be
// one of ours; anyone else is told so, privately, and nothing changes.
func (b *Bot) blockActions(ctx context.Context, cb slack.InteractionCallback) {
	for _, a := range cb.ActionCallback.BlockActions {
		var act func(context.Context, int64, string) (*store.Incident, error)
		switch a.ActionID {
		case slackch.ActionAck:
			act = b.engine.Ack
		case slackch.ActionResolve:
			act = b.engine.Resolve
		case slackch.ActionEscalate:
			act = b.engine.Escalate
		default:
			continue
		}
		log := b.log.With().Str("slack_user", cb.User.ID).Str("action", a.ActionID).Logger()
		id, err := slackch.ParseActionValue(a.Value)
		if err != nil {
			log.Warn().Err(err).Msg("button with a bad incident id")
			continue
		}
		user, err := b.user(ctx, cb.User.ID)
		if err != nil {
			log.Error().Err(err).Msg("find the clicking user")
			b.ephemeral(ctx, cb, "Something went wrong on our side; try again in a moment.")
			continue
		}
		if user == "" {
			b.ephemeral(ctx, cb, "You are not a user of oncall, so you cannot act on incidents. Ask an admin to add you (with your Slack ID "+cb.User.ID+").")
			continue
		}
		if _, err := act(ctx, id, user); err != nil {
			var ue *oncall.UserError
			switch {
			case errors.As(err, &ue):
				b.ephemeral(ctx, cb, ue.Msg)
			case errors.Is(err, oncall.ErrNotFound):
				b.ephemeral(ctx, cb, fmt.Sprintf("Incident #%d no longer exists.", id))
			default:
				log.Error().Err(err).Int64("incident", id).Msg("incident action failed")
				b.ephemeral(ctx, cb, "Something went wrong on our side; try again in a moment.")
			}
		}
	}
}

// user is our user behind a Slack user ID: by slack_id, else by the email
// Slack has for them; "" when they are not ours.
func (b *Bot) user(ctx context.Context, slackID string) (string, error) {
	name, ok, err := b.engine.FindUser(ctx, slackID, "")
	if err != nil || ok {
		return name, err
	}
	info, err := b.api.GetUserInfoContext(ctx, slackID)
	if err != nil {
		return "", nil // an unknown Slack user is not ours
	}
	name, _, err = b.engine.FindUser(ctx, "", info.Profile.Email)
	return name, err
}

func (b *Bot) ephemeral(ctx context.Context, cb slack.InteractionCallback, text string) {
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	if channel == "" {
		return
	}
	if _, err := b.api.PostEphemeralContext(ctx, channel, cb.User.ID, slack.MsgOptionText(text, false)); err != nil {
		b.log.Warn().Err(err).Msg("post ephemeral reply")
	}
}

// commandReply answers /oncall until the full command set exists.
func commandReply(cmd slack.SlashCommand) string {
	sub := strings.Fields(cmd.Text)
	if len(sub) == 0 || sub[0] == "help" {
		return "*/oncall* — pages arrive here with Acknowledge, Resolve and Escalate buttons.\n" +
			"Configuration lives in manifests for now: `oncall apply -f DIR`, `oncall shifts`, `oncall who`."
	}
	return fmt.Sprintf("`/oncall %s` is not available yet. Try `/oncall help`.", sub[0])
}
