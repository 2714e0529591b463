package slacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/goleak"

	"github.com/oncall/oncall/notify/slack/slacktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// slack-go uses http.DefaultTransport; its idle keep-alive connections are not leaks.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			println("goroutine leak:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

// newAPI is the real slack-go client pointed at the fake.
func newAPI(srv *slacktest.Server, opts ...slack.Option) *slack.Client {
	base := []slack.Option{slack.OptionAPIURL(srv.APIURL()), slack.OptionAppLevelToken(srv.AppToken())}
	return slack.New(srv.BotToken(), append(base, opts...)...)
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// slackErr returns the Slack error code of err ("" if it is not one).
func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// must fails the test on err, else returns v.
func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestAuthTest(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	resp := must[*slack.AuthTestResponse](t)(newAPI(srv).AuthTest())
	if resp.UserID != slacktest.BotUserID || resp.TeamID != slacktest.TeamID || resp.BotID != slacktest.BotID {
		t.Errorf("auth.test = %+v", resp)
	}
	c := srv.Calls("auth.test")[0]
	if c.Token != srv.BotToken() || c.ContentType != "application/x-www-form-urlencoded" || c.HTTPMethod != "POST" {
		t.Errorf("call = %+v", c)
	}

	_, err := slack.New("xoxb-wrong", slack.OptionAPIURL(srv.APIURL())).AuthTest()
	if slackErr(err) != "invalid_auth" {
		t.Errorf("wrong token: err = %v, want invalid_auth", err)
	}
	_, err = slack.New(srv.AppToken(), slack.OptionAPIURL(srv.APIURL())).AuthTest()
	if slackErr(err) != "not_allowed_token_type" {
		t.Errorf("app token: err = %v, want not_allowed_token_type", err)
	}
	if resp, err := http.Post(srv.APIURL()+"no.such.method", "application/x-www-form-urlencoded", strings.NewReader("token="+srv.BotToken())); err != nil {
		t.Fatal(err)
	} else {
		var body struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if body.OK || body.Error != "unknown_method" {
			t.Errorf("unknown method: %+v", body)
		}
	}
}

func TestMessages(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	api := newAPI(srv)
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*DB down*", false, false), nil, nil),
		slack.NewActionBlock("actions",
			slack.NewButtonBlockElement("ack", "inc-1", slack.NewTextBlockObject(slack.PlainTextType, "Ack", false, false))),
	}
	ch, ts, err := api.PostMessage("C0ALERTS", slack.MsgOptionText("DB down", false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		t.Fatal(err)
	}
	if ch != "C0ALERTS" || ts != "1700000000.000100" {
		t.Errorf("PostMessage = %s %s", ch, ts)
	}
	_, replyTS, err := api.PostMessage(ch, slack.MsgOptionText("paged alice", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatal(err)
	}
	if replyTS <= ts {
		t.Errorf("reply ts %s not after %s", replyTS, ts)
	}
	// chat.update keeps the blocks when only text is sent, replaces them when sent.
	_, _, _, err = api.UpdateMessage(ch, ts, slack.MsgOptionText("DB down (acked)", false),
		slack.MsgOptionBlocks(blocks[0]))
	if err != nil {
		t.Fatal(err)
	}

	msgs := srv.Messages(ch)
	if len(msgs) != 1 {
		t.Fatalf("Messages = %+v", msgs)
	}
	m := msgs[0]
	if m.Text != "DB down (acked)" || m.Updates != 1 || len(m.Replies) != 1 || m.Replies[0].Text != "paged alice" {
		t.Errorf("message = %+v", m)
	}
	if m.Replies[0].ThreadTS != ts {
		t.Errorf("reply thread_ts = %q", m.Replies[0].ThreadTS)
	}
	var got []map[string]any
	if err := json.Unmarshal(m.Blocks, &got); err != nil || len(got) != 1 || got[0]["type"] != "section" {
		t.Errorf("blocks after update = %s (%v)", m.Blocks, err)
	}
	post := srv.Calls("chat.postMessage")[0]
	if !strings.Contains(post.Param("blocks"), `"action_id":"ack"`) || post.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("post call = %+v", post)
	}

	// Errors slack-go surfaces as SlackErrorResponse.
	if _, _, _, err := api.UpdateMessage(ch, "1.2", slack.MsgOptionText("x", false)); slackErr(err) != "message_not_found" {
		t.Errorf("update unknown ts: %v", err)
	}
	if _, _, err := api.PostMessage("", slack.MsgOptionText("x", false)); slackErr(err) != "channel_not_found" {
		t.Errorf("post without channel: %v", err)
	}
	if _, _, err := api.PostMessage(ch, slack.MsgOptionText("x", false), slack.MsgOptionTS("1.2")); slackErr(err) != "thread_not_found" {
		t.Errorf("post to unknown thread: %v", err)
	}
	if _, _, err := api.PostMessage(ch); slackErr(err) != "no_text" {
		t.Errorf("post without text: %v", err)
	}

	link, err := api.GetPermalink(&slack.PermalinkParameters{Channel: ch, Ts: replyTS})
	if err != nil {
		t.Fatal(err)
	}
	if want := slacktest.Permalink(ch, replyTS, ts); link != want {
		t.Errorf("permalink = %s, want %s", link, want)
	}
	if c := srv.Calls("chat.getPermalink")[0]; c.HTTPMethod != "GET" || c.Token != srv.BotToken() {
		t.Errorf("getPermalink call = %+v", c)
	}
	if _, _, err := api.DeleteMessage(ch, replyTS); err != nil {
		t.Fatal(err)
	}
	if got := srv.Messages(ch)[0].Replies; len(got) != 0 {
		t.Errorf("replies after delete = %+v", got)
	}
}

func TestEphemeralAndDMs(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddUser("U1", "alice@example.com", "Alice", "Europe/Berlin")
	api := newAPI(srv)

	ts, err := api.PostEphemeral("C1", "U1", slack.MsgOptionText("only you", false))
	if err != nil || ts == "" {
		t.Fatalf("PostEphemeral = %q, %v", ts, err)
	}
	if e := srv.Ephemerals("C1"); len(e) != 1 || e[0].User != "U1" || e[0].Text != "only you" || e[0].MessageTS != ts {
		t.Errorf("ephemerals = %+v", e)
	}
	if _, err := api.PostEphemeral("C1", "U404", slack.MsgOptionText("x", false)); slackErr(err) != "user_not_in_channel" {
		t.Errorf("ephemeral to unknown user: %v", err)
	}

	ch, noOp, already, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U1"}})
	if err != nil {
		t.Fatal(err)
	}
	if ch.ID != "DU1" || noOp || already {
		t.Errorf("OpenConversation = %+v %t %t", ch, noOp, already)
	}
	if _, _, already, _ := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U1"}}); !already {
		t.Error("second open: already_open = false")
	}
	if _, _, _, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U404"}}); slackErr(err) != "user_not_found" {
		t.Errorf("open with unknown user: %v", err)
	}
	// Posting to a user id lands in the DM, as on Slack.
	got, _, err := api.PostMessage("U1", slack.MsgOptionText("you are on call", false))
	if err != nil || got != "DU1" || len(srv.Messages("DU1")) != 1 {
		t.Errorf("post to user = %q, %v", got, err)
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddUser("U1", "alice@example.com", "Alice Liddell", "America/New_York")
	api := newAPI(srv)

	u, err := api.GetUserByEmail("Alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "U1" || u.Profile.Email != "alice@example.com" || u.RealName != "Alice Liddell" ||
		u.TZ != "America/New_York" || (u.TZOffset != -5*3600 && u.TZOffset != -4*3600) || u.Name != "alice" {
		t.Errorf("user = %+v", u)
	}
	if _, err := api.GetUserByEmail("bob@example.com"); slackErr(err) != "users_not_found" {
		t.Errorf("unknown email: %v", err)
	}
	u, err = api.GetUserInfo("U1")
	if err != nil || u.Profile.DisplayName != "Alice Liddell" {
		t.Errorf("GetUserInfo = %+v, %v", u, err)
	}
	if c := srv.Calls("users.info")[0]; c.Param("include_locale") != "true" {
		t.Errorf("users.info params = %v", c.Params)
	}
	if _, err := api.GetUserInfo("U404"); slackErr(err) != "user_not_found" {
		t.Errorf("unknown user: %v", err)
	}
}

func TestViews(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddUser("U1", "alice@example.com", "Alice", "")
	api := newAPI(srv)

	modal := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           slack.NewTextBlockObject(slack.PlainTextType, "Override", false, false),
		Submit:          slack.NewTextBlockObject(slack.PlainTextType, "Save", false, false),
		CallbackID:      "override",
		PrivateMetadata: "sched-1",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("who", slack.NewTextBlockObject(slack.PlainTextType, "Who", false, false), nil,
				slack.NewOptionsSelectBlockElement(slack.OptTypeUser, nil, "who_select")),
		}},
	}
	trigger := srv.NewTriggerID("U1")
	resp, err := api.OpenView(trigger, modal)
	if err != nil {
		t.Fatal(err)
	}
	if resp.View.ID == "" || resp.View.CallbackID != "override" || resp.View.PrivateMetadata != "sched-1" ||
		resp.View.Hash == "" || resp.View.Title.Text != "Override" || len(resp.View.Blocks.BlockSet) != 1 {
		t.Errorf("OpenView = %+v", resp.View)
	}
	if c := srv.Calls("views.open")[0]; c.ContentType != "application/json" || c.Token != srv.BotToken() || c.Param("trigger_id") != trigger {
		t.Errorf("views.open call = %+v", c)
	}
	if _, err := api.OpenView(trigger, modal); slackErr(err) != "exchanged_trigger_id" {
		t.Errorf("reused trigger: %v", err)
	}
	if _, err := api.OpenView("123.456.abc", modal); slackErr(err) != "invalid_trigger_id" {
		t.Errorf("unknown trigger: %v", err)
	}

	modal.Title = slack.NewTextBlockObject(slack.PlainTextType, "Override (2)", false, false)
	upd, err := api.UpdateView(modal, "", resp.View.Hash, resp.View.ID)
	if err != nil {
		t.Fatal(err)
	}
	if upd.View.ID != resp.View.ID || upd.View.Hash == resp.View.Hash {
		t.Errorf("UpdateView = %+v", upd.View)
	}
	if _, err := api.UpdateView(modal, "", resp.View.Hash, resp.View.ID); slackErr(err) != "hash_conflict" {
		t.Errorf("stale hash: %v", err)
	}
	if _, err := api.UpdateView(modal, "", "", "V404"); slackErr(err) != "not_found" {
		t.Errorf("unknown view: %v", err)
	}
	v, _ := srv.View(resp.View.ID)
	if v.UserID != "U1" || v.Updates != 1 || !strings.Contains(string(v.Title), "Override (2)") {
		t.Errorf("view = %+v", v)
	}

	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "You are on call", false, false), nil, nil),
	}}}
	pub, err := api.PublishView("U1", home, "")
	if err != nil {
		t.Fatal(err)
	}
	if pub.View.Type != slack.VTHomeTab || pub.View.ID == "" {
		t.Errorf("PublishView = %+v", pub.View)
	}
	hv, ok := srv.HomeView("U1")
	if !ok || !strings.Contains(string(hv.Blocks), "You are on call") {
		t.Errorf("HomeView = %+v", hv)
	}
	if _, err := api.PublishView("U1", home, "stale"); slackErr(err) != "hash_conflict" {
		t.Errorf("publish with stale hash: %v", err)
	}
}

