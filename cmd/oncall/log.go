package main

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// newLogger builds the one root logger. Everything below cmd takes it from
// the context (zerolog.Ctx) or as a field.
func newLogger(w io.Writer, format string, level zerolog.Level) zerolog.Logger {
	timeFormat.Do(func() { zerolog.TimeFieldFormat = time.RFC3339Nano }) // a global of zerolog's
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
