// Package bot is oncall in Slack over Socket Mode: the buttons on every page
// (acknowledge, resolve, escalate), the /oncall command, its modals and the
// App Home. Every envelope is acknowledged first and acted on after, so
// Slack's 3-second limit holds however slow the database is; the one
// exception is a modal's submission, whose field errors must travel in the
// acknowledgement itself, so it is validated before the ack (against the
// configuration snapshot, without waiting on anything else).
//
// Incident actions go to the engine, the one place incident state changes.
// Configuration changes go through the same validation and the same apply
// as `oncall apply` (change.go), with the Slack user as the actor on the
// audit log. Rendering is pure functions of data (Block Kit JSON with
// golden tests under testdata/).
package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/oncall"
)

// Bot is the Socket Mode app.
type Bot struct {
	api    *slack.Client
	sm     *socketmode.Client
	engine *jobs.Engine
	db     *pgxpool.Pool
	clock  oncall.Clock
	log    zerolog.Logger
	// publicURL is how phones reach the HTTP API, shown with a pairing code.
	publicURL string
	conn      conn      // the Socket Mode connection loop (conn.go)
	ws        workspace // ours, for telling our users from others (identity.go)
}

// Config is how the bot reaches Slack.
type Config struct {
	AppToken string // xapp-: Socket Mode
	BotToken string // xoxb-: the Web API
	APIURL   string // ends in "/"
	// PublicURL is how phones reach the HTTP API (ONCALL_PUBLIC_URL): the
	// server address the mobile app asks for with a pairing code.
	PublicURL string
	// PingTimeout is how long the connection may go without a ping from
	// Slack before it counts as dead and is replaced (a half-open
	// connection shows no other sign); slack-go's 30 s when 0.
	PingTimeout time.Duration
}

// New builds the bot.
func New(cfg Config, engine *jobs.Engine, db *pgxpool.Pool, clock oncall.Clock, log zerolog.Logger) *Bot {
	api := slack.New(cfg.BotToken, slack.OptionAPIURL(cfg.APIURL), slack.OptionAppLevelToken(cfg.AppToken),
		slack.OptionHTTPClient(&http.Client{Timeout: apiTimeout}))
	var opts []socketmode.Option
	if cfg.PingTimeout > 0 {
		opts = append(opts, socketmode.OptionPingInterval(cfg.PingTimeout))
	}
	return &Bot{api: api, sm: socketmode.New(api, opts...), engine: engine, db: db, clock: clock, log: log, publicURL: cfg.PublicURL}
}

// Run connects and serves until ctx ends, reconnecting whenever the
// connection fails (conn.go).
func (b *Bot) Run(ctx context.Context) {
	go b.runSocket(ctx)
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

// work runs fn after the envelope was acknowledged, detached from the
// connection (a reconnect must not cancel it), logging a failure.
func (b *Bot) work(ctx context.Context, what string, fn func(context.Context) error) {
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := fn(ctx); err != nil {
			b.log.Error().Err(err).Str("what", what).Msg("slack request failed")
		}
	}()
}

func (b *Bot) dispatch(ctx context.Context, evt socketmode.Event) {
	if b.duplicate(evt) {
		return
	}
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.connected()
		b.log.Info().Msg("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		ev, _ := evt.Data.(*slack.ConnectionErrorEvent)
		b.connectionError(ev)
	case socketmode.EventTypeInvalidAuth:
		b.log.Error().Msg("slack refused the app token")
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		switch cb.Type {
		case slack.InteractionTypeViewSubmission:
			// Field errors go back in the ack: validate first, in a
			// goroutine of its own, so that no other envelope's ack waits
			// for the validation (which loads the configuration: 0.3 s
			// with 10,000 users, and every ack behind it waited as long).
			go func() { b.ack(evt, b.viewSubmission(ctx, cb)) }()
		case slack.InteractionTypeBlockActions:
			b.ack(evt)
			b.work(ctx, "block action", func(ctx context.Context) error { return b.blockActions(ctx, cb) })
		default:
			b.ack(evt)
		}
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		b.ack(evt)
		b.work(ctx, "slash command", func(ctx context.Context) error { return b.slash(ctx, cmd) })
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			b.ack(evt)
		}
		outer, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			return
		}
		if home, ok := outer.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); ok && home.Tab == "home" {
			b.work(ctx, "app home", func(ctx context.Context) error { return b.publishHome(ctx, home.User) })
		}
	}
}

func (b *Bot) ack(evt socketmode.Event, payload ...any) {
	if len(payload) == 1 && payload[0] == nil {
		payload = nil
	}
	if err := b.sm.Ack(*evt.Request, payload...); err != nil {
		b.log.Warn().Err(err).Msg("ack slack envelope")
	}
}

// ---- who is clicking

// errNotOurs is the answer for a Slack user who is not one of our users.
var errNotOurs = errors.New("not a user of oncall")

