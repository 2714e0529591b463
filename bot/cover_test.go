package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/notify/slack/slacktest"
	"github.com/oncall/oncall/store"
)

// A cover request: alice asks from the schedule view; it is posted to the
// team's channel; carol takes it first, bob is too late.
func TestCoverRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	click := func(a slacktest.BlockAction) {
		t.Helper()
		if _, err := h.slack.WaitForAck(h.ctx(), h.slack.SendBlockAction(a)); err != nil {
			t.Fatal(err)
		}
	}
	click(slacktest.BlockAction{UserID: "U0ALICE", ActionID: "cover_open", Value: "payments-primary", ChannelID: "DU0ALICE"})
	v := schedView(t, h, "cover")
	// alice is on call until 17:00 Berlin: the form offers that.
	if !strings.Contains(string(v.Blocks), `"initial_value":"2026-12-16 17:00"`) {
		t.Errorf("cover form: %s", v.Blocks)
	}
	if errs := schedFieldErrors(t, schedSubmit(t, h, slacktest.ViewSubmission{ViewID: v.ID, Values: map[string]map[string]slacktest.Value{
		"note": {"v": schedText("Dentist <3")},
	}})); errs != nil {
		t.Fatalf("cover request refused: %v", errs)
	}
	req, err := h.slack.WaitForMessage(h.ctx(), "C0PAYMENTS", func(m slacktest.Message) bool { return strings.Contains(m.Text, "asks: can someone take") })
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "cover_request", req.Blocks)
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	_ = json.Unmarshal(req.Blocks, &blocks)
	value := ""
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.ActionID == "cover_take" {
				value = e.Value
			}
		}
	}
	if value == "" {
		t.Fatalf("no Take it button: %s", req.Blocks)
	}
	take := func(user string) {
		click(slacktest.BlockAction{UserID: user, ActionID: "cover_take", Value: value, ChannelID: "C0PAYMENTS", MessageTS: req.TS})
	}
	ephemeral := func(user, want string) {
		t.Helper()
		if err := h.slack.WaitUntil(h.ctx(), func() bool {
			for _, e := range h.slack.Ephemerals("C0PAYMENTS") {
				if e.User == user && strings.Contains(e.Text, want) {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("no ephemeral %q for %s: %v", want, user, err)
		}
	}

	take("U0ALICE")
	ephemeral("U0ALICE", "That is your own request")
	take("U0CAROL")
	taken, err := h.slack.WaitForMessage(h.ctx(), "C0PAYMENTS", func(m slacktest.Message) bool { return m.TS == req.TS && m.Updates > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(taken.Text, "<@U0CAROL> took <@U0ALICE>'s shift of *payments-primary*") || strings.Contains(string(taken.Blocks), "cover_take") ||
		!strings.Contains(string(taken.Blocks), `Dentist \u0026lt;3`) {
		t.Errorf("taken message: %s %s", taken.Text, taken.Blocks)
	}
	take("U0BOB")
	ephemeral("U0BOB", "Too late: <@U0CAROL> took it already.")

	set, err := store.LoadConfig(context.Background(), h.b.Pool)
	if err != nil {
		t.Fatal(err)
	}
	ovs := set.Schedules[0].Overrides
	from := schedNow.Truncate(time.Minute)
	if len(ovs) != 2 || ovs[1].User != "carol" || !ovs[1].Start.Equal(from) || !ovs[1].End.Equal(time.Date(2026, 12, 16, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("overrides = %+v", ovs)
	}
	st, err := h.b.Engine.OnCallStatus(context.Background(), "carol", h.b.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Now) == 0 || st.Now[0].Schedule != "payments-primary" {
		t.Errorf("carol on call: %+v", st.Now)
	}
}

// Two teammates clicking at once: exactly one gets the shift.
func TestCoverRequestRace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, company())
	schedFreeze(h)
	if _, err := h.slack.WaitForAck(h.ctx(), h.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0ALICE", ActionID: "cover_open", Value: "payments-primary", ChannelID: "DU0ALICE"})); err != nil {
		t.Fatal(err)
	}
	v := schedView(t, h, "cover")
	schedSubmit(t, h, slacktest.ViewSubmission{ViewID: v.ID, Values: map[string]map[string]slacktest.Value{
		"from": {"v": schedText("2026-12-17 18:00")}, "until": {"v": schedText("4h")}}})
	req, err := h.slack.WaitForMessage(h.ctx(), "C0PAYMENTS", func(m slacktest.Message) bool { return strings.Contains(m.Text, "asks") })
	if err != nil {
		t.Fatal(err)
	}
	value := `{"s":"payments-primary","f":` + jsonNum(time.Date(2026, 12, 17, 17, 0, 0, 0, time.UTC).Unix()) +
		`,"t":` + jsonNum(time.Date(2026, 12, 17, 21, 0, 0, 0, time.UTC).Unix()) + `,"u":"alice","z":"Europe/Berlin"}`
	if !strings.Contains(string(req.Blocks), strings.ReplaceAll(value, `"`, `\"`)) {
		t.Fatalf("button value: %s, want %s", req.Blocks, value)
	}
	e1 := h.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0CAROL", ActionID: "cover_take", Value: value, ChannelID: "C0PAYMENTS", MessageTS: req.TS})
	e2 := h.slack.SendBlockAction(slacktest.BlockAction{UserID: "U0BOB", ActionID: "cover_take", Value: value, ChannelID: "C0PAYMENTS", MessageTS: req.TS})
	for _, e := range []string{e1, e2} {
		if _, err := h.slack.WaitForAck(h.ctx(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.slack.WaitUntil(h.ctx(), func() bool {
		return len(h.slack.Ephemerals("C0PAYMENTS")) == 1 && len(h.slack.Calls("chat.update")) == 1
	}); err != nil {
		t.Fatalf("want one taker and one too late: %v (ephemerals %+v)", err, h.slack.Ephemerals("C0PAYMENTS"))
	}
	set, err := store.LoadConfig(context.Background(), h.b.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if ovs := set.Schedules[0].Overrides; len(ovs) != 2 {
		t.Errorf("overrides = %+v, want one taker", ovs)
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }
