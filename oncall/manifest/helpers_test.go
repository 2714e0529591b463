package manifest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/oncall/oncall/oncall/calendar"
	"github.com/oncall/oncall/oncall/manifest"
)

// exampleDir is the example configuration of the repository.
const exampleDir = "../../manifests/example"

// testICS is a small valid iCalendar file with two all-day events.
const testICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
	"BEGIN:VEVENT\r\nUID:a@example.com\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261126\r\nSUMMARY:A\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:b@example.com\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:B\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

// mapFS makes an in-memory file system of name -> contents.
func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// loadFiles loads every file of files (a directory "."), failing on I/O
// errors.
func loadFiles(t *testing.T, files map[string]string) *manifest.Bundle {
	t.Helper()
	b, err := manifest.LoadFS(mapFS(files), ".")
	if err != nil {
		t.Fatalf("LoadFS: %v", err)
	}
	return b
}

// lines is the errors one a line.
func lines(errs manifest.Errors) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// diffLines compares error lines; empty lines of want are left out.
func diffLines(t *testing.T, got, want []string) {
	t.Helper()
	var w []string
	for _, l := range want {
		if l != "" {
			w = append(w, l)
		}
	}
	want = w
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// doc joins YAML lines, so tests can show line numbers plainly.
func doc(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// icalErr is the calendar package's complaint about data.
func icalErr(data string) string {
	_, err := calendar.AllDayDates([]byte(data))
	if err == nil {
		return "<no error>"
	}
	return err.Error()
}

// dump shows a Set for failure messages.
func dump(s *manifest.Set) string {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(data)
}
