package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/oncall/oncall/api"
	apicalendar "github.com/oncall/oncall/api/calendar"
	"github.com/oncall/oncall/jobs"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// shutdownGrace bounds how long serve waits for in-flight work on SIGTERM.
const shutdownGrace = 25 * time.Second

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	noMigrate := fs.Bool("no-migrate", false, "do not apply migrations at start")
	if _, err := parseFlags(fs, e, args); err != nil {
		return err
	}
	cfg, err := LoadConfig(e.getenv, e.terminal)
	if err != nil {
		return err
	}
	return serve(ctx, e, cfg, serveOptions{migrate: !*noMigrate, clock: oncall.SystemClock{}})
}

// serveOptions are what tests change about serve.
type serveOptions struct {
	migrate   bool
	clock     oncall.Clock
	listening func(addr string)  // called once the HTTP listener is open
	engine    func(*jobs.Engine) // called once the engine runs
	// httpServer, when set, adjusts the HTTP server before it serves: the
	// hostile-request tests shorten its timeouts to see slow clients cut
	// off in a second rather than in half a minute.
	httpServer func(*http.Server)
}

func serve(ctx context.Context, e *env, cfg *Config, opts serveOptions) error {
	log := newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel, cfg.secrets()...)
	ctx = log.WithContext(ctx)

	pool, err := openDB(ctx, cfg, opts.migrate, log)
	if err != nil {
		return err
	}
	defer pool.Close()

	if cfg.ConfigPath != "" {
		if err := applyAtStart(ctx, e, cfg, pool, log); err != nil {
			return err
		}
	}
	logChannels(cfg, log)

	engine, stopRiver, err := startEngine(ctx, cfg, pool, opts.clock, e.stdout, log)
	if err != nil {
		return err
	}
	if opts.engine != nil {
		opts.engine(engine)
	}

	reg := api.NewRegistry()
	reg.MustRegister(api.NewRiverJobCollector(pool))
	srv := api.NewServer(log, reg, func(ctx context.Context) error {
		if err := pool.Ping(ctx); err != nil {
			return fmt.Errorf("database unreachable: %w", err)
		}
		current, err := store.MigrationsCurrent(ctx, pool)
		if err != nil {
			return fmt.Errorf("check migrations: %w", err)
		}
		if !current {
			return errors.New("migrations are not current: run oncall migrate")
		}
		return nil
	})
	(&api.Alerts{DB: pool, Engine: engine}).Register(srv.Mux)
	(&api.Heartbeats{DB: pool, Engine: engine}).Register(srv.Mux)
	srv.Mux.Handle("GET /v1/calendars/{token}", &apicalendar.Handler{DB: pool, Clock: opts.clock, Config: engine.ConfigSet})
	w := wire{cfg: cfg, pool: pool, clock: opts.clock, log: log}
	for _, routes := range []func(wire, *jobs.Engine, *http.ServeMux) error{twilioRoutes, emailRoutes, mobileRoutes} {
		if err := routes(w, engine, srv.Mux); err != nil {
			return err
		}
	}
	httpSrv := api.NewHTTPServer(cfg.HTTPAddr, srv.Handler())
	if opts.httpServer != nil {
		opts.httpServer(httpSrv)
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	log.Info().Str("addr", ln.Addr().String()).Str("public_url", cfg.PublicURL).Msg("serving HTTP")
	if opts.listening != nil {
		opts.listening(ln.Addr().String())
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn().Err(err).Msg("http shutdown")
	}
	// Running jobs finish (or are released to another process at the
	// deadline); their rows stay locked until then, so nothing is lost.
	if err := stopRiver(sctx); err != nil {
		log.Warn().Err(err).Msg("river shutdown")
	}
	log.Info().Msg("stopped")
	return nil
}

// openDB connects (creating the database when missing) and, when migrate is
// set, applies ours and River's migrations.
func openDB(ctx context.Context, cfg *Config, migrate bool, log zerolog.Logger) (*pgxpool.Pool, error) {
	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redactURL(cfg.DatabaseURL), err)
	}
	if migrate {
		applied, err := store.Migrate(ctx, pool)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
		for _, m := range applied {
			log.Info().Str("migration", m).Msg("applied migration")
		}
	}
	return pool, nil
}

func logChannels(cfg *Config, log zerolog.Logger) {
	var off []string
	for ch, on := range cfg.Channels() {
		if !on {
			off = append(off, ch)
		}
	}
	sort.Strings(off)
	if !cfg.Slack.Enabled() {
		log.Warn().Msg("Slack bot is off: set SLACK_APP_TOKEN and SLACK_BOT_TOKEN to turn it on")
	}
	if len(off) > 0 {
		log.Warn().Strs("channels", off).Msg("paging channels off (their settings are absent); pages fall through to each user's next rule")
	}
}

// applyAtStart applies ONCALL_CONFIG. New integration keys go to stdout, not
// to the log: they are secrets and are shown once.
func applyAtStart(ctx context.Context, e *env, cfg *Config, pool *pgxpool.Pool, log zerolog.Logger) error {
	plan, err := applyManifests(ctx, pool, []string{cfg.ConfigPath}, false, false, oncall.SystemClock{}.Now(), "config:"+cfg.ConfigPath)
	if err != nil {
		return fmt.Errorf("apply ONCALL_CONFIG: %w", err)
	}
	log.Info().Str("path", cfg.ConfigPath).Int("changes", len(plan.Changes)).Msg("applied configuration")
	printNewKeys(e.stdout, cfg, plan)
	return nil
}
