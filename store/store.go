// Package store is oncall's PostgreSQL layer: the connection pool, the
// migrations (ours and River's), and typed functions over SQL written as SQL.
//
// Functions take a Querier (a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx) so
// callers choose the transaction; functions that must run inside one take a
// pgx.Tx. Nothing here reads the clock: times come in as parameters. Errors
// from Postgres go through one mapping (errors.go): a missing row is
// oncall.ErrNotFound, a unique violation oncall.ErrConflict, a foreign key or
// check violation a *ConstraintError with a readable message.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier runs SQL: *pgxpool.Pool, *pgx.Conn and pgx.Tx all satisfy it.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = (*pgx.Conn)(nil)
	_ Querier = (pgx.Tx)(nil)
)

// Pool defaults, used when the URL does not set them (pool_max_conns=...,
// connect_timeout=...).
const (
	defaultMaxConns       = 20
	defaultConnectTimeout = 10 * time.Second
)

// Open connects to the database of url and checks that it answers. When
// the database does not exist (SQLSTATE 3D000) it is created, through the
// `postgres` database of the same server, and connected to.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if !hasParam(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := connect(ctx, cfg)
	if err == nil {
		return pool, nil
	}
	if !isPgCode(err, "3D000") { // invalid_catalog_name
		return nil, err
	}
	if err := createDatabase(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	return connect(ctx, cfg)
}

func connect(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}

// createDatabase creates cc.Database through the server's `postgres`
// database. Another process creating it at the same time is fine.
func createDatabase(ctx context.Context, cc *pgx.ConnConfig) error {
	admin := cc.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("create database %s: connect to the postgres database: %w", cc.Database, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cc.Database}.Sanitize())
	if err != nil && !isPgCode(err, "42P04") { // duplicate_database
		return fmt.Errorf("create database %s: %w", cc.Database, err)
	}
	return nil
}

// hasParam reports whether a URL or keyword/value connection string sets
// a parameter (pgxpool.ParseConfig consumes its own, so ask the string).
func hasParam(url, name string) bool { return strings.Contains(url, name+"=") }

func isPgCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// inReadTx runs fn in a repeatable-read, read-only transaction when q can
// begin one (a pool or a connection), so that several queries see one
// snapshot; inside a caller's transaction it runs fn on q directly.
func inReadTx(ctx context.Context, q Querier, fn func(Querier) error) error {
	b, ok := q.(interface {
		BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
	})
	if !ok {
		return fn(q)
	}
	tx, err := b.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
