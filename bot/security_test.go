package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/oncall/oncall/bot"
	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/store"
)

// Helpers here are prefixed sec to stay clear of other areas' helpers on
// the shared harness.

// secConfig is the whole configuration as JSON: equal before and after
// means nothing changed.
func (h *harness) secConfig() string {
	h.t.Helper()
	set, err := store.LoadConfig(h.ctx(), h.b.Pool)
	if err != nil {
		h.t.Fatal(err)
	}
	b, err := json.Marshal(set)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// secReplies is the number of calls that can carry a private answer.
func (h *harness) secReplies() map[string]int {
	n := map[string]int{}
	for _, m := range []string{"response_url", "chat.postEphemeral"} {
		n[m] = len(h.slack.Calls(m))
	}
	return n
}

// secRefused sends an envelope (send returns its id) and waits for the
// refusal that says want: in the envelope's ack (a modal's field errors),
// or in a private answer that followed it.
func (h *harness) secRefused(what, want string, send func() string) {
	h.t.Helper()
	before := h.secReplies()
	ack, err := h.slack.WaitForAck(h.ctx(), send())
	if err != nil {
		h.t.Fatalf("%s: not acknowledged: %v", what, err)
	}
	if strings.Contains(string(ack.Payload), want) {
		return
	}
	err = h.slack.WaitUntil(h.ctx(), func() bool {
		for m, n := range before {
			for _, c := range h.slack.Calls(m)[n:] {
				if strings.Contains(string(c.JSON), want) || strings.Contains(c.Params.Get("text"), want) {
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		h.t.Errorf("%s: no answer saying %q (ack %s)", what, want, ack.Payload)
	}
}

// Someone in Slack who is not one of our users is refused everywhere, in
// words, and changes nothing: not an incident, not the configuration, and
// no modal opens for them.
func TestStrangersAreRefusedEverywhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	id := manualPage(t, h, "alice", "Checkout is failing")
	h.b.Settle(t)
	page, err := h.slack.WaitForMessage(h.ctx(), "DU0ALICE", func(m slacktest.Message) bool { return strings.Contains(m.Text, "Checkout") })
	if err != nil {
		t.Fatalf("alice was not paged: %v", err)
	}
	// Modals alice opened, for the stranger to submit.
	schedOpen(t, h, "U0ALICE", "schedule payments-primary edit")
	schedEdit := schedView(t, h, "schedule")
	schedOpen(t, h, "U0ALICE", "override payments-primary")
	override := schedView(t, h, "override")
	policy := h.pcViewOf(h.pcClick("U0ALICE", "", "escalation_edit", "payments", "views.open"))
	rule := h.pcViewOf(h.pcClick("U0ALICE", "", "rules_edit", "payments-from-labels", "views.open"))
	contact := h.pcOpenModal("U0ALICE", "contact")
	h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "page", UserID: "U0ALICE"})
	pageModal := waitModal(t, h, "U0ALICE")

	config := h.secConfig()
	opened := len(h.slack.Calls("views.open"))
	const stranger, notOurs = "U0STRANGER", "not a user of oncall"

	for _, text := range []string{"shifts", "incidents", "ack 1", "resolve 1", "page bob help", "override", "override payments-primary",
		"schedule", "schedule payments-primary", "schedule payments-primary edit", "schedule new", "escalation", "escalation payments",
		"rules", "contact", "mobile", "mobile revoke 1"} {
		h.secRefused("/oncall "+text, notOurs, func() string {
			return h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: text, UserID: stranger})
		})
	}
	clicks := []slacktest.BlockAction{
		{ActionID: "incident_ack", Value: "1", ChannelID: page.Channel, MessageTS: page.TS},
		{ActionID: "incident_resolve", Value: "1", ChannelID: page.Channel, MessageTS: page.TS},
		{ActionID: "incident_escalate", Value: "1", ChannelID: page.Channel, MessageTS: page.TS},
		{ActionID: "rules_toggle", Value: "off:payments-from-labels"},
		{ActionID: "rules_edit", Value: "payments-from-labels"},
		{ActionID: "rules_new"},
		{ActionID: "escalation_edit", Value: "payments"},
		{ActionID: "escalation_new"},
		{ActionID: "schedule_edit", Value: "payments-primary"},
		{ActionID: "schedule_new"},
		{ActionID: "override_open", Value: "payments-primary"},
		{ActionID: "cover_open", Value: "payments-primary"},
		{ActionID: "mobile_revoke", Value: "1"},
	}
	for _, a := range clicks {
		a.UserID = stranger
		if a.ChannelID == "" {
			a.ChannelID = "D" + stranger
		}
		h.secRefused("click "+a.ActionID, notOurs, func() string { return h.slack.SendBlockAction(a) })
	}
	text := func(v string) slacktest.Value { return slacktest.Value{Type: "plain_text_input", Value: v} }
	submissions := map[string]slacktest.ViewSubmission{
		"schedule edit": {ViewID: schedEdit.ID, Values: map[string]map[string]slacktest.Value{"l0_shift": {"v": text("1d")}}},
		"override": {ViewID: override.ID, Values: map[string]map[string]slacktest.Value{
			"who": {"v": schedOption("bob")}, "from": {"v": text("2026-12-24 18:00")}, "until": {"v": text("2026-12-26 09:00")}}},
		"escalation": {ViewID: policy.ID, Values: map[string]map[string]slacktest.Value{"step_0_after": {"v": text("1m")}}},
		"rule":       {ViewID: rule.ID, Values: map[string]map[string]slacktest.Value{"urgency": {"v": schedOption("low")}}},
		"contact":    {ViewID: contact.ID, Values: map[string]map[string]slacktest.Value{"cm_0_address": {"v": text("+14155550111")}}},
		"page": {ViewID: pageModal.ID, Values: map[string]map[string]slacktest.Value{
			"target":  {"v": {Type: "static_select", SelectedOption: &slacktest.SelectOption{Text: "bob", Value: "user:bob"}}},
			"summary": {"v": text("let me in")}}},
	}
	for name, sub := range submissions {
		sub.UserID = stranger
		h.secRefused("submit "+name, notOurs, func() string { return h.slack.SendViewSubmission(sub) })
	}

	h.b.Settle(t)
	if got := h.secConfig(); got != config {
		t.Errorf("a stranger changed the configuration")
	}
	if in := incident(t, h, id); in.State != store.StateTriggered {
		t.Errorf("a stranger made incident #%d %s", id, in.State)
	}
	if n := len(h.slack.Calls("views.open")); n != opened {
		t.Errorf("%d modals opened for a stranger", n-opened)
	}
	for _, c := range h.slack.Calls("chat.postMessage") {
		if strings.Contains(c.Param("text"), "let me in") {
			t.Errorf("a stranger paged: %s", c.Param("text"))
		}
	}
}

