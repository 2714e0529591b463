package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/oncall/oncall/notify"
	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/oncall/manifest"
	"github.com/oncall/oncall/store"
)

// Manual pages: someone pages a user, a team or a service by hand (Slack's
// /oncall page, the CLI). The incident has no integration (integration_id
// NULL) and a dedup key of its own ("manual-<random>"), so it never merges
// with another; its source is SourceManual and its timeline starts with
// "paged by <actor>".
//
//   - A service is paged through an escalation policy (the one asked for,
//     else the service's own): its first step runs at once, in the
//     incident's own transaction, as for an alert; the team's channel hears
//     of the new incident.
//   - A user is paged directly with their notification rules; a team's
//     members all are (and its channel hears of it). Such an incident has no
//     service (service_name ""; a made-up name such as "manual" could be a
//     real service's, which the row would then be linked to). With a policy,
//     that policy starts from its first step if nobody acknowledged after
//     manifest.DefaultEscalateAfter; without one, nothing escalates.

// SourceManual is the source of an incident paged by hand.
const SourceManual = "manual"

// MaxManualSummary bounds a manual page's message, in characters.
const MaxManualSummary = 1000

// ManualPageRequest is a page sent by hand. Exactly one of User, Service
// and Team names whom to page.
type ManualPageRequest struct {
	Actor   string // who pages: our user's name (or "cli", ...)
	User    string
	Service string
	Team    string
	Summary string // the message; required
	Urgency string // manifest.UrgencyHigh (default) or manifest.UrgencyLow
	Policy  string // optional escalation policy (see above)
}

