package manifests_test

import (
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Slack app manifest is a Socket Mode app with /oncall,
// interactivity, App Home and app_home_opened, and exactly the scopes the
// code calls for (see the comments in the file for which call needs which).
func TestSlackAppManifest(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("slack-app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			AppHome struct {
				HomeTab bool `yaml:"home_tab_enabled"`
			} `yaml:"app_home"`
			SlashCommands []struct {
				Command string `yaml:"command"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Events struct {
				Bot []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
			Interactivity struct {
				Enabled bool `yaml:"is_enabled"`
			} `yaml:"interactivity"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if !m.Settings.SocketMode || !m.Settings.Interactivity.Enabled || !m.Features.AppHome.HomeTab {
		t.Errorf("socket mode %v, interactivity %v, home tab %v: want all on",
			m.Settings.SocketMode, m.Settings.Interactivity.Enabled, m.Features.AppHome.HomeTab)
	}
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/oncall" {
		t.Errorf("slash commands = %+v, want /oncall", m.Features.SlashCommands)
	}
	if !slices.Equal(m.Settings.Events.Bot, []string{"app_home_opened"}) {
		t.Errorf("bot events = %v", m.Settings.Events.Bot)
	}
	want := []string{"channels:history", "chat:write", "chat:write.public", "commands", "groups:history", "im:history", "im:write", "usergroups:read", "usergroups:write", "users:read", "users:read.email"}
	got := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot))
	if !slices.Equal(got, want) {
		t.Errorf("scopes = %v, want %v", got, want)
	}
}
