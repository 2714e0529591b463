package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncall/oncall/store/storetest"
)

const example = "../../manifests/example"

// cli runs the binary's entry point in-process with the given environment.
type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T, withDB bool) *cli {
	c := &cli{t: t, env: map[string]string{"ONCALL_LOG_FORMAT": "json", "ONCALL_LOG_LEVEL": "warn"}}
	if withDB {
		c.env["DATABASE_URL"] = storetest.URL(storetest.NewEmpty(t))
	}
	return c
}

func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return c.env[k] }}
	code = run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("oncall %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func TestValidateReportsEveryError(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	c.mustRun("validate", "-f", example)

	dir := t.TempDir()
	bad := `kind: User
name: ann
emial: ann@example.com
---
kind: Schedule
name: s
time_zone: Mars/Olympus
layers:
  - members: [nobody]
    start: "2026-01-01T09:00"
    shift: 3x
`
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := c.run("validate", "-f", dir)
	if code != exitErr {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitErr, errs)
	}
	for _, want := range []string{"bad.yaml:3:1:", "bad.yaml:7:12:", "bad.yaml:9:15:", "bad.yaml:11:12:"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

func TestApplyExportRoundTrip(t *testing.T) {
	t.Parallel()
	c := newCLI(t, true)
	c.mustRun("migrate")

	dry := c.mustRun("apply", "-f", example, "--dry-run")
	if !strings.Contains(dry, "dry run: nothing written") || !strings.Contains(dry, "create  User alice") {
		t.Fatalf("dry run output:\n%s", dry)
	}
	if out := c.mustRun("apply", "-f", example, "--dry-run"); !strings.Contains(out, "create  User alice") {
		t.Fatalf("the dry run wrote something:\n%s", out)
	}

	out := c.mustRun("apply", "-f", example)
	if !strings.Contains(out, "New integration keys") || !strings.Contains(out, "/v1/alerts/") || !strings.Contains(out, "routing_key") {
		t.Fatalf("apply did not print the new keys:\n%s", out)
	}
	if out := c.mustRun("apply", "-f", example); !strings.Contains(out, "no changes") || strings.Contains(out, "New integration keys") {
		t.Fatalf("re-apply changed something:\n%s", out)
	}

	dir := t.TempDir()
	c.mustRun("export", "-o", dir)
	if out := c.mustRun("apply", "-f", dir); !strings.Contains(out, "no changes") {
		t.Fatalf("applying the export changed something:\n%s", out)
	}

	// The resolver answers the same from the files and from the database.
	args := []string{"shifts", "--schedule", "platform-follow-the-sun", "--from", "2026-11-02T00:00:00Z", "--to", "2026-11-09T00:00:00Z"}
	offline := c.mustRun(append(args, "-f", example)...)
	online := c.mustRun(args...)
	if offline != online {
		t.Fatalf("shifts differ:\nfiles: %s\ndatabase: %s", offline, online)
	}
	var shifts []struct{ User, Start, End string }
	if err := json.Unmarshal([]byte(online), &shifts); err != nil || len(shifts) == 0 {
		t.Fatalf("shifts JSON: %v\n%s", err, online)
	}
	for _, s := range shifts {
		if !strings.HasSuffix(s.Start, "Z") || !strings.HasSuffix(s.End, "Z") {
			t.Fatalf("times not in UTC: %+v", s)
		}
	}
	who := strings.TrimSpace(c.mustRun("who", "--schedule", "platform-follow-the-sun", "--at", shifts[0].Start))
	if who != shifts[0].User {
		t.Fatalf("who = %q, shifts say %q", who, shifts[0].User)
	}

	// Calendar feed tokens: created (shown once), listed, revoked.
	out = c.mustRun("calendar", "create", "--user", "alice")
	if !strings.Contains(out, "/v1/calendars/") || !strings.Contains(out, ".ics") {
		t.Fatalf("calendar create:\n%s", out)
	}
	if out := c.mustRun("calendar", "list", "--user", "alice"); !strings.Contains(out, "1 ") {
		t.Fatalf("calendar list:\n%s", out)
	}
	c.mustRun("calendar", "revoke", "1")
	if code, _, _ := c.run("calendar", "revoke", "1"); code != exitErr {
		t.Fatalf("second revoke: exit %d", code)
	}
	if code, _, _ := c.run("calendar", "create", "--user", "alice", "--schedule", "x"); code != exitUsage {
		t.Fatalf("two owners: exit %d", code)
	}

	// --prune with a smaller set deletes what the files no longer name.
	keep := t.TempDir()
	for _, f := range []string{"users.yaml", "teams.yaml"} {
		data, err := os.ReadFile(filepath.Join(example, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keep, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, _ := c.run("apply", "-f", keep, "--prune", "--dry-run"); code != 0 && !strings.Contains(out, "delete") {
		t.Fatalf("prune dry run: exit %d\n%s", code, out)
	}
}

func TestWhoNobodyExitCode(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	code, out, _ := c.run("who", "-f", example, "--schedule", "payments-secondary", "--at", "2030-01-01T00:00:00Z")
	if code != exitNobody || out != "" {
		t.Fatalf("who after the layer ended: exit %d, %q; want exit %d and nothing", code, out, exitNobody)
	}
	if code, _, _ := c.run("who", "-f", example, "--schedule", "nope"); code != exitErr {
		t.Fatalf("unknown schedule: exit %d", code)
	}
	if code, _, _ := c.run("shifts", "-f", example, "--schedule", "x", "--from", "yesterday", "--to", "2026-01-01T00:00:00Z"); code != exitUsage {
		t.Fatalf("bad --from: exit %d", code)
	}
	text := newCLI(t, false).mustRun("shifts", "-f", example, "--schedule", "payments-primary",
		"--from", "2026-11-02T00:00:00Z", "--to", "2026-11-03T00:00:00Z", "--format", "text")
	if !strings.Contains(text, "America/New_York") || !strings.Contains(text, "EST") {
		t.Fatalf("text format:\n%s", text)
	}
}
