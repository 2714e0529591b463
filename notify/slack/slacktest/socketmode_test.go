package slacktest_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/oncall/oncall/notify/slack/slacktest"
)

// runSocketMode runs slack-go's Socket Mode client with a SocketmodeHandler, as in
// slack-go's examples/socketmode_handler, until the test ends.
func runSocketMode(t *testing.T, srv *slacktest.Server, setup func(*socketmode.SocketmodeHandler), opts ...socketmode.Option) *socketmode.Client {
	t.Helper()
	opts = append([]socketmode.Option{socketmode.OptionLog(log.New(io.Discard, "", 0))}, opts...)
	client := socketmode.New(newAPI(srv), opts...)
	h := socketmode.NewSocketmodeHandler(client)
	h.HandleDefault(func(*socketmode.Event, *socketmode.Client) {})
	if setup != nil {
		setup(h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.RunEventLoopContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("socket mode client did not stop")
		}
	})
	return client
}

// recv receives from ch or fails the test when ctx ends.
func recv[T any](t *testing.T, ctx context.Context, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("nothing received: %v", ctx.Err())
		panic("unreachable")
	}
}

// offer sends without blocking (handlers may run again after a reconnect).
func offer[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func TestSocketModeSlashCommand(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddUser("U1", "alice@example.com", "Alice", "")
	srv.AddChannel("C1", "incidents")
	hellos := make(chan *socketmode.Request, 1)
	cmds := make(chan slack.SlashCommand, 1)
	runSocketMode(t, srv, func(h *socketmode.SocketmodeHandler) {
		h.Handle(socketmode.EventTypeHello, func(evt *socketmode.Event, _ *socketmode.Client) {
			offer(hellos, evt.Request)
		})
		h.HandleSlashCommand("/oncall", func(evt *socketmode.Event, c *socketmode.Client) {
			cmd := evt.Data.(slack.SlashCommand)
			_ = c.Ack(*evt.Request, map[string]any{"response_type": "ephemeral", "text": "on call: alice"})
			offer(cmds, cmd)
		})
	})
	ctx := timeout(t)

	hello := recv(t, ctx, hellos)
	if hello.ConnectionInfo.AppID != slacktest.AppID || hello.NumConnections != 1 || hello.DebugInfo.Host == "" {
		t.Errorf("hello = %+v", hello)
	}
	open := srv.Calls("apps.connections.open")[0]
	if open.Token != srv.AppToken() || open.ContentType != "application/json" || len(open.JSON) != 0 {
		t.Errorf("apps.connections.open call = %+v", open)
	}
	if c := srv.Conns()[0]; c.Origin != "https://api.slack.com" {
		t.Errorf("conn = %+v", c)
	}

	id := srv.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "who", UserID: "U1", ChannelID: "C1"})
	ack, err := srv.WaitForAck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var reply struct{ ResponseType, Text string }
	if err := json.Unmarshal(ack.Payload, &reply); err != nil || reply.Text != "on call: alice" {
		t.Errorf("ack payload = %s (%v)", ack.Payload, err)
	}
	cmd := recv(t, ctx, cmds)
	if cmd.Text != "who" || cmd.UserID != "U1" || cmd.UserName != "alice" || cmd.ChannelName != "incidents" ||
		cmd.TeamID != slacktest.TeamID || cmd.APIAppID != slacktest.AppID || cmd.TriggerID == "" ||
		!strings.HasPrefix(cmd.ResponseURL, srv.URL()) || cmd.IsEnterpriseInstall {
		t.Errorf("slash command = %+v", cmd)
	}
	// Slack shows the ack's payload to the user who typed the command.
	if e := srv.Ephemerals("C1"); len(e) != 1 || e[0].User != "U1" || e[0].Text != "on call: alice" {
		t.Errorf("ephemerals = %+v", e)
	}
	if lat, ok := srv.AckLatency(id); !ok || lat <= 0 || lat > 3*time.Second {
		t.Errorf("ack latency = %v, %t", lat, ok)
	}
	if env, _ := srv.Envelope(id); !env.AcceptsResponsePayload || len(env.Deliveries) != 1 || env.Ack.Attempt != 0 {
		t.Errorf("envelope = %+v", env)
	}

	// The response_url works with slack-go's MsgOptionResponseURL.
	api := newAPI(srv)
	if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeInChannel),
		slack.MsgOptionText("paging alice", false)); err != nil {
		t.Fatal(err)
	}
	c, err := srv.WaitForMethod(ctx, "response_url")
	if err != nil || !strings.Contains(string(c.JSON), "paging alice") || c.Param("response_type") != "in_channel" {
		t.Errorf("response_url call = %+v, %v", c, err)
	}
}

