package bot

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	slackch "github.com/oncall/oncall/notify/slack"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store/storetest"
)

// fuzzSet is the company the forms are read against, fresh each time:
// a form's parse may not change it, but a fuzzer should not rely on that.
func fuzzSet() *manifest.Set { return storetest.Company() }

// checkErrors: a form's errors are short enough for Slack to show.
func checkErrors(t *testing.T, form string, errs cfgErrors) {
	t.Helper()
	for block, msg := range errs {
		if msg == "" || utf8.RuneCountInString(msg) > 300 {
			t.Fatalf("%s: error of %s: %q", form, block, msg)
		}
	}
}

// FuzzPayload: whatever interaction payload Slack (or someone posing as
// it) sends, decoding it and reading every modal's form from it never
// panics, and the field errors are fit to show. The pure part of each
// block action's value is read too.
func FuzzPayload(f *testing.F) {
	set := fuzzSet()
	views := []slack.ModalViewRequest{
		policyModal(cfgMeta{Name: set.Policies[0].Name, Rows: len(set.Policies[0].Steps)}, policyFormOf(set, set.Policies[0]), []string{"payments"}),
		contactModal(cfgMeta{Rows: 2, Rows2: 2}, contactFormOf(set.Users[0]), nil),
		schedModal(schedFormOf(set.Schedules[0]), schedMeta{Name: set.Schedules[0].Name}, set),
	}
	if len(set.AlertRules) > 0 {
		views = append(views, ruleModal(set, cfgMeta{Name: set.AlertRules[0].Name}, ruleFormOf(set.AlertRules[0])))
	}
	for _, v := range views {
		view, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(`{"type":"view_submission","user":{"id":"U01ALICE"},"view":` + string(view) + `}`))
	}
	f.Add([]byte(`{"type":"view_submission","view":{"callback_id":"escalation","private_metadata":"{\"r\":3}","state":{"values":{"step_0_targets":{"v":{"type":"plain_text_input","value":"user:alice, schedule:nope"}},"step_0_after":{"v":{"type":"plain_text_input","value":"-5m"}},"step_2_after":{"v":{"type":"plain_text_input","value":"99999999w"}}}}}}`))
	f.Add([]byte(`{"type":"view_submission","view":{"callback_id":"contact","private_metadata":"{\"r\":-1,\"q\":1000000}","state":{"values":{"nr_0_after":{"v":{"value":"1.5s"}},"cm_0_type":{"v":{"selected_option":{"value":"sms"}}},"cm_0_address":{"v":{"value":"+1\u0000"}}}}}}`))
	f.Add([]byte(`{"type":"view_submission","view":{"callback_id":"schedule","private_metadata":"{\"k\":[\"0\",\"0\",\"\"],\"x\":-1}","state":{"values":{"l0_restrict":{"v":{"value":"mon-sun 22:00-24:00\n–\n sat 25:00-01:00"}},"l0_start":{"v":{"value":"2026-03-29 02:30"}},"l0_shift":{"v":{"value":"1d12h"}},"l0_tz":{"v":{"value":"Mars/Olympus"}}}}}}`))
	f.Add([]byte(`{"type":"block_actions","actions":[{"action_id":"rules_page","value":"-9223372036854775808"},{"action_id":"incident_ack","value":" 12 "},{"action_id":"cover_take","value":"{\"schedule\":1}"}]}`))
	f.Add([]byte(`{"type":"view_submission","view":{"blocks":[{"type":"input","block_id":"name","element":{"type":"plain_text_input"}},{"type":"nonsense"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		readPayload(t, data)
	})
}

func readPayload(t *testing.T, data []byte) {
	t.Helper()
	var cb slack.InteractionCallback
	if err := json.Unmarshal(data, &cb); err != nil {
		return
	}
	set := fuzzSet()
	for _, a := range cb.ActionCallback.BlockActions {
		if id, err := slackch.ParseActionValue(a.Value); err == nil && id <= 0 {
			t.Fatalf("action value %q: incident %d", a.Value, id)
		}
		from, _ := strconv.Atoi(a.Value)
		_ = rulesBlocks(set, from)
		var req coverRequest
		_ = json.Unmarshal([]byte(a.Value), &req)
	}
	v := &cb.View
	meta := cfgParseMeta(v.PrivateMetadata)
	for _, existing := range []*manifest.EscalationPolicy{nil, set.Policies[0]} {
		if p, errs := readPolicyForm(v, meta).parse(set, existing); len(errs) > 0 {
			checkErrors(t, "policy", errs)
		} else if p == nil {
			t.Fatal("policy: no errors and no policy")
		}
	}
	if len(set.AlertRules) > 0 {
		_, errs := readRuleForm(v).parse(set, set.AlertRules[0])
		checkErrors(t, "rule", errs)
	}
	_, errs := readRuleForm(v).parse(set, nil)
	checkErrors(t, "new rule", errs)
	_, errs = readContactForm(v, meta).parse(set, set.Users[0])
	checkErrors(t, "contact", errs)
	sm := schedParseMeta(v.PrivateMetadata)
	_, errs = schedFormOfView(v, sm).build(set, sm)
	checkErrors(t, "schedule", errs)
}

// FuzzText: the text of a slash command, or of one form field, read by
// every pure reader the commands and forms use.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "ack #12", "incidents 0", "override primary", "mobile revoke #-1", "now", "18:00", "4h",
		"2026-12-03 09:00", "2026-03-29 02:30", "mon-fri 09:00-17:00", "sat–sun 22:00 – 24:00", "– ", "-", "sun-mon 00:00-00:00",
		"severity=critical\nservice=~pay.*\n=x\nk=", "user:alice, schedule:primary, team:payments", "@alice",
		"\x00", "\xff", strings.Repeat("mon,", 1000) + " 00:00-01:00", "99999999999999999999999m"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Skip(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set := fuzzSet()
		args := strings.Fields(s)
		if len(args) > 0 {
			_ = (&Bot{}).commands()[strings.ToLower(args[0])]
			for _, a := range args {
				_, _ = slackch.ParseActionValue(strings.TrimPrefix(a, "#"))
			}
		}
		if at, err := ovrParseTime(s, now, loc, true); err == nil && at.IsZero() {
			t.Fatalf("ovrParseTime(%q) = zero", s)
		}
		_, _ = ovrParseUntil(s, now, now, loc)
		if yaml, err := schedParseWindows(s); err == nil && (!strings.HasPrefix(yaml, "[") || !strings.HasSuffix(yaml, "]")) {
			t.Fatalf("schedParseWindows(%q) = %q", s, yaml)
		}
		errs := cfgErrors{}
		_ = parsePatternLines(errs, "match", s)
		checkErrors(t, "patterns", errs)
		_ = cfgSplitList(s)
		_ = cfgSplitLines(s)
		if d, err := cfgDuration(s, time.Minute, 0); err == nil && d < 0 {
			t.Fatalf("cfgDuration(%q) = %v", s, d)
		}
		_, _ = parseTarget(set, s)
	})
}
