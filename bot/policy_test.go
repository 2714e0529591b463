package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

// Tests of /oncall escalation, rules and contact, through the fake Slack.
// Helpers here are prefixed pc (policy and contact) to stay clear of other
// areas' helpers on the shared harness.

// pcOpenModal runs /oncall text as user and returns the modal it opened.
func (h *harness) pcOpenModal(user, text string) slacktest.View {
	h.t.Helper()
	trigger := h.slack.NewTriggerID(user)
	env := h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: text, UserID: user, TriggerID: trigger})
	if _, err := h.slack.WaitForAck(h.ctx(), env); err != nil {
		h.t.Fatalf("/oncall %s: not acknowledged: %v", text, err)
	}
	c, err := h.slack.WaitFor(h.ctx(), func(c slacktest.Call) bool {
		return c.Method == "views.open" && c.Param("trigger_id") == trigger
	})
	if err != nil {
		h.t.Fatalf("/oncall %s: no modal: %v", text, err)
	}
	return h.pcViewOf(c)
}

// pcViewOf is the view a views.open or views.update call answered with.
func (h *harness) pcViewOf(c slacktest.Call) slacktest.View {
	h.t.Helper()
	var resp struct {
		OK   bool `json:"ok"`
		View struct {
			ID string `json:"id"`
		} `json:"view"`
	}
	if err := json.Unmarshal(c.Response, &resp); err != nil || !resp.OK {
		h.t.Fatalf("%s failed: %s", c.Method, c.Response)
	}
	v, ok := h.slack.View(resp.View.ID)
	if !ok {
		h.t.Fatalf("no view %s", resp.View.ID)
	}
	return v
}

// pcClick clicks a button (on a modal when viewID is set, else on an
// ephemeral reply) as user and waits for the first call of method that
// follows it ("response_url", "views.open", "views.update").
func (h *harness) pcClick(user, viewID, actionID, value, method string) slacktest.Call {
	h.t.Helper()
	before := len(h.slack.Calls(method))
	a := slacktest.BlockAction{UserID: user, ViewID: viewID, ActionID: actionID, Value: value}
	if viewID == "" {
		a.ChannelID = "D" + user // the reply to a slash command in the app's DM
	}
	env := h.slack.SendBlockAction(a)
	if _, err := h.slack.WaitForAck(h.ctx(), env); err != nil {
		h.t.Fatalf("click %s: not acknowledged: %v", actionID, err)
	}
	var got slacktest.Call
	err := h.slack.WaitUntil(h.ctx(), func() bool {
		calls := h.slack.Calls(method)
		if len(calls) > before {
			got = calls[before]
			return true
		}
		return false
	})
	if err != nil {
		h.t.Fatalf("click %s: no %s call: %v", actionID, method, err)
	}
	return got
}

