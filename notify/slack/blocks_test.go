package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/oncall/oncall/notify"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testPage is a realistic page of incident #12.
func testPage(state, by string) notify.Page {
	return notify.Page{
		IncidentID: 12,
		Service:    "payments-api",
		Team:       "payments",
		Summary:    "Checkout error rate above 5% <prod> & rising",
		Severity:   "critical",
		Urgency:    "high",
		State:      state,
		StateBy:    by,
		CreatedAt:  time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC),
		Alerts:     3,
		Labels: map[string]string{
			"alertname": "CheckoutErrorRate",
			"env":       "prod",
			"region":    "eu-west-1",
		},
		Links: []Link{
			{Href: "https://grafana.example.com/d/checkout?from=now-1h&to=now", Text: "Dashboard"},
			{Href: "https://runbooks.example.com/payments/checkout-errors"},
			{Href: "javascript:alert(1)", Text: "never shown"},
		},
		Escalation: "step 1 of payments-default",
		URL:        "https://oncall.example.com/incidents/12",
	}
}

// Link is notify.Link, shorter.
type Link = notify.Link

func TestBlocksGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		page notify.Page
	}{
		{"triggered", testPage(notify.StateTriggered, "")},
		{"acknowledged", testPage(notify.StateAcknowledged, "alice")},
		{"resolved", testPage(notify.StateResolved, "alertmanager")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf) // readable: no \u003c for <
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(Blocks(tc.page)); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (run go test ./notify/slack -run TestBlocksGolden -update to accept):\n%s", path, got)
			}
		})
	}
}

// decode renders p, encodes the blocks as chat.postMessage sends them and
// decodes them with slack-go, as the bot will when a click arrives.
func decode(t *testing.T, p notify.Page) []slack.Block {
	t.Helper()
	raw, err := json.Marshal(Blocks(p))
	if err != nil {
		t.Fatal(err)
	}
	var bs slack.Blocks
	if err := json.Unmarshal(raw, &bs); err != nil {
		t.Fatalf("slack-go cannot decode the blocks: %v\n%s", err, raw)
	}
	checkLimits(t, bs.BlockSet)
	return bs.BlockSet
}

// buttons returns the action ids of the page's buttons and checks that each
// value parses back to the incident id and that the block id names it.
func buttons(t *testing.T, p notify.Page) []string {
	t.Helper()
	var ids []string
	for _, b := range decode(t, p) {
		ab, ok := b.(*slack.ActionBlock)
		if !ok {
			continue
		}
		if got, err := ParseBlockID(ab.BlockID); err != nil || got != p.IncidentID {
			t.Errorf("block id %q -> %d, %v", ab.BlockID, got, err)
		}
		for _, e := range ab.Elements.ElementSet {
			btn, ok := e.(*slack.ButtonBlockElement)
			if !ok {
				t.Fatalf("element %T in the actions block", e)
			}
			if got, err := ParseActionValue(btn.Value); err != nil || got != p.IncidentID {
				t.Errorf("button %s value %q -> %d, %v", btn.ActionID, btn.Value, got, err)
			}
			ids = append(ids, btn.ActionID)
		}
	}
	return ids
}

func TestBlocksButtons(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		state string
		want  string
	}{
		{notify.StateTriggered, "incident_ack incident_resolve incident_escalate"},
		{"", "incident_ack incident_resolve incident_escalate"},
		{notify.StateAcknowledged, "incident_resolve incident_escalate"},
		{notify.StateResolved, ""},
	} {
		p := testPage(tc.state, "alice")
		p.IncidentID = 9_007_199_254_740_993 // beyond float64's integers
		if got := strings.Join(buttons(t, p), " "); got != tc.want {
			t.Errorf("state %q: buttons %q, want %q", tc.state, got, tc.want)
		}
	}
}

func TestBlocksMinimalAndOversized(t *testing.T) {
	t.Parallel()
	// A page with nothing but an id still renders valid blocks.
	bs := decode(t, notify.Page{IncidentID: 1})
	if h := bs[0].(*slack.HeaderBlock).Text.Text; h != ":rotating_light: #1 (no summary)" {
		t.Errorf("header = %q", h)
	}
	if txt := Text(notify.Page{IncidentID: 1}); txt != "🚨 #1 (no summary) · triggered" {
		t.Errorf("text = %q", txt)
	}

	// Everything too long or too many is cut to Slack's limits.
	long := strings.Repeat("<&é> ", 2000)
	p := notify.Page{
		IncidentID: 2, Summary: "line one\nline two " + long, Service: long, Team: long,
		Severity: long, Urgency: "low", State: notify.StateTriggered, Alerts: 1,
		Escalation: long, Labels: map[string]string{}, URL: "https://x.example.com/" + strings.Repeat("a", 3000),
	}
	for i := range 20 {
		p.Labels[fmt.Sprintf("label%02d", i)] = long
		p.Links = append(p.Links, notify.Link{Href: "https://example.com/" + strconv.Itoa(i) + "?" + strings.Repeat("q", 500), Text: long})
	}
	bs = decode(t, p)
	h := bs[0].(*slack.HeaderBlock).Text.Text
	if !strings.HasPrefix(h, ":warning: #2 line one line two <&é>") || !strings.HasSuffix(h, "…") {
		t.Errorf("header = %q", h)
	}
	if !strings.Contains(string(must(json.Marshal(bs))), "+14 more") {
		t.Error("labels beyond the sixth are not counted")
	}
	if n := utf8.RuneCountInString(Text(p)); n > 3000*5 {
		t.Errorf("text has %d runes", n)
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		page notify.Page
		want string
	}{
		{testPage(notify.StateTriggered, ""), "🚨 #12 Checkout error rate above 5% &lt;prod&gt; &amp; rising · payments-api · critical · triggered"},
		{testPage(notify.StateAcknowledged, "alice"), "👀 #12 Checkout error rate above 5% &lt;prod&gt; &amp; rising · payments-api · critical · acknowledged by alice"},
		{testPage(notify.StateResolved, "alertmanager"), "✅ #12 Checkout error rate above 5% &lt;prod&gt; &amp; rising · payments-api · critical · resolved by alertmanager"},
	} {
		if got := Text(tc.page); got != tc.want {
			t.Errorf("Text = %q\nwant   %q", got, tc.want)
		}
	}
}

