package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/store"
)

// Tests of /oncall shifts, incidents, ack, resolve, page and the App Home.

// readNow is the instant the golden surfaces are rendered at: Tuesday 5
// January 2027, 15:00:20 UTC (10:00 in New York, where the schedules
// hand off), 20 s past the minute so the drift of a running test never
// changes a rounded time.
var readNow = time.Date(2027, time.January, 5, 15, 0, 20, 0, time.UTC)

// freezeAt moves the harness's clock to readNow.
func freezeAt(h *harness) { h.b.Clock.Advance(readNow.Sub(h.b.Clock.Now())) }

// manualPage pages user by hand, as the test, and waits for the pages to
// go out.
func manualPage(t *testing.T, h *harness, user, summary string) int64 {
	t.Helper()
	in, err := h.b.Engine.ManualPage(context.Background(), jobs.ManualPageRequest{Actor: "test", User: user, Summary: summary})
	if err != nil {
		t.Fatal(err)
	}
	h.b.Settle(t)
	return in.ID
}

func replyText(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var m struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("reply: %v\n%s", err, raw)
	}
	return m.Text
}

func wantReply(t *testing.T, h *harness, user, text, want string) {
	t.Helper()
	if got := replyText(t, h.slash(user, text)); !strings.Contains(got, want) {
		t.Errorf("/oncall %s as %s: %q, want it to contain %q", text, user, got, want)
	}
}

// One harness per test keeps the suite fast: each test runs its surfaces
// in steps, in order.

func TestShiftsAndHome(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	freezeAt(h)
	shiftsSteps(t, h)
	homeSteps(t, h)
}

func shiftsSteps(t *testing.T, h *harness) {
	golden(t, "shifts", h.slash("U0ALICE", "shifts"))
	golden(t, "shifts_other", h.slash("U0ALICE", "shifts <@U0BOB|bob>"))
	wantReply(t, h, "U0BOB", "shifts carol", "Next shifts of carol")
	wantReply(t, h, "U0ALICE", "shifts caroll", `did you mean "carol"`)
	wantReply(t, h, "U0ALICE", "shifts <@U0STRANGER|stranger>", "is not a user of oncall")
	wantReply(t, h, "U0ALICE", "shifts bob carol", "Usage: `/oncall shifts")
	wantReply(t, h, "U0STRANGER", "shifts", "You are not a user of oncall")
}

func TestIncidents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	freezeAt(h)
	ackResolveSteps(t, h)
	paginateSteps(t, h)
}

