package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// Tests of /oncall schedule (list, table, edit modal, preview, confirm)
// and /oncall override.

// schedNow is the instant these surfaces are rendered at: Wednesday 16
// December 2026, 15:00:05 UTC (10:00 in New York), 5 s past the minute so
// a test's drift (frozen again before each golden surface) changes neither
// a time shown to the minute nor a rounded "in 1h"; the two weeks after it
// hold the 25 December holiday.
var schedNow = time.Date(2026, time.December, 16, 15, 0, 5, 0, time.UTC)

func schedFreeze(h *harness) { h.b.Clock.Advance(schedNow.Sub(h.b.Clock.Now())) }

// schedView waits for a view with callbackID that is not in skip and
// returns it.
func schedView(t *testing.T, h *harness, callbackID string, skip ...string) slacktest.View {
	t.Helper()
	var got slacktest.View
	err := h.slack.WaitUntil(h.ctx(), func() bool {
		for _, v := range h.slack.Views() {
			if v.CallbackID != callbackID {
				continue
			}
			seen := false
			for _, id := range skip {
				seen = seen || id == v.ID
			}
			if !seen {
				got = v
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("no view %q opened: %v", callbackID, err)
	}
	return got
}

// schedOpen runs a /oncall command that opens a modal (no reply).
func schedOpen(t *testing.T, h *harness, user, text string) {
	t.Helper()
	env := h.slack.SendSlashCommand(slacktest.SlashCommand{Command: "/oncall", Text: text, UserID: user})
	if _, err := h.slack.WaitForAck(h.ctx(), env); err != nil {
		t.Fatalf("/oncall %s: not acknowledged: %v", text, err)
	}
}

// schedSubmit submits a view and returns its ack's payload.
func schedSubmit(t *testing.T, h *harness, sub slacktest.ViewSubmission) json.RawMessage {
	t.Helper()
	env := h.slack.SendViewSubmission(sub)
	ack, err := h.slack.WaitForAck(h.ctx(), env)
	if err != nil {
		t.Fatalf("submission not acknowledged: %v", err)
	}
	if ack.Latency > 3*time.Second {
		t.Errorf("submission acknowledged after %s", ack.Latency)
	}
	return ack.Payload
}

func schedText(v string) slacktest.Value { return slacktest.Value{Type: "plain_text_input", Value: v} }

func schedOption(v string) slacktest.Value {
	return slacktest.Value{Type: "static_select", SelectedOption: &slacktest.SelectOption{Text: v, Value: v}}
}

// fieldErrors reads the errors of an ack with response_action "errors".
func schedFieldErrors(t *testing.T, payload json.RawMessage) map[string]string {
	t.Helper()
	var r struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &r); err != nil {
			t.Fatalf("ack: %v\n%s", err, payload)
		}
	}
	if r.ResponseAction != "errors" {
		return nil
	}
	return r.Errors
}

// viewJSON is a view for a golden file, without its private metadata
// (compressed state, not for reading).
func schedViewJSON(t *testing.T, v slacktest.View) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(v.JSON, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "private_metadata")
	out, _ := json.Marshal(m)
	return out
}

func TestScheduleListAndView(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	golden(t, "schedule_list", h.slash("U0ALICE", "schedule"))
	schedFreeze(h)
	golden(t, "schedule_view", h.slash("U0ALICE", "schedule payments-primary"))
	month := string(h.slash("U0BOB", "schedule payments-secondary month"))
	if !strings.Contains(month, "The next 28 days") || !strings.Contains(month, "Tue 12 Jan") {
		t.Errorf("month view: %s", month)
	}
	if got := replyTextOf(t, h.slash("U0ALICE", "schedule payments-primery")); !strings.Contains(got, "I know no schedule called `payments-primery` (did you mean \"payments-primary\"?)") {
		t.Errorf("unknown schedule: %s", got)
	}
	if got := string(h.slash("U0ALICE", "schedule payments-primary fortnight")); !strings.Contains(got, "Usage: `/oncall schedule") {
		t.Errorf("bad argument: %s", got)
	}
}