// A user of another workspace (Slack Connect, in a shared channel) is not
// ours, even with the email of one of our users: Slack's users.info shows
// them with that email, but their account is not our workspace's.
func TestOtherWorkspaceUsersAreNotOurs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	// bob is ours by email (company() gives him no slack_id).
	h.slack.AddExternalUser("U0EXTBOB", "bob@example.com", "bob", "T0OTHERCORP")
	id := manualPage(t, h, "bob", "Queue is backing up")
	h.b.Settle(t)
	page, err := h.slack.WaitForMessage(h.ctx(), "DU0BOB", func(m slacktest.Message) bool { return strings.Contains(m.Text, "Queue") })
	if err != nil {
		t.Fatalf("bob was not paged: %v", err)
	}
	config := h.secConfig()
	const notOurs = "not a user of oncall"
	h.secRefused("/oncall ack", notOurs, func() string {
		return h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "ack 1", UserID: "U0EXTBOB"})
	})
	h.secRefused("/oncall contact", notOurs, func() string {
		return h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "contact", UserID: "U0EXTBOB"})
	})
	h.secRefused("click ack", notOurs, func() string {
		return h.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0EXTBOB", ActionID: "incident_ack", Value: "1", ChannelID: page.Channel, MessageTS: page.TS})
	})
	if in := incident(t, h, id); in.State != store.StateTriggered {
		t.Errorf("a user of another workspace made incident #%d %s", id, in.State)
	}
	if h.secConfig() != config {
		t.Errorf("a user of another workspace changed the configuration")
	}
	// bob himself (the same email, our workspace) still is bob.
	h.slack.AddUser("U0BOB2", "bob@example.com", "bob", "America/New_York")
	wantReply(t, h, "U0BOB2", "ack 1", "Acknowledged incident #1")
}