// pcSubmit submits a modal as user with the values typed (block_id ->
// text, or the value of a select or radio for the blocks in selects) and
// returns the ack's payload (nil: the modal closed).
func (h *harness) pcSubmit(user, viewID string, values map[string]string, selects ...string) map[string]any {
	h.t.Helper()
	vals := map[string]map[string]slacktest.Value{}
	for block, v := range values {
		if slices.Contains(selects, block) {
			vals[block] = map[string]slacktest.Value{"v": {Type: "static_select", SelectedOption: &slacktest.SelectOption{Text: v, Value: v}}}
		} else {
			vals[block] = map[string]slacktest.Value{"v": {Type: "plain_text_input", Value: v}}
		}
	}
	env := h.slack.SendViewSubmission(slacktest.ViewSubmission{UserID: user, ViewID: viewID, Values: vals})
	ack, err := h.slack.WaitForAck(h.ctx(), env)
	if err != nil {
		h.t.Fatalf("submit: not acknowledged: %v", err)
	}
	if len(ack.Payload) == 0 {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(ack.Payload, &out); err != nil {
		h.t.Fatalf("submit: ack %s: %v", ack.Payload, err)
	}
	return out
}

// pcFieldErrors are the field errors of a submission's ack.
func pcFieldErrors(t *testing.T, ack map[string]any) map[string]any {
	t.Helper()
	if ack == nil || ack["response_action"] != "errors" {
		t.Fatalf("want field errors, got %v", ack)
	}
	return ack["errors"].(map[string]any)
}

// pcErr is the error of one field ("" for none).
func pcErr(errs map[string]any, block string) string {
	s, _ := errs[block].(string)
	return s
}

func (h *harness) pcConfig() *manifest.Set {
	h.t.Helper()
	set, err := store.LoadConfig(h.ctx(), h.b.Pool)
	if err != nil {
		h.t.Fatal(err)
	}
	return set
}

func pcPolicy(set *manifest.Set, name string) *manifest.EscalationPolicy {
	for _, p := range set.Policies {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func pcUser(set *manifest.Set, name string) *manifest.User {
	for _, u := range set.Users {
		if u.Name == name {
			return u
		}
	}
	return nil
}

// ---- /oncall escalation

func TestEscalationViews(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	golden(t, "escalation_list", h.slash("U0ALICE", "escalation"))
	golden(t, "escalation_show", h.slash("U0BOB", "escalation payments"))
	if got := string(h.slash("U0ALICE", "escalation paymnts")); !strings.Contains(got, `did you mean \"payments\"`) || !strings.Contains(got, "Usage") {
		t.Errorf("unknown policy: %s", got)
	}
}

func TestEscalationEdit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	h.slash("U0ALICE", "escalation payments")
	v := h.pcViewOf(h.pcClick("U0ALICE", "", "escalation_edit", "payments", "views.open"))
	golden(t, "escalation_modal", v.JSON)

	// Another step keeps what was typed.
	h.pcClick("U0ALICE", v.ID, "escalation_addstep", "", "views.update")
	v, _ = h.slack.View(v.ID)
	if !strings.Contains(string(v.Blocks), "step_3_targets") {
		t.Fatalf("no fourth step: %s", v.Blocks)
	}

	// An invalid delay and an unknown target: errors next to their fields.
	errs := pcFieldErrors(t, h.pcSubmit("U0ALICE", v.ID, map[string]string{"step_1_after": "soon", "step_0_targets": "payments-primray"}))
	if msg := pcErr(errs, "step_1_after"); !strings.Contains(msg, `Invalid duration "soon"`) {
		t.Errorf("delay error: %v", errs)
	}
	if msg := pcErr(errs, "step_0_targets"); !strings.Contains(msg, `did you mean "payments-primary"`) {
		t.Errorf("target error: %v", errs)
	}
	if msg := pcErr(errs, "step_1_after"); len(errs) != 2 || msg == "" {
		t.Errorf("errors: %v", errs)
	}

	// A valid change is saved.
	ack := h.pcSubmit("U0ALICE", v.ID, map[string]string{
		"step_0_targets": "payments-primary, @bob", "step_0_after": "2m",
		"step_2_targets": "", // removes the third step
		"step_3_targets": "team:payments, #payments-alerts", "step_3_after": "1h",
		"repeat": "2",
	}, "repeat")
	if ack != nil {
		t.Fatalf("save: %v", ack)
	}
	p := pcPolicy(h.pcConfig(), "payments")
	want := &manifest.EscalationPolicy{Name: "payments", Team: "payments", Repeat: 2, Steps: []manifest.Step{
		{Targets: []manifest.Target{{Type: "schedule", Ref: "payments-primary"}, {Type: "user", Ref: "bob"}}, EscalateAfter: 2 * time.Minute},
		{Targets: []manifest.Target{{Type: "schedule", Ref: "payments-secondary"}, {Type: "user", Ref: "carol"}}, EscalateAfter: 10 * time.Minute},
		{Targets: []manifest.Target{{Type: "team", Ref: "payments"}, {Type: "slack_channel", Ref: "#payments-alerts"}}, EscalateAfter: time.Hour},
	}}
	if got, _ := json.Marshal(p); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("saved policy:\n%s\nwant\n%s", got, must(json.Marshal(want)))
	}
	// The audit log says who changed what.
	var actor, action string
	if err := h.b.Pool.QueryRow(h.ctx(), `SELECT actor, action FROM audit_log WHERE kind = 'EscalationPolicy' AND name = 'payments' ORDER BY id DESC LIMIT 1`).Scan(&actor, &action); err != nil || actor != "slack:alice" || action != "update" {
		t.Errorf("audit: %q %q %v", actor, action, err)
	}
	// The confirmation names what changed.
	if _, err := h.slack.WaitFor(h.ctx(), func(c slacktest.Call) bool {
		return c.Method == "chat.postEphemeral" && strings.Contains(c.Param("text"), "Saved escalation policy payments (changed: ")
	}); err != nil {
		t.Error(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestEscalationNonAdminRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	// bob is a member of payments, not an admin: the Edit button says so.
	c := h.pcClick("U0BOB", "", "escalation_edit", "payments", "response_url")
	if !strings.Contains(string(c.JSON), "Only an admin of team `payments` may change escalation policy `payments`.") {
		t.Errorf("edit as bob: %s", c.JSON)
	}
	if n := len(h.slack.Calls("views.open")); n != 0 {
		t.Errorf("a modal opened for bob")
	}
	// A submission as bob (of a modal alice opened) is refused too.
	h.slash("U0ALICE", "escalation payments")
	v := h.pcViewOf(h.pcClick("U0ALICE", "", "escalation_edit", "payments", "views.open"))
	errs := pcFieldErrors(t, h.pcSubmit("U0BOB", v.ID, map[string]string{"step_0_after": "1m"}))
	if msg := pcErr(errs, "step_0_targets"); msg != "Only an admin of team payments may change this." {
		t.Errorf("submit as bob: %v", errs)
	}
	if p := pcPolicy(h.pcConfig(), "payments"); p.Steps[0].EscalateAfter != 5*time.Minute {
		t.Errorf("bob changed the policy: %+v", p.Steps[0])
	}
}

func TestEscalationNew(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	h.slash("U0CAROL", "escalation")
	v := h.pcViewOf(h.pcClick("U0CAROL", "", "escalation_new", "", "views.open"))
	golden(t, "escalation_new_modal", v.JSON)
	errs := pcFieldErrors(t, h.pcSubmit("U0CAROL", v.ID, map[string]string{"name": "payments", "team": "payments", "step_0_targets": "schedule:payments"}, "team"))
	if !strings.Contains(pcErr(errs, "name"), "exists already") || pcErr(errs, "step_0_targets") != "no schedule is called payments" {
		t.Errorf("errors: %v", errs)
	}
	if ack := h.pcSubmit("U0CAROL", v.ID, map[string]string{"name": "payments-night", "team": "payments", "step_0_targets": "payments-secondary, @alice", "repeat": "1"}, "team", "repeat"); ack != nil {
		t.Fatalf("create: %v", ack)
	}
	p := pcPolicy(h.pcConfig(), "payments-night")
	if p == nil || p.Team != "payments" || p.Repeat != 1 || len(p.Steps) != 1 || p.Steps[0].EscalateAfter != manifest.DefaultEscalateAfter {
		t.Errorf("created: %+v", p)
	}
}

// ---- /oncall rules

func TestRulesToggleStopsPaging(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	golden(t, "rules_list", h.slash("U0BOB", "rules"))

	// bob is no admin: refused, nothing changes.
	c := h.pcClick("U0BOB", "", "rules_toggle", "off:payments-from-labels", "response_url")
	if !strings.Contains(string(c.JSON), "Only an admin of team payments may change this rule.") {
		t.Errorf("toggle as bob: %s", c.JSON)
	}
	// alice turns paging off; the list is shown again in place.
	c = h.pcClick("U0ALICE", "", "rules_toggle", "off:payments-from-labels", "response_url")
	if !strings.Contains(string(c.JSON), `"replace_original":true`) || !strings.Contains(string(c.JSON), "on:payments-from-labels") {
		t.Errorf("toggle as alice: %s", c.JSON)
	}
	set := h.pcConfig()
	if r := set.AlertRules[0]; r.Name != "payments-from-labels" || r.Page {
		t.Fatalf("rule after toggle: %+v (first of %d)", r, len(set.AlertRules))
	}

	// A matching alert opens an incident and pages nobody.
	res, err := h.b.Engine.Ingest(context.Background(), h.b.Integrations["payments-prometheus"], oncall.AlertEvent{
		DedupKey: "db", Action: oncall.ActionTrigger, Summary: "DB down", Severity: oncall.SeverityCritical,
		Labels: map[string]string{"env": "prod", "team": "payments", "service": "payments-api"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.b.Settle(t)
	timeline := strings.Join(h.b.Timeline(t, res.IncidentID), "\n")
	if !strings.Contains(timeline, "not paging (rule payments-from-labels)") {
		t.Errorf("timeline:\n%s", timeline)
	}
	for _, c := range h.slack.Calls("chat.postMessage") {
		if ch := c.Param("channel"); strings.HasPrefix(ch, "U") || strings.HasPrefix(ch, "D") {
			t.Errorf("paged %s: %s", ch, c.Param("text"))
		}
	}
}

func TestRulesEdit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	h.slash("U0ALICE", "rules")
	v := h.pcViewOf(h.pcClick("U0ALICE", "", "rules_edit", "payments-from-labels", "views.open"))
	golden(t, "rules_modal", v.JSON)

	errs := pcFieldErrors(t, h.pcSubmit("U0ALICE", v.ID, map[string]string{"labels": "env prod", "integrations": "payments-prometeus"}))
	if !strings.Contains(pcErr(errs, "labels"), "key=pattern") || !strings.Contains(pcErr(errs, "integrations"), `did you mean "payments-prometheus"`) {
		t.Errorf("errors: %v", errs)
	}
	// What the manifest reader refuses lands next to its field.
	errs = pcFieldErrors(t, h.pcSubmit("U0ALICE", v.ID, map[string]string{"severity": "critical, bogus", "service_from": "service"}))
	if !strings.Contains(pcErr(errs, "severity"), `invalid severity "bogus"`) || !strings.Contains(pcErr(errs, "service_from"), "labels.<key>") {
		t.Errorf("errors: %v", errs)
	}

	if ack := h.pcSubmit("U0ALICE", v.ID, map[string]string{"urgency": "low", "summary": "~.*down.*", "labels": "env=prod\nenv=staging"}, "urgency"); ack != nil {
		t.Fatalf("save: %v", ack)
	}
	set := h.pcConfig()
	r := set.AlertRules[0]
	if r.Name != "payments-from-labels" || r.Urgency != "low" || !r.Page || !slices.Equal(r.Match.Summary, []string{"~.*down.*"}) ||
		!slices.Equal(r.Match.Labels["env"], []string{"prod", "staging"}) || len(r.Match.Labels) != 1 || r.ServiceFrom != "labels.service" {
		t.Errorf("saved: %+v", r)
	}
	if len(set.AlertRules) != 2 || set.AlertRules[1].Name != "quiet-warnings" {
		t.Errorf("order changed")
	}

	// A new rule goes last; bob, admin of no team, may not make one.
	c := h.pcClick("U0BOB", "", "rules_new", "", "response_url")
	if !strings.Contains(string(c.JSON), "Only a team admin may create an alert rule.") {
		t.Errorf("new rule as bob: %s", c.JSON)
	}
	v = h.pcViewOf(h.pcClick("U0ALICE", "", "rules_new", "", "views.open"))
	if ack := h.pcSubmit("U0ALICE", v.ID, map[string]string{"name": "web-info", "service": "payments-web", "severity": "info", "page": "false"}, "service", "page"); ack != nil {
		t.Fatalf("create: %v", ack)
	}
	set = h.pcConfig()
	if r := set.AlertRules[len(set.AlertRules)-1]; len(set.AlertRules) != 3 || r.Name != "web-info" || r.Page || r.Service != "payments-web" || r.Urgency != "high" {
		t.Errorf("created: %+v", r)
	}
}

// ---- /oncall contact

func TestContactModal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	v := h.pcOpenModal("U0ALICE", "contact")
	golden(t, "contact_modal", v.JSON)

	// A test on Slack reaches alice's DM; the modal says so.
	h.pcClick("U0ALICE", v.ID, "contact_test", "slack", "views.update")
	if _, err := h.slack.WaitForMessage(h.ctx(), "DU0ALICE", func(m slacktest.Message) bool {
		return strings.Contains(m.Text+string(m.Blocks), "Test page from oncall")
	}); err != nil {
		t.Error(err)
	}
	v, _ = h.slack.View(v.ID)
	if !strings.Contains(string(v.Blocks), "Test sent by `slack`") {
		t.Errorf("no test status: %s", v.Blocks)
	}
	// SMS is off in this harness: the modal says that instead.
	h.pcClick("U0ALICE", v.ID, "contact_test", "cell", "views.update")
	v, _ = h.slack.View(v.ID)
	if !strings.Contains(string(v.Blocks), "`cell` is not set up on this server") {
		t.Errorf("no test status: %s", v.Blocks)
	}

	// Invalid delay and number: errors next to their fields.
	errs := pcFieldErrors(t, h.pcSubmit("U0ALICE", v.ID, map[string]string{"nr_1_after": "soon", "cm_0_address": "555-0100", "nr_2_notify": "cel"}))
	if !strings.Contains(pcErr(errs, "nr_1_after"), `Invalid duration "soon"`) || !strings.Contains(pcErr(errs, "cm_0_address"), "E.164") ||
		!strings.Contains(pcErr(errs, "nr_2_notify"), `did you mean "cell"`) {
		t.Errorf("errors: %v", errs)
	}

	// A valid change is saved.
	if ack := h.pcSubmit("U0ALICE", v.ID, map[string]string{"cm_0_address": "+14155550199", "cm_2_name": "", "nr_2_notify": "cell-call", "nr_1_after": "1m"}); ack != nil {
		t.Fatalf("save: %v", ack)
	}
	u := pcUser(h.pcConfig(), "alice")
	if len(u.ContactMethods) != 2 || u.ContactMethods[0].Address != "+14155550199" || u.ContactMethods[1].Name != "cell-call" {
		t.Errorf("methods: %+v", u.ContactMethods)
	}
	if len(u.NotificationRules) != 3 || u.NotificationRules[1].After != time.Minute || !slices.Equal(u.NotificationRules[2].Notify, []string{"cell-call"}) {
		t.Errorf("rules: %+v", u.NotificationRules)
	}
}

func TestContactOnlyMine(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	v := h.pcOpenModal("U0ALICE", "contact")
	// bob submits alice's modal: refused, alice unchanged.
	errs := pcFieldErrors(t, h.pcSubmit("U0BOB", v.ID, map[string]string{"cm_0_address": "+14155550111"}))
	if !strings.Contains(pcErr(errs, "cm_0_name"), "only your own") {
		t.Errorf("errors: %v", errs)
	}
	if u := pcUser(h.pcConfig(), "alice"); u.ContactMethods[0].Address == "+14155550111" {
		t.Errorf("bob changed alice's number")
	}
	// bob's own modal is his.
	v = h.pcOpenModal("U0BOB", "contact")
	h.pcClick("U0BOB", v.ID, "contact_addmethod", "", "views.update")
	if ack := h.pcSubmit("U0BOB", v.ID, map[string]string{"cm_1_name": "mail", "cm_1_type": "email", "cm_1_address": "bob@example.org"}, "cm_1_type"); ack != nil {
		t.Fatalf("save: %v", ack)
	}
	if u := pcUser(h.pcConfig(), "bob"); len(u.ContactMethods) != 2 || u.ContactMethods[1] != (manifest.ContactMethod{Name: "mail", Type: "email", Address: "bob@example.org"}) {
		t.Errorf("bob: %+v", u.ContactMethods)
	}
	if got := string(h.slash("U0ALICE", "contact bob")); !strings.Contains(got, "your own contact methods only") {
		t.Errorf("contact bob: %s", got)
	}
}

// ---- Slack's limits

func TestPolicyAndRulesLimits(t *testing.T) {
	t.Parallel()
	set := company()
	long := storetest.Policy("long", storetest.ScheduleTarget("payments-primary"))
	long.Team = "payments"
	for i := 1; i < 60; i++ {
		long.Steps = append(long.Steps, manifest.Step{Targets: []manifest.Target{storetest.UserTarget("bob")}, EscalateAfter: time.Minute})
	}
	set.Policies = append(set.Policies, long)
	for i := range 60 {
		set.Policies = append(set.Policies, storetest.Policy(fmt.Sprintf("p-%02d", i), storetest.UserTarget("alice")))
	}
	for i := range 40 {
		set.AlertRules = append(set.AlertRules, storetest.AlertRule(fmt.Sprintf("r-%02d", i), "payments-web"))
	}
	h := newHarness(t, set)
	blocks := func(raw []byte) []any {
		var m struct{ Blocks []any }
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m.Blocks
	}
	for _, text := range []string{"escalation", "escalation long", "rules"} {
		got := h.slash("U0ALICE", text)
		if n := len(blocks(got)); n > 50 || n < 10 {
			t.Errorf("/oncall %s: %d blocks", text, n)
		}
		if text != "rules" && !strings.Contains(string(got), "more") {
			t.Errorf("/oncall %s does not say what it left out", text)
		}
	}
	// The rules page on; the last page holds the last rule.
	c := h.pcClick("U0ALICE", "", "rules_page", "30", "response_url")
	if n := len(blocks(c.JSON)); n > 50 || !strings.Contains(string(c.JSON), "r-39") || !strings.Contains(string(c.JSON), "Rules 31–42 of 42") {
		t.Errorf("last page (%d blocks): %s", n, c.JSON)
	}
	// A policy longer than the form is not opened half.
	c = h.pcClick("U0ALICE", "", "escalation_edit", "long", "response_url")
	if !strings.Contains(string(c.JSON), "more than this form holds") {
		t.Errorf("edit long: %s", c.JSON)
	}
}
