// Package storetest gives each test a database of its own, migrated and
// empty, in milliseconds: a template database is built once (per schema
// version, across all test processes of a run) and each test gets a clone
// of it (CREATE DATABASE ... TEMPLATE), dropped when the test ends.
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		pool := storetest.New(t)
//		...
//	}
//
// The server is ONCALL_TEST_DATABASE_URL (an admin URL, normally its
// `postgres` database), else DATABASE_URL's server, else
// postgres://postgres@127.0.0.1:5432/postgres. `make test` starts one.
//
// Test databases are named oncall_test_<unix time>_<random>; those older
// than six hours (left by killed test processes) are dropped by the next
// run. Templates are named oncall_tmpl_<hash of the migrations>; old ones
// stay until dropped by hand (a run of an older binary may still use them).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/store"
)

const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// templateLockKey guards building template databases on the server.
const templateLockKey int64 = 0x6f6e63616c6c_0100

// AdminURL is the URL of the server's administrative database, from which
// test databases are created and dropped.
func AdminURL() string {
	if u := os.Getenv("ONCALL_TEST_DATABASE_URL"); u != "" {
		return u
	}
	if u := os.Getenv("DATABASE_URL"); u != "" {
		if cfg, err := pgx.ParseConfig(u); err == nil {
			return connString(cfg, "postgres")
		}
	}
	return defaultAdminURL
}

// connString is cfg's server and credentials with another database.
func connString(cfg *pgx.ConnConfig, database string) string {
	cs := fmt.Sprintf("host=%s port=%d dbname=%s user=%s", quoteDSN(cfg.Host), cfg.Port, quoteDSN(database), quoteDSN(cfg.User))
	if cfg.Password != "" {
		cs += " password=" + quoteDSN(cfg.Password)
	}
	if cfg.TLSConfig == nil {
		cs += " sslmode=disable"
	}
	return cs
}

func quoteDSN(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// TemplateName is the name of the template database for this binary's
// migrations.
func TemplateName() string { return templateName() }

var templateName = sync.OnceValue(func() string { return "oncall_tmpl_" + store.MigrationsFingerprint()[:12] })

// New returns a pool to a new database with every migration applied and no
// data, dropped (with its connections) when the test ends.
func New(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	tmpl := ensureTemplate(tb)
	return newDatabase(tb, "TEMPLATE "+pgx.Identifier{tmpl}.Sanitize())
}

// NewEmpty returns a pool to a new database without any migration (for
// testing migrations), dropped when the test ends.
func NewEmpty(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	return newDatabase(tb, "")
}

// URL returns the connection string of the database behind pool.
func URL(pool *pgxpool.Pool) string {
	cc := pool.Config().ConnConfig
	return connString(cc, cc.Database)
}

func newDatabase(tb testing.TB, clause string) *pgxpool.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := adminConn(ctx, tb)
	defer admin.Close(context.Background())

	sweepOnce.Do(func() { sweep(ctx, admin) })
	var b [6]byte
	_, _ = rand.Read(b[:])
	// The creation time in the name lets sweep find databases that a killed
	// test process left behind.
	name := fmt.Sprintf("oncall_test_%d_%s", time.Now().Unix(), hex.EncodeToString(b[:]))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" "+clause); err != nil {
		tb.Fatalf("storetest: create database %s: %v", name, err)
	}
	var pool *pgxpool.Pool
	tb.Cleanup(func() {
		if pool != nil {
			pool.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := connectAdmin(ctx)
		if err != nil {
			tb.Errorf("storetest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("storetest: drop database %s: %v", name, err)
		}
	})

	cfg, err := pgxpool.ParseConfig(connString(admin.Config(), name))
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	cfg.MaxConns = 4
	if pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		tb.Fatalf("storetest: connect to %s: %v", name, err)
	}
	return pool
}

var sweepOnce sync.Once

// sweepAge is how old a test database must be for sweep to drop it: no
// test runs that long, so its process is gone.
const sweepAge = 6 * time.Hour

var testDBRE = regexp.MustCompile(`^oncall_test_([0-9]+)_[0-9a-f]+$`)

// sweep drops test databases left behind by test processes that were
// killed before their cleanup ran. Errors are ignored: it is housekeeping.
func sweep(ctx context.Context, admin *pgx.Conn) {
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'oncall\_test\_%'`)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		m := testDBRE.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		created, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || time.Since(time.Unix(created, 0)) < sweepAge {
			continue
		}
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
}

func adminConn(ctx context.Context, tb testing.TB) *pgx.Conn {
	tb.Helper()
	conn, err := connectAdmin(ctx)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	return conn
}

func connectAdmin(ctx context.Context) (*pgx.Conn, error) {
	url := AdminURL()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("no PostgreSQL answers at %s: %w\n"+
			"Run the tests with `make test`, which starts one (or set ONCALL_TEST_DATABASE_URL to a server's admin URL)",
			redact(url), err)
	}
	return conn, nil
}

func redact(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "(unparsable URL)"
	}
	return fmt.Sprintf("%s:%d (database %s, user %s)", cfg.Host, cfg.Port, cfg.Database, cfg.User)
}

var templates sync.Map // template name -> *templateOnce

type templateOnce struct {
	once sync.Once
	err  error
}

// ensureTemplate builds the template database unless it exists: once per
// process (sync.Once), once per server across processes (an advisory lock
// and a look at pg_database). It is built under a temporary name and
// renamed when complete, so a half-built template is never cloned, and it
// refuses connections, so nothing can block cloning it.
func ensureTemplate(tb testing.TB) string {
	tb.Helper()
	name := TemplateName()
	v, _ := templates.LoadOrStore(name, &templateOnce{})
	t := v.(*templateOnce)
	t.once.Do(func() { t.err = buildTemplate(name) })
	if t.err != nil {
		tb.Fatalf("storetest: %v", t.err)
	}
	return name
}

func buildTemplate(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())

	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer admin.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", templateLockKey) //nolint:errcheck // closing releases it too

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look for template %s: %w", name, err)
	}
	if exists {
		return nil
	}
	building := name + "_building"
	for _, sql := range []string{
		"DROP DATABASE IF EXISTS " + pgx.Identifier{building}.Sanitize() + " WITH (FORCE)", // left by a crash
		"CREATE DATABASE " + pgx.Identifier{building}.Sanitize(),
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			return fmt.Errorf("build template: %w", err)
		}
	}
	pool, err := pgxpool.New(ctx, connString(admin.Config(), building))
	if err != nil {
		return fmt.Errorf("build template: %w", err)
	}
	_, err = store.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return fmt.Errorf("build template: migrate: %w", err)
	}
	for _, sql := range []string{
		"ALTER DATABASE " + pgx.Identifier{building}.Sanitize() + " RENAME TO " + pgx.Identifier{name}.Sanitize(),
		"ALTER DATABASE " + pgx.Identifier{name}.Sanitize() + " WITH ALLOW_CONNECTIONS false",
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			return fmt.Errorf("build template: %w", err)
		}
	}
	return nil
}