func ackResolveSteps(t *testing.T, h *harness) {
	id := manualPage(t, h, "alice", "Checkout is failing for EU cards")
	h.b.Clock.Advance(2 * time.Minute)
	manualPage(t, h, "carol", "Disk almost full on db-3")
	if _, err := h.b.Engine.ManualPage(context.Background(), jobs.ManualPageRequest{Actor: "carol", Service: "payments-api",
		Summary: "p99 latency above 2s", Urgency: "low"}); err != nil {
		t.Fatal(err)
	}
	h.b.Settle(t)
	// bob was not paged for #3, but it is his team's service.
	wantReply(t, h, "U0BOB", "ack 3", "Acknowledged incident #3")
	golden(t, "incidents", h.slash("U0BOB", "incidents"))

	// A click in the list acts through the engine and shows the list again.
	h.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0CAROL", ActionID: "incident_ack", Value: "2",
		BlockID: "incidents:1:2", ChannelID: "DU0CAROL"})
	if _, err := h.slack.WaitFor(h.ctx(), func(c slacktest.Call) bool {
		body := string(c.JSON)
		return c.Method == "response_url" && strings.Contains(body, `"replace_original":true`) && strings.Contains(body, "Acknowledged by") && strings.Contains(body, "@U0CAROL")
	}); err != nil {
		t.Errorf("the list was not shown again after a click: %v", err)
	}

	page, err := h.slack.WaitForMessage(h.ctx(), "DU0ALICE", func(m slacktest.Message) bool { return strings.Contains(m.Text, "#1 ") })
	if err != nil {
		t.Fatalf("alice was not paged in Slack: %v", err)
	}
	wantReply(t, h, "U0STRANGER", "ack 1", "You are not a user of oncall")
	wantReply(t, h, "U0BOB", "ack 1", "You may not acknowledge incident #1")
	wantReply(t, h, "U0ALICE", "ack", "Usage: `/oncall ack <id>`")
	wantReply(t, h, "U0ALICE", "ack one", "`one` is not an incident number")
	wantReply(t, h, "U0ALICE", "ack 99", "There is no incident #99")
	if in := incident(t, h, id); in.State != store.StateTriggered {
		t.Fatalf("refused acks changed the incident: %s", in.State)
	}

	wantReply(t, h, "U0ALICE", "ack #1", "Acknowledged incident #1: Checkout is failing for EU cards")
	if in := incident(t, h, id); in.State != store.StateAcknowledged || in.AcknowledgedBy != "alice" {
		t.Fatalf("after /oncall ack: %s by %q", in.State, in.AcknowledgedBy)
	}
	h.b.Settle(t)
	if _, err := h.slack.WaitForMessage(h.ctx(), "DU0ALICE", func(m slacktest.Message) bool {
		return m.TS == page.TS && m.Updates > 0 && strings.Contains(m.Text, "acknowledged by alice")
	}); err != nil {
		t.Fatalf("the page was not updated: %v", err)
	}
	wantReply(t, h, "U0ALICE", "ack 1", "Incident #1 is already acknowledged by alice")

	wantReply(t, h, "U0ALICE", "resolve 1", "Resolved incident #1")
	if in := incident(t, h, id); in.State != store.StateResolved {
		t.Fatalf("after /oncall resolve: %s", in.State)
	}
	wantReply(t, h, "U0ALICE", "resolve 1", "already resolved by alice")
	if got := string(h.slash("U0BOB", "incidents")); strings.Contains(got, "#1 ") || !strings.Contains(got, "#2 ") || !strings.Contains(got, "#3 ") {
		t.Errorf("incidents after resolving #1:\n%s", got)
	}
	wantReply(t, h, "U0BOB", "incidents 0", "is not a page number")
}

