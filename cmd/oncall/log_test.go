package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A credential that reaches a log line (a provider library's error that
// quotes it, say) comes out as [redacted], in either format.
func TestLoggerRedactsConfiguredSecrets(t *testing.T) {
	cfg, err := LoadConfig(func(k string) string {
		return map[string]string{
			"DATABASE_URL":       "postgres://oncall:Db-pa55word@db.internal:5432/oncall",
			"SLACK_APP_TOKEN":    "xapp-1-A0APP-1-appsecret",
			"SLACK_BOT_TOKEN":    "xoxb-1-botsecret",
			"TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000001",
			"TWILIO_AUTH_TOKEN":  "fa4e0a07c0ffee00d15ea5ed0000beef",
			"TWILIO_FROM_NUMBER": "+15005550006",
			"SMTP_URL":           "smtp://mailer:p%40ss%22word%3C1%3E@mail.internal:587",
			"EMAIL_FROM":         "oncall@example.com",
		}[k]
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	secrets := cfg.secrets()
	if len(secrets) != 5 {
		t.Fatalf("secrets %q", secrets)
	}
	for _, format := range []string{"json", "console"} {
		var buf bytes.Buffer
		log := newLogger(&buf, format, zerolog.DebugLevel, secrets...)
		for _, s := range secrets {
			log.Error().Err(fmt.Errorf("post https://api.example/x?token=%s: %w", s, errors.New("refused"))).Str("echo", s).Msg("provider said " + s)
		}
		log.Info().Str("smtp", "smtp://mailer:p%40ss%22word%3C1%3E@mail.internal:587").Msg("as a URL")
		out := buf.String()
		for _, s := range append(secrets, `p%40ss%22word%3C1%3E`, `p@ss\"word<1>`) {
			if strings.Contains(out, s) {
				t.Errorf("%s: the log holds %q:\n%s", format, s, out)
			}
		}
		if n := strings.Count(out, "[redacted]"); n < 3*len(secrets)+1 {
			t.Errorf("%s: %d redactions:\n%s", format, n, out)
		}
		if !strings.Contains(out, "refused") || !strings.Contains(out, "api.example") {
			t.Errorf("%s: more than the secrets went:\n%s", format, out)
		}
	}
	// Without secrets the writer is the one given.
	var buf bytes.Buffer
	if w := newRedactor(&buf, []string{"", "short"}); w != &buf {
		t.Errorf("a redactor with nothing to redact: %T", w)
	}
}
