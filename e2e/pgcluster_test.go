package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pgCluster is a private PostgreSQL cluster in a temporary directory, for
// tests that stop and start the database: the shared server on :5432 is
// never touched.
type pgCluster struct {
	t      *testing.T
	bin    string   // initdb and pg_ctl live here
	as     []string // runuser prefix when running as root
	dir    string
	data   string
	port   int
	chown  func(string) error
	logRel string
}

// newPGCluster initdb's a cluster (trust auth, no fsync) on a free port with
// its socket in its own directory, and removes it when the test ends. It
// skips the test when PostgreSQL's server binaries are not installed.
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		t.Skip("e2e: no PostgreSQL server binaries (initdb, pg_ctl): looked in `pg_config --bindir` and /usr/lib/postgresql/*/bin")
	}
	c := &pgCluster{t: t, bin: bin, chown: func(string) error { return nil }}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("e2e: running as root and there is no postgres user to run initdb as")
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			t.Skip("e2e: running as root without runuser to run initdb as postgres")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.as = []string{"runuser", "-u", "postgres", "--"}
		c.chown = func(p string) error { return os.Chown(p, uid, gid) }
	}
	dir, err := os.MkdirTemp("", "oncall-e2e-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir, c.data = dir, filepath.Join(dir, "data")
	if err := c.chown(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.run("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := c.run("initdb", "-D", c.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		t.Fatalf("initdb: %v", err)
	}
	return c
}

// pgBinDir finds the directory of initdb and pg_ctl.
func pgBinDir() string {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	more, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(more) - 1; i >= 0; i-- { // newest first
		dirs = append(dirs, more[i])
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

func (c *pgCluster) run(name string, args ...string) error {
	argv := append(append(append([]string{}, c.as...), filepath.Join(c.bin, name)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

// start starts the server and waits until it accepts connections.
func (c *pgCluster) start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		c.port, c.dir)
	if err := c.run("pg_ctl", "-D", c.data, "-l", filepath.Join(c.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		c.t.Fatalf("start postgres: %v\n%s", err, c.serverLog())
	}
}

// stop shuts the server down as an operator would for maintenance: fast
// mode, which ends every session at once.
func (c *pgCluster) stop() {
	c.t.Helper()
	if err := c.run("pg_ctl", "-D", c.data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		c.t.Fatalf("stop postgres: %v", err)
	}
}

func (c *pgCluster) serverLog() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return tail(string(b), 20)
}

// url is the URL of database db on the cluster.
func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}