// paginateSteps opens 24 more incidents for alice: with #2 and #3 still
// open, 26 in all, more than a message's page (23) and the Home's 20.
func paginateSteps(t *testing.T, h *harness) {
	for i := range 24 {
		if _, err := h.b.Engine.ManualPage(context.Background(), jobs.ManualPageRequest{Actor: "test", User: "alice",
			Summary: strings.Repeat("long summary ", 40) + string(rune('a'+i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	for _, text := range []string{"incidents", "incidents 2"} {
		var msg struct {
			Blocks []json.RawMessage `json:"blocks"`
		}
		raw := h.slash("U0ALICE", text)
		if err := json.Unmarshal(raw, &msg); err != nil {
			t.Fatal(err)
		}
		if len(msg.Blocks) > 50 {
			t.Errorf("/oncall %s: %d blocks, Slack allows 50", text, len(msg.Blocks))
		}
		if text == "incidents" && !strings.Contains(string(raw), "/oncall incidents 2") {
			t.Errorf("/oncall incidents does not point to the next page")
		}
		if text == "incidents 2" && !strings.Contains(string(raw), "#2 ") {
			t.Errorf("page 2 does not show incident 2:\n%s", raw)
		}
	}
	var home struct {
		Blocks []json.RawMessage `json:"blocks"`
	}
	raw := openHome(t, h, "U0ALICE", homeHas("More: `/oncall incidents`")).JSON
	if err := json.Unmarshal(raw, &home); err != nil {
		t.Fatal(err)
	}
	if len(home.Blocks) > 100 {
		t.Errorf("App Home with 24 incidents: %d blocks (Slack allows 100)\n%s", len(home.Blocks), raw)
	}
}

func incident(t *testing.T, h *harness, id int64) *store.Incident {
	t.Helper()
	in, err := store.IncidentGet(context.Background(), h.b.Pool, id, store.LockNone)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// pageDirectSteps pages without the modal (incident #1 is the modal's).
func pageDirectSteps(t *testing.T, h *harness) {
	wantReply(t, h, "U0ALICE", "page bob   The database is on fire", "Paged *bob*: incident #2, high urgency")
	in := incident(t, h, 2)
	if in.Summary != "The database is on fire" || in.Source != jobs.SourceManual {
		t.Errorf("incident: %q from %q", in.Summary, in.Source)
	}
	wantReply(t, h, "U0ALICE", "page payments-api checkout down", "Paged service *payments-api*: incident #3")
	wantReply(t, h, "U0ALICE", "page <@U0CAROL|carol> look at #2", "Paged <@U0CAROL>: incident #4")
	wantReply(t, h, "U0ALICE", "page paymnts hello", `did you mean "payments"`)
	wantReply(t, h, "U0ALICE", "page @payments all hands", "Paged team *payments*: incident #5")
	wantReply(t, h, "U0STRANGER", "page bob hi", "You are not a user of oncall")
}

func TestPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	pageModalSteps(t, h)
	pageDirectSteps(t, h)
}

func pageModalSteps(t *testing.T, h *harness) {
	h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "page", UserID: "U0ALICE"})
	modal := waitModal(t, h, "U0ALICE")
	golden(t, "page_modal", withoutMetadata(t, modal.JSON))

	// Mistakes come back next to their fields, and the modal stays open.
	env := h.slack.SendViewSubmission(slacktest.ViewSubmission{ViewID: modal.ID, Values: map[string]map[string]slacktest.Value{
		"target":  {"v": {Type: "static_select", SelectedOption: &slacktest.SelectOption{Text: "bob", Value: "user:bob"}}},
		"summary": {"v": {Type: "plain_text_input", Value: "   "}},
		"urgency": {"v": {Type: "radio_buttons", SelectedOption: &slacktest.SelectOption{Text: "Low", Value: "low"}}},
		"policy":  {"v": {Type: "plain_text_input", Value: "paymnts"}},
	}})
	errs := viewErrors(t, h, env)
	if !strings.Contains(errs["summary"], "Say what the page is about") || !strings.Contains(errs["policy"], `did you mean "payments"`) || len(errs) != 2 {
		t.Errorf("errors: %v", errs)
	}
	if v, _ := h.slack.View(modal.ID); v.Closed {
		t.Error("the modal closed on errors")
	}

	// A target that is gone (removed since the modal opened) is refused
	// next to its field.
	env = h.slack.SendViewSubmission(slacktest.ViewSubmission{ViewID: modal.ID, Values: map[string]map[string]slacktest.Value{
		"target":  {"v": {Type: "static_select", SelectedOption: &slacktest.SelectOption{Text: "x", Value: "user:nobody"}}},
		"summary": {"v": {Type: "plain_text_input", Value: "Help"}},
	}})
	if errs := viewErrors(t, h, env); !strings.Contains(errs["target"], "I know no user, service or team called") {
		t.Errorf("errors: %v", errs)
	}

	env = h.slack.SendViewSubmission(slacktest.ViewSubmission{ViewID: modal.ID, Values: map[string]map[string]slacktest.Value{
		"target":  {"v": {Type: "static_select", SelectedOption: &slacktest.SelectOption{Text: "bob", Value: "user:bob"}}},
		"summary": {"v": {Type: "plain_text_input", Value: "Please look at the queue"}},
		"urgency": {"v": {Type: "radio_buttons", SelectedOption: &slacktest.SelectOption{Text: "Low", Value: "low"}}},
		"policy":  {"v": {Type: "static_select", SelectedOption: &slacktest.SelectOption{Text: "payments", Value: "payments"}}},
	}})
	if errs := viewErrors(t, h, env); len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if v, _ := h.slack.View(modal.ID); !v.Closed {
		t.Error("the modal stayed open")
	}
	in := incident(t, h, 1)
	if in.Summary != "Please look at the queue" || in.Urgency != "low" || in.PolicyName != "payments" {
		t.Errorf("incident: %q, %s urgency, policy %q", in.Summary, in.Urgency, in.PolicyName)
	}
	if _, err := h.slack.WaitFor(h.ctx(), func(c slacktest.Call) bool {
		return c.Method == "response_url" && strings.Contains(string(c.JSON), "Paged *bob*: incident #1, low urgency")
	}); err != nil {
		t.Errorf("no confirmation: %v", err)
	}

	// A stranger's submission is refused.
	h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: "page bob", UserID: "U0CAROL"})
	modal = waitModal(t, h, "U0CAROL")
	if !strings.Contains(string(modal.Blocks), `"user:bob"`) || !strings.Contains(string(modal.Blocks), "initial_option") {
		t.Errorf("/oncall page bob: the modal does not choose bob:\n%s", modal.Blocks)
	}
	env = h.slack.SendViewSubmission(slacktest.ViewSubmission{ViewID: modal.ID, UserID: "U0STRANGER", Values: map[string]map[string]slacktest.Value{
		"summary": {"v": {Type: "plain_text_input", Value: "hi"}},
	}})
	if errs := viewErrors(t, h, env); !strings.Contains(errs["target"], "not a user of oncall") {
		t.Errorf("stranger: %v", errs)
	}
}

// withoutMetadata is a view without its private_metadata (which holds the
// command's response_url, a different one each run).
func withoutMetadata(t *testing.T, view json.RawMessage) json.RawMessage {
	t.Helper()
	var v map[string]json.RawMessage
	if err := json.Unmarshal(view, &v); err != nil {
		t.Fatal(err)
	}
	delete(v, "private_metadata")
	out, _ := json.Marshal(v)
	return out
}

func waitModal(t *testing.T, h *harness, user string) slacktest.View {
	t.Helper()
	var out slacktest.View
	err := h.slack.WaitUntil(h.ctx(), func() bool {
		for _, v := range h.slack.Views() {
			if v.Type == "modal" && v.UserID == user && v.CallbackID == "page" && !v.Closed {
				out = v
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("no page modal for %s: %v", user, err)
	}
	return out
}

// viewErrors is the field errors of a submission's ack.
func viewErrors(t *testing.T, h *harness, env string) map[string]string {
	t.Helper()
	ack, err := h.slack.WaitForAck(h.ctx(), env)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
	}
	if len(ack.Payload) > 0 {
		if err := json.Unmarshal(ack.Payload, &resp); err != nil {
			t.Fatalf("ack: %v\n%s", err, ack.Payload)
		}
	}
	return resp.Errors
}

func homeSteps(t *testing.T, h *harness) {
	ctx := context.Background()
	code, err := store.PairingCodeCreate(ctx, h.b.Pool, "alice", h.b.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.PairingCodeRedeem(ctx, h.b.Pool, code, "Alice's iPhone", h.b.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.b.Pool.Exec(ctx, `UPDATE contact_methods SET verified_at = $1 WHERE name = 'cell'`, h.b.Clock.Now().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	id := manualPage(t, h, "alice", "Checkout is failing for EU cards")

	home := openHome(t, h, "U0ALICE", nil)
	golden(t, "home", home.JSON)

	h.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0ALICE", ActionID: "home_ack", Value: "1", ViewID: home.ID})
	home = waitHome(t, h, "U0ALICE", homeHas("Acknowledged incident #1"))
	if in := incident(t, h, id); in.State != store.StateAcknowledged || in.AcknowledgedBy != "alice" {
		t.Fatalf("after the Home's ack: %s by %q", in.State, in.AcknowledgedBy)
	}
	got := string(home.Blocks)
	if !strings.Contains(got, "Acknowledged incident #1") || strings.Contains(got, `"home_ack"`) || !strings.Contains(got, `"home_resolve"`) {
		t.Errorf("the Home after the ack:\n%s", got)
	}

	// Someone not ours sees why nothing is there.
	if got := string(openHome(t, h, "U0STRANGER", nil).Blocks); !strings.Contains(got, "not a user of oncall") {
		t.Errorf("stranger's Home:\n%s", got)
	}
}

// openHome opens userID's App Home and waits for a Home published for
// them that satisfies ok (nil: any).
func openHome(t *testing.T, h *harness, userID string, ok func(slacktest.View) bool) slacktest.View {
	t.Helper()
	h.slack.SendAppHomeOpened(userID)
	return waitHome(t, h, userID, ok)
}

func waitHome(t *testing.T, h *harness, userID string, ok func(slacktest.View) bool) slacktest.View {
	t.Helper()
	var v slacktest.View
	err := h.slack.WaitUntil(h.ctx(), func() bool {
		var found bool
		v, found = h.slack.HomeView(userID)
		return found && (ok == nil || ok(v))
	})
	if err != nil {
		t.Fatalf("no App Home for %s (last: %s): %v", userID, v.Blocks, err)
	}
	return v
}

// homeHas is a condition on the Home: its blocks contain s.
func homeHas(s string) func(slacktest.View) bool {
	return func(v slacktest.View) bool { return strings.Contains(string(v.Blocks), s) }
}
