package jobs

import (
	"fmt"
	"strings"
	"time"

	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// The text of handoff notices, in Slack mrkdwn: who hands over to whom,
// until when (in the reader's time zone, or the schedule's in a channel),
// and the open incidents handed over.

type handoffNotice struct {
	cfg       *config
	h         handoff
	sched     *manifest.Schedule
	incidents []*store.Incident // open ones of the team's services or paged to the outgoing person; one more than shown means "more"
}

// incoming is the DM to the person now on call.
func (n handoffNotice) incoming() string {
	loc := n.userLoc(n.h.to)
	var b strings.Builder
	fmt.Fprintf(&b, ":pager: You are now on call for *%s*", mrkdwnEscape(n.h.schedule))
	if !n.h.until.IsZero() {
		fmt.Fprintf(&b, " until %s", noticeTime(n.h.until, loc))
	}
	if n.h.from != "" {
		fmt.Fprintf(&b, ", taking over from %s", n.mention(n.h.from))
	}
	b.WriteString(".")
	n.writeIncidents(&b, "Open incidents handed over to you")
	return b.String()
}

// outgoing is the DM to the person whose shift ended.
func (n handoffNotice) outgoing() string {
	loc := n.userLoc(n.h.from)
	var b strings.Builder
	fmt.Fprintf(&b, ":white_check_mark: Your on-call shift for *%s* has ended. ", mrkdwnEscape(n.h.schedule))
	b.WriteString(n.whoNow(loc))
	n.writeIncidents(&b, "Open incidents you handed over")
	return b.String()
}

// channel is the post in the team channel.
func (n handoffNotice) channel() string {
	loc := n.schedLoc()
	var b strings.Builder
	fmt.Fprintf(&b, ":arrows_counterclockwise: Handoff in *%s*: ", mrkdwnEscape(n.h.schedule))
	from := "nobody"
	if n.h.from != "" {
		from = n.mention(n.h.from)
	}
	to := "nobody"
	if n.h.to != "" {
		to = n.mention(n.h.to)
	}
	fmt.Fprintf(&b, "%s → %s", from, to)
	if !n.h.until.IsZero() {
		if n.h.to != "" {
			fmt.Fprintf(&b, ", on call until %s", noticeTime(n.h.until, loc))
		} else {
			fmt.Fprintf(&b, " until %s", noticeTime(n.h.until, loc))
		}
	}
	b.WriteString(".")
	if n.h.to == "" {
		b.WriteString(" :warning: Nobody is on call: pages to this schedule reach no one.")
	}
	if len(n.incidents) > 0 {
		fmt.Fprintf(&b, " Open incidents: %s.", n.count())
	}
	return b.String()
}

// whoNow says who has the schedule now, for the outgoing person.
func (n handoffNotice) whoNow(loc *time.Location) string {
	if n.h.to == "" {
		s := ":warning: Nobody is on call now"
		if !n.h.until.IsZero() {
			s += " until " + noticeTime(n.h.until, loc)
		}
		return s + "."
	}
	s := n.mention(n.h.to) + " is on call now"
	if !n.h.until.IsZero() {
		s += " until " + noticeTime(n.h.until, loc)
	}
	return s + "."
}

func (n handoffNotice) writeIncidents(b *strings.Builder, title string) {
	if len(n.incidents) == 0 {
		return
	}
	fmt.Fprintf(b, "\n*%s* (%s):", title, n.count())
	for i, in := range n.incidents {
		if i == handoffIncidents {
			break
		}
		fmt.Fprintf(b, "\n• #%d %s: %s (%s)", in.ID, in.State, mrkdwnEscape(oneLineText(in.Summary, 150)), mrkdwnEscape(in.ServiceName))
	}
}

func (n handoffNotice) count() string {
	if len(n.incidents) > handoffIncidents {
		return fmt.Sprintf("more than %d", handoffIncidents)
	}
	return fmt.Sprint(len(n.incidents))
}

// mention is a Slack mention of our user when their Slack id is known,
// else their full name.
func (n handoffNotice) mention(name string) string {
	u := n.cfg.users[name]
	switch {
	case u == nil:
		return mrkdwnEscape(name)
	case u.SlackID != "":
		return "<@" + u.SlackID + ">"
	case u.FullName != "":
		return mrkdwnEscape(u.FullName)
	}
	return mrkdwnEscape(name)
}

// userLoc is a user's time zone, else the schedule's.
func (n handoffNotice) userLoc(name string) *time.Location {
	if u := n.cfg.users[name]; u != nil && u.TimeZone != "" {
		if loc, err := time.LoadLocation(u.TimeZone); err == nil {
			return loc
		}
	}
	return n.schedLoc()
}

func (n handoffNotice) schedLoc() *time.Location {
	if n.sched != nil {
		if loc, err := time.LoadLocation(n.sched.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

// noticeTime is an instant as a reader in loc reads it: "Mon 15 Mar 09:00 EDT".
func noticeTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2 Jan 15:04 MST")
}

// mrkdwnEscape escapes the three characters Slack reserves in text.
func mrkdwnEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// oneLineText is s on one line, cut to n runes.
func oneLineText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
