package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binary is the oncall executable built by TestMain ("" with -short).
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	// ONCALL_E2E_BINARY runs a binary built elsewhere (e.g. of another
	// commit) instead of building this tree's.
	if binary = os.Getenv("ONCALL_E2E_BINARY"); binary != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "oncall-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "oncall")
	// Built without -race even under `go test -race`: the server is judged
	// from outside, and a race build is several times slower to start.
	build := exec.Command("go", "build", "-o", binary, "../cmd/oncall")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build oncall:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
