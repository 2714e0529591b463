package bot_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/bot"
	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// harness is the bot connected to a fake Slack, over a running engine.
type harness struct {
	t     *testing.T
	slack *slacktest.Server
	b     *jobstest.Bundle
}

// Slack users of the fake workspace; the set passed to newHarness decides
// which are ours (match them with slack_id or email).
var slackUsers = []struct{ id, email, name, tz string }{
	{"U0ALICE", "alice@example.com", "alice", "Europe/Berlin"},
	{"U0BOB", "bob@example.com", "bob", "America/New_York"},
	{"U0CAROL", "carol@example.com", "carol", "Asia/Tokyo"},
	{"U0STRANGER", "stranger@elsewhere.com", "stranger", "UTC"},
}

func newHarness(t *testing.T, set *manifest.Set) *harness {
	t.Helper()
	sl := slacktest.New(t)
	for _, u := range slackUsers {
		sl.AddUser(u.id, u.email, u.name, u.tz)
	}
	ch := slackch.New(slackch.Config{BotToken: sl.BotToken(), APIURL: sl.APIURL()})
	b := jobstest.New(t, set, map[string]notify.Channel{notify.MethodSlack: ch, notify.MethodSlackChannel: ch})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	bt := bot.New(bot.Config{AppToken: sl.AppToken(), BotToken: sl.BotToken(), APIURL: sl.APIURL(), PublicURL: "https://oncall.example.com"}, b.Engine, b.Pool, b.Clock, zerolog.Nop())
	go bt.Run(ctx)
	h := &harness{t: t, slack: sl, b: b}
	if err := sl.WaitConnected(h.ctx(), 1); err != nil {
		t.Fatalf("bot did not connect: %v", err)
	}
	return h
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// slash runs /oncall text as a Slack user and returns what the bot
// answered on the command's response_url (the JSON body), after checking
// the envelope was acknowledged within Slack's 3 seconds.
func (h *harness) slash(user, text string) json.RawMessage {
	h.t.Helper()
	// The count of replies so far keeps a repeated command's URL apart.
	before := len(h.slack.Calls("response_url"))
	responseURL := fmt.Sprintf("/commands/%s/%d/%s", slacktest.TeamID, before, url.PathEscape(strings.ReplaceAll(user+"-"+text, " ", "_")))
	path, _ := url.PathUnescape(responseURL) // the fake records the path decoded
	env := h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: text, UserID: user,
		ResponseURL: h.slack.URL() + responseURL})
	ack, err := h.slack.WaitForAck(h.ctx(), env)
	if err != nil {
		h.t.Fatalf("/oncall %s: not acknowledged: %v", text, err)
	}
	if ack.Latency > 3*time.Second {
		h.t.Errorf("/oncall %s: acknowledged after %s", text, ack.Latency)
	}
	c, err := h.slack.WaitFor(h.ctx(), func(c slacktest.Call) bool {
		return c.Method == "response_url" && c.Params.Get("path") == path
	})
	if err != nil {
		h.t.Fatalf("/oncall %s: no reply (%d replies before): %v", text, before, err)
	}
	return c.JSON
}

// golden compares got (JSON) with testdata/<name>.golden.json, rewriting it
// with -update. The JSON is indented so the file pastes into Block Kit
// Builder.
func golden(t *testing.T, name string, got json.RawMessage) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", name, err, got)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(pretty, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update to create it)", name, err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(pretty)) {
		t.Errorf("%s differs from %s (run with -update to accept):\n%s", name, path, pretty)
	}
}

func TestHelpAndUnknown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	got := h.slash("U0STRANGER", "help")
	if !strings.Contains(string(got), "/oncall who") {
		t.Fatalf("help: %s", got)
	}
	if got := h.slash("U0ALICE", "frobnicate"); !strings.Contains(string(got), "I don't know") {
		t.Fatalf("unknown: %s", got)
	}
}

// company is storetest.Company with the fake workspace's Slack IDs: alice
// and carol (admins of payments) by slack_id, bob and dave by email (dave
// has no Slack account here).
func company() *manifest.Set {
	set := storetest.Company()
	for _, u := range set.Users {
		switch u.Name {
		case "alice":
			u.SlackID = "U0ALICE"
		case "carol":
			u.SlackID = "U0CAROL"
		}
	}
	return set
}
