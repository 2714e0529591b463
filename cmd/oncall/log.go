package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// newLogger builds the one root logger. Everything below cmd takes it from
// the context (zerolog.Ctx) or as a field. Each of secrets that reaches a
// log line in spite of the edges (which log masked phone numbers and
// addresses, route patterns and never a key) is replaced by [redacted]:
// the last line of defence against a provider library's error that quotes
// a credential.
func newLogger(w io.Writer, format string, level zerolog.Level, secrets ...string) zerolog.Logger {
	timeFormat.Do(func() { zerolog.TimeFieldFormat = time.RFC3339Nano }) // a global of zerolog's
	w = newRedactor(w, secrets)
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

var timeFormat sync.Once

// slogFor bridges zerolog to the *slog.Logger that River wants.
func slogFor(l zerolog.Logger) *slog.Logger {
	return slog.New(zerolog.NewSlogHandler(l.With().Str("component", "river").Logger()))
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// secrets are the credentials of the configuration, as newLogger wants
// them: the provider tokens and the passwords of the database and SMTP
// URLs.
func (c *Config) secrets() []string {
	s := []string{c.Slack.AppToken, c.Slack.BotToken, c.Twilio.AuthToken}
	if c.SMTP.URL != nil {
		if p, ok := c.SMTP.URL.User.Password(); ok {
			s = append(s, p)
		}
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			s = append(s, p)
		}
	}
	return s
}

// redactor replaces secrets in what is written through it. zerolog writes
// one whole event per Write, so a secret is never split between two.
type redactor struct {
	w       io.Writer
	secrets [][]byte
}

// minSecret is the shortest secret looked for: shorter ones would match
// ordinary words and numbers (and a real credential is never this short).
const minSecret = 6

var redacted = []byte("[redacted]")

// zerologEscape escapes as zerolog does in a JSON string (it leaves <, > and &
// alone, unlike encoding/json).
var zerologEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func newRedactor(w io.Writer, secrets []string) io.Writer {
	r := &redactor{w: w}
	seen := map[string]bool{}
	for _, s := range secrets {
		if len(s) < minSecret {
			continue
		}
		// As written in a JSON string (by zerolog, by encoding/json) and
		// in a URL, too.
		j, _ := json.Marshal(s)
		for _, form := range []string{s, zerologEscape.Replace(s), string(j[1 : len(j)-1]), url.QueryEscape(s), url.PathEscape(s)} {
			if !seen[form] {
				seen[form] = true
				r.secrets = append(r.secrets, []byte(form))
			}
		}
	}
	if len(r.secrets) == 0 {
		return w
	}
	return r
}

func (r *redactor) Write(p []byte) (int, error) {
	n := len(p)
	for _, s := range r.secrets {
		if bytes.Contains(p, s) {
			p = bytes.ReplaceAll(p, s, redacted)
		}
	}
	if _, err := r.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}
