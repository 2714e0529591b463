package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/oncall/store"
)

// stormConfig is pagingConfig with an unrelated service, search-api, whose
// alerts (label service=search, through the same integrations) page
// mallory.
const stormConfig = pagingConfig + `---
kind: EscalationPolicy
name: search
steps:
  - targets: [{user: mallory}]
---
kind: Service
name: search-api
escalation_policy: search
---
kind: AlertRule
name: search-alerts
match: {labels: {service: search}}
service: search-api
`

// slackPosts counts the pages (chat.postMessage) a channel or DM received.
func slackPosts(s *stack, channel string) int {
	n := 0
	for _, c := range s.slack.Calls("chat.postMessage") {
		if c.Params.Get("channel") == channel && c.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// pendingPages counts the notifications due by now still waiting to go out.
func pendingPages(s *stack) int {
	s.t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM notifications WHERE state = 'pending' AND due_at <= $1`,
		s.clock.Now()).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// TestStormBundlesPages sends 200 alerts for one service at once: alice
// and the team channel get a handful of bundled messages, not 200 each;
// every incident's timeline says how its page went out; and an unrelated
// service's page, sent in the middle of it, goes out on its own.
func TestStormBundlesPages(t *testing.T) {
	t.Parallel()
	s := startStack(t, withConfig(stormConfig))
	s.engine.SetStormThreshold(20) // a storm from the 21st incident in 10 s
	t0 := time.Now()
	const alerts, senders = 200, 8
	ids := make([]int64, alerts)
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for i := w; i < alerts; i += senders {
				body := fmt.Sprintf(`{"summary":"storm %d","dedup_key":"storm-%d","severity":"critical"}`, i, i)
				code, resp := s.post("/v1/alerts/"+s.keys["hook"], []byte(body))
				if code != http.StatusAccepted {
					t.Errorf("alert %d: %d %s", i, code, resp)
					return
				}
				ids[i] = incidentID(t, resp)
			}
		})
	}
	code, resp := s.post("/v1/alerts/"+s.keys["hook"], []byte(`{"summary":"search is down","labels":{"service":"search"}}`))
	if code != http.StatusAccepted {
		t.Fatalf("unrelated alert: %d %s", code, resp)
	}
	unrelated := incidentID(t, resp)
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("sent in %v", time.Since(t0))
	s.pageFor("DU0MALLORY", unrelated)
	t.Logf("unrelated page at %v", time.Since(t0))

	// Bundles wait out bundleInterval (5 s) after a big one: move the
	// clock on until everything due went out.
	for range 15 {
		if pendingPages(s) == 0 {
			break
		}
		s.advance(6 * time.Second)
	}
	s.advance(6 * time.Second) // jobs snoozed for the storm interval wake, to find their page sent
	s.settle()
	t.Logf("settled at %v", time.Since(t0))
	if n := pendingPages(s); n > 0 {
		t.Fatalf("%d pages still pending", n)
	}

	dms, posts := slackPosts(s, "U0ALICE"), slackPosts(s, "C0PAY")
	t.Logf("%d alerts: %d DMs to alice, %d posts in the team channel", alerts, dms, posts)
	if dms > alerts/4 || posts > alerts/4 {
		t.Errorf("%d DMs to alice and %d channel posts for %d alerts, want bundles", dms, posts, alerts)
	}
	bundled := 0
	for _, id := range ids {
		log, err := store.IncidentLog(context.Background(), s.pool, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		var dm, channel string
		for _, e := range log {
			switch {
			case e.Event == "notified" && e.Method == "slack":
				dm = e.Message
			case e.Event == "notified" && e.Method == "slack_channel":
				channel = e.Message
			}
		}
		if !strings.Contains(dm, "notified alice by slack") || !strings.Contains(dm, "delivered") || channel == "" {
			t.Errorf("incident %d: timeline says of its pages %q and %q\n%s", id, dm, channel, s.timeline(id))
			continue
		}
		if strings.Contains(dm, "in one message with") {
			bundled++
		}
	}
	if bundled < alerts/2 {
		t.Errorf("%d of %d incidents name a bundled message on their timeline", bundled, alerts)
	}
	if strings.Contains(s.timeline(unrelated), "in one message") {
		t.Errorf("the unrelated page was bundled:\n%s", s.timeline(unrelated))
	}
}
