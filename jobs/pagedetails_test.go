package jobs

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/oncall/oncall/store"
)

func TestPageDetails(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		annotations map[string]string
		details     string
		want        map[string]any
	}{
		{name: "none"},
		{name: "null details", details: "null"},
		{name: "annotations", annotations: map[string]string{"runbook": "https://wiki/r"}, want: map[string]any{"runbook": "https://wiki/r"}},
		{name: "both, details win", annotations: map[string]string{"description": "95% used", "receiver": "x"}, details: `{"receiver":"hook","dropped":2}`,
			want: map[string]any{"description": "95% used", "receiver": "hook", "dropped": float64(2)}},
		{name: "not an object", details: `[1,2]`, want: map[string]any{"details": "[1,2]"}},
	} {
		in := &store.Incident{Annotations: c.annotations}
		if c.details != "" {
			in.Details = json.RawMessage(c.details)
		}
		if got := pageDetails(in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v; want %v", c.name, got, c.want)
		}
	}
}