func TestParseActionValue(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]int64{"12": 12, " 7 ": 7, "9223372036854775807": 9223372036854775807} {
		if got, err := ParseActionValue(v); err != nil || got != want {
			t.Errorf("ParseActionValue(%q) = %d, %v", v, got, err)
		}
	}
	for _, v := range []string{"", "0", "-3", "12a", "incident:12", "9223372036854775808"} {
		if _, err := ParseActionValue(v); err == nil {
			t.Errorf("ParseActionValue(%q) succeeded", v)
		}
	}
	if _, err := ParseBlockID("actions"); err == nil {
		t.Error(`ParseBlockID("actions") succeeded`)
	}
}

func TestParseEscalateValue(t *testing.T) {
	t.Parallel()
	for v, want := range map[string][2]int64{EscalateValue(12, 3): {12, 3}, "12:0": {12, 0}, "12": {12, -1}} {
		id, seq, err := ParseEscalateValue(v)
		if err != nil || id != want[0] || int64(seq) != want[1] {
			t.Errorf("ParseEscalateValue(%q) = %d, %d, %v; want %v", v, id, seq, err, want)
		}
	}
	for _, v := range []string{"12:", "12:-1", "12:x", ":3", "12:3:4"} {
		if _, _, err := ParseEscalateValue(v); err == nil {
			t.Errorf("ParseEscalateValue(%q) succeeded", v)
		}
	}
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	ch, ts, err := ParseRef(Ref("DU1", "1700000000.000100"))
	if err != nil || ch != "DU1" || ts != "1700000000.000100" {
		t.Errorf("ParseRef = %q %q %v", ch, ts, err)
	}
	for _, ref := range []string{"", "DU1", "/1.2", "DU1/", "a/b/c"} {
		if _, _, err := ParseRef(ref); err == nil {
			t.Errorf("ParseRef(%q) succeeded", ref)
		}
	}
}

func TestUserCache(t *testing.T) {
	t.Parallel()
	c := newUserCache(2)
	c.put("A@example.com", "U1")
	c.put("b@example.com", "U2")
	if id, ok := c.get("a@EXAMPLE.com"); !ok || id != "U1" {
		t.Errorf("get a = %q %t", id, ok)
	}
	c.put("c@example.com", "U3") // evicts a, the oldest
	if _, ok := c.get("a@example.com"); ok {
		t.Error("a not evicted")
	}
	c.forget("b@example.com")
	if _, ok := c.get("b@example.com"); ok {
		t.Error("b not forgotten")
	}
	c.put("d@example.com", "U4")
	if len(c.ids) != 2 || len(c.order) != 2 {
		t.Errorf("cache holds %v %v", c.ids, c.order)
	}
}

// checkLimits checks the blocks against Block Kit's limits.
func checkLimits(t *testing.T, blocks []slack.Block) {
	t.Helper()
	if len(blocks) > 50 {
		t.Errorf("%d blocks", len(blocks))
	}
	text := func(o *slack.TextBlockObject, max int) {
		t.Helper()
		if o == nil {
			return
		}
		if err := o.Validate(); err != nil {
			t.Errorf("text %.80q: %v", o.Text, err)
		}
		if n := utf8.RuneCountInString(o.Text); n > max {
			t.Errorf("text of %d runes, limit %d: %.80q", n, max, o.Text)
		}
	}
	for _, b := range blocks {
		if len(b.ID()) > 255 {
			t.Errorf("block id %q", b.ID())
		}
		switch b := b.(type) {
		case *slack.HeaderBlock:
			text(b.Text, 150)
		case *slack.SectionBlock:
			text(b.Text, 3000)
			if len(b.Fields) > 10 {
				t.Errorf("%d fields", len(b.Fields))
			}
			for _, f := range b.Fields {
				text(f, 2000)
			}
		case *slack.ContextBlock:
			if len(b.ContextElements.Elements) > 10 {
				t.Errorf("%d context elements", len(b.ContextElements.Elements))
			}
			for _, e := range b.ContextElements.Elements {
				if o, ok := e.(*slack.TextBlockObject); ok {
					text(o, 3000)
				}
			}
		case *slack.ActionBlock:
			if len(b.Elements.ElementSet) > 25 {
				t.Errorf("%d actions", len(b.Elements.ElementSet))
			}
			for _, e := range b.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					text(btn.Text, 75)
					if len(btn.Value) > 2000 || len(btn.ActionID) > 255 {
						t.Errorf("button %+v", btn)
					}
				}
			}
		default:
			t.Errorf("unexpected block %T", b)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
