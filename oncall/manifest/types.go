// Package manifest reads and writes the YAML configuration of CONTRACT.md §2.
// Parsing keeps positions so every error reads FILE:LINE:COL: message; the
// types here are normalized (durations parsed, local times resolved) so two
// Sets that mean the same compare equal, which is what apply's diff relies on.
//
// Reading: Load (files and directories), LoadFS, Parse. A Bundle holds the
// Set and every parse error; Bundle.Check adds reference errors, consulting a
// Known callback (apply: the database) for names the files do not define.
// Writing: Marshal and WriteDir, whose output Load reads back as the same
// Set. To the resolver: Set.Resolver and Schedule.Resolver, the only
// conversion. Alert matching: Match.Matches and CompileMatch.
//
// # Rules the contract leaves open
//
//   - Required keys: kind and name everywhere; User: email, unless slack_id
//     is given; Schedule: time_zone; layer: name (unique in its schedule),
//     members (at least one; repeats allowed, for weighting), start, shift;
//     window: from and to; override: user, start, end; EscalationPolicy:
//     steps (at least one), each with targets (at least one); Service:
//     escalation_policy; integration: name and type, and timeout for a
//     heartbeat (only there). Everything else is
//     optional; Team members may be empty; an AlertRule without match
//     matches everything, without service its alerts stay with the
//     integration's own service.
//   - Lists of names (team members and admins, a schedule's holidays, an
//     alert rule's integrations) may not repeat a name; holiday dates may
//     (repeats are dropped). "slack" and "push" cannot name a contact method.
//   - Values are checked: contact addresses (E.164 for sms and voice, an
//     address with @ for email), slack_id (U.../W...), Slack channels (an ID
//     C.../G... or #name), Slack user groups (an ID S... or @handle, see
//     ValidSlackUserGroup), severities in match (critical, error, warning,
//     info, or a ~regex), escalate_after (positive), notification rule after
//     (>= 0, default 0s), shifts (positive, at most 100000 days), a
//     heartbeat's timeout (1m to 1000d, whole seconds).
//   - Days in windows: mon..sun, or full names, any case. Times: HH:MM with
//     two digits. Local datetimes: YYYY-MM-DDTHH:MM or ...THH:MM:SS; instants:
//     RFC 3339 with Z or an offset, seconds optional.
//   - Zones: IANA names; "Local" and "" are refused. A layer's end and its
//     start (when local) are read in the layer's zone; overrides in the
//     schedule's.
//   - A layer's end must be after its start; an override's end after its
//     start. Times are read by the DST rule of schedule.Civil.In.
//   - Match: a scalar or a list; a label or annotation the alert lacks reads
//     as "" (so "~.*" matches it); an empty list is an error (it could
//     never match).
//   - YAML aliases are followed; merge keys (<<) are unknown keys; a file
//     that expands past 200,000 nodes is refused. An ical file is read
//     relative to the manifest that names it; its name is kept only as a
//     base name (see ICalFileName), the file Marshal writes beside the
//     manifests.
//   - The canonical form (Set.Normalize) is documented there: objects sorted
//     by name except alert rules, lists without meaningful order sorted,
//     defaults filled (OnHolidays "include", EscalateAfter 5m, Urgency
//     "high"), instants in UTC.
package manifest

import (
	"time"

	"github.com/oncall/oncall/oncall/schedule"
)

// Kinds, in dependency order: an object refers only to kinds before it.
const (
	KindUser             = "User"
	KindTeam             = "Team"
	KindHolidays         = "Holidays"
	KindSchedule         = "Schedule"
	KindEscalationPolicy = "EscalationPolicy"
	KindService          = "Service"
	KindAlertRule        = "AlertRule"
)

// Kinds lists every kind in dependency order.
var Kinds = []string{KindUser, KindTeam, KindHolidays, KindSchedule, KindEscalationPolicy, KindService, KindAlertRule}

// Set is a whole configuration, or the part of one that some files name.
// Objects of each kind are sorted by name (see Normalize), except alert
// rules, which keep the order in which they were read (files sorted by name,
// documents in file order): they are evaluated in it.
type Set struct {
	Users      []*User
	Teams      []*Team
	Holidays   []*Holidays
	Schedules  []*Schedule
	Policies   []*EscalationPolicy
	Services   []*Service
	AlertRules []*AlertRule
}

// Contact method types. "slack" and "push" exist for every user implicitly and
// are named in notification rules without a contact method.
const (
	ContactSMS   = "sms"
	ContactVoice = "voice"
	ContactEmail = "email"

	NotifySlack = "slack"
	NotifyPush  = "push"
)

