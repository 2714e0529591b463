package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
)

// cmdCalendar manages calendar feed tokens: `oncall calendar create
// --schedule NAME | --user NAME`, `oncall calendar list ...`, `oncall
// calendar revoke ID`. A token is shown once, in its feed URL.
func cmdCalendar(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageErr("usage: oncall calendar create|list (--schedule NAME | --user NAME), oncall calendar revoke ID")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("calendar "+sub, flag.ContinueOnError)
	schedule := fs.String("schedule", "", "the schedule whose shifts the feed shows")
	user := fs.String("user", "", "the user whose shifts (across schedules) the feed shows")
	rest, err := parseFlags(fs, e, args)
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(e.getenv, e.terminal)
	if err != nil {
		return err
	}
	pool, err := openDB(ctx, cfg, false, newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer pool.Close()
	now := oncall.SystemClock{}.Now()

	switch sub {
	case "create", "list":
		owner, err := store.CalendarOwnerByName(ctx, pool, *schedule, *user)
		var ue *oncall.UserError
		if errors.As(err, &ue) {
			return usageErr("oncall calendar %s: %s", sub, ue.Msg)
		}
		if err != nil {
			return err
		}
		if sub == "create" {
			t, token, err := store.CalendarTokenCreate(ctx, pool, owner, now)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Calendar feed %d (shown once; revoke with `oncall calendar revoke %d`):\n  %s/v1/calendars/%s.ics\n", t.ID, t.ID, cfg.PublicURL, token)
			return nil
		}
		tokens, err := store.CalendarTokenList(ctx, pool, owner)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tREVOKED")
		for _, t := range tokens {
			revoked := "-"
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.Format("2006-01-02 15:04Z")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", t.ID, t.CreatedAt.Format("2006-01-02 15:04Z"), revoked)
		}
		return tw.Flush()
	case "revoke":
		if len(rest) != 1 {
			return usageErr("usage: oncall calendar revoke ID")
		}
		id, err := strconv.ParseInt(rest[0], 10, 64)
		if err != nil {
			return usageErr("oncall calendar revoke: %q is not a feed ID", rest[0])
		}
		if err := store.CalendarTokenRevoke(ctx, pool, id, now); errors.Is(err, oncall.ErrNotFound) {
			return &exitError{code: exitErr, msg: fmt.Sprintf("no live calendar feed %d", id)}
		} else if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked calendar feed %d\n", id)
		return nil
	}
	return usageErr("oncall calendar: unknown subcommand %q (create, list, revoke)", sub)
}
