package jobs

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// noticeConfig: alice (Slack id, UTC) and bob (no Slack id, New York) take
// turns daily at 09:00 New York in schedule primary of team payments.
func noticeConfig() *config {
	alice, bob := storetest.User("alice"), storetest.User("bob")
	alice.SlackID, alice.TimeZone = "U0ALICE", "UTC"
	bob.FullName, bob.TimeZone = "Bob <the builder> & co", "America/New_York"
	s := storetest.Schedule("primary")
	s.Team = "payments"
	s.Layers[0].Members = []string{"alice", "bob"}
	s.Layers[0].Shift = schedule.Length{Days: 1}
	s.Layers[0].Restrict = []manifest.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}}
	return newConfig(1, storetest.NewSet(alice, bob, storetest.Team("payments", "alice", "bob"), s))
}

func incidents(n int) []*store.Incident {
	var out []*store.Incident
	for i := range n {
		out = append(out, &store.Incident{ID: int64(100 + i), State: store.StateTriggered, ServiceName: "checkout",
			Summary: fmt.Sprintf("Checkout error rate above %d%%\n<prod> & rising", 5+i)})
	}
	return out
}

// The texts of handoff notices and of the gap report, as Slack mrkdwn
// (testdata/handoff/*.txt; -update rewrites them).
func TestHandoffNoticeGolden(t *testing.T) {
	t.Parallel()
	cfg := noticeConfig()
	ms := cfg.manifestSchedule("primary")
	at := time.Date(2027, time.March, 15, 13, 0, 0, 0, time.UTC) // Monday 09:00 EDT
	until := time.Date(2027, time.March, 15, 21, 0, 0, 0, time.UTC)
	toBob := handoffNotice{cfg: cfg, sched: ms, incidents: incidents(2),
		h: handoff{schedule: "primary", at: at, from: "alice", to: "bob", until: until}}
	toNobody := handoffNotice{cfg: cfg, sched: ms, incidents: incidents(handoffIncidents + 1),
		h: handoff{schedule: "primary", at: until, from: "bob", until: at.Add(24 * time.Hour)}}
	fromNobody := handoffNotice{cfg: cfg, sched: ms,
		h: handoff{schedule: "primary", at: at, to: "alice", until: until}}
	from := time.Date(2027, time.March, 15, 9, 0, 0, 0, time.UTC)
	for name, got := range map[string]string{
		"incoming":             toBob.incoming(),
		"outgoing":             toBob.outgoing(),
		"channel":              toBob.channel(),
		"outgoing_to_nobody":   toNobody.outgoing(),
		"channel_to_nobody":    toNobody.channel(),
		"incoming_from_nobody": fromNobody.incoming(),
		"channel_from_nobody":  fromNobody.channel(),
		"gaps":                 cfg.gapText(cfg.teams["payments"], from, from.Add(gapReportDays*24*time.Hour)),
	} {
		path := filepath.Join("testdata", "handoff", name+".txt")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to write it)", err)
		}
		if got+"\n" != string(want) {
			t.Errorf("%s:\n--- got\n%s\n--- want\n%s", name, got, want)
		}
		if n := len([]rune(got)); n > 3000 {
			t.Errorf("%s: %d characters, over a section's 3,000", name, n)
		}
	}
}
