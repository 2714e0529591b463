// Package console is the channel of the no-credentials demo: it prints
// pages, their updates and their timeline to a writer (the terminal), in
// place of Slack when Slack is off.
package console

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/oncall/oncall/notify"
)

// Channel prints pages to a writer. It is safe for concurrent use: each
// page is written whole.
type Channel struct {
	mu sync.Mutex
	w  io.Writer
}

var (
	_ notify.Channel = (*Channel)(nil)
	_ notify.Updater = (*Channel)(nil)
)

// New returns a channel that prints to w.
func New(w io.Writer) *Channel { return &Channel{w: w} }

// refPrefix starts every receipt's Ref: "console/<incident id>".
const refPrefix = "console/"

// Send prints the page as a block of lines:
//
//	PAGE #12 [high] payments-api: Checkout error rate above 5%
//	  to:       alice (Alice Liddell) by slack
//	  severity: critical · state: triggered · alerts: 3
//	  why:      step 1 of payments-default
//	  labels:   env=prod region=eu-west-1
//	  link:     https://oncall.example.com/incidents/12
//
// A user's address (a phone number, an email) is never printed; a channel's is.
func (c *Channel) Send(ctx context.Context, to notify.Target, p notify.Page) (notify.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return notify.Receipt{}, err
	}
	var b strings.Builder
	b.WriteString("PAGE #" + strconv.FormatInt(p.IncidentID, 10))
	if p.Urgency != "" {
		b.WriteString(" [" + clean(p.Urgency) + "]")
	}
	b.WriteString(" ")
	if p.Service != "" {
		b.WriteString(clean(p.Service) + ": ")
	}
	summary := clean(p.Summary)
	if summary == "" {
		summary = "(no summary)"
	}
	b.WriteString(summary + "\n")

	line := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "  %-9s %s\n", name+":", value)
		}
	}
	line("to", recipient(to))
	var facts []string
	for _, f := range [][2]string{{"severity", p.Severity}, {"state", state(p)}} {
		if f[1] != "" {
			facts = append(facts, f[0]+": "+clean(f[1]))
		}
	}
	if p.Alerts > 0 {
		facts = append(facts, "alerts: "+strconv.Itoa(p.Alerts))
	}
	if len(facts) > 0 {
		fmt.Fprintf(&b, "  %s\n", strings.Join(facts, " · "))
	}
	line("why", clean(p.Escalation))
	line("labels", labels(p.Labels))
	line("link", clean(p.URL))
	for _, l := range p.Links {
		text := clean(l.Text)
		if text != "" {
			text += " "
		}
		line("link", text+clean(l.Href))
	}

	if err := c.write(b.String()); err != nil {
		return notify.Receipt{}, err
	}
	return notify.Receipt{Ref: refPrefix + strconv.FormatInt(p.IncidentID, 10)}, nil
}

// Update prints the page's new state: "#12 acknowledged by alice".
func (c *Channel) Update(ctx context.Context, ref string, p notify.Page) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.write("#" + strconv.FormatInt(p.IncidentID, 10) + " " + state(p) + "\n")
}

// Note prints a timeline line of the page ref: "#12 paged bob by sms".
func (c *Channel) Note(ctx context.Context, ref, text string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.write(incident(ref) + " " + clean(text) + "\n")
}

func (c *Channel) write(s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.w, s); err != nil {
		return fmt.Errorf("console: write: %w", err)
	}
	return nil
}

// incident is "#12" for the ref "console/12", else the ref itself.
func incident(ref string) string {
	if id, ok := strings.CutPrefix(ref, refPrefix); ok && id != "" {
		return "#" + id
	}
	return ref
}

// recipient is "alice (Alice Liddell) by slack", or "#payments by slack_channel".
func recipient(to notify.Target) string {
	var who string
	switch {
	case to.User != "" && to.FullName != "":
		who = to.User + " (" + to.FullName + ")"
	case to.User != "":
		who = to.User
	case to.FullName != "":
		who = to.FullName
	case to.Address != "": // a channel: its address is no one's contact
		who = to.Address
	default:
		who = "nobody"
	}
	if to.Method != "" {
		who += " by " + to.Method
	}
	return clean(who)
}

// state is "triggered", "acknowledged by alice", "resolved by alertmanager".
func state(p notify.Page) string {
	s := p.State
	if s == "" {
		s = notify.StateTriggered
	}
	if p.StateBy != "" && (p.State == notify.StateAcknowledged || p.State == notify.StateResolved) {
		s += " by " + p.StateBy
	}
	return clean(s)
}

func labels(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = clean(k + "=" + l[k])
	}
	return strings.Join(parts, " ")
}

// clean puts s on one line and drops control characters (a summary must
// not move the terminal's cursor).
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