// A member who administers no team (bob) is refused on every Slack
// surface that changes a team's configuration, and the configuration
// stays as it was. Services, teams and users are changed only by
// `oncall apply` (no Slack surface, no HTTP API).
func TestNonAdminsChangeNoConfiguration(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	text := func(v string) slacktest.Value { return slacktest.Value{Type: "plain_text_input", Value: v} }
	type vals = map[string]map[string]slacktest.Value

	// Modals an admin (alice) opened, for bob to submit.
	schedOpen(t, h, "U0ALICE", "schedule payments-primary edit")
	schedEdit := schedView(t, h, "schedule")
	schedOpen(t, h, "U0ALICE", "schedule new")
	schedNew := schedView(t, h, "schedule", schedEdit.ID)
	// alice's own change, waiting at its preview for her to confirm.
	if errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{UserID: "U0ALICE", ViewID: schedEdit.ID,
		Values: vals{"l0_shift": {"v": text("2d")}}})); errs != nil {
		t.Fatalf("alice's edit: %v", errs)
	}
	preview := schedView(t, h, "schedule_confirm")
	schedOpen(t, h, "U0ALICE", "override payments-primary")
	override := schedView(t, h, "override")
	policyEdit := h.pcViewOf(h.pcClick("U0ALICE", "", "escalation_edit", "payments", "views.open"))
	policyNew := h.pcViewOf(h.pcClick("U0ALICE", "", "escalation_new", "", "views.open"))
	ruleEdit := h.pcViewOf(h.pcClick("U0ALICE", "", "rules_edit", "payments-from-labels", "views.open"))
	ruleNew := h.pcViewOf(h.pcClick("U0ALICE", "", "rules_new", "", "views.open"))

	config := h.secConfig()
	opened := len(h.slack.Calls("views.open"))
	const bob, want = "U0BOB", "Only a" // "Only a team admin may...", "Only an admin of team payments may..."

	for _, text := range []string{"schedule payments-primary edit", "schedule payments-secondary edit", "schedule new"} {
		h.secRefused("/oncall "+text, want, func() string {
			return h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: text, UserID: bob})
		})
	}
	for _, a := range []slacktest.BlockAction{
		{ActionID: "schedule_edit", Value: "payments-primary"},
		{ActionID: "schedule_new"},
		{ActionID: "escalation_edit", Value: "payments"},
		{ActionID: "escalation_new"},
		{ActionID: "rules_toggle", Value: "off:payments-from-labels"},
		{ActionID: "rules_toggle", Value: "off:quiet-warnings"}, // a rule of no team's service
		{ActionID: "rules_edit", Value: "payments-from-labels"},
		{ActionID: "rules_new"},
	} {
		a.UserID, a.ChannelID = bob, "D"+bob
		h.secRefused("click "+a.ActionID+" "+a.Value, want, func() string { return h.slack.SendBlockAction(a) })
	}
	for name, sub := range map[string]slacktest.ViewSubmission{
		"schedule edit":     {ViewID: schedEdit.ID, Values: vals{"l0_shift": {"v": text("1d")}}},
		"schedule preview":  {ViewID: preview.ID},
		"schedule new":      {ViewID: schedNew.ID, Values: vals{"name": {"v": text("bobs-own")}, "l0_members": {"v": text("bob")}}},
		"override of dave":  {ViewID: override.ID, Values: vals{"who": {"v": schedOption("dave")}, "from": {"v": text("2026-12-24 18:00")}, "until": {"v": text("2026-12-26 09:00")}}},
		"escalation edit":   {ViewID: policyEdit.ID, Values: vals{"step_0_after": {"v": text("1m")}}},
		"escalation new":    {ViewID: policyNew.ID, Values: vals{"name": {"v": text("bobs-policy")}, "team": {"v": schedOption("payments")}, "step_0_targets": {"v": text("@bob")}}},
		"alert rule edit":   {ViewID: ruleEdit.ID, Values: vals{"urgency": {"v": schedOption("low")}}},
		"alert rule create": {ViewID: ruleNew.ID, Values: vals{"name": {"v": text("bobs-rule")}, "service": {"v": schedOption("payments-web")}, "page": {"v": schedOption("false")}}},
	} {
		sub.UserID = bob
		h.secRefused("submit "+name, want, func() string { return h.slack.SendViewSubmission(sub) })
	}

	if got := h.secConfig(); got != config {
		t.Errorf("bob changed the configuration")
	}
	if n := len(h.slack.Calls("views.open")); n != opened {
		t.Errorf("%d modals opened for bob", n-opened)
	}
	// bob may still put himself on call (anyone may).
	if errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{UserID: bob, ViewID: override.ID, Values: vals{
		"who": {"v": schedOption("bob")}, "from": {"v": text("2026-12-24 18:00")}, "until": {"v": text("2026-12-26 09:00")}}})); errs != nil {
		t.Errorf("bob putting himself on call: %v", errs)
	}
}