// ManualPage opens a triggered incident for req and pages its target, in
// one transaction. Mistakes in req (an unknown name, no message) are
// *oncall.UserError.
func (e *Engine) ManualPage(ctx context.Context, req ManualPageRequest) (*store.Incident, error) {
	req.Summary = strings.TrimSpace(req.Summary)
	if err := req.check(); err != nil {
		return nil, err
	}
	var out *store.Incident
	err := e.inTx(ctx, func(tx *txn) error {
		cfg, err := e.config.get(ctx, tx)
		if err != nil {
			return err
		}
		in, err := e.manualPage(ctx, tx, cfg, req)
		out = in
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *ManualPageRequest) check() error {
	n := 0
	for _, s := range []string{r.User, r.Service, r.Team} {
		if s != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return &oncall.UserError{Field: "target", Msg: "say whom to page: one user, service or team"}
	case r.Summary == "":
		return &oncall.UserError{Field: "summary", Msg: "say what the page is about"}
	case utf8.RuneCountInString(r.Summary) > MaxManualSummary:
		return &oncall.UserError{Field: "summary", Msg: fmt.Sprintf("the message is longer than %d characters", MaxManualSummary)}
	}
	switch r.Urgency {
	case "":
		r.Urgency = manifest.UrgencyHigh
	case manifest.UrgencyHigh, manifest.UrgencyLow:
	default:
		return &oncall.UserError{Field: "urgency", Msg: fmt.Sprintf("urgency is high or low, not %q", r.Urgency)}
	}
	return nil
}

func (e *Engine) manualPage(ctx context.Context, tx *txn, cfg *config, req ManualPageRequest) (*store.Incident, error) {
	now := e.clock.Now().UTC()
	key, err := manualDedupKey()
	if err != nil {
		return nil, err
	}
	in := &store.Incident{
		DedupKey: key, State: store.StateTriggered, Summary: req.Summary, Severity: oncall.SeverityCritical,
		Urgency: req.Urgency, Paging: true, Source: SourceManual, CreatedAt: now, EscalationStep: -1,
	}
	if req.Urgency == manifest.UrgencyLow {
		in.Severity = oncall.SeverityWarning
	}
	if req.Policy != "" && cfg.policies[req.Policy] == nil {
		return nil, &oncall.UserError{Field: "policy", Msg: fmt.Sprintf("there is no escalation policy %q", req.Policy)}
	}
	var target manifest.Target
	channel := "" // a team channel told of the new incident
	switch {
	case req.Service != "":
		svc := cfg.services[req.Service]
		if svc == nil {
			return nil, &oncall.UserError{Field: "target", Msg: fmt.Sprintf("there is no service %q", req.Service)}
		}
		in.ServiceName, in.PolicyName = svc.Name, firstNonEmpty(req.Policy, svc.EscalationPolicy)
		if in.PolicyName == "" {
			return nil, &oncall.UserError{Field: "target", Msg: fmt.Sprintf("service %s has no escalation policy: page a user or team", svc.Name)}
		}
		channel = cfg.teamChannel(svc.Name)
	case req.User != "":
		if cfg.users[req.User] == nil {
			return nil, &oncall.UserError{Field: "target", Msg: fmt.Sprintf("there is no user %q", req.User)}
		}
		target = manifest.Target{Type: manifest.TargetUser, Ref: req.User}
		in.PolicyName = req.Policy
	default:
		t := cfg.teams[req.Team]
		if t == nil {
			return nil, &oncall.UserError{Field: "target", Msg: fmt.Sprintf("there is no team %q", req.Team)}
		}
		if len(t.Members) == 0 {
			return nil, &oncall.UserError{Field: "target", Msg: fmt.Sprintf("team %s has no members to page", t.Name)}
		}
		target = manifest.Target{Type: manifest.TargetTeam, Ref: t.Name}
		in.PolicyName = req.Policy
		channel = t.SlackChannel
	}
	if _, err := store.IncidentInsert(ctx, tx, in); err != nil {
		return nil, err
	}

	what := "user " + req.User
	switch {
	case req.Service != "":
		what = "service " + req.Service + ", paging " + in.PolicyName
	case req.Team != "":
		what = "team " + req.Team
	}
	tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "triggered", Actor: req.Actor,
		Message: fmt.Sprintf("paged by %s: %s, %s urgency", req.Actor, what, in.Urgency)})
	if channel != "" {
		if err := e.queueNotice(ctx, tx, in, notify.MethodSlackChannel, channel, "new incident", now); err != nil {
			return nil, err
		}
	}
	args := EscalateArgs{IncidentID: in.ID, Seq: in.EscalationSeq}
	if req.Service != "" {
		// As for an alert: the first step runs in this transaction.
		if err := e.runStep(ctx, tx, cfg, in, args, now); err != nil {
			return nil, err
		}
		delete(tx.updates, in.ID) // nothing shows the incident yet
		return in, nil
	}

	reason := "paged by " + req.Actor
	paged, notes, err := e.pageTargets(ctx, tx, cfg, in, []manifest.Target{target}, args, reason, now)
	if err != nil {
		return nil, err
	}
	msg := reason + ": " + strings.Join(paged, ", ")
	if len(notes) > 0 {
		msg += " (" + strings.Join(notes, "; ") + ")"
	}
	if in.PolicyName != "" {
		msg += fmt.Sprintf("; escalation policy %s starts if nobody acknowledges within %s", in.PolicyName, oncall.FormatDuration(manifest.DefaultEscalateAfter))
		if err := e.scheduleEscalation(ctx, tx, in, 0, 0, now.Add(manifest.DefaultEscalateAfter), now); err != nil {
			return nil, err
		}
	}
	tx.addLog(store.LogEntry{IncidentID: in.ID, At: now, Event: "escalated", Actor: ActorSystem, Message: msg})
	if err := store.IncidentUpdate(ctx, tx, in, now); err != nil {
		return nil, err
	}
	return in, nil
}

// manualDedupKey is a fresh dedup key: "manual-" and 16 hex digits.
func manualDedupKey() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("dedup key: %w", err)
	}
	return "manual-" + hex.EncodeToString(b[:]), nil
}