type User struct {
	Name              string
	FullName          string
	Email             string
	SlackID           string // optional
	TimeZone          string // IANA name; optional ("" = UTC)
	ContactMethods    []ContactMethod
	NotificationRules []NotificationRule
}

type ContactMethod struct {
	Name    string
	Type    string // sms | voice | email
	Address string // E.164 phone number or email address
}

// NotificationRule: after Delay since the page, notify on each of Notify
// (a contact method's name, "slack" or "push").
type NotificationRule struct {
	After  time.Duration
	Notify []string
}

type Team struct {
	Name         string
	Members      []string // user names
	Admins       []string // user names; each must also be a member
	SlackChannel string   // optional: a channel ID or #name
	// SlackUserGroup is optional: a Slack user group (an ID "S…" or
	// "@handle") whose members are, after every handoff, everyone on call
	// in the team's schedules.
	SlackUserGroup string
}

type Holidays struct {
	Name  string
	Dates []schedule.Date // from `dates`, sorted, unique
	// ICal is the base name of the `ical` file (written relative to the
	// manifest; see ICalFileName), ICalData its contents, read at parse time
	// and stored so export can write the file back under that name.
	ICal     string
	ICalData []byte
}

type Schedule struct {
	Name     string
	Team     string // optional
	TimeZone string // IANA name
	// SlackUserGroup is optional: a Slack user group (an ID "S…" or
	// "@handle") whose member is, after every handoff, whoever is on call.
	// Several teams and schedules may name one group: its members are then
	// everyone on call in any of them.
	SlackUserGroup string
	Holidays       []string
	Layers         []Layer
	Overrides      []Override
}

// Layer as written. Start is the local time in the layer's zone (a value
// written with an offset is converted to it). Shift keeps its unit: "12h" is
// Length{Elapsed: 12h}, "1w" is Length{Days: 7}.
type Layer struct {
	Name       string
	Members    []string
	Start      schedule.Civil
	Shift      schedule.Length
	TimeZone   string // optional: "" = the schedule's
	Restrict   []Window
	OnHolidays string     // include | skip | only; Normalize makes "" include
	End        *time.Time // optional; an instant (UTC)
}

// Window as written: days are lowercase three-letter names (mon..sun), From
// and To "HH:MM" (To may be "24:00").
type Window struct {
	Days     []string
	From, To string
}

type Override struct {
	User       string
	Start, End time.Time // instants (UTC)
}

// Target types of an escalation step.
const (
	TargetUser         = "user"
	TargetSchedule     = "schedule"
	TargetTeam         = "team"
	TargetSlackChannel = "slack_channel"
)

type EscalationPolicy struct {
	Name   string
	Team   string // optional
	Repeat int    // 0..5
	Steps  []Step
}

type Step struct {
	Targets       []Target
	EscalateAfter time.Duration // default DefaultEscalateAfter when absent
}

// DefaultEscalateAfter applies to a step that names no escalate_after.
const DefaultEscalateAfter = 5 * time.Minute

type Target struct {
	Type string // user | schedule | team | slack_channel
	Ref  string // the name (or channel ID / #name)
}

// Integration types.
const (
	IntegrationAlertmanager = "alertmanager"
	IntegrationGrafana      = "grafana"
	IntegrationPagerDuty    = "pagerduty"
	IntegrationGeneric      = "generic"
	// IntegrationHeartbeat is a heartbeat monitor: its sender calls
	// POST /v1/heartbeats/{key} at least every Timeout, and a missed beat
	// opens an incident on the service (the next beat resolves it).
	IntegrationHeartbeat = "heartbeat"
)

// Bounds of a heartbeat integration's Timeout.
const (
	MinHeartbeatTimeout = time.Minute
	MaxHeartbeatTimeout = 1000 * 24 * time.Hour
)

type Service struct {
	Name             string
	Description      string // optional
	Team             string // optional
	EscalationPolicy string
	Integrations     []Integration
}

type Integration struct {
	Name string // unique across services
	Type string // alertmanager | grafana | pagerduty | generic | heartbeat
	// Timeout is how long a heartbeat monitor waits for the next beat
	// before the miss opens an incident; heartbeat only (0 otherwise).
	Timeout time.Duration
}

type AlertRule struct {
	Name         string
	Integrations []string // empty: all
	Match        Match
	ServiceFrom  string // optional: e.g. "labels.service"
	Service      string // optional default service
	Page         bool   // default true
	Urgency      string // high | low; default high
}

// Match: every non-empty field must hold. A Pattern list matches when any of
// its patterns does; a pattern starting with "~" is an RE2 regexp matched
// against the whole value, anything else an exact string.
type Match struct {
	Severity    []string
	Summary     []string
	Labels      map[string][]string
	Annotations map[string][]string
}
