package jobs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
)

// config is a snapshot of the configuration indexed for the engine: rules
// compiled, schedules converted for the resolver once. It is rebuilt when
// the configuration's version (the audit log's last entry) moves, so the
// hot path costs one indexed query, not a full load.
type config struct {
	version   int64
	set       *manifest.Set
	users     map[string]*manifest.User
	teams     map[string]*manifest.Team
	services  map[string]*manifest.Service
	policies  map[string]*manifest.EscalationPolicy
	schedules map[string]*schedule.Schedule // nil value: the schedule cannot be resolved
	rules     []compiledRule
}

type compiledRule struct {
	rule  *manifest.AlertRule
	match *manifest.CompiledMatch
}

func newConfig(version int64, set *manifest.Set) *config {
	c := &config{
		version: version, set: set,
		users:     map[string]*manifest.User{},
		teams:     map[string]*manifest.Team{},
		services:  map[string]*manifest.Service{},
		policies:  map[string]*manifest.EscalationPolicy{},
		schedules: map[string]*schedule.Schedule{},
	}
	for _, u := range set.Users {
		c.users[u.Name] = u
	}
	for _, t := range set.Teams {
		c.teams[t.Name] = t
	}
	for _, s := range set.Services {
		c.services[s.Name] = s
	}
	for _, p := range set.Policies {
		c.policies[p.Name] = p
	}
	for _, s := range set.Schedules {
		r, err := set.Resolver(s.Name)
		if err != nil {
			r = nil // stored configuration was validated; a failure here pages nobody through it
		}
		c.schedules[s.Name] = r
	}
	for _, r := range set.AlertRules {
		m, err := manifest.CompileMatch(r.Match)
		if err != nil {
			continue // validated on apply; an uncompilable rule matches nothing
		}
		c.rules = append(c.rules, compiledRule{rule: r, match: m})
	}
	return c
}

// route is where an alert goes.
type route struct {
	service *manifest.Service
	rule    string // the matching rule, "" when none matched
	page    bool
	urgency string
}

// route evaluates the alert rules in order for an alert from integration
// (of service home): the first rule that looks at the integration and
// matches wins; none: the integration's service pages at high urgency.
func (c *config) route(integration, home string, severity, summary string, labels, annotations map[string]string) route {
	for _, cr := range c.rules {
		r := cr.rule
		if len(r.Integrations) > 0 && !slices.Contains(r.Integrations, integration) {
			continue
		}
		if !cr.match.Matches(severity, summary, labels, annotations) {
			continue
		}
		svc := c.services[r.ServiceFor(labels, annotations)]
		if svc == nil {
			svc = c.services[r.Service]
		}
		if svc == nil {
			svc = c.services[home]
		}
		urgency := r.Urgency
		if urgency == "" {
			urgency = "high"
		}
		return route{service: svc, rule: r.Name, page: r.Page, urgency: urgency}
	}
	return route{service: c.services[home], page: true, urgency: "high"}
}

// teamChannel is the Slack channel of a service's team, "" when none.
func (c *config) teamChannel(service string) string {
	svc := c.services[service]
	if svc == nil {
		return ""
	}
	if t := c.teams[svc.Team]; t != nil {
		return t.SlackChannel
	}
	return ""
}

// configCache holds the current snapshot.
type configCache struct {
	mu  sync.Mutex
	cur *config
}

// get returns the snapshot for the database's current configuration.
func (cc *configCache) get(ctx context.Context, q store.Querier) (*config, error) {
	v, err := store.ConfigVersion(ctx, q)
	if err != nil {
		return nil, err
	}
	return cc.at(ctx, q, v)
}

// at returns the snapshot of version v, loading it through q when the
// cached one is another.
func (cc *configCache) at(ctx context.Context, q store.Querier, v int64) (*config, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.cur != nil && cc.cur.version == v {
		return cc.cur, nil
	}
	set, err := store.LoadConfig(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	cc.cur = newConfig(v, set)
	return cc.cur, nil
}

// whoIsOnCall is the user on call in a schedule at an instant, through
// the one resolver.
func (c *config) whoIsOnCall(scheduleName string, at time.Time) (string, bool) {
	s := c.schedules[scheduleName]
	if s == nil {
		return "", false
	}
	return s.Who(at)
}
