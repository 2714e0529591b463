package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/oncall/schedule"
	"github.com/oncall/oncall/store"
)

// loadSchedule builds the resolver's input for one schedule, from manifests
// when files are named, else from the database. Both go through the same
// manifest.Set conversion, so they cannot disagree.
func loadSchedule(ctx context.Context, e *env, files []string, name string) (*schedule.Schedule, error) {
	var set *manifest.Set
	if len(files) > 0 {
		b, err := manifest.Load(files...)
		if err != nil {
			return nil, err
		}
		if errs := b.Check(nil); len(errs) > 0 {
			return nil, manifestErrors(e.stderr, errs)
		}
		set = b.Set
	} else {
		cfg, err := LoadConfig(e.getenv, e.terminal)
		if err != nil {
			return nil, err
		}
		pool, err := openDB(ctx, cfg, false, newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel))
		if err != nil {
			return nil, err
		}
		defer pool.Close()
		if set, err = store.LoadConfig(ctx, pool); err != nil {
			return nil, err
		}
	}
	sched, err := set.Resolver(name)
	if err != nil {
		return nil, &exitError{code: exitErr, msg: fmt.Sprintf("schedule %q: %v", name, err)}
	}
	return sched, nil
}

func parseInstant(flagName, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usageErr("--%s: want an RFC 3339 time such as 2026-11-02T09:00:00Z, got %q", flagName, v)
	}
	return t.UTC(), nil
}

func cmdShifts(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("shifts", flag.ContinueOnError)
	var files paths
	fs.Var(&files, "f", "manifest file or directory (repeatable); without it, read the database")
	name := fs.String("schedule", "", "schedule name")
	fromS := fs.String("from", "", "start of the range (RFC 3339)")
	toS := fs.String("to", "", "end of the range (RFC 3339)")
	format := fs.String("format", "json", "json or text")
	rest, err := parseFlags(fs, e, args)
	if err != nil {
		return err
	}
	files = append(files, rest...)
	if *name == "" || *fromS == "" || *toS == "" {
		return usageErr("oncall shifts: --schedule, --from and --to are required")
	}
	if *format != "json" && *format != "text" {
		return usageErr("--format: want json or text, got %q", *format)
	}
	from, err := parseInstant("from", *fromS)
	if err != nil {
		return err
	}
	to, err := parseInstant("to", *toS)
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return usageErr("--from must be before --to")
	}
	if to.Sub(from) > 3*366*oncall.Day {
		return usageErr("the range may span at most 3 years")
	}
	sched, err := loadSchedule(ctx, e, files, *name)
	if err != nil {
		return err
	}
	shifts := sched.Shifts(from, to)
	if *format == "text" {
		return writeShiftsText(e.stdout, sched, shifts)
	}
	return writeShiftsJSON(e.stdout, shifts)
}

type jsonShift struct {
	User  string `json:"user"`
	Start string `json:"start"`
	End   string `json:"end"`
}

func writeShiftsJSON(w io.Writer, shifts []schedule.Shift) error {
	out := make([]jsonShift, len(shifts))
	for i, s := range shifts {
		out[i] = jsonShift{User: s.User, Start: s.Start.UTC().Format(time.RFC3339), End: s.End.UTC().Format(time.RFC3339)}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeShiftsText(w io.Writer, sched *schedule.Schedule, shifts []schedule.Shift) error {
	loc := sched.Location
	fmt.Fprintf(w, "Schedule %s, times in %s\n\n", sched.Name, loc)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSTART\tEND\tLENGTH")
	const layout = "Mon 2006-01-02 15:04 MST"
	for _, s := range shifts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.User, s.Start.In(loc).Format(layout), s.End.In(loc).Format(layout),
			oncall.FormatDuration(s.End.Sub(s.Start)))
	}
	if len(shifts) == 0 {
		fmt.Fprintln(tw, "(nobody on call in this range)")
	}
	return tw.Flush()
}

func cmdWho(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("who", flag.ContinueOnError)
	var files paths
	fs.Var(&files, "f", "manifest file or directory (repeatable); without it, read the database")
	name := fs.String("schedule", "", "schedule name")
	atS := fs.String("at", "", "the instant (RFC 3339); default now")
	rest, err := parseFlags(fs, e, args)
	if err != nil {
		return err
	}
	files = append(files, rest...)
	if *name == "" {
		return usageErr("oncall who: --schedule is required")
	}
	at := oncall.SystemClock{}.Now()
	if *atS != "" {
		if at, err = parseInstant("at", *atS); err != nil {
			return err
		}
	}
	sched, err := loadSchedule(ctx, e, files, *name)
	if err != nil {
		return err
	}
	user, ok := sched.Who(at)
	if !ok {
		return &exitError{code: exitNobody}
	}
	fmt.Fprintln(e.stdout, user)
	return nil
}
