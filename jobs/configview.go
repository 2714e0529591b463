package jobs

import (
	"context"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
)

// ConfigView is the engine's snapshot of the configuration, for readers
// outside the engine that only look (Slack's /oncall who, the App Home,
// calendar feeds): the set, and its schedules ready for the resolver
// (nil for one that cannot be resolved). It is shared with the engine and
// every other reader, so nothing in it may be changed; a read-modify-write
// loads its own copy (store.LoadConfig).
type ConfigView struct {
	Set       *manifest.Set
	Resolvers map[string]*schedule.Schedule
}

// ConfigView returns the snapshot of the current configuration. It costs
// one indexed query while the configuration stays the same; a change is
// loaded once, however many readers ask at the same time. (Loading the
// whole configuration for each request instead held one copy per request
// in flight: with 10,000 users, 32 calendar feeds and 8 /oncall who at once
// took the process from 80 MB to over 400 MB.)
func (e *Engine) ConfigView(ctx context.Context) (ConfigView, error) {
	c, err := e.config.get(ctx, e.pool)
	if err != nil {
		return ConfigView{}, err
	}
	return ConfigView{Set: c.set, Resolvers: c.schedules}, nil
}

// ConfigSet is ConfigView's set alone.
func (e *Engine) ConfigSet(ctx context.Context) (*manifest.Set, error) {
	v, err := e.ConfigView(ctx)
	return v.Set, err
}
