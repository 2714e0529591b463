package slack

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/oncall/oncall/notify"
)

// Action ids of the buttons on a page. A click arrives at the bot as a
// block_actions payload whose action carries one of these ids and, as its
// value, the incident id in decimal (ParseActionValue), followed for
// Escalate by ":" and the escalation sequence the page showed
// (EscalateValue); the actions block's block_id is BlockID(id).
const (
	ActionAck      = "incident_ack"
	ActionResolve  = "incident_resolve"
	ActionEscalate = "incident_escalate"
)

// BlockIDPrefix starts the block_id of a page's actions block: "incident:<id>".
const BlockIDPrefix = "incident:"

// Limits Slack puts on Block Kit (https://api.slack.com/reference/block-kit).
const (
	maxHeader    = 150  // header text
	maxValue     = 300  // a field's value or the escalation reason, before escaping (which may make it 5 times longer)
	maxText      = 3000 // a section or context text
	maxLabels    = 6    // labels shown; the rest are counted
	maxLabelLen  = 80   // a shown label's "key=value"
	maxLinks     = 6    // links shown, the incident's own first
	maxFallback  = 3000 // the message's text (Slack refuses 40,000)
	noSummary    = "(no summary)"
	dateFallback = "2006-01-02 15:04 MST"
)

// BlockID is the block_id of the actions block of incident id's page.
func BlockID(id int64) string { return BlockIDPrefix + strconv.FormatInt(id, 10) }

// ParseActionValue returns the incident id a button's value carries.
func ParseActionValue(v string) (int64, error) {
	id, _, err := ParseEscalateValue(v)
	return id, err
}

// EscalateValue is an Escalate button's value: the incident id and the
// escalation sequence the button was shown with, "12:3".
func EscalateValue(id int64, seq int) string {
	return strconv.FormatInt(id, 10) + ":" + strconv.Itoa(seq)
}

// ParseEscalateValue returns the incident id and the escalation sequence
// a button's value carries; seq is -1 when it carries none (a bare id, as
// buttons posted before sequences were carried do).
func ParseEscalateValue(v string) (id int64, seq int, err error) {
	idText, seqText, hasSeq := strings.Cut(strings.TrimSpace(v), ":")
	id, err = strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return 0, 0, fmt.Errorf("slack: action value %q is not an incident id", v)
	}
	if !hasSeq {
		return id, -1, nil
	}
	seq, err = strconv.Atoi(seqText)
	if err != nil || seq < 0 {
		return 0, 0, fmt.Errorf("slack: action value %q has a bad escalation sequence", v)
	}
	return id, seq, nil
}

// ParseBlockID returns the incident id of an actions block's block_id ("incident:<id>").
func ParseBlockID(blockID string) (int64, error) {
	v, ok := strings.CutPrefix(blockID, BlockIDPrefix)
	if !ok {
		return 0, errors.New("slack: block id " + strconv.Quote(blockID) + " is not an incident's")
	}
	return ParseActionValue(v)
}

// Blocks renders a page as Block Kit: a header with the state's emoji, the
// incident's number and summary; its service, severity, urgency, state
// (and who acknowledged or resolved it) and alert count; a few labels; its
// links; why this page went out and when the incident opened; and the
// buttons Acknowledge (while triggered), Resolve and Escalate (while not
// resolved). It is a pure function of p.
func Blocks(p notify.Page) []slack.Block {
	id := strconv.FormatInt(p.IncidentID, 10)
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(truncate(stateEmoji(p)+" #"+id+" "+oneLine(summary(p)), maxHeader))),
		slack.NewSectionBlock(nil, fields(p), nil),
	}
	if l := labels(p.Labels); l != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(l)))
	}
	if l := links(p); l != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(l), nil, nil))
	}
	if c := footer(p); c != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(c)))
	}
	if p.State == notify.StateResolved {
		return blocks
	}
	var buttons []slack.BlockElement
	if p.State != notify.StateAcknowledged {
		buttons = append(buttons, slack.NewButtonBlockElement(ActionAck, id, plain("Acknowledge")).WithStyle(slack.StylePrimary))
	}
	buttons = append(buttons,
		slack.NewButtonBlockElement(ActionResolve, id, plain("Resolve")),
		slack.NewButtonBlockElement(ActionEscalate, EscalateValue(p.IncidentID, p.Seq), plain("Escalate")).WithStyle(slack.StyleDanger),
	)
	return append(blocks, slack.NewActionBlock(BlockID(p.IncidentID), buttons...))
}

