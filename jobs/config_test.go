package jobs

import (
	"testing"

	"github.com/oncall/oncall/oncall/manifest"
)

func TestRoute(t *testing.T) {
	t.Parallel()
	set := &manifest.Set{
		Services: []*manifest.Service{{Name: "api", EscalationPolicy: "p"}, {Name: "db", EscalationPolicy: "p"}, {Name: "web", EscalationPolicy: "p"}},
		AlertRules: []*manifest.AlertRule{
			{Name: "only-grafana", Integrations: []string{"grafana"}, Match: manifest.Match{Severity: []string{"critical"}}, Service: "web", Page: true, Urgency: "high"},
			{Name: "quiet", Match: manifest.Match{Severity: []string{"info", "warning"}}, Page: false, Urgency: "low"},
			{Name: "by-label", Match: manifest.Match{Labels: map[string][]string{"env": {"prod"}, "team": {"~pay.*"}}},
				ServiceFrom: "labels.service", Service: "api", Page: true, Urgency: "high"},
		},
	}
	cfg := newConfig(1, set)
	for _, tc := range []struct {
		name                   string
		integration, home, sev string
		labels                 map[string]string
		service, rule          string
		page                   bool
		urgency                string
	}{
		{"no rule matches: the integration's service, paging high", "prom", "web", "critical", map[string]string{"env": "dev"}, "web", "", true, "high"},
		{"rule limited to another integration is skipped", "prom", "web", "critical", nil, "web", "", true, "high"},
		{"rule limited to this integration", "grafana", "api", "critical", nil, "web", "only-grafana", true, "high"},
		{"page false, low urgency, service stays", "prom", "db", "warning", nil, "db", "quiet", false, "low"},
		{"service from a label", "prom", "web", "error", map[string]string{"env": "prod", "team": "payments", "service": "db"}, "db", "by-label", true, "high"},
		{"service label names nothing: the rule's default", "prom", "web", "error", map[string]string{"env": "prod", "team": "payments", "service": "nope"}, "api", "by-label", true, "high"},
		{"regex must match the whole value", "prom", "web", "error", map[string]string{"env": "prod", "team": "xpayments"}, "web", "", true, "high"},
	} {
		rt := cfg.route(tc.integration, tc.home, tc.sev, "summary", tc.labels, nil)
		if rt.service == nil || rt.service.Name != tc.service || rt.rule != tc.rule || rt.page != tc.page || rt.urgency != tc.urgency {
			name := ""
			if rt.service != nil {
				name = rt.service.Name
			}
			t.Errorf("%s: service %q rule %q page %v urgency %q", tc.name, name, rt.rule, rt.page, rt.urgency)
		}
	}
}