func TestTriggerExpires(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t, slacktest.WithTriggerTTL(time.Nanosecond))
	trigger := srv.NewTriggerID("U1")
	// No sleep needed: the request itself takes longer than the TTL.
	_, err := newAPI(srv).OpenView(trigger, slack.ModalViewRequest{Type: slack.VTModal,
		Title: slack.NewTextBlockObject(slack.PlainTextType, "x", false, false)})
	if slackErr(err) != "expired_trigger_id" {
		t.Errorf("err = %v, want expired_trigger_id", err)
	}
}

func TestUserGroups(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	srv.AddUser("U1", "alice@example.com", "Alice", "")
	srv.AddUser("U2", "bob@example.com", "Bob", "")
	api := newAPI(srv)

	g, err := api.CreateUserGroup(slack.UserGroup{Name: "DB on call", Handle: "db-oncall", Description: "Who holds the pager"})
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == "" || g.Handle != "db-oncall" || !g.IsUserGroup {
		t.Errorf("CreateUserGroup = %+v", g)
	}
	if _, err := api.CreateUserGroup(slack.UserGroup{Name: "DB on call"}); slackErr(err) != "name_already_exists" {
		t.Errorf("duplicate: %v", err)
	}
	g, err = api.UpdateUserGroupMembers(g.ID, "U1,U2")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Users) != 2 || g.UserCount != 2 {
		t.Errorf("UpdateUserGroupMembers = %+v", g)
	}
	members, err := api.GetUserGroupMembers(g.ID)
	if err != nil || strings.Join(members, ",") != "U1,U2" {
		t.Errorf("GetUserGroupMembers = %v, %v", members, err)
	}
	groups, err := api.GetUserGroups(slack.GetUserGroupsOptionIncludeUsers(true))
	if err != nil || len(groups) != 1 || len(groups[0].Users) != 2 || groups[0].DateCreate == 0 {
		t.Errorf("GetUserGroups = %+v, %v", groups, err)
	}
	if _, err := api.UpdateUserGroupMembers(g.ID, "U1,U404"); slackErr(err) != "invalid_users" {
		t.Errorf("unknown member: %v", err)
	}
	if _, err := api.UpdateUserGroupMembers("S404", "U1"); slackErr(err) != "no_such_subteam" {
		t.Errorf("unknown group: %v", err)
	}
	if got, _ := srv.UserGroup(g.ID); got.Updates != 1 || strings.Join(got.Users, ",") != "U1,U2" {
		t.Errorf("UserGroup = %+v", got)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	api := newAPI(srv)

	srv.FailNext("chat.postMessage", 1, http.StatusTooManyRequests, 7*time.Second)
	_, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Fatalf("err = %#v, want RateLimitedError{7s}", err)
	}
	srv.FailNext("chat.postMessage", 1, http.StatusServiceUnavailable, 0)
	_, _, err = api.PostMessage("C1", slack.MsgOptionText("x", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Fatalf("err = %#v, want StatusCodeError{503}", err)
	}
	srv.FailNextWith("*", 1, "not_in_channel")
	if _, _, err = api.PostMessage("C1", slack.MsgOptionText("x", false)); slackErr(err) != "not_in_channel" {
		t.Fatalf("err = %v, want not_in_channel", err)
	}
	if _, _, err = api.PostMessage("C1", slack.MsgOptionText("x", false)); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls("chat.postMessage")
	if len(calls) != 4 || calls[0].Status != 429 || calls[1].Status != 503 || calls[2].Error != "not_in_channel" || !calls[3].OK() {
		t.Errorf("calls = %+v", calls)
	}
	if len(srv.Messages("C1")) != 1 {
		t.Errorf("faulted calls must not post: %+v", srv.Messages("C1"))
	}
}

