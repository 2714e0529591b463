package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Advisory lock keys ("oncall" in ASCII, then a number).
const (
	migrateLockKey int64 = 0x6f6e63616c6c_0001 // Migrate, session level
	configLockKey  int64 = 0x6f6e63616c6c_0002 // ApplyConfig, transaction level
)

type migration struct {
	version int
	name    string // e.g. "0001_config"
	sql     string
}

var migrationNameRE = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// migrations lists the embedded migrations in version order.
func migrations() ([]migration, error) {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		m := migrationNameRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: want NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		data, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && out[len(out)-1].version == v {
			return nil, fmt.Errorf("two migrations with version %d", v)
		}
		out = append(out, migration{version: v, name: e.Name()[:len(e.Name())-len(".sql")], sql: string(data)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

func riverMigrator(pool *pgxpool.Pool) (*rivermigrate.Migrator[pgx.Tx], error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	return m, nil
}

// Migrate applies River's migrations and then ours, returning the names of
// those it applied ("river 001 create river migration", "0001_config"), in
// order. The whole run holds a session-level advisory lock on a connection
// of its own (not one of pool's), so processes that start at the same time
// take turns and the later ones find nothing to do. Each migration runs in
// its own transaction together with its bookkeeping row.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (applied []string, err error) {
	ours, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("migrate: connect: %w", err)
	}
	// Closing the session also releases the lock, whatever happened.
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}

	// River first: our later migrations may refer to its tables.
	rm, err := riverMigrator(pool)
	if err != nil {
		return nil, err
	}
	res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	for _, v := range res.Versions {
		applied = append(applied, fmt.Sprintf("river %03d %s", v.Version, v.Name))
	}

	const createTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`
	if _, err := conn.Exec(ctx, createTable); err != nil {
		return applied, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	done, err := appliedVersions(ctx, conn)
	if err != nil {
		return applied, err
	}
	for _, m := range ours {
		if done[m.version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.name, err)
		}
		applied = append(applied, m.name)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrateLockKey); err != nil {
		return applied, fmt.Errorf("migrate: unlock: %w", err)
	}
	return applied, nil
}

func appliedVersions(ctx context.Context, q Querier) (map[int]bool, error) {
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("list applied migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("list applied migrations: %w", err)
	}
	done := make(map[int]bool, len(versions))
	for _, v := range versions {
		done[int(v)] = true
	}
	return done, nil
}

// MigrationsCurrent reports whether every migration, ours and River's, has
// been applied (for /readyz). A database that was never migrated is not
// current; that is no error.
func MigrationsCurrent(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	ours, err := migrations()
	if err != nil {
		return false, err
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return false, fmt.Errorf("check migrations: %w", err)
	}
	if !exists {
		return false, nil
	}
	done, err := appliedVersions(ctx, pool)
	if err != nil {
		return false, err
	}
	for _, m := range ours {
		if !done[m.version] {
			return false, nil
		}
	}
	rm, err := riverMigrator(pool)
	if err != nil {
		return false, err
	}
	res, err := rm.Validate(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("check river migrations: %w", err)
	}
	return res.OK, nil
}

// MigrationsFingerprint is a hash of every migration this binary carries,
// ours and River's: two databases migrated by binaries with the same
// fingerprint have the same schema. storetest names its template database
// after it.
func MigrationsFingerprint() string {
	h := sha256.New()
	ours, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time
	}
	for _, m := range ours {
		fmt.Fprintf(h, "%s\x00%s\x00", m.name, m.sql)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(nil), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	for _, m := range rm.AllVersions() {
		fmt.Fprintf(h, "river %d\x00%s\x00", m.Version, m.SQLUp)
	}
	return hex.EncodeToString(h.Sum(nil))
}
