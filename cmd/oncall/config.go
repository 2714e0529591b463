package main

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
)

// Config is the whole environment of CONTRACT.md §3, parsed and validated once
// at start. A channel whose settings are absent is off (its Enabled is false).
type Config struct {
	DatabaseURL string
	HTTPAddr    string
	PublicURL   string // no trailing slash
	ConfigPath  string // manifests applied at start; "" for none

	LogFormat string // console | json
	LogLevel  zerolog.Level

	// SendTimeout (ONCALL_SEND_TIMEOUT, 10 s) bounds one call to a paging
	// provider: a provider that does not answer in time is a temporary
	// failure ("timeout" on the timeline), retried and then passed over for
	// the user's next rule, so a hung provider never holds a worker.
	SendTimeout time.Duration

	Slack  SlackConfig
	Twilio TwilioConfig
	SMTP   SMTPConfig
	APNs   APNsConfig
	FCM    FCMConfig
}

type SlackConfig struct {
	AppToken, BotToken string
	APIURL             string // ends in "/"
}

func (c SlackConfig) Enabled() bool { return c.AppToken != "" }

type TwilioConfig struct {
	AccountSID, AuthToken, FromNumber string
	APIURL                            string
}

func (c TwilioConfig) Enabled() bool { return c.AccountSID != "" }

type SMTPConfig struct {
	URL  *url.URL
	From string
}

func (c SMTPConfig) Enabled() bool { return c.URL != nil }

type APNsConfig struct {
	KeyFile, KeyID, TeamID, Topic string
	URL                           string
}

func (c APNsConfig) Enabled() bool { return c.KeyFile != "" }

type FCMConfig struct {
	CredentialsFile string
	URL             string
}

func (c FCMConfig) Enabled() bool { return c.CredentialsFile != "" }

