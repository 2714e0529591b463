package manifest_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/oncall/oncall/oncall/manifest"
)

// FuzzParse: reading any bytes never panics, every error has a position,
// and whatever reads without errors survives a Marshal round trip.
func FuzzParse(f *testing.F) {
	examples, _ := filepath.Glob(filepath.Join(exampleDir, "*.yaml"))
	for _, name := range examples {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(refs))
	f.Add([]byte(users))
	f.Add([]byte("kind: User\nname: [unclosed\n"))
	f.Add([]byte("a: &a [*a, *a]\nkind: Team\nname: t\nmembers: *a\n"))
	f.Add([]byte("kind: Holidays\nname: h\nical: cal.ics\ndates: [2026-01-01]\n"))
	f.Add([]byte("---\n---\nkind: Schedule\nname: s\ntime_zone: UTC\nlayers: [{name: a, members: [x], start: 2026-03-08T02:30, shift: 1d, restrict: [{from: '22:00', to: '24:00'}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := mapFS(map[string]string{"f.yaml": string(data), "cal.ics": testICS})
		b, err := manifest.LoadFS(fsys, "f.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Check(nil) {
			if e.File != "f.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("error without a position: %#v", e)
			}
		}
		if len(b.Errors) > 0 {
			return
		}
		if reflect.DeepEqual(b.Set, &manifest.Set{}) {
			return // nothing to write
		}
		back, _ := roundTrip(t, b.Set)
		if len(back.Errors) > 0 || !reflect.DeepEqual(back.Set, b.Set) {
			t.Fatalf("round trip: %v\n got %s\nwant %s", back.Errors, dump(back.Set), dump(b.Set))
		}
	})
}