func TestSocketModeBlockActionAndViewSubmission(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddUser("U1", "alice@example.com", "Alice", "")
	api := newAPI(srv)
	ch, ts, err := api.PostMessage("C1", slack.MsgOptionText("DB down", false), slack.MsgOptionBlocks(
		slack.NewActionBlock("incident-actions",
			slack.NewButtonBlockElement("incident_ack", "inc-1", slack.NewTextBlockObject(slack.PlainTextType, "Ack", false, false)),
			slack.NewButtonBlockElement("incident_resolve", "inc-1", slack.NewTextBlockObject(slack.PlainTextType, "Resolve", false, false)),
		)))
	if err != nil {
		t.Fatal(err)
	}
	modal := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           slack.NewTextBlockObject(slack.PlainTextType, "Resolve", false, false),
		Submit:          slack.NewTextBlockObject(slack.PlainTextType, "Resolve", false, false),
		CallbackID:      "resolve",
		PrivateMetadata: "inc-1",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("note", slack.NewTextBlockObject(slack.PlainTextType, "Note", false, false), nil,
				slack.NewPlainTextInputBlockElement(nil, "note_input")),
		}},
	}

	actions := make(chan slack.InteractionCallback, 1)
	opened := make(chan error, 1)
	subs := make(chan slack.InteractionCallback, 2)
	runSocketMode(t, srv, func(h *socketmode.SocketmodeHandler) {
		h.HandleInteractionBlockAction("incident_resolve", func(evt *socketmode.Event, c *socketmode.Client) {
			cb := evt.Data.(slack.InteractionCallback)
			_ = c.Ack(*evt.Request)
			_, err := c.OpenView(cb.TriggerID, modal)
			offer(actions, cb)
			offer(opened, err)
		})
		h.HandleViewSubmission("resolve", func(evt *socketmode.Event, c *socketmode.Client) {
			cb := evt.Data.(slack.InteractionCallback)
			if v := cb.View.State.Values["note"]["note_input"].Value; len(v) < 3 {
				_ = c.Ack(*evt.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"note": "too short"}))
			} else {
				_ = c.Ack(*evt.Request)
			}
			offer(subs, cb)
		})
	})
	ctx := timeout(t)
	if err := srv.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}

	id := srv.SendBlockAction(slacktest.BlockAction{UserID: "U1", ActionID: "incident_resolve", Value: "inc-1",
		Text: "Resolve", ChannelID: ch, MessageTS: ts})
	ack, err := srv.WaitForAck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Payload != nil {
		t.Errorf("ack without payload recorded %s", ack.Payload)
	}
	cb := recv(t, ctx, actions)
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 {
		t.Fatalf("callback = %+v", cb)
	}
	a := cb.ActionCallback.BlockActions[0]
	if a.ActionID != "incident_resolve" || a.BlockID != "incident-actions" || a.Value != "inc-1" || a.Type != "button" {
		t.Errorf("action = %+v", a)
	}
	if cb.Message.Timestamp != ts || len(cb.Message.Blocks.BlockSet) != 1 || cb.Container.ChannelID != ch ||
		cb.Container.MessageTs != ts || cb.Channel.ID != ch || cb.User.ID != "U1" || cb.TriggerID == "" {
		t.Errorf("callback = %+v", cb)
	}
	if err := recv(t, ctx, opened); err != nil {
		t.Fatalf("views.open with the action's trigger_id: %v", err)
	}
	views := srv.Views()
	if len(views) != 1 || views[0].UserID != "U1" || views[0].CallbackID != "resolve" {
		t.Fatalf("views = %+v", views)
	}

	// A submission the app rejects with response_action "errors": the modal stays open.
	id = srv.SendViewSubmission(slacktest.ViewSubmission{UserID: "U1", ViewID: views[0].ID,
		Values: map[string]map[string]slacktest.Value{
			"note": {"note_input": {Type: "plain_text_input", Value: "x"}},
			"who":  {"who_select": {Type: "users_select", SelectedUser: "U2"}},
			"sev":  {"sev_select": {Type: "static_select", SelectedOption: &slacktest.SelectOption{Text: "High", Value: "high"}}},
		}})
	ack, err = srv.WaitForAck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(ack.Payload, &resp); err != nil || resp.ResponseAction != "errors" || resp.Errors["note"] != "too short" {
		t.Errorf("ack payload = %s (%v)", ack.Payload, err)
	}
	sub := recv(t, ctx, subs)
	vals := sub.View.State.Values
	if sub.Type != slack.InteractionTypeViewSubmission || sub.View.ID != views[0].ID || sub.View.PrivateMetadata != "inc-1" ||
		vals["who"]["who_select"].SelectedUser != "U2" || vals["sev"]["sev_select"].SelectedOption.Value != "high" {
		t.Errorf("submission = %+v", sub)
	}
	if v, _ := srv.View(views[0].ID); v.Closed {
		t.Error("view closed after response_action errors")
	}

	// A submission acked without a payload closes the modal.
	id = srv.SendViewSubmission(slacktest.ViewSubmission{ViewID: views[0].ID,
		Values: map[string]map[string]slacktest.Value{"note": {"note_input": {Type: "plain_text_input", Value: "rolled back"}}}})
	if _, err := srv.WaitForAck(ctx, id); err != nil {
		t.Fatal(err)
	}
	if v, _ := srv.View(views[0].ID); !v.Closed {
		t.Error("view open after a plain ack")
	}
}

