package architecture_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/oncall/oncall/"

// allowed lists, per top-level folder, which of our folders its packages may
// import (DESIGN.md "The house"). cmd may import everything.
var allowed = map[string][]string{
	"oncall": {"oncall"},
	"store":  {"oncall", "store"},
	"notify": {"oncall", "notify"},
	"jobs":   {"oncall", "store", "notify", "jobs"},
	"api":    {"oncall", "store", "notify", "jobs", "api"},
	"bot":    {"oncall", "store", "notify", "jobs", "bot"},
}

// Third-party packages confined to some folders.
var confined = map[string][]string{
	"github.com/slack-go/slack": {"bot", "notify/slack"},
}

// TestArchitecture keeps the arrows between packages pointing one way.
func TestArchitecture(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath           string
			Imports, TestImports []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, module)
		top := strings.Split(rel, "/")[0]
		for _, imp := range append(p.Imports, p.TestImports...) {
			for lib, where := range confined {
				if strings.HasPrefix(imp, lib) && !under(rel, where) {
					t.Errorf("%s imports %s, which only %v may", rel, imp, where)
				}
			}
			if !strings.HasPrefix(imp, module) {
				continue
			}
			roots, governed := allowed[top]
			if !governed {
				continue // cmd, the root, manifests: free
			}
			if !under(strings.TrimPrefix(imp, module), roots) {
				t.Errorf("%s imports %s: %s may import only %v", rel, strings.TrimPrefix(imp, module), top, roots)
			}
		}
	}
}

func under(pkg string, roots []string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}