// Text is the message's fallback text, shown in notifications and where
// blocks cannot be: "🚨 #12 Checkout error rate above 5% · payments-api ·
// critical · triggered". It is escaped for Slack (&, <, >).
func Text(p notify.Page) string {
	parts := []string{textEmoji(p) + " #" + strconv.FormatInt(p.IncidentID, 10) + " " + oneLine(summary(p))}
	for _, s := range []string{p.Service, p.Severity} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	parts = append(parts, strings.ToLower(stateText(p)))
	return escape(truncate(strings.Join(parts, " · "), maxFallback))
}

func summary(p notify.Page) string {
	if strings.TrimSpace(p.Summary) == "" {
		return noSummary
	}
	return p.Summary
}

// stateEmoji is the header's emoji shortcode.
func stateEmoji(p notify.Page) string {
	switch {
	case p.State == notify.StateResolved:
		return ":white_check_mark:"
	case p.State == notify.StateAcknowledged:
		return ":eyes:"
	case p.Urgency == "low":
		return ":warning:"
	default:
		return ":rotating_light:"
	}
}

// textEmoji is stateEmoji in Unicode, for notifications.
func textEmoji(p notify.Page) string {
	switch stateEmoji(p) {
	case ":white_check_mark:":
		return "✅"
	case ":eyes:":
		return "👀"
	case ":warning:":
		return "⚠️"
	default:
		return "🚨"
	}
}

// stateText is "Triggered", "Acknowledged by alice", "Resolved by alertmanager".
func stateText(p notify.Page) string {
	s := p.State
	if s == "" {
		s = notify.StateTriggered
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if p.StateBy != "" && (p.State == notify.StateAcknowledged || p.State == notify.StateResolved) {
		s += " by " + p.StateBy
	}
	return s
}

func fields(p notify.Page) []*slack.TextBlockObject {
	var out []*slack.TextBlockObject
	add := func(name, value string) {
		if value != "" {
			out = append(out, mrkdwn("*"+name+"*\n"+escape(truncate(oneLine(value), maxValue))))
		}
	}
	add("Service", p.Service)
	add("Team", p.Team)
	add("Severity", p.Severity)
	add("Urgency", p.Urgency)
	add("State", stateText(p))
	if p.Alerts > 0 {
		add("Alerts", strconv.Itoa(p.Alerts))
	}
	return out
}

// labels shows the first labels by key as code spans: `env=prod` `team=payments` +3 more.
func labels(l map[string]string) string {
	keys := slices.Sorted(maps.Keys(l))
	var parts []string
	for i, k := range keys {
		if i == maxLabels {
			parts = append(parts, fmt.Sprintf("+%d more", len(keys)-maxLabels))
			break
		}
		kv := strings.ReplaceAll(oneLine(k+"="+l[k]), "`", "'")
		parts = append(parts, "`"+escape(truncate(kv, maxLabelLen))+"`")
	}
	return strings.Join(parts, "  ")
}

// links shows the incident's own link and the page's links, as Slack links,
// as many as fit.
func links(p notify.Page) string {
	var parts []string
	size := 0
	add := func(href, text string) {
		link := "<" + href + "|" + escape(truncate(oneLine(text), 100)) + ">"
		if n := utf8.RuneCountInString(link) + 5; size+n <= maxText && len(parts) < maxLinks {
			parts = append(parts, link)
			size += n
		}
	}
	if href := linkURL(p.URL); href != "" {
		add(href, "Open #"+strconv.FormatInt(p.IncidentID, 10))
	}
	for _, l := range p.Links {
		if href := linkURL(l.Href); href != "" {
			text := l.Text
			if text == "" {
				text = l.Href
			}
			add(href, text)
		}
	}
	return strings.Join(parts, "  ·  ")
}

// linkURL returns href fit for Slack's <href|text>, or "" if it is not an
// absolute http(s) URL.
func linkURL(href string) string {
	u, err := url.Parse(strings.TrimSpace(href))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return strings.NewReplacer("<", "%3C", ">", "%3E", "|", "%7C", " ", "%20").Replace(u.String())
}

// footer is the closing line: why this page, and when the incident opened.
func footer(p notify.Page) string {
	var parts []string
	if p.Escalation != "" {
		parts = append(parts, ":bell: "+escape(truncate(oneLine(p.Escalation), maxValue)))
	}
	if !p.CreatedAt.IsZero() {
		t := p.CreatedAt.UTC()
		parts = append(parts, fmt.Sprintf("Opened <!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.Format(dateFallback)))
	}
	return strings.Join(parts, "  ·  ")
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// escape escapes Slack's control characters &, < and >.
func escape(s string) string { return slackutilsx.EscapeMessage(s) }

// oneLine turns line breaks and tabs into spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncate cuts s to at most n runes, ending in "…" when it cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