func TestSocketModeEvents(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddUser("U1", "alice@example.com", "Alice", "")
	home := must[*slack.ViewResponse](t)(newAPI(srv).PublishView("U1", slack.HomeTabViewRequest{Type: slack.VTHomeTab,
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}}}, ""))
	opened := make(chan *slackevents.AppHomeOpenedEvent, 1)
	mentions := make(chan *slackevents.AppMentionEvent, 1)
	requests := make(chan *socketmode.Request, 2)
	runSocketMode(t, srv, func(h *socketmode.SocketmodeHandler) {
		h.HandleEvents(slackevents.AppHomeOpened, func(evt *socketmode.Event, c *socketmode.Client) {
			ev := evt.Data.(slackevents.EventsAPIEvent)
			if ev.TeamID == slacktest.TeamID && ev.APIAppID == slacktest.AppID {
				offer(opened, ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent))
			}
			offer(requests, evt.Request)
			_ = c.Ack(*evt.Request)
		})
		h.HandleEvents(slackevents.AppMention, func(evt *socketmode.Event, c *socketmode.Client) {
			offer(mentions, evt.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.AppMentionEvent))
			_ = c.Ack(*evt.Request)
		})
	})
	ctx := timeout(t)

	id := srv.SendAppHomeOpened("U1")
	if _, err := srv.WaitForAck(ctx, id); err != nil {
		t.Fatal(err)
	}
	ev := recv(t, ctx, opened)
	if ev.User != "U1" || ev.Tab != "home" || ev.Channel != "DU1" || ev.View == nil || ev.View.ID != home.View.ID || ev.EventTimeStamp == "" {
		t.Errorf("app_home_opened = %+v", ev)
	}
	if req := recv(t, ctx, requests); req.RetryAttempt != 0 || req.AcceptsResponsePayload {
		t.Errorf("request = %+v", req)
	}

	id = srv.SendEvent(map[string]any{"type": "app_mention", "user": "U1", "channel": "C1",
		"text": "<@" + slacktest.BotUserID + "> who is on call", "ts": "1700000001.000100"})
	if _, err := srv.WaitForAck(ctx, id); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ctx, mentions); m.User != "U1" || !strings.Contains(m.Text, "who is on call") {
		t.Errorf("app_mention = %+v", m)
	}
}

