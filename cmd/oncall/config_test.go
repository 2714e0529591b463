package main

import (
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(envOf(nil), false)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" || c.LogFormat != "json" {
		t.Errorf("defaults: %+v", c)
	}
	if c.Slack.APIURL != "https://slack.com/api/" || c.Twilio.APIURL != "https://api.twilio.com" {
		t.Errorf("provider defaults: %+v %+v", c.Slack, c.Twilio)
	}
	for ch, on := range c.Channels() {
		if on {
			t.Errorf("channel %s on without settings", ch)
		}
	}
	if c, _ := LoadConfig(envOf(nil), true); c.LogFormat != "console" {
		t.Errorf("terminal default format = %q", c.LogFormat)
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]map[string]string{
		"ONCALL_LOG_LEVEL":    {"ONCALL_LOG_LEVEL": "loud"},
		"ONCALL_LOG_FORMAT":   {"ONCALL_LOG_FORMAT": "xml"},
		"ONCALL_SEND_TIMEOUT": {"ONCALL_SEND_TIMEOUT": "1m"},
		"SLACK_APP_TOKEN":     {"SLACK_APP_TOKEN": "xapp-1"},
		"SLACK_BOT_TOKEN":     {"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "nope"},
		"SLACK_API_URL":       {"SLACK_API_URL": "ftp://x"},
		"TWILIO_FROM_NUMBER":  {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM_NUMBER": "555"},
		"SMTP_URL":            {"SMTP_URL": "http://mail", "EMAIL_FROM": "a@b.c"},
		"EMAIL_FROM":          {"SMTP_URL": "smtp://mail:25"},
		"DATABASE_URL":        {"DATABASE_URL": "mysql://x"},
		"APNS_KEY_FILE":       {"APNS_KEY_FILE": "/nonexistent", "APNS_KEY_ID": "k", "APNS_TEAM_ID": "t", "APNS_TOPIC": "x"},
	}
	for name, e := range cases {
		_, err := LoadConfig(envOf(e), false)
		if err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestLoadConfigReportsEveryError(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(envOf(map[string]string{"ONCALL_LOG_LEVEL": "loud", "ONCALL_LOG_FORMAT": "xml"}), false)
	if err == nil || !strings.Contains(err.Error(), "ONCALL_LOG_LEVEL") || !strings.Contains(err.Error(), "ONCALL_LOG_FORMAT") {
		t.Fatalf("err = %v", err)
	}
}

func TestRedactURLHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(envOf(map[string]string{"SMTP_URL": "ftp://u:hunter2@mail"}), false)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("password leaked or no error: %v", err)
	}
}