func TestChannelPostInterval(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t, slacktest.WithChannelPostInterval(time.Minute))
	api := newAPI(srv)
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText("1", false)); err != nil {
		t.Fatal(err)
	}
	_, _, err := api.PostMessage("C1", slack.MsgOptionText("2", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Errorf("second post in a minute: %v", err)
	}
	if _, _, err := api.PostMessage("C2", slack.MsgOptionText("1", false)); err != nil {
		t.Errorf("other channel: %v", err)
	}
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	api := newAPI(srv)
	errc := make(chan error, 1)
	go func() {
		_, _, err := api.PostMessage("C1", slack.MsgOptionText("first", false))
		if err == nil {
			_, _, err = api.PostMessage("C1", slack.MsgOptionText("second", false))
		}
		errc <- err
	}()
	c, err := srv.WaitFor(timeout(t), func(c slacktest.Call) bool {
		return c.Method == "chat.postMessage" && c.Param("text") == "second"
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Param("channel") != "C1" {
		t.Errorf("call = %+v", c)
	}
	m, err := srv.WaitForMessage(timeout(t), "C1", func(m slacktest.Message) bool { return m.Text == "first" })
	if err != nil || m.TS != "1700000000.000100" {
		t.Errorf("WaitForMessage = %+v, %v", m, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := srv.WaitForMethod(ctx, "views.open"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForMethod with no call: %v", err)
	}
}