func TestScheduleEditPreviewConfirm(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	schedOpen(t, h, "U0ALICE", "schedule payments-primary edit")
	edit := schedView(t, h, "schedule")
	golden(t, "schedule_edit", schedViewJSON(t, edit))

	// Field errors stay next to their fields, and the modal open.
	errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: edit.ID, Values: map[string]map[string]slacktest.Value{
		"tz":          {"v": schedText("Mars/Olympus")},
		"l0_shift":    {"v": schedText("3x")},
		"l1_members":  {"v": schedText("dave, carrol")},
		"l1_restrict": {"v": schedText("17:00-09:00\nsat,sunday 00:00-24:00\nfunday 10:00-11:00")},
	}}))
	for block, want := range map[string]string{
		"tz":          `Unknown time zone "Mars/Olympus"`,
		"l0_shift":    `Invalid shift "3x"`,
		"l1_members":  `Unknown user "carrol" (did you mean "carol"?)`,
		"l1_restrict": `Line 3: unknown day "funday"`,
	} {
		if !strings.Contains(errs[block], want) {
			t.Errorf("error of %s = %q, want %q (all: %v)", block, errs[block], want, errs)
		}
	}
	if v, _ := h.slack.View(edit.ID); v.Closed {
		t.Fatal("the modal closed on field errors")
	}
	errs = schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: edit.ID, Values: map[string]map[string]slacktest.Value{
		"l0_end": {"v": schedText("2026-01-01 00:00")},
	}}))
	if !strings.Contains(errs["l0_end"], "ends before it starts") {
		t.Errorf("end before start: %v", errs)
	}

	// A valid change: the nights layer ends this Friday, which leaves the
	// nights and weekends uncovered. The preview shows it.
	schedFreeze(h)
	ack := schedSubmit(t, h, slacktest.ViewSubmission{ViewID: edit.ID, Values: map[string]map[string]slacktest.Value{
		"l1_end": {"v": schedText("2026-12-18 09:00")},
	}})
	if errs := schedFieldErrors(t, ack); errs != nil {
		t.Fatalf("valid change refused: %v", errs)
	}
	preview := schedView(t, h, "schedule_confirm")
	golden(t, "schedule_preview", schedViewJSON(t, preview))
	if !strings.Contains(string(preview.Blocks), "Nobody would be on call") {
		t.Errorf("the preview shows no gap: %s", preview.Blocks)
	}
	if set, _ := store.LoadConfig(context.Background(), h.b.Pool); set.Schedules[0].Layers[1].End != nil {
		t.Fatal("saved before the confirm")
	}

	ack = schedSubmit(t, h, slacktest.ViewSubmission{ViewID: preview.ID})
	if !strings.Contains(string(ack), `"clear"`) {
		t.Fatalf("confirm ack = %s", ack)
	}
	set, err := store.LoadConfig(context.Background(), h.b.Pool)
	if err != nil {
		t.Fatal(err)
	}
	sc := set.Schedules[0]
	if sc.Name != "payments-primary" || sc.Layers[1].End == nil || !sc.Layers[1].End.Equal(time.Date(2026, 12, 18, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("saved schedule = %+v", sc)
	}
	if len(sc.Overrides) != 1 || sc.SlackUserGroup != "" || len(sc.Holidays) != 1 {
		t.Errorf("what the modal does not edit changed: %+v", sc)
	}
	var actor, action string
	if err := h.b.Pool.QueryRow(context.Background(),
		`SELECT actor, action FROM audit_log WHERE kind = 'Schedule' AND name = 'payments-primary' ORDER BY id DESC LIMIT 1`).Scan(&actor, &action); err != nil {
		t.Fatal(err)
	}
	if actor != "slack:alice" || action != "update" {
		t.Errorf("audit log: %s %s", actor, action)
	}
	if err := h.slack.WaitUntil(h.ctx(), func() bool { return len(h.slack.Ephemerals("DU0ALICE")) > 0 }); err != nil {
		t.Fatal(err)
	}
	if got := h.slack.Ephemerals("DU0ALICE")[0].Text; !strings.Contains(got, "Saved schedule payments-primary (changed: layers)") {
		t.Errorf("confirmation: %q", got)
	}

	// A second confirm of the same (now stale) preview saves nothing.
	ack = schedSubmit(t, h, slacktest.ViewSubmission{UserID: "U0ALICE", CallbackID: "schedule_confirm", PrivateMetadata: preview.PrivateMetadata})
	if !strings.Contains(string(ack), "changed while you were editing") {
		t.Errorf("stale confirm: %s", ack)
	}
}

func TestScheduleEditRefusedToNonAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	if got := string(h.slash("U0BOB", "schedule payments-primary edit")); !strings.Contains(got, "Only an admin of team payments may change this schedule") {
		t.Errorf("edit as bob: %s", got)
	}
	// Even a submission of a modal bob could not open is refused.
	schedOpen(t, h, "U0ALICE", "schedule payments-primary edit")
	edit := schedView(t, h, "schedule")
	errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{UserID: "U0BOB", ViewID: edit.ID, Values: map[string]map[string]slacktest.Value{"l0_shift": {"v": schedText("1d")}}}))
	if !strings.Contains(errs["team"], "Only an admin of team payments may change this schedule") {
		t.Errorf("submission as bob: %v", errs)
	}
	// Nor may bob take the schedule out of the team.
	errs = schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{UserID: "U0BOB", ViewID: edit.ID, Values: map[string]map[string]slacktest.Value{"team": {"v": schedOption("-")}}}))
	if !strings.Contains(errs["team"], "Only an admin of team payments") {
		t.Errorf("moving out of the team as bob: %v", errs)
	}
}

func TestScheduleCreate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	schedOpen(t, h, "U0CAROL", "schedule new")
	v := schedView(t, h, "schedule")
	values := map[string]map[string]slacktest.Value{
		"name":        {"v": schedText("payments-weekend")},
		"l0_members":  {"v": schedText("carol, dave")},
		"l0_restrict": {"v": schedText("sat-sun 00:00-24:00")},
	}
	errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: v.ID, Values: map[string]map[string]slacktest.Value{
		"name": {"v": schedText("payments-primary")}, "l0_members": {"v": schedText("carol")}}}))
	if !strings.Contains(errs["name"], "There is a schedule called payments-primary already") {
		t.Errorf("duplicate name: %v", errs)
	}
	if errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: v.ID, Values: values})); errs != nil {
		t.Fatalf("create: %v", errs)
	}
	preview := schedView(t, h, "schedule_confirm")
	if !strings.Contains(string(preview.Blocks), "Creating *payments-weekend*") {
		t.Errorf("preview: %s", preview.Blocks)
	}
	schedSubmit(t, h, slacktest.ViewSubmission{ViewID: preview.ID})
	set, err := store.LoadConfig(context.Background(), h.b.Pool)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, sc := range set.Schedules {
		if sc.Name == "payments-weekend" {
			found = true
			l := sc.Layers[0]
			if sc.Team != "payments" || sc.TimeZone != "Asia/Tokyo" || l.Shift.Days != 7 || len(l.Restrict) != 1 || len(l.Restrict[0].Days) != 2 ||
				l.Start.String() != "2026-12-21T09:00" {
				t.Errorf("created %+v %+v", sc, l)
			}
		}
	}
	if !found {
		t.Fatal("schedule not created")
	}
}

