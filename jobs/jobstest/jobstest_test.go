package jobstest_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/console"
	"github.com/oncall/oncall/store/storetest"
)

func TestBundlePages(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	ch := console.New(&syncWriter{b: &out})
	set := storetest.NewSet(storetest.User("alice"), storetest.Policy("ops", storetest.UserTarget("alice")),
		storetest.Service("api", "ops", "hook"))
	b := jobstest.New(t, set, map[string]notify.Channel{notify.MethodSlack: ch})
	id := b.Trigger(t, "hook", "k1", "disk full")
	b.Settle(t)
	tl := strings.Join(b.Timeline(t, id), "\n")
	if !strings.Contains(tl, "notified alice by slack") {
		t.Fatalf("timeline:\n%s", tl)
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
