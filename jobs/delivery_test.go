package jobs_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/oncall/jobs/jobstest"
	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/notify/console"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store/storetest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A user whose every method fails is reported on the timeline and in the
// team channel, at once and not after the last rule's delay: each failure
// brings the next rule forward.
func TestUnreachableUserIsReported(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	ch := console.New(&out)
	team := storetest.Team("ops", "alice")
	team.SlackChannel = "C0OPS"
	alice := storetest.User("alice") // slack+push at 0, sms at 2m: slack and sms are off here
	alice.NotificationRules = []manifest.NotificationRule{
		{After: 0, Notify: []string{manifest.NotifyPush}},
		{After: 10 * time.Minute, Notify: []string{"cell"}},
	}
	svc := storetest.Service("api", "ops", "hook")
	svc.Team = "ops"
	set := storetest.NewSet(alice, team, storetest.Policy("ops", storetest.UserTarget("alice")), svc)
	b := jobstest.New(t, set, map[string]notify.Channel{notify.MethodSlackChannel: ch})
	id := b.Trigger(t, "hook", "k", "disk full")
	b.Settle(t)
	tl := strings.Join(b.Timeline(t, id), "\n")
	for _, want := range []string{
		"notifying alice by push failed",
		"moved alice's next notification rule forward",
		"notifying alice by sms cell (+",
		"alice could not be reached: every notification method failed",
	} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	if !strings.Contains(out.String(), "could not be reached") {
		t.Errorf("the team channel was not told:\n%s", out.String())
	}
}