func TestSocketModeReconnectRedelivers(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t, slacktest.WithAckTimeout(500*time.Millisecond))
	seen := make(chan *socketmode.Request, 4)
	runSocketMode(t, srv, func(h *socketmode.SocketmodeHandler) {
		h.HandleEvents(slackevents.AppHomeOpened, func(evt *socketmode.Event, c *socketmode.Client) {
			offer(seen, evt.Request)
			if evt.Request.RetryAttempt > 0 { // drop the first delivery on the floor
				_ = c.Ack(*evt.Request)
			}
		})
	})
	ctx := timeout(t)
	if err := srv.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	id := srv.SendAppHomeOpened("U1")
	if first := recv(t, ctx, seen); first.RetryAttempt != 0 || first.EnvelopeID != id {
		t.Fatalf("first delivery = %+v", first)
	}

	start := time.Now()
	srv.DropSockets()
	if err := srv.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	reconnect := time.Since(start)
	if reconnect > 5*time.Second {
		t.Errorf("reconnected after %v", reconnect)
	}
	t.Logf("slack-go reconnected %v after DropSockets", reconnect)

	ack, err := srv.WaitForAck(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	second := recv(t, ctx, seen)
	if ack.Attempt != 1 || second.RetryAttempt != 1 || second.RetryReason != "timeout" || second.EnvelopeID != id {
		t.Errorf("ack = %+v, redelivery = %+v", ack, second)
	}
	env, _ := srv.Envelope(id)
	if len(env.Deliveries) != 2 || env.Deliveries[0].ConnID == env.Deliveries[1].ConnID {
		t.Errorf("deliveries = %+v", env.Deliveries)
	}
	if n := srv.ConnectCount(); n != 2 {
		t.Errorf("connect count = %d", n)
	}
}

func TestSocketModeRedeliveryTypes(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, opts ...slacktest.Option) (slacktest.Envelope, []*socketmode.Request) {
		srv := slacktest.New(t, append([]slacktest.Option{slacktest.WithAckTimeout(100 * time.Millisecond)}, opts...)...)
		seen := make(chan *socketmode.Request, 8)
		runSocketMode(t, srv, func(h *socketmode.SocketmodeHandler) {
			h.HandleInteractionBlockAction("slow", func(evt *socketmode.Event, _ *socketmode.Client) {
				offer(seen, evt.Request) // never acked
			})
		})
		ctx := timeout(t)
		if err := srv.WaitConnected(ctx, 1); err != nil {
			t.Fatal(err)
		}
		id := srv.SendBlockAction(slacktest.BlockAction{UserID: "U1", ActionID: "slow", ChannelID: "C1", MessageTS: "1.1"})
		env, err := srv.WaitForEnvelope(ctx, id, func(e slacktest.Envelope) bool { return e.TimedOut })
		if err != nil {
			t.Fatal(err)
		}
		var reqs []*socketmode.Request
		for range env.Deliveries {
			reqs = append(reqs, recv(t, ctx, seen))
		}
		return env, reqs
	}
	t.Run("interactive is not re-delivered by default", func(t *testing.T) {
		t.Parallel()
		env, reqs := run(t)
		if len(env.Deliveries) != 1 || env.Ack != nil || reqs[0].RetryAttempt != 0 {
			t.Errorf("envelope = %+v", env)
		}
	})
	t.Run("WithRedelivery", func(t *testing.T) {
		t.Parallel()
		env, reqs := run(t, slacktest.WithRedelivery(slacktest.TypeInteractive), slacktest.WithMaxRetries(2))
		if len(env.Deliveries) != 3 || reqs[2].RetryAttempt != 2 || reqs[2].RetryReason != "timeout" {
			t.Errorf("envelope = %+v, last request = %+v", env, reqs[len(reqs)-1])
		}
	})
}