// A reply that cannot reach its response_url (a capability: whoever has it
// may post as the app) is logged without it.
func TestResponseURLStaysOutOfTheLog(t *testing.T) {
	t.Parallel()
	sl := slacktest.New(t)
	for _, u := range slackUsers {
		sl.AddUser(u.id, u.email, u.name, u.tz)
	}
	ch := slackch.New(slackch.Config{BotToken: sl.BotToken(), APIURL: sl.APIURL()})
	b := jobstest.New(t, company(), map[string]notify.Channel{notify.MethodSlack: ch, notify.MethodSlackChannel: ch})
	var logs syncLog
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	bt := bot.New(bot.Config{AppToken: sl.AppToken(), BotToken: sl.BotToken(), APIURL: sl.APIURL()}, b.Engine, b.Pool, b.Clock, zerolog.New(&logs))
	go bt.Run(ctx)
	h := &harness{t: t, slack: sl, b: b}
	if err := sl.WaitConnected(h.ctx(), 1); err != nil {
		t.Fatal(err)
	}
	// A closed port: the post fails in the transport, whose error quotes
	// the URL.
	const secret = "Zq9ResponseUrlSecretX7"
	env := sl.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "help", UserID: "U0ALICE",
		ResponseURL: "http://127.0.0.1:1/commands/" + slacktest.TeamID + "/1/" + secret})
	if _, err := sl.WaitForAck(h.ctx(), env); err != nil {
		t.Fatal(err)
	}
	if err := sl.WaitUntil(h.ctx(), func() bool { return strings.Contains(logs.String(), "slack request failed") }); err != nil {
		t.Fatalf("the failed reply was not logged: %v\n%s", err, logs.String())
	}
	if got := logs.String(); strings.Contains(got, secret) || !strings.Contains(got, "response_url") {
		t.Errorf("the log:\n%s", got)
	}
}

// syncLog is a log sink safe for the bot's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