func TestScheduleLayerButtons(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedOpen(t, h, "U0ALICE", "schedule payments-primary edit")
	edit := schedView(t, h, "schedule")
	env := h.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0ALICE", ActionID: "schedule_addlayer", ViewID: edit.ID})
	if _, err := h.slack.WaitForAck(h.ctx(), env); err != nil {
		t.Fatal(err)
	}
	if err := h.slack.WaitUntil(h.ctx(), func() bool { v, _ := h.slack.View(edit.ID); return v.Updates == 1 }); err != nil {
		t.Fatal(err)
	}
	v, _ := h.slack.View(edit.ID)
	if !strings.Contains(string(v.Blocks), `"l2_name"`) || !strings.Contains(string(v.Blocks), "Layer 3") {
		t.Fatalf("no third layer: %s", v.Blocks)
	}
	env = h.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0ALICE", ActionID: "schedule_rmlayer", Value: "0", ViewID: edit.ID})
	if _, err := h.slack.WaitForAck(h.ctx(), env); err != nil {
		t.Fatal(err)
	}
	if err := h.slack.WaitUntil(h.ctx(), func() bool { v, _ := h.slack.View(edit.ID); return v.Updates == 2 }); err != nil {
		t.Fatal(err)
	}
	v, _ = h.slack.View(edit.ID)
	if strings.Contains(string(v.Blocks), `"l0_name"`) || !strings.Contains(string(v.Blocks), `"nights"`) {
		t.Fatalf("layer 1 not removed: %s", v.Blocks)
	}
}

func TestOverrideMyself(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	ctx := context.Background()
	onCallIn := func(user, sched string) bool {
		st, err := h.b.Engine.OnCallStatus(ctx, user, h.b.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range st.Now {
			if sh.Schedule == sched {
				return true
			}
		}
		return false
	}
	if onCallIn("bob", "payments-primary") {
		t.Fatal("bob is on call in payments-primary before the override")
	}

	// The Override button of the schedule view opens the modal, as bob, for
	// bob, from now for 4 hours.
	env := h.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0BOB", ActionID: "override_open", Value: "payments-primary", ChannelID: "DU0BOB"})
	if _, err := h.slack.WaitForAck(h.ctx(), env); err != nil {
		t.Fatal(err)
	}
	v := schedView(t, h, "override")
	golden(t, "override_modal", schedViewJSON(t, v))

	// Bad times, and someone else, are refused next to the field.
	errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: v.ID, Values: map[string]map[string]slacktest.Value{
		"from": {"v": schedText("yesterday")}, "until": {"v": schedText("soon")},
	}}))
	if !strings.Contains(errs["from"], "Write now, or a date and time") || !strings.Contains(errs["until"], "Write a length like 4h") {
		t.Errorf("bad times: %v", errs)
	}
	errs = schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: v.ID, Values: map[string]map[string]slacktest.Value{
		"from": {"v": schedText("2026-12-15 09:00")}, "until": {"v": schedText("1h")},
	}}))
	if !strings.Contains(errs["until"], "would be over already") {
		t.Errorf("past override: %v", errs)
	}
	errs = schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: v.ID, Values: map[string]map[string]slacktest.Value{
		"who": {"v": schedOption("carol")},
	}}))
	if !strings.Contains(errs["who"], "Only an admin of team payments may put someone else on call") {
		t.Errorf("bob putting carol in: %v", errs)
	}
	if onCallIn("carol", "payments-primary") && !onCallIn("alice", "payments-primary") {
		t.Fatal("a refused override was saved")
	}

	// As prefilled: saved, and bob is on call now.
	if errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: v.ID})); errs != nil {
		t.Fatalf("override refused: %v", errs)
	}
	if !onCallIn("bob", "payments-primary") {
		t.Fatal("bob is not on call after his override")
	}
	set, err := store.LoadConfig(ctx, h.b.Pool)
	if err != nil {
		t.Fatal(err)
	}
	ovs := set.Schedules[0].Overrides
	from := schedNow.Truncate(time.Minute)
	if len(ovs) != 2 || ovs[1].User != "bob" || !ovs[1].Start.Equal(from) || !ovs[1].End.Equal(from.Add(4*time.Hour)) {
		t.Errorf("overrides = %+v", ovs)
	}
	var actor string
	if err := h.b.Pool.QueryRow(ctx, `SELECT actor FROM audit_log WHERE kind = 'Schedule' AND name = 'payments-primary' ORDER BY id DESC LIMIT 1`).Scan(&actor); err != nil {
		t.Fatal(err)
	}
	if actor != "slack:bob" {
		t.Errorf("audit actor = %q", actor)
	}
	if err := h.slack.WaitUntil(h.ctx(), func() bool { return len(h.slack.Ephemerals("DU0BOB")) > 0 }); err != nil {
		t.Fatal(err)
	}
	if got := h.slack.Ephemerals("DU0BOB")[0].Text; got != "Override saved: *bob* is on call for *payments-primary* today 10:00–14:00 (America/New_York)." {
		t.Errorf("confirmation: %q", got)
	}
	if got := string(h.slash("U0BOB", "schedule payments-primary")); !strings.Contains(got, `*Overrides*\n• today 10:00–14:00  *bob*`) ||
		!strings.Contains(got, "10:00–14:00 *bob*") {
		t.Errorf("the view does not show the override: %s", got)
	}
}

func TestOverrideSomeoneElseAsAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	schedOpen(t, h, "U0ALICE", "override payments-secondary")
	v := schedView(t, h, "override")
	if errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: v.ID, Values: map[string]map[string]slacktest.Value{
		"who": {"v": schedOption("dave")}, "from": {"v": schedText("2026-12-24 18:00")}, "until": {"v": schedText("2026-12-26 09:00")},
	}})); errs != nil {
		t.Fatalf("alice putting dave in: %v", errs)
	}
	set, err := store.LoadConfig(context.Background(), h.b.Pool)
	if err != nil {
		t.Fatal(err)
	}
	ovs := set.Schedules[1].Overrides
	if len(ovs) != 1 || ovs[0].User != "dave" || !ovs[0].Start.Equal(time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC)) || !ovs[0].End.Equal(time.Date(2026, 12, 26, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("overrides = %+v", ovs)
	}
	if got := string(h.slash("U0ALICE", "override nosuch")); !strings.Contains(got, "I know no schedule called `nosuch`") {
		t.Errorf("unknown schedule: %s", got)
	}
}

func TestOverridesAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	schedOpen(t, h, "U0BOB", "override payments-primary")
	vb := schedView(t, h, "override")
	schedOpen(t, h, "U0ALICE", "override payments-primary")
	va := schedView(t, h, "override", vb.ID)
	eb := h.slack.SendViewSubmission(slacktest.ViewSubmission{ViewID: vb.ID})
	ea := h.slack.SendViewSubmission(slacktest.ViewSubmission{ViewID: va.ID, Values: map[string]map[string]slacktest.Value{"from": {"v": schedText("2026-12-17 09:00")}}})
	for _, env := range []string{eb, ea} {
		ack, err := h.slack.WaitForAck(h.ctx(), env)
		if err != nil {
			t.Fatal(err)
		}
		if errs := schedFieldErrors(t, ack.Payload); errs != nil {
			t.Fatalf("refused: %v", errs)
		}
	}
	set, err := store.LoadConfig(context.Background(), h.b.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if ovs := set.Schedules[0].Overrides; len(ovs) != 3 {
		t.Errorf("overrides = %+v, want the fixture's and both new ones", ovs)
	}
}