func TestSocketModeSeveralConnections(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	var counts [2]atomic.Int32
	hellos := make(chan int, 2)
	for i := range counts {
		runSocketMode(t, srv, func(h *socketmode.SocketmodeHandler) {
			h.Handle(socketmode.EventTypeHello, func(evt *socketmode.Event, _ *socketmode.Client) {
				offer(hellos, evt.Request.NumConnections)
			})
			h.HandleEvents(slackevents.AppMention, func(evt *socketmode.Event, c *socketmode.Client) {
				counts[i].Add(1)
				_ = c.Ack(*evt.Request)
			})
		})
	}
	ctx := timeout(t)
	if err := srv.WaitConnected(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if a, b := recv(t, ctx, hellos), recv(t, ctx, hellos); a+b != 3 {
		t.Errorf("hello num_connections = %d, %d; want 1 and 2", a, b)
	}
	var ids []string
	for range 6 {
		ids = append(ids, srv.SendEvent(map[string]any{"type": "app_mention", "user": "U1", "channel": "C1", "text": "hi"}))
	}
	for _, id := range ids {
		if _, err := srv.WaitForAck(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := counts[0].Load(), counts[1].Load(); a == 0 || b == 0 || a+b != 6 {
		t.Errorf("envelopes per client = %d, %d", a, b)
	}
}

func TestSocketModePings(t *testing.T) {
	t.Parallel()
	t.Run("pinged connection stays", func(t *testing.T) {
		t.Parallel()
		srv := slacktest.New(t, slacktest.WithPingInterval(50*time.Millisecond))
		runSocketMode(t, srv, nil, socketmode.OptionPingInterval(500*time.Millisecond))
		// 20 pings take 1 s: two of the client's 500 ms ping deadlines.
		err := srv.WaitUntil(timeout(t), func() bool { c := srv.Conns(); return len(c) > 0 && c[0].Pongs >= 20 })
		if err != nil {
			t.Fatal(err)
		}
		if n := srv.ConnectCount(); n != 1 {
			t.Errorf("client reconnected %d times although pinged", n-1)
		}
	})
	t.Run("unpinged connection is replaced", func(t *testing.T) {
		t.Parallel()
		srv := slacktest.New(t, slacktest.WithPingInterval(0))
		runSocketMode(t, srv, nil, socketmode.OptionPingInterval(300*time.Millisecond))
		if err := srv.WaitUntil(timeout(t), func() bool { return srv.ConnectCount() >= 2 }); err != nil {
			t.Fatal(err)
		}
		c := srv.Conns()
		t.Logf("without pings slack-go dropped its connection after %v", c[1].Opened.Sub(c[0].Opened))
	})
}

func TestSocketModeDisconnectMessage(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	runSocketMode(t, srv, nil)
	ctx := timeout(t)
	if err := srv.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	srv.SendDisconnect("refresh_requested")
	if err := srv.WaitUntil(ctx, func() bool { return srv.ConnectCount() == 2 && srv.Connections() == 1 }); err != nil {
		t.Fatal(err)
	}
	if c := srv.Conns(); c[0].Closed.IsZero() {
		t.Errorf("first connection still open: %+v", c)
	}
}

func TestSocketModeInvalidAppToken(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	api := slack.New(srv.BotToken(), slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken("xapp-wrong"))
	client := socketmode.New(api, socketmode.OptionLog(log.New(io.Discard, "", 0)))
	errc := make(chan error, 1)
	go func() { errc <- client.RunContext(t.Context()) }()
	if err := recv(t, timeout(t), errc); slackErr(err) != "invalid_auth" {
		t.Errorf("RunContext = %v, want invalid_auth", err)
	}
}

func TestSocketModeConnectionsOpenRateLimited(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.FailNext("apps.connections.open", 1, http.StatusTooManyRequests, time.Second)
	runSocketMode(t, srv, nil)
	if err := srv.WaitConnected(timeout(t), 1); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls("apps.connections.open")
	if len(calls) != 2 || calls[0].Status != http.StatusTooManyRequests {
		t.Fatalf("calls = %+v", calls)
	}
	if wait := calls[1].Time.Sub(calls[0].Time); wait < time.Second {
		t.Errorf("slack-go retried after %v, before Retry-After", wait)
	}
}
