package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

func cmdValidate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var files paths
	fs.Var(&files, "f", "manifest file or directory (repeatable)")
	rest, err := parseFlags(fs, e, args)
	if err != nil {
		return err
	}
	files = append(files, rest...)
	if len(files) == 0 {
		return usageErr("oncall validate: name manifests with -f PATH")
	}
	b, err := manifest.Load(files...)
	if err != nil {
		return err
	}
	if errs := b.Check(nil); len(errs) > 0 {
		return manifestErrors(e.stderr, errs)
	}
	fmt.Fprintf(e.stdout, "ok: %s\n", describeSet(b.Set))
	return nil
}

// manifestErrors prints every error, one FILE:LINE:COL line each, and fails.
func manifestErrors(w io.Writer, errs manifest.Errors) error {
	for _, err := range errs {
		fmt.Fprintln(w, err.Error())
	}
	return &exitError{code: exitErr, msg: fmt.Sprintf("%d error(s)", len(errs))}
}

func describeSet(s *manifest.Set) string {
	return fmt.Sprintf("%d users, %d teams, %d holiday sets, %d schedules, %d escalation policies, %d services, %d alert rules",
		len(s.Users), len(s.Teams), len(s.Holidays), len(s.Schedules), len(s.Policies), len(s.Services), len(s.AlertRules))
}

func cmdApply(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	var files paths
	fs.Var(&files, "f", "manifest file or directory (repeatable)")
	dryRun := fs.Bool("dry-run", false, "print the changes without writing them")
	prune := fs.Bool("prune", false, "delete objects of the applied kinds that the files no longer name")
	rest, err := parseFlags(fs, e, args)
	if err != nil {
		return err
	}
	files = append(files, rest...)
	if len(files) == 0 {
		return usageErr("oncall apply: name manifests with -f PATH")
	}
	cfg, err := LoadConfig(e.getenv, e.terminal)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel)
	pool, err := openDB(ctx, cfg, true, log)
	if err != nil {
		return err
	}
	defer pool.Close()

	plan, err := applyManifests(ctx, pool, files, *dryRun, *prune, oncall.SystemClock{}.Now(), "cli:"+currentUser(e))
	var merrs manifest.Errors
	if errors.As(err, &merrs) {
		return manifestErrors(e.stderr, merrs)
	}
	if err != nil {
		return err
	}
	printPlan(e.stdout, plan, *dryRun)
	if !*dryRun {
		printNewKeys(e.stdout, cfg, plan)
	}
	return nil
}

// applyManifests loads, checks (references may name objects already in the
// database) and applies files in one transaction; dryRun rolls it back.
func applyManifests(ctx context.Context, pool *pgxpool.Pool, files []string, dryRun, prune bool, now time.Time, actor string) (*store.Plan, error) {
	b, err := manifest.Load(files...)
	if err != nil {
		return nil, err
	}
	known, err := store.KnownNames(ctx, pool)
	if err != nil {
		return nil, err
	}
	if errs := b.Check(known); len(errs) > 0 {
		return nil, errs
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	plan, err := store.ApplyConfig(ctx, tx, b.Set, store.ApplyOptions{Prune: prune, Now: now, Actor: actor})
	if err != nil {
		return nil, err
	}
	if dryRun {
		return plan, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return plan, nil
}

func printPlan(w io.Writer, plan *store.Plan, dryRun bool) {
	counts := map[string]int{}
	for _, c := range plan.Changes {
		counts[c.Action]++
		line := fmt.Sprintf("%-7s %s %s", c.Action, c.Kind, c.Name)
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	}
	summary := "no changes"
	if len(plan.Changes) > 0 {
		summary = fmt.Sprintf("%d to create, %d to update, %d to delete", counts["create"], counts["update"], counts["delete"])
		if !dryRun {
			summary = fmt.Sprintf("%d created, %d updated, %d deleted", counts["create"], counts["update"], counts["delete"])
		}
	}
	if dryRun {
		summary += " (dry run: nothing written)"
	}
	fmt.Fprintln(w, summary)
}

// printNewKeys shows each new integration's secret once. It is the only place
// a key is ever shown: only its hash is stored.
func printNewKeys(w io.Writer, cfg *Config, plan *store.Plan) {
	if len(plan.NewKeys) == 0 {
		return
	}
	keys := append([]store.NewKey(nil), plan.NewKeys...)
	sort.Slice(keys, func(i, j int) bool { return keys[i].Integration < keys[j].Integration })
	fmt.Fprintln(w, "\nNew integration keys: shown once, store them now.")
	for _, k := range keys {
		if k.Type == manifest.IntegrationHeartbeat {
			fmt.Fprintf(w, "  %s (%s, service %s): beat with POST %s/v1/heartbeats/%s\n", k.Integration, k.Type, k.Service, cfg.PublicURL, k.Key)
			continue
		}
		if k.Type == manifest.IntegrationPagerDuty {
			fmt.Fprintf(w, "  %s (%s, service %s): routing_key %s, events to %s/v2/enqueue\n",
				k.Integration, k.Type, k.Service, k.Key, cfg.PublicURL)
			continue
		}
		fmt.Fprintf(w, "  %s (%s, service %s): %s/v1/alerts/%s\n", k.Integration, k.Type, k.Service, cfg.PublicURL, k.Key)
	}
}

func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	dir := fs.String("o", "", "write one file per kind into this directory (default: all documents to stdout)")
	if _, err := parseFlags(fs, e, args); err != nil {
		return err
	}
	cfg, err := LoadConfig(e.getenv, e.terminal)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel)
	pool, err := openDB(ctx, cfg, false, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	set, err := store.LoadConfig(ctx, pool)
	if err != nil {
		return err
	}
	if *dir != "" {
		if err := manifest.WriteDir(*dir, set); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "exported %s to %s\n", describeSet(set), *dir)
		return nil
	}
	files, err := manifest.Marshal(set)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	first := true
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			fmt.Fprintf(e.stderr, "note: %s is a calendar file that stdout cannot carry; use -o DIR to export it\n", name)
			continue
		}
		if !first {
			fmt.Fprintln(e.stdout, "---")
		}
		first = false
		fmt.Fprintf(e.stdout, "# %s\n", name)
		e.stdout.Write(files[name])
	}
	return nil
}

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	if _, err := parseFlags(fs, e, args); err != nil {
		return err
	}
	cfg, err := LoadConfig(e.getenv, e.terminal)
	if err != nil {
		return err
	}
	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open database %s: %w", redactURL(cfg.DatabaseURL), err)
	}
	defer pool.Close()
	applied, err := store.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Fprintf(e.stdout, "applied %s\n", m)
	}
	if len(applied) == 0 {
		fmt.Fprintln(e.stdout, "migrations are current")
	}
	return nil
}

func currentUser(e *env) string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if v := e.getenv(k); v != "" {
			return v
		}
	}
	if h, err := os.Hostname(); err == nil {
		return "unknown@" + h
	}
	return "unknown"
}
