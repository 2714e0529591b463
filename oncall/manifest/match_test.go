package manifest_test

import (
	"testing"

	"github.com/oncall/oncall/oncall/manifest"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"env": "prod", "team": "payments-eu", "service": "payments-api"}
	annotations := map[string]string{"runbook": "https://example.com/runbooks/db"}
	tests := []struct {
		name string
		m    manifest.Match
		want bool
	}{
		{"empty matches anything", manifest.Match{}, true},
		{"exact severity", manifest.Match{Severity: []string{"critical"}}, true},
		{"any of", manifest.Match{Severity: []string{"warning", "critical"}}, true},
		{"none of", manifest.Match{Severity: []string{"warning", "info"}}, false},
		{"regex is anchored", manifest.Match{Severity: []string{"~crit"}}, false},
		{"regex full match", manifest.Match{Severity: []string{"~crit.*"}}, true},
		{"regex alternation stays anchored", manifest.Match{Severity: []string{"~x|crit"}}, false},
		{"exact is not a regex", manifest.Match{Labels: map[string][]string{"team": {"payments.*"}}}, false},
		{"label regex", manifest.Match{Labels: map[string][]string{"team": {"~payments.*"}}}, true},
		{"all fields must hold", manifest.Match{Severity: []string{"critical"}, Labels: map[string][]string{"env": {"staging"}}}, false},
		{"all labels must hold", manifest.Match{Labels: map[string][]string{"env": {"prod"}, "team": {"~ops.*"}}}, false},
		{"summary", manifest.Match{Summary: []string{"~(?i).*database.*"}}, true},
		{"summary exact", manifest.Match{Summary: []string{"Database is down"}}, false},
		{"annotation", manifest.Match{Annotations: map[string][]string{"runbook": {"~https://example\\.com/.*"}}}, true},
		{"a missing label is empty", manifest.Match{Labels: map[string][]string{"region": {"~.*"}}}, true},
		{"a missing label is not a value", manifest.Match{Labels: map[string][]string{"region": {"eu"}}}, false},
		{"a missing label equals empty", manifest.Match{Labels: map[string][]string{"region": {""}}}, true},
		{"an empty list matches nothing", manifest.Match{Labels: map[string][]string{"env": {}}}, false},
		{"a bad regex matches nothing", manifest.Match{Severity: []string{"~("}}, false},
		{"a regex that only compiles wrapped is refused", manifest.Match{Severity: []string{"~x)|(.*"}}, false},
		{"tilde alone is the empty regex", manifest.Match{Summary: []string{"~"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.m.Matches("critical", "Database is DOWN", labels, annotations); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
			c, err := manifest.CompileMatch(tt.m)
			if err != nil {
				if tt.want {
					t.Fatalf("CompileMatch: %v", err)
				}
				return
			}
			if got := c.Matches("critical", "Database is DOWN", labels, annotations); got != tt.want {
				t.Errorf("compiled Matches = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := manifest.CompileMatch(manifest.Match{Labels: map[string][]string{"x": {"~["}}}); err == nil {
		t.Error("CompileMatch of a bad regex: no error")
	}
	// nil maps are empty maps.
	if !(manifest.Match{Labels: map[string][]string{"x": {"~.*"}}}).Matches("", "", nil, nil) {
		t.Error("nil labels")
	}
}

func TestServiceFor(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"service": "payments-api"}
	annotations := map[string]string{"svc": "checkout-web"}
	for _, tt := range []struct {
		rule manifest.AlertRule
		want string
	}{
		{manifest.AlertRule{ServiceFrom: "labels.service", Service: "platform"}, "payments-api"},
		{manifest.AlertRule{ServiceFrom: "annotations.svc", Service: "platform"}, "checkout-web"},
		{manifest.AlertRule{ServiceFrom: "labels.missing", Service: "platform"}, "platform"},
		{manifest.AlertRule{ServiceFrom: "annotations.service"}, ""},
		{manifest.AlertRule{Service: "platform"}, "platform"},
	} {
		if got := tt.rule.ServiceFor(labels, annotations); got != tt.want {
			t.Errorf("%+v: ServiceFor = %q, want %q", tt.rule, got, tt.want)
		}
	}
}
