// Command oncall is the whole product in one binary: the server (HTTP API,
// Slack bot, River workers) and the configuration-as-code tools. See
// CONTRACT.md §1 for its subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitErr     = 1
	exitUsage   = 2
	exitNobody  = 3 // `who`: nobody is on call
	usageHeader = `oncall: self-hosted, Slack-first on-call.

Usage:
  oncall serve [--no-migrate]
  oncall migrate
  oncall validate -f PATH...
  oncall apply -f PATH... [--dry-run] [--prune]
  oncall export [-o DIR]
  oncall shifts [-f PATH...] --schedule NAME --from T --to T [--format json|text]
  oncall who [-f PATH...] --schedule NAME [--at T]
  oncall calendar create|list (--schedule NAME | --user NAME)
  oncall calendar revoke ID

PATH is a manifest file or a directory of *.yaml/*.yml files. T is RFC 3339.
The environment configures the database and providers (see README.md).
`
)

// env is what a subcommand gets from the outside world.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	terminal       bool
}

type command struct {
	name string
	run  func(ctx context.Context, e *env, args []string) error
}

var commands = []command{
	{"serve", cmdServe},
	{"migrate", cmdMigrate},
	{"validate", cmdValidate},
	{"apply", cmdApply},
	{"export", cmdExport},
	{"shifts", cmdShifts},
	{"who", cmdWho},
	{"calendar", cmdCalendar},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, terminal: isTerminal(os.Stderr)}
	os.Exit(run(ctx, e, os.Args[1:]))
}

// exitError carries a specific exit code with an optional message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, usageHeader)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		var ee *exitError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ee):
			if ee.msg != "" {
				fmt.Fprintln(e.stderr, ee.msg)
			}
			return ee.code
		default:
			fmt.Fprintf(e.stderr, "oncall %s: %v\n", c.name, err)
			return exitErr
		}
	}
	fmt.Fprintf(e.stderr, "oncall: unknown command %q\n\n%s", args[0], usageHeader)
	return exitUsage
}

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// paths collects -f values; it is repeatable.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(v string) error { *p = append(*p, v); return nil }

// parseFlags parses args with fs, allowing flags and positional arguments in
// any order (`apply -f a b --dry-run`); positional arguments are returned.
func parseFlags(fs *flag.FlagSet, e *env, args []string) ([]string, error) {
	fs.SetOutput(e.stderr)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: exitUsage}
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}