// A schedule of many layers keeps to Slack's limits: its view to 50
// blocks, its modal to 100 (the fake refuses more); past the modal's
// layers, editing is refused with a pointer to `oncall apply`.
func TestScheduleManyLayers(t *testing.T) {
	t.Parallel()
	set := company()
	sc := set.Schedules[1]
	for len(sc.Layers) < 10 {
		l := sc.Layers[0]
		l.Name = fmt.Sprintf("layer-%02d", len(sc.Layers))
		l.Members = []string{"alice", "bob", "carol", "dave"}
		l.Restrict = []manifest.Window{{Days: []string{"mon", "wed", "fri"}, From: fmt.Sprintf("%02d:00", len(sc.Layers)), To: "23:00"}}
		sc.Layers = append(sc.Layers, l)
	}
	big := *sc
	big.Name = "payments-huge"
	big.Layers = append([]manifest.Layer(nil), sc.Layers...)
	for len(big.Layers) < 60 {
		l := big.Layers[1]
		l.Name = fmt.Sprintf("layer-%02d", len(big.Layers))
		big.Layers = append(big.Layers, l)
	}
	set.Schedules = append(set.Schedules, &big)
	h := newHarness(t, set)
	schedFreeze(h)

	var msg struct{ Blocks []json.RawMessage }
	if err := json.Unmarshal(h.slash("U0ALICE", "schedule payments-huge month"), &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Blocks) == 0 || len(msg.Blocks) > 50 {
		t.Errorf("view of 60 layers: %d blocks", len(msg.Blocks))
	}
	if got := replyTextOf(t, h.slash("U0ALICE", "schedule payments-huge edit")); !strings.Contains(got, "has 60 layers, more than Slack's form holds") {
		t.Errorf("edit of 60 layers: %q", got)
	}
	schedOpen(t, h, "U0ALICE", "schedule payments-secondary edit")
	v := schedView(t, h, "schedule")
	var blocks []json.RawMessage
	_ = json.Unmarshal(v.Blocks, &blocks)
	if len(blocks) > 100 || strings.Contains(string(v.Blocks), "schedule_addlayer") {
		t.Errorf("modal of 10 layers: %d blocks (add button shown: %v)", len(blocks), strings.Contains(string(v.Blocks), "schedule_addlayer"))
	}
}

func replyTextOf(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var m struct{ Text string }
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m.Text
}

func TestScheduleButtons(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	click := func(user, action, value string) {
		t.Helper()
		env := h.slack.SendBlockAction(slacktest.BlockAction{UserID: user, ActionID: action, Value: value, ChannelID: "D" + user})
		if _, err := h.slack.WaitForAck(h.ctx(), env); err != nil {
			t.Fatal(err)
		}
	}
	reply := func(pred func(string) bool) string {
		t.Helper()
		c, err := h.slack.WaitFor(h.ctx(), func(c slacktest.Call) bool { return c.Method == "response_url" && pred(string(c.JSON)) })
		if err != nil {
			t.Fatal(err)
		}
		return string(c.JSON)
	}
	// View (from the list) answers with the schedule.
	click("U0BOB", "schedule_view", "payments-secondary")
	reply(func(s string) bool { return strings.Contains(s, "Schedule payments-secondary") })
	// Edit and New: a modal for an admin, a refusal for anyone else.
	click("U0BOB", "schedule_edit", "payments-secondary")
	reply(func(s string) bool {
		return strings.Contains(s, "Only an admin of team payments may change this schedule") && strings.Contains(s, "/oncall override payments-secondary")
	})
	click("U0BOB", "schedule_new", "")
	reply(func(s string) bool { return strings.Contains(s, "Only a team admin may create a schedule") })
	click("U0CAROL", "schedule_edit", "payments-secondary")
	if v := schedView(t, h, "schedule"); v.UserID != "U0CAROL" || !strings.Contains(string(v.Blocks), "Editing *payments-secondary*") {
		t.Errorf("edit modal: %+v", v)
	}
}

// The modal reads back what it shows: saving it unchanged changes nothing
// (windows, holidays, zones, the end, the overrides all survive the trip).
func TestScheduleEditUnchanged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	schedOpen(t, h, "U0CAROL", "schedule payments-primary edit")
	edit := schedView(t, h, "schedule")
	if errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: edit.ID})); errs != nil {
		t.Fatalf("unchanged form refused: %v", errs)
	}
	preview := schedView(t, h, "schedule_confirm")
	if !strings.Contains(string(preview.Blocks), "The next two weeks' shifts do not change.") ||
		!strings.Contains(string(preview.Blocks), "leaves nobody-on-call time as it was") {
		t.Errorf("preview of no change: %s", preview.Blocks)
	}
	schedSubmit(t, h, slacktest.ViewSubmission{ViewID: preview.ID})
	if err := h.slack.WaitUntil(h.ctx(), func() bool { return len(h.slack.Ephemerals("DU0CAROL")) > 0 }); err != nil {
		t.Fatal(err)
	}
	if got := h.slack.Ephemerals("DU0CAROL")[0].Text; got != "No changes to schedule payments-primary." {
		t.Errorf("confirmation: %q", got)
	}
}