// user is our user behind a Slack user ID: by slack_id, else by the email
// Slack has for them when they are a member of our workspace; errNotOurs
// when they are not ours.
func (b *Bot) user(ctx context.Context, slackID string) (string, error) {
	name, ok, err := b.engine.FindUser(ctx, slackID, "")
	if err != nil || ok {
		return name, err
	}
	info, err := b.api.GetUserInfoContext(ctx, slackID)
	if err != nil {
		return "", errNotOurs // an unknown Slack user is not ours
	}
	// Only an account of our workspace vouches for its email.
	if member, err := b.member(ctx, info); err != nil || !member {
		if err == nil {
			err = errNotOurs
		}
		return "", err
	}
	name, ok, err = b.engine.FindUser(ctx, "", info.Profile.Email)
	if err == nil && !ok {
		err = errNotOurs
	}
	return name, err
}

func notOursText(slackID string) string {
	return "You are not a user of oncall, so you cannot do that. Ask an admin to add you (with your Slack ID " + slackID + ")."
}

// userError is what to tell a user about err: its words when it is a
// UserError, else a generic failure (the cause is logged).
func (b *Bot) userError(err error) string {
	var ue *oncall.UserError
	switch {
	case errors.As(err, &ue):
		return ue.Msg
	case errors.Is(err, errNotOurs):
		return "You are not a user of oncall."
	case errors.Is(err, oncall.ErrNotFound):
		return "That no longer exists."
	case errors.Is(err, oncall.ErrForbidden):
		return "Only an admin of the owning team may change that."
	}
	b.log.Error().Err(err).Msg("slack request failed")
	return "Something went wrong on our side; try again in a moment."
}

// ---- replies

// reply answers a slash command or a block action privately through its
// response_url.
func (b *Bot) reply(ctx context.Context, responseURL string, msg *slack.WebhookMessage) error {
	if msg.ResponseType == "" {
		msg.ResponseType = slack.ResponseTypeEphemeral
	}
	err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, b.httpClient(), msg)
	// A transport error quotes the response_url, a capability (anyone who
	// has it may post as the app for half an hour): keep it out of the log.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("post to the response_url: %s: %w", ue.Op, ue.Err)
	}
	return err
}

func (b *Bot) replyText(ctx context.Context, responseURL, text string) error {
	return b.reply(ctx, responseURL, &slack.WebhookMessage{Text: text})
}

// ephemeral shows text to one user in a channel.
func (b *Bot) ephemeral(ctx context.Context, channel, slackUser, text string) {
	if channel == "" {
		return
	}
	if _, err := b.api.PostEphemeralContext(ctx, channel, slackUser, slack.MsgOptionText(text, false)); err != nil {
		b.log.Warn().Err(err).Msg("post ephemeral reply")
	}
}

// ---- /oncall

// slash runs one /oncall subcommand.
func (b *Bot) slash(ctx context.Context, cmd slack.SlashCommand) error {
	args := strings.Fields(cmd.Text)
	sub := "help"
	if len(args) > 0 {
		sub, args = strings.ToLower(args[0]), args[1:]
	}
	c, ok := b.commands()[sub]
	if !ok {
		return b.replyText(ctx, cmd.ResponseURL, fmt.Sprintf("I don't know `/oncall %s`.\n\n%s", sub, helpText))
	}
	user, err := b.user(ctx, cmd.UserID)
	if errors.Is(err, errNotOurs) && c.public {
		user, err = "", nil
	}
	if err != nil {
		return b.replyText(ctx, cmd.ResponseURL, b.userError(err))
	}
	return c.run(ctx, &request{cmd: cmd, args: args, user: user})
}

// request is one /oncall invocation.
type request struct {
	cmd  slack.SlashCommand
	args []string
	user string // our user ("" for a public command run by someone not ours)
}

// command is a subcommand.
type command struct {
	usage  string // e.g. "who [schedule|service|team]"
	help   string // one line
	public bool   // runs for Slack users who are not ours
	run    func(context.Context, *request) error
}

// helpText lists the subcommands.
var helpText string

func init() {
	var b Bot
	var lines []string
	for _, name := range commandOrder {
		c := b.commands()[name]
		lines = append(lines, fmt.Sprintf("• `/oncall %s` — %s", c.usage, c.help))
	}
	helpText = "*/oncall* commands:\n" + strings.Join(lines, "\n")
}

// ---- interactivity

// blockActions routes button clicks and menu choices by action_id prefix.
func (b *Bot) blockActions(ctx context.Context, cb slack.InteractionCallback) error {
	for _, a := range cb.ActionCallback.BlockActions {
		for prefix, h := range b.actions() {
			if strings.HasPrefix(a.ActionID, prefix) {
				if err := h(ctx, cb, a); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// viewSubmission routes a modal's submission by callback_id prefix and
// returns the acknowledgement's payload (nil to close the modal,
// slack.NewErrorsViewSubmissionResponse for field errors, ...).
func (b *Bot) viewSubmission(ctx context.Context, cb slack.InteractionCallback) any {
	ctx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	for prefix, h := range b.views() {
		if strings.HasPrefix(cb.View.CallbackID, prefix) {
			resp, err := h(ctx, cb)
			if err != nil {
				return slack.NewErrorsViewSubmissionResponse(map[string]string{firstBlockID(cb.View): b.userError(err)})
			}
			if resp == nil {
				return nil
			}
			return resp
		}
	}
	return nil
}

func firstBlockID(v slack.View) string {
	for _, bl := range v.Blocks.BlockSet {
		if in, ok := bl.(*slack.InputBlock); ok {
			return in.BlockID
		}
	}
	return ""
}