// Channels names each paging channel and whether it is configured, for the
// start-up log.
func (c *Config) Channels() map[string]bool {
	return map[string]bool{
		"slack": c.Slack.Enabled(), "sms": c.Twilio.Enabled(), "voice": c.Twilio.Enabled(),
		"email": c.SMTP.Enabled(), "apns": c.APNs.Enabled(), "fcm": c.FCM.Enabled(),
	}
}

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// LoadConfig reads the environment through getenv. isTerminal tells whether
// logs go to a terminal (the default log format depends on it). Every bad
// value is reported, each naming its variable.
func LoadConfig(getenv func(string) string, isTerminal bool) (*Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	httpURL := func(name, def string) string {
		v := get(name, def)
		if v == "" {
			return ""
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(name, "%q is not an http(s) URL", v)
		}
		return v
	}

	c := &Config{
		DatabaseURL: get("DATABASE_URL", "postgres://localhost:5432/oncall?sslmode=disable"),
		HTTPAddr:    get("ONCALL_HTTP_ADDR", "127.0.0.1:8080"),
		ConfigPath:  get("ONCALL_CONFIG", ""),
	}
	if _, err := pgconn.ParseConfig(c.DatabaseURL); err != nil || strings.Contains(c.DatabaseURL, "://") && !strings.HasPrefix(c.DatabaseURL, "postgres") {
		bad("DATABASE_URL", "want postgres://user@host:port/db (or host=... dbname=...), got %q", redactURL(c.DatabaseURL))
	}
	if !strings.Contains(c.HTTPAddr, ":") {
		bad("ONCALL_HTTP_ADDR", "want host:port, got %q", c.HTTPAddr)
	}
	c.PublicURL = strings.TrimRight(httpURL("ONCALL_PUBLIC_URL", "http://"+c.HTTPAddr), "/")
	if c.ConfigPath != "" {
		if _, err := os.Stat(c.ConfigPath); err != nil {
			bad("ONCALL_CONFIG", "%v", err)
		}
	}

	c.LogFormat = get("ONCALL_LOG_FORMAT", map[bool]string{true: "console", false: "json"}[isTerminal])
	if c.LogFormat != "console" && c.LogFormat != "json" {
		bad("ONCALL_LOG_FORMAT", "want console or json, got %q", c.LogFormat)
	}
	lvl, err := zerolog.ParseLevel(get("ONCALL_LOG_LEVEL", "info"))
	if err != nil {
		bad("ONCALL_LOG_LEVEL", "want trace, debug, info, warn or error, got %q", getenv("ONCALL_LOG_LEVEL"))
	}
	c.LogLevel = lvl
	c.SendTimeout = defaultSendTimeout
	if v := get("ONCALL_SEND_TIMEOUT", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond || d > maxSendTimeout {
			bad("ONCALL_SEND_TIMEOUT", "want a duration from 100ms to %s, got %q", maxSendTimeout, v)
		} else {
			c.SendTimeout = d
		}
	}

	c.Slack = SlackConfig{
		AppToken: get("SLACK_APP_TOKEN", ""),
		BotToken: get("SLACK_BOT_TOKEN", ""),
		APIURL:   httpURL("SLACK_API_URL", "https://slack.com/api/"),
	}
	if !strings.HasSuffix(c.Slack.APIURL, "/") {
		c.Slack.APIURL += "/"
	}
	switch {
	case (c.Slack.AppToken == "") != (c.Slack.BotToken == ""):
		bad("SLACK_APP_TOKEN", "set both SLACK_APP_TOKEN and SLACK_BOT_TOKEN, or neither")
	case c.Slack.AppToken != "" && !strings.HasPrefix(c.Slack.AppToken, "xapp-"):
		bad("SLACK_APP_TOKEN", "an app-level token starts with xapp-")
	case c.Slack.BotToken != "" && !strings.HasPrefix(c.Slack.BotToken, "xoxb-"):
		bad("SLACK_BOT_TOKEN", "a bot token starts with xoxb-")
	}

	c.Twilio = TwilioConfig{
		AccountSID: get("TWILIO_ACCOUNT_SID", ""),
		AuthToken:  get("TWILIO_AUTH_TOKEN", ""),
		FromNumber: get("TWILIO_FROM_NUMBER", ""),
		APIURL:     strings.TrimRight(httpURL("TWILIO_API_URL", "https://api.twilio.com"), "/"),
	}
	if t := c.Twilio; t.AccountSID != "" || t.AuthToken != "" || t.FromNumber != "" {
		switch {
		case t.AccountSID == "" || t.AuthToken == "" || t.FromNumber == "":
			bad("TWILIO_ACCOUNT_SID", "set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER together")
		case !alnum.MatchString(t.AccountSID) || !alnum.MatchString(t.AuthToken):
			bad("TWILIO_ACCOUNT_SID", "account SID and auth token must be alphanumeric")
		case !e164.MatchString(t.FromNumber):
			bad("TWILIO_FROM_NUMBER", "want an E.164 number like +14155550100")
		}
	}

	if v := get("SMTP_URL", ""); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			bad("SMTP_URL", "want smtp://user:pass@host:port or smtps://..., got %q", redactURL(v))
		} else {
			c.SMTP.URL = u
		}
		c.SMTP.From = get("EMAIL_FROM", "")
		if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
			bad("EMAIL_FROM", "want a sender address such as oncall@example.com when SMTP_URL is set")
		}
	}

	c.APNs = APNsConfig{
		KeyFile: get("APNS_KEY_FILE", ""), KeyID: get("APNS_KEY_ID", ""),
		TeamID: get("APNS_TEAM_ID", ""), Topic: get("APNS_TOPIC", ""),
		URL: strings.TrimRight(httpURL("APNS_URL", "https://api.push.apple.com"), "/"),
	}
	if a := c.APNs; a.KeyFile != "" {
		if _, err := os.Stat(a.KeyFile); err != nil {
			bad("APNS_KEY_FILE", "%v", err)
		}
		if a.KeyID == "" || a.TeamID == "" || a.Topic == "" {
			bad("APNS_KEY_ID", "APNS_KEY_FILE needs APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC too")
		}
	}

	c.FCM = FCMConfig{
		CredentialsFile: get("FCM_CREDENTIALS_FILE", ""),
		URL:             strings.TrimRight(httpURL("FCM_URL", "https://fcm.googleapis.com"), "/"),
	}
	if f := c.FCM.CredentialsFile; f != "" {
		if _, err := os.Stat(f); err != nil {
			bad("FCM_CREDENTIALS_FILE", "%v", err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bad environment:\n  %w", errors.Join(errs...))
	}
	return c, nil
}

// The limits of one provider call. The most stays below River's job
// timeout (15 s), which would cut the send's transaction instead.
const (
	defaultSendTimeout = 10 * time.Second
	maxSendTimeout     = 12 * time.Second
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// redactURL hides a password in a URL so it can be shown in errors and logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
