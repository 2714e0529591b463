package jobs

import (
	"encoding/json"
	"maps"

	"github.com/oncall/oncall/store"
)

// pageDetails is what a page shows of an incident beyond its labels: the
// annotations and the custom details of its source (a runbook, a
// description, Alertmanager's receiver). A details key that is also an
// annotation wins, being the more specific. Details that are not a JSON
// object are shown whole under "details". Nil when there are none.
func pageDetails(in *store.Incident) map[string]any {
	out := map[string]any{}
	for k, v := range in.Annotations {
		out[k] = v
	}
	if len(in.Details) > 0 && string(in.Details) != "null" {
		var obj map[string]any
		if err := json.Unmarshal(in.Details, &obj); err == nil && obj != nil {
			maps.Copy(out, obj)
		} else {
			out["details"] = string(in.Details)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
