package calendar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall/oncall/oncall/calendar"
	"github.com/oncall/oncall/oncall/calendar/calendartest"
)

var stamp = time.Date(2026, time.November, 1, 12, 0, 0, 0, time.UTC)

func at(day, hour int) time.Time { return time.Date(2026, time.November, day, hour, 0, 0, 0, time.UTC) }

func write(t *testing.T, f calendar.Feed) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := f.WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, b.Len())
	}
	return b.Bytes()
}

func TestWriteTo(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	got := write(t, calendar.Feed{
		Name:  "On call: payments-primary",
		Stamp: stamp.In(berlin),
		Events: []calendar.Event{
			{UID: "a@oncall", Start: at(2, 14).In(berlin), End: at(9, 14), Summary: "On call: alice (payments-primary)"},
			{UID: "b@oncall", Start: at(9, 14), End: at(9, 14), Summary: `a\b;c,d` + "\ne", Description: "x"},
		},
	})
	want := strings.Join([]string{
		"BEGIN:VCALENDAR",
		"VERSION:2.0",
		"PRODID:-//oncall//oncall//EN",
		"CALSCALE:GREGORIAN",
		"METHOD:PUBLISH",
		"X-WR-CALNAME:On call: payments-primary",
		"NAME:On call: payments-primary",
		"REFRESH-INTERVAL;VALUE=DURATION:PT1H",
		"X-PUBLISHED-TTL:PT1H",
		"BEGIN:VEVENT",
		"UID:a@oncall",
		"DTSTAMP:20261101T120000Z",
		"DTSTART:20261102T140000Z",
		"DTEND:20261109T140000Z",
		"SUMMARY:On call: alice (payments-primary)",
		"TRANSP:TRANSPARENT",
		"END:VEVENT",
		"BEGIN:VEVENT",
		"UID:b@oncall",
		"DTSTAMP:20261101T120000Z",
		"DTSTART:20261109T140000Z", // no DTEND: End is not after Start
		`SUMMARY:a\\b\;c\,d\ne`,
		"DESCRIPTION:x",
		"TRANSP:TRANSPARENT",
		"END:VEVENT",
		"END:VCALENDAR",
		"",
	}, "\r\n")
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	calendartest.Check(t, got)
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteToError(t *testing.T) {
	t.Parallel()
	if _, err := (calendar.Feed{}).WriteTo(failWriter{}); err == nil || err.Error() != "disk full" {
		t.Errorf("err = %v; want the writer's", err)
	}
}

// tricky are texts that need escaping or folding, or both.
var tricky = []string{
	"",
	"plain",
	`back\slash; semi, comma`,
	"two\nlines\n\nand a blank one",
	"On call: zoë (payments-primary), 値班; 🚨",
	strings.Repeat("x", 74),
	strings.Repeat("x", 75),
	strings.Repeat("x", 76),
	strings.Repeat(`;,\`, 60),
	strings.Repeat("é€😀", 60),
	strings.Repeat("A long description that forces folding, with commas; semicolons\nand newlines. ", 20),
}

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	var events []calendar.Event
	for i, s := range tricky {
		// Shift every text by 0..3 bytes so that folds fall inside
		// multi-byte characters at every offset.
		for pad := range 4 {
			text := strings.Repeat("p", pad) + s
			events = append(events, calendar.Event{
				UID:         fmt.Sprintf("%d-%d@test", i, pad),
				Start:       at(2, i),
				End:         at(3, pad),
				Summary:     text,
				Description: text,
			})
		}
	}
	in := calendar.Feed{Name: "Zoë's feed; with, everything", ProdID: "-//test//EN", Stamp: stamp, Events: events}
	out := calendartest.Check(t, write(t, in))
	if out.Name != in.Name || out.ProdID != in.ProdID || !out.Stamp.Equal(in.Stamp) || len(out.Events) != len(in.Events) {
		t.Fatalf("read back %+v", out)
	}
	for i, e := range out.Events {
		w := in.Events[i]
		if e.UID != w.UID || !e.Start.Equal(w.Start) || !e.End.Equal(w.End) || e.Summary != w.Summary || e.Description != w.Description {
			t.Errorf("event %d: read back %+v; want %+v", i, e, w)
		}
	}
}

func TestWriteNormalizesText(t *testing.T) {
	t.Parallel()
	in := calendar.Feed{Stamp: stamp, Events: []calendar.Event{{
		UID:     "u@test",
		Start:   at(2, 9).Add(1500 * time.Millisecond),
		Summary: "a\x00b\x07c\td\r\ne\rf\x7f\xffg",
	}}}
	out := calendartest.Check(t, write(t, in))
	e := out.Events[0]
	if want := "abc\td\ne\nf\uFFFDg"; e.Summary != want {
		t.Errorf("summary %q; want %q", e.Summary, want)
	}
	if !e.Start.Equal(at(2, 9).Add(time.Second)) || !e.End.IsZero() {
		t.Errorf("start %v, end %v; want the start to the second and no end", e.Start, e.End)
	}
}

func TestReadFeedErrors(t *testing.T) {
	t.Parallel()
	head := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
	ev := func(lines string) string {
		return head + "BEGIN:VEVENT\r\n" + lines + "END:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	for _, tc := range []struct{ data, want string }{
		{"BEGIN:VCALENDAR\r\nPRODID:x\r\nEND:VCALENDAR\r\n", "line 1: VERSION is missing"},
		{"BEGIN:VCALENDAR\r\nVERSION:1.0\r\nPRODID:x\r\nEND:VCALENDAR\r\n", `line 2: VERSION is "1.0"`},
		{"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "PRODID is missing"},
		{ev("DTSTAMP:20261101T120000Z\r\nDTSTART:20261102T140000Z\r\n"), "line 4: VEVENT without UID"},
		{ev("UID:a\r\nDTSTAMP:20261101T120000Z\r\nDTSTART;TZID=Europe/Berlin:20261102T140000\r\n"), "line 7: DTSTART: want a UTC date-time"},
		{ev("UID:a\r\nDTSTAMP:20261101T120000Z\r\nDTSTART:20261102T140000Z\r\nSUMMARY:a,b\r\n"), "line 8: SUMMARY: unescaped ','"},
		{ev("UID:a\r\nDTSTAMP:20261101T120000Z\r\nDTSTART:20261102T140000Z\r\nSUMMARY:a\\tb\r\n"), `line 8: SUMMARY: invalid escape \t`},
		{head + "BEGIN:VEVENT\r\nEND:VCALENDAR\r\n", "line 5: END:VCALENDAR inside VEVENT"},
	} {
		_, err := calendar.ReadFeed([]byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadFeed(%q): err = %v; want %q", tc.data, err, tc.want)
		}
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"",
		"BEGIN:VCALENDAR\nEND:VCALENDAR\n",
		"BEGIN:VCALENDAR\r\nEND:VCALENDAR",
		"BEGIN:VCALENDAR\r\n\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\r\nX:" + strings.Repeat("x", 74) + "\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\r\nX:\xe2\x82\r\n \xacEND:VCALENDAR\r\n",
		" BEGIN:VCALENDAR\r\n",
	} {
		if err := calendartest.Lint([]byte(bad)); err == nil {
			t.Errorf("Lint(%q) = nil; want an error", bad)
		}
	}
}

func TestShiftUID(t *testing.T) {
	t.Parallel()
	start := at(2, 14)
	uid := calendar.ShiftUID("schedule:payments-primary", "alice", start)
	if !strings.HasSuffix(uid, "@oncall") || len(uid) != 32+len("@oncall") {
		t.Errorf("uid %q; want 32 hex digits @oncall", uid)
	}
	if again := calendar.ShiftUID("schedule:payments-primary", "alice", start.In(time.FixedZone("x", 3600))); again != uid {
		t.Errorf("not stable: %q then %q", uid, again)
	}
	others := []string{
		calendar.ShiftUID("schedule:payments-secondary", "alice", start),
		calendar.ShiftUID("schedule:payments-primary", "bob", start),
		calendar.ShiftUID("schedule:payments-primary", "alice", start.Add(time.Second)),
		calendar.ShiftUID("schedule:payments-primar", "yalice", start),
	}
	if slices.Contains(others, uid) {
		t.Errorf("%q is not unique among %q", uid, others)
	}
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// moduleEntry is the file that `import` loads from the npm package in dir:
// package.json's "exports" (a path, or its "import" condition), else
// "module", else "main".
func moduleEntry(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", err
	}
	var pkg struct {
		Exports      json.RawMessage `json:"exports"`
		Module, Main string
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		return "", err
	}
	var path string
	var cond struct {
		Import string `json:"import"`
	}
	if json.Unmarshal(pkg.Exports, &path) != nil && json.Unmarshal(pkg.Exports, &cond) == nil {
		path = cond.Import
	}
	for _, p := range []string{path, pkg.Module, pkg.Main} {
		if p != "" {
			return filepath.Join(dir, filepath.FromSlash(p)), nil
		}
	}
	return "", errors.New("package.json names no entry point")
}

// icalJS parses an iCalendar feed from stdin with ical.js and prints what
// it understood as JSON.
const icalJS = `import ICAL from %s;
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const cal = new ICAL.Component(ICAL.parse(Buffer.concat(chunks).toString("utf8")));
const iso = (t) => (t ? t.toJSDate().toISOString() : null);
process.stdout.write(JSON.stringify({
  version: cal.getFirstPropertyValue("version"),
  method: cal.getFirstPropertyValue("method"),
  name: cal.getFirstPropertyValue("x-wr-calname"),
  refresh: String(cal.getFirstPropertyValue("refresh-interval")),
  events: cal.getAllSubcomponents("vevent").map((v) => {
    const e = new ICAL.Event(v);
    return {
      uid: e.uid,
      summary: e.summary,
      description: e.description ?? "",
      start: iso(e.startDate),
      end: iso(e.endDate),
      stamp: iso(v.getFirstPropertyValue("dtstamp")),
      zone: e.startDate.zone.tzid,
    };
  }),
}));
`

// TestICALJS checks that a third-party parser, ical.js, reads our feeds as
// we meant them: folding, escaping and times.
func TestICALJS(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: skipping the ical.js check of feeds")
	}
	mod := filepath.Join(repoRoot(t), ".tools", "node", "node_modules", "ical.js")
	entry, err := moduleEntry(mod)
	if err == nil {
		_, err = os.Stat(entry)
	}
	if err != nil {
		t.Skipf("ical.js is not installed in %s (%v): run `bash scripts/node-tools.sh`; skipping the ical.js check of feeds", mod, err)
	}
	spec, _ := json.Marshal((&url.URL{Scheme: "file", Path: filepath.ToSlash(entry)}).String())
	script := filepath.Join(t.TempDir(), "parse.mjs")
	if err := os.WriteFile(script, fmt.Appendf(nil, icalJS, spec), 0o600); err != nil {
		t.Fatal(err)
	}

	var events []calendar.Event
	for i, s := range tricky {
		for pad := range 4 {
			text := strings.Repeat("p", pad) + s
			events = append(events, calendar.Event{
				UID:   calendar.ShiftUID("schedule:test", fmt.Sprint(i), at(2, pad)),
				Start: at(2, pad), End: at(9+i, 17), Summary: text, Description: text,
			})
		}
	}
	// ical.js keeps properties it does not know, X-WR-CALNAME among them,
	// raw (escapes and all), so the name here needs no escaping.
	feed := calendar.Feed{Name: "On call: zoë (payments-primary) 🚨", Stamp: stamp, Events: events}
	data := write(t, feed)
	calendartest.Check(t, data)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ical.js: %v\n%s", err, stderr.Bytes())
	}
	type jsEvent struct {
		UID, Summary, Description string
		Start, End, Stamp         time.Time
		Zone                      string
	}
	var got struct {
		Version, Method, Name, Refresh string
		Events                         []jsEvent
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("ical.js output: %v\n%s", err, out)
	}
	if got.Version != "2.0" || got.Method != "PUBLISH" || got.Name != feed.Name || got.Refresh != "PT1H" {
		t.Errorf("ical.js read the calendar as %+v", got)
	}
	if len(got.Events) != len(events) {
		t.Fatalf("ical.js read %d events; want %d", len(got.Events), len(events))
	}
	for i, g := range got.Events {
		w := events[i]
		want := jsEvent{UID: w.UID, Summary: w.Summary, Description: w.Description, Start: w.Start, End: w.End, Stamp: stamp, Zone: "UTC"}
		if g.UID != want.UID || g.Summary != want.Summary || g.Description != want.Description ||
			!g.Start.Equal(want.Start) || !g.End.Equal(want.End) || !g.Stamp.Equal(want.Stamp) || g.Zone != want.Zone {
			t.Errorf("event %d: ical.js read\n%+v\nwant\n%+v", i, g, want)
		}
	}
}
